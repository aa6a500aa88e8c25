// Package queueui serves River UI, the delivery queue's web console (jobs by state, their
// arguments and errors, queues), under /riverui behind HTTP basic authentication. It is mounted
// only when an admin password is configured (WEBHOOKD_ADMIN_PASSWORD).
package queueui

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/riverqueue/river"
	"riverqueue.com/riverui"
)

// Prefix is where River UI is served.
const Prefix = "/riverui"

// User is the basic-auth user name; the password is the configured one.
const User = "admin"

// Handler is River UI behind basic auth.
type Handler struct {
	ui       *riverui.Handler
	password string
}

// New builds River UI on the queue's client (log nil: discarded). Start it before serving.
func New(client *river.Client[*sql.Tx], password string, log *slog.Logger) (*Handler, error) {
	if password == "" {
		return nil, errors.New("queueui: an admin password is required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(client, nil),
		Logger:    log.With("component", "riverui"),
		Prefix:    Prefix,
	})
	if err != nil {
		return nil, fmt.Errorf("queueui: %w", err)
	}
	return &Handler{ui: ui, password: password}, nil
}

// Start starts River UI's background work; it stops with ctx.
func (h *Handler) Start(ctx context.Context) error {
	if err := h.ui.Start(ctx); err != nil {
		return fmt.Errorf("queueui: start: %w", err)
	}
	return nil
}

// ServeHTTP asks for the admin credentials, then serves River UI.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || !equal(user, User) || !equal(pass, h.password) {
		w.Header().Set("WWW-Authenticate", `Basic realm="webhookd queue", charset="UTF-8"`)
		http.Error(w, "admin credentials required", http.StatusUnauthorized)
		return
	}
	h.ui.ServeHTTP(w, r)
}

// equal compares in constant time (hashes first, so the length is not revealed either).
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
