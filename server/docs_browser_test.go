package server_test

import (
	"encoding/json"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/nodetest"
	"github.com/webhookd/webhookd/internal/testdb"
)

// chromium is Debian's Chromium, which .ci/run installs.
const chromium = "/usr/bin/chromium"

// TestSwaggerUIInBrowser drives /docs in headless Chromium (playwright-core, pinned in
// tools/npm) with the examples the page prefills, touching nothing but the path parameters:
// Authorize, create an album, create a webhook with two events, PATCH it with add_event and
// remove_event, create a facility webhook. Each is answered 2xx, and each request is the one
// the examples describe (no placeholder "string", no empty keys).
func TestSwaggerUIInBrowser(t *testing.T) {
	nodetest.Dir(t)
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing (apt-get install chromium): %v", chromium, err)
		}
		t.Skipf("%s is missing (apt-get install chromium)", chromium)
	}
	env := apitest.New(t, testdb.SQLite, apitest.Options{})
	// The token the README gives for Swagger UI: a user, an application with the facilities of
	// the examples, and the publish scope.
	token := env.Token(auth.TokenRequest{Subject: "alice", Email: "alice@example.org", Name: "Alice",
		ClientID: "app", Facilities: []string{"P-123456", "P-123457"}, Scope: "webhooks:publish"})
	start := time.Now()
	out := nodetest.Run(t, nodetest.Command{Name: "node", Args: []string{"server/testdata/swagger-ui.cjs"},
		Env:     []string{"WEBHOOKD_URL=" + env.Server.URL, "WEBHOOKD_TOKEN=" + token, "CHROMIUM=" + chromium},
		Timeout: 3 * time.Minute})
	var report struct {
		Steps []struct {
			Step, ShownStatus, Request, Response string
			Status, MS                           int
		}
		Problems []string
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("browser output %q: %v", out, err)
	}
	for _, p := range report.Problems {
		t.Error(p)
	}
	want := []struct {
		step    string
		status  int
		request url.Values // form requests: the exact fields sent
		body    string     // JSON requests: a substring
		answer  string     // a substring of the answer
	}{
		{step: "launch"},
		{step: "authorize"},
		{step: "createAlbum", status: 201, request: url.Values{"name": {"Chest CT"}, "description": {"Teaching cases"}}, answer: `"name":"Chest CT"`},
		{step: "createWebhook", status: 201, request: url.Values{"url": {"https://receiver.example.org/hook"}, "name": {"my-hook"},
			"event": {"new_series", "new_user"}}, answer: `"events":["new_series","new_user"]`},
		{step: "updateWebhook", status: 200, request: url.Values{"add_event": {"remove_series"}, "remove_event": {"new_user"}},
			answer: `"events":["new_series","remove_series"]`},
		{step: "createFacilityWebhook", status: 201, body: `"url":"https://exemple.com/webhook"`, answer: `"facilities":["P-123456","P-123457"]`},
	}
	if len(report.Steps) != len(want) {
		t.Fatalf("%d steps ran, want %d: %s", len(report.Steps), len(want), out)
	}
	for i, w := range want {
		got := report.Steps[i]
		t.Logf("step %d %s (%d ms): %d %s", i+1, got.Step, got.MS, got.Status, got.Request)
		if got.Step != w.step || got.Status != w.status || (w.status != 0 && got.ShownStatus != strconv.Itoa(w.status)) {
			t.Errorf("step %d: %s answered %d (page shows %q), want %s %d: %s", i+1, got.Step, got.Status, got.ShownStatus, w.step, w.status, got.Response)
		}
		if w.request != nil {
			sent, err := url.ParseQuery(got.Request)
			if err != nil || sent.Encode() != w.request.Encode() {
				t.Errorf("step %d %s sent %q, want %q", i+1, got.Step, got.Request, w.request.Encode())
			}
		}
		if !strings.Contains(strings.ReplaceAll(got.Request, " ", ""), w.body) || !strings.Contains(got.Response, w.answer) {
			t.Errorf("step %d %s: request %s, answer %s; want %q in the request, %q in the answer", i+1, got.Step, got.Request, got.Response, w.body, w.answer)
		}
	}
	t.Logf("browser test: %d steps in %s", len(report.Steps), time.Since(start).Round(time.Millisecond))
}
