package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// TestMigrationCountsExistingTriggers upgrades a database of schema 3 holding deliveries and
// checks that migration 4 counts them into each webhook.
func TestMigrationCountsExistingTriggers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		ctx := context.Background()
		st, err := store.Open(ctx, testdb.Config(t, kind))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.MigrateTo(ctx, 3); err != nil {
			t.Fatal(err)
		}
		db := st.DB()
		now := time.Now().UTC()
		steps := []string{
			`INSERT INTO users (sub, created_at) VALUES ('alice', ?)`,
			`INSERT INTO albums (id, name, created_at) VALUES ('A', 'a', ?)`,
			`INSERT INTO album_members (album_id, user_sub, is_admin, created_at) VALUES ('A', 'alice', TRUE, ?)`,
			`INSERT INTO album_webhooks (id, album_id, url, name, events, enabled, created_at) VALUES ('W1', 'A', 'https://x', 'w', 0, TRUE, ?)`,
			`INSERT INTO album_webhooks (id, album_id, url, name, events, enabled, created_at) VALUES ('W2', 'A', 'https://x', 'w', 0, TRUE, ?)`,
		}
		for _, q := range steps {
			if err := db.Exec(q, now).Error; err != nil {
				t.Fatal(err)
			}
		}
		for i, w := range []string{"W1", "W1", "W1", "W2"} {
			if err := db.Exec(`INSERT INTO deliveries (id, family, webhook_id, event, url, payload, max_attempts, created_at)
			VALUES (?, 'kheops', ?, 'new_user', 'https://x', '{}', 5, ?)`, fmt.Sprint(i), w, now).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if v, _ := st.SchemaVersion(ctx); v < 4 {
			t.Errorf("schema version %d", v)
		}
		list, err := st.ListWebhooks(ctx, "A", "alice", nil, store.Page{Limit: -1})
		if err != nil || list.Total != 2 {
			t.Fatal(err, list.Total)
		}
		got := map[string]int{}
		for _, v := range list.Webhooks {
			got[v.ID] = v.NumberOfTriggers
			if len(v.LastTriggers) != v.NumberOfTriggers {
				t.Errorf("%s: %d last triggers for %d", v.ID, len(v.LastTriggers), v.NumberOfTriggers)
			}
		}
		if got["W1"] != 3 || got["W2"] != 1 {
			t.Errorf("counted %v, want W1:3 W2:1", got)
		}
	})
}

// TestCheckSchema: an older schema is reported with the way out, the current one passes.
func TestCheckSchema(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		ctx := context.Background()
		st, err := store.Open(ctx, testdb.Config(t, kind))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.MigrateTo(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if err := st.CheckSchema(ctx); err == nil || !strings.Contains(err.Error(), "schema at version 1") ||
			!strings.Contains(err.Error(), "webhookd migrate") {
			t.Errorf("old schema: %v", err)
		}
		if err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := st.CheckSchema(ctx); err != nil {
			t.Errorf("current schema: %v", err)
		}
	})
}

// TestDeliveriesIndexedByWebhookCreatedID checks that migration 6 replaced the (webhook_id,
// created_at) index by (webhook_id, created_at, id), the order lists read deliveries in (without
// id, PostgreSQL added a sort to each of a page's 100 lookups).
func TestDeliveriesIndexedByWebhookCreatedID(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{})
		q := `SELECT indexdef FROM pg_indexes WHERE tablename = 'deliveries' AND schemaname = current_schema() AND indexname = ?`
		if kind == testdb.SQLite {
			q = `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' AND name = ?`
		}
		var defs []string
		if err := st.DB().Raw(q, "deliveries_webhook_created_id").Scan(&defs).Error; err != nil {
			t.Fatal(err)
		}
		if len(defs) != 1 || !strings.Contains(strings.ReplaceAll(defs[0], " ", ""), "(webhook_id,created_at,id)") {
			t.Errorf("index deliveries_webhook_created_id: %q", defs)
		}
		var old []string
		if err := st.DB().Raw(q, "deliveries_webhook_created").Scan(&old).Error; err != nil || len(old) != 0 {
			t.Errorf("the index it replaces is still there: %q %v", old, err)
		}
	})
}

// TestDeliveriesLeaveRoomForUpdates checks that migration 7 leaves room on PostgreSQL's pages
// of deliveries, so that their status updates stay on the page (HOT updates, no index entry),
// and that SQLite, which has no such setting, records the step all the same.
func TestDeliveriesLeaveRoomForUpdates(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		ctx := context.Background()
		st := testdb.Open(t, kind, store.Config{})
		if v, err := st.SchemaVersion(ctx); err != nil || v < 7 {
			t.Fatalf("schema version %d, %v", v, err)
		}
		if kind != testdb.Postgres {
			return
		}
		var opts []string
		if err := st.DB().Raw(`SELECT unnest(reloptions) FROM pg_class
			WHERE oid = (quote_ident(current_schema()) || '.deliveries')::regclass`).Scan(&opts).Error; err != nil {
			t.Fatal(err)
		}
		if strings.Join(opts, ",") != "fillfactor=50" {
			t.Errorf("deliveries' options: %q, want fillfactor=50", opts)
		}
	})
}
