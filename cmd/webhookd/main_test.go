package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/config"
)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse(func(k string) string {
		return map[string]string{"WEBHOOKD_DATA_DIR": dir, "WEBHOOKD_ADDR": "127.0.0.1:0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestTokenIsAcceptedByTheDevelopmentVerifier(t *testing.T) {
	cfg := testConfig(t)
	getenv := envOf(map[string]string{"WEBHOOKD_DATA_DIR": cfg.DataDir})
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"token", "--sub", "alice", "--email", "a@example.org", "--client-id", "app",
		"--facilities", "P-1, P-2", "--scope", "webhooks:publish", "--ttl", "5m"}, &out, &errOut, getenv)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	v, err := verifier(context.Background(), cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "alice" || p.Email != "a@example.org" || p.ClientID != "app" || strings.Join(p.Facilities, ",") != "P-1,P-2" ||
		!p.HasScope("webhooks:publish") {
		t.Errorf("principal %+v", p)
	}
	if code := run(context.Background(), []string{"token", "--email", "x"}, io.Discard, io.Discard, getenv); code != 1 {
		t.Errorf("token without --sub: exit %d, want 1", code)
	}
	if _, err := auth.LoadOrCreateDevKey(cfg.DataDir); err != nil {
		t.Error(err)
	}
}

func TestMigrateThenServeAndStop(t *testing.T) {
	cfg := testConfig(t)
	if err := migrate(context.Background(), cfg, quiet); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, quiet) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get("http://" + cfg.Addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz never answered 200: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"healthcheck"}, &out, io.Discard, envOf(map[string]string{"WEBHOOKD_ADDR": cfg.Addr})); code != 0 ||
		!strings.Contains(out.String(), `"delivery_engine":"ok"`) {
		t.Errorf("healthcheck of the running server: exit %d, %s", code, out.String())
	}
	cancel() // what SIGTERM does
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after shutdown, want nil (exit 0)", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get("http://" + cfg.Addr + "/healthz"); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}
