package store_test

import (
	"context"
	"testing"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// Every connection of the SQLite pool caches 8 MB of pages (SQLite's default is 2 MB, too
// small for the list's reads of a large history).
func TestSQLiteConnectionsCache8MB(t *testing.T) {
	st := testdb.Open(t, testdb.SQLite, store.Config{})
	ctx := context.Background()
	// Hold the pool's 4 connections at once, so that each is asked, not the same one 4 times.
	for i := range 4 {
		conn, err := st.SQLDB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var kib int
		if err := conn.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&kib); err != nil {
			t.Fatal(err)
		}
		if kib != -8000 {
			t.Errorf("connection %d: cache_size %d, want -8000 (8,000 KiB)", i, kib)
		}
	}
}
