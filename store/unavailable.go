package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	sqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
)

// SQLite's primary result codes that mean the database cannot be used now, rather than that the
// statement is wrong (https://sqlite.org/rescode.html).
const (
	sqliteBusy     = 5  // SQLITE_BUSY: locked by another connection beyond busy_timeout
	sqliteLocked   = 6  // SQLITE_LOCKED
	sqliteNoMem    = 7  // SQLITE_NOMEM
	sqliteReadOnly = 8  // SQLITE_READONLY: the file became read-only
	sqliteIOErr    = 10 // SQLITE_IOERR
	sqliteCorrupt  = 11 // SQLITE_CORRUPT
	sqliteFull     = 13 // SQLITE_FULL: the disk is full
	sqliteCantOpen = 14 // SQLITE_CANTOPEN
	sqliteNotADB   = 26 // SQLITE_NOTADB
)

// IsUnavailable tells whether err (from any Store method) means the database cannot be reached
// or used at the moment, as opposed to a bug or a bad statement: a closed pool, a refused,
// reset or dropped connection, a PostgreSQL server shutting down, restarting or out of
// connections, an SQLite file that is locked, unreadable or gone. Callers answer 503 and the
// request may be retried; the pool reconnects by itself when the database is back.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	// database/sql's error for a closed pool is not exported.
	if strings.Contains(err.Error(), "sql: database is closed") {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || pgconn.Timeout(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "53"),  // insufficient resources (too many connections, disk full)
			strings.HasPrefix(pgErr.Code, "57P"): // admin or crash shutdown, cannot connect now
			return true
		}
		return false
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		switch sqliteErr.Code() & 0xff {
		case sqliteBusy, sqliteLocked, sqliteNoMem, sqliteReadOnly, sqliteIOErr, sqliteCorrupt, sqliteFull,
			sqliteCantOpen, sqliteNotADB:
			return true
		}
	}
	// pgx reports a connection closed under it in plain text.
	return strings.Contains(err.Error(), "conn closed")
}
