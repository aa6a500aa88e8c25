package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/payload"
	"github.com/webhookd/webhookd/store"
)

// lastTriggers is the webhook's last_triggers column, after checking that it holds what its
// deliveries say.
func lastTriggers(t *testing.T, st *store.Store, webhookID string) string {
	t.Helper()
	var kept, computed *string
	err := st.DB().Raw(`SELECT w.last_triggers, `+store.LastTriggersSQL("w")+` FROM album_webhooks w WHERE w.id = ?`, webhookID).
		Row().Scan(&kept, &computed)
	if err != nil {
		t.Fatal(err)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if str(kept) != str(computed) {
		t.Fatalf("last triggers kept %q, the deliveries say %q", str(kept), str(computed))
	}
	return str(kept)
}

// firedWebhook makes an album of alice's with a webhook triggered n times by hand, and returns
// them with the deliveries' ids, newest first.
func firedWebhook(t *testing.T, st *store.Store, n int) (store.AlbumView, store.WebhookView, []string) {
	t.Helper()
	ctx := context.Background()
	a := aliceAlbum(t, st, "a")
	w, err := st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: a.ID, URL: "https://x.org", Name: "w", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	alice := payload.KheopsUser{Sub: "alice", IsAdmin: true}
	for range n {
		if err := st.TriggerWebhook(ctx, a.ID, w.ID, store.ManualTrigger{Event: store.EventNewUser, User: "alice"}, alice); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	var ids []string
	if err := st.DB().Raw("SELECT id FROM deliveries WHERE webhook_id = ? ORDER BY created_at DESC, id DESC", w.ID).
		Scan(&ids).Error; err != nil || len(ids) != n {
		t.Fatal(ids, err)
	}
	return a, w, ids
}

// entry is a delivery as last_triggers holds it.
func entry(status, id string) string { return fmt.Sprintf("%s%d:%s", status, len(id), id) }

// Every statement that adds an album webhook's delivery or changes one's status keeps the
// webhook's last triggers: creation, an attempt's outcome, resend, abandon, disable, recover.
func TestLastTriggersFollowEveryChange(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{})
		ctx := context.Background()
		a, w, ids := firedWebhook(t, st, 3)
		d1, d2, d3 := ids[0], ids[1], ids[2]
		want := func(step string, entries ...string) {
			t.Helper()
			if got := lastTriggers(t, st, w.ID); got != strings.Join(entries, "") {
				t.Fatalf("%s: last triggers %q, want %q", step, got, strings.Join(entries, ""))
			}
		}
		want("created", entry("pending", d1), entry("pending", d2), entry("pending", d3))

		record := func(id, status string) {
			t.Helper()
			o := store.AttemptOutcome{Attempt: store.DeliveryAttempt{DeliveryID: id, Attempt: 1, Status: 200, CreatedAt: time.Now()},
				Status: status, AlbumWebhookID: w.ID}
			if ok, err := st.RecordAttempt(ctx, o); err != nil || !ok {
				t.Fatalf("record %s: %v %v", id, ok, err)
			}
		}
		record(d1, store.DeliverySuccess)
		want("success", entry("success", d1), entry("pending", d2), entry("pending", d3))
		record(d2, store.DeliveryFailure)
		want("failure", entry("success", d1), entry("failure", d2), entry("pending", d3))
		if err := st.ResendKheopsDelivery(ctx, a.ID, w.ID, d2); err != nil {
			t.Fatal(err)
		}
		want("resend", entry("success", d1), entry("pending", d2), entry("pending", d3))
		if err := st.AbandonDelivery(ctx, d2); err != nil {
			t.Fatal(err)
		}
		want("abandon", entry("success", d1), entry("failure", d2), entry("pending", d3))
		if err := st.DB().Transaction(func(tx *gorm.DB) error {
			_, err := store.DisableWebhook(tx, store.FamilyKheops, w.ID, "gone")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		want("disable", entry("success", d1), entry("failure", d2), entry("failure", d3))
		if n, err := st.RecoverKheopsDeliveries(ctx, a.ID, w.ID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)); err != nil || n != 2 {
			t.Fatalf("recover: %d %v", n, err)
		}
		want("recover", entry("success", d1), entry("pending", d2), entry("pending", d3))
	})
}

// Transactions adding and ending deliveries of the same webhooks at once lose no change, and
// wait on each other in no cycle (PostgreSQL would abort one as a deadlock).
func TestLastTriggersUnderConcurrentChanges(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{})
		ctx := context.Background()
		a := aliceAlbum(t, st, "a")
		var hooks []string
		for i := range 3 {
			w, err := st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: a.ID, URL: "https://x.org", Name: fmt.Sprint(i), Enabled: true})
			if err != nil {
				t.Fatal(err)
			}
			hooks = append(hooks, w.ID)
		}
		alice := payload.KheopsUser{Sub: "alice", IsAdmin: true}
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					hook := hooks[(g+i)%len(hooks)]
					if err := st.TriggerWebhook(ctx, a.ID, hook, store.ManualTrigger{Event: store.EventNewUser, User: "alice"}, alice); err != nil {
						errs <- err
						return
					}
					var pending []string
					if err := st.DB().Raw("SELECT id FROM deliveries WHERE webhook_id = ? AND status = ? LIMIT 3", hooks[(g+i+1)%len(hooks)],
						store.DeliveryPending).Scan(&pending).Error; err != nil {
						errs <- err
						return
					}
					for _, id := range pending {
						o := store.AttemptOutcome{Attempt: store.DeliveryAttempt{DeliveryID: id, Attempt: 1, Status: 200, CreatedAt: time.Now()},
							Status: store.DeliverySuccess, AlbumWebhookID: hooks[(g+i+1)%len(hooks)]}
						if _, err := st.RecordAttempt(ctx, o); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for _, h := range hooks {
			lastTriggers(t, st, h)
		}
	})
}

// Of two transactions changing one webhook's deliveries at once, the one that refreshes last
// sees the other's change, though its statement began before the other committed (PostgreSQL;
// SQLite has one writer at a time).
func TestLastTriggersLoseNoConcurrentChange(t *testing.T) {
	if !slices.Contains(testdb.Kinds(t), testdb.Postgres) {
		t.Skip("PostgreSQL only: TEST_DATABASE_URL is not set")
	}
	st := testdb.Open(t, testdb.Postgres, store.Config{})
	_, w, ids := firedWebhook(t, st, 2)
	change := func(tx *gorm.DB, id, status string) error {
		if err := tx.Exec("UPDATE deliveries SET status = ? WHERE id = ?", status, id).Error; err != nil {
			return err
		}
		return store.RefreshLastTriggers(tx, w.ID)
	}
	first := st.DB().Begin()
	defer first.Rollback()
	if err := change(first, ids[0], store.DeliverySuccess); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- st.DB().Transaction(func(tx *gorm.DB) error { return change(tx, ids[1], store.DeliveryFailure) })
	}()
	time.Sleep(200 * time.Millisecond) // the second waits for the webhook's row
	if err := first.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := lastTriggers(t, st, w.ID)
	if !strings.Contains(got, entry(store.DeliverySuccess, ids[0])) || !strings.Contains(got, entry(store.DeliveryFailure, ids[1])) {
		t.Errorf("last triggers %q lack a change", got)
	}
}
