package store_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/webhookd/webhookd/store"
)

// TestIsUnavailable lists what is an outage (503) and what is not (a bug or a bad statement:
// 500, or a domain error mapped by the handlers).
func TestIsUnavailable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("read membership: %w", err) }
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"not found", wrap(store.ErrNotFound), false},
		{"context canceled (client went away)", wrap(context.Canceled), false},
		{"syntax error", wrap(&pgconn.PgError{Code: "42601"}), false},
		{"unique violation", wrap(&pgconn.PgError{Code: "23505"}), false},
		{"plain error", errors.New("boom"), false},
		{"bad connection", wrap(driver.ErrBadConn), true},
		{"connection refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"connection reset", wrap(syscall.ECONNRESET), true},
		{"admin shutdown (pg_terminate_backend)", wrap(&pgconn.PgError{Code: "57P01"}), true},
		{"cannot connect now (starting up)", wrap(&pgconn.PgError{Code: "57P03"}), true},
		{"too many connections", wrap(&pgconn.PgError{Code: "53300"}), true},
		{"connection failure", wrap(&pgconn.PgError{Code: "08006"}), true},
		{"closed pool", wrap(errors.New("sql: database is closed")), true},
	}
	for _, tc := range cases {
		if got := store.IsUnavailable(tc.err); got != tc.want {
			t.Errorf("%s: IsUnavailable = %v, want %v", tc.name, got, tc.want)
		}
	}
}
