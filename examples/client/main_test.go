package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
)

// TestRun runs the example against a server: every call it makes succeeds.
func TestRun(t *testing.T) {
	env := apitest.New(t, testdb.SQLite, apitest.Options{})
	tok := env.Token(auth.TokenRequest{Subject: "alice", Email: "alice@example.org", Name: "Alice", ClientID: "app", Facilities: []string{"P-1", "P-2"}})
	var out bytes.Buffer
	if err := run(context.Background(), env.Server.URL, tok, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"events [new_series new_user]", "edited: events [new_series remove_series new_user]",
		"1 webhook(s) on this page, X-Total-Count 1", "for [P-1 P-2]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
