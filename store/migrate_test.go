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
		views, total, err := st.ListWebhooks(ctx, "A", nil, store.Page{Limit: -1})
		if err != nil || total != 2 {
			t.Fatal(err, total)
		}
		got := map[string]int{}
		for _, v := range views {
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
