// Package deliverytest runs a delivery engine, and a receiver for it, for the duration of a test.
package deliverytest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/store"
)

// Start migrates the queue tables, installs an engine as st's enqueuer and runs it until the
// test ends. Zero fields of cfg get test defaults: one 1 s retry for each family, 10 workers, a
// 50 ms poll interval, a 2 s timeout and a silent logger.
func Start(t testing.TB, st *store.Store, cfg delivery.EngineConfig) *delivery.Engine {
	t.Helper()
	if len(cfg.Kheops.Delays) == 0 {
		cfg.Kheops.Delays = []time.Duration{time.Second}
	}
	if len(cfg.Facility.Delays) == 0 {
		cfg.Facility.Delays = []time.Duration{time.Second}
	}
	if cfg.Workers == 0 {
		cfg.Workers = 10
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e, err := delivery.NewEngine(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.SetEnqueuer(e)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Stop(ctx)
	})
	return e
}

// Receiver starts a webhook receiver that answers 200 and signals each request on got, and
// closes it when the test ends.
func Receiver(t testing.TB, got chan<- struct{}) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return srv
}
