package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// TestClientCancelIsNotAServerError: a request whose client went away (its context is
// canceled) is recorded as a 499 with at most a debug line, never a logged 500, whatever error
// the driver made of the cancellation; a passed deadline stays a 503 and other errors a 500.
func TestClientCancelIsNotAServerError(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	interrupted := errors.New("interrupted (9)") // SQLite's error for a cancelled statement
	tests := []struct {
		name     string
		ctx      context.Context
		err      error
		status   int
		errorLog bool
	}{
		{"client cancelled, driver says context canceled", canceled, context.Canceled, StatusClientClosedRequest, false},
		{"client cancelled, driver says interrupted", canceled, interrupted, StatusClientClosedRequest, false},
		{"deadline passed", expired, interrupted, http.StatusServiceUnavailable, true},
		{"request alive, unexpected error", context.Background(), errors.New("boom"), http.StatusInternalServerError, true},
	}
	for _, tt := range tests {
		for _, path := range []string{"/albums/x", "/internal/events/facility"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				var logs bytes.Buffer
				log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				e := echo.New()
				req := httptest.NewRequest(http.MethodPost, path, nil).WithContext(tt.ctx)
				rec := httptest.NewRecorder()
				c := e.NewContext(req, rec)
				errorHandler(log)(internalError(deadlineCause(tt.ctx, tt.err)), c)
				if rec.Code != tt.status {
					t.Errorf("status %d %s, want %d", rec.Code, rec.Body, tt.status)
				}
				if got := strings.Contains(logs.String(), "level=ERROR"); got != tt.errorLog {
					t.Errorf("error logged: %v, want %v; logs:\n%s", got, tt.errorLog, logs.String())
				}
			})
		}
	}
}
