package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// TestTwoEnginesSendEachAttemptOnce runs two engines on one PostgreSQL database, as two
// `webhookd serve` processes would, and checks that every attempt is sent exactly once.
func TestTwoEnginesSendEachAttemptOnce(t *testing.T) {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		testdb.Kinds(t) // fails under CI=true
		t.Skip("needs TEST_DATABASE_URL (PostgreSQL)")
	}
	cfg := testdb.Config(t, testdb.Postgres)
	open := func() *store.Store {
		st, err := store.Open(context.Background(), store.Config{DatabaseURL: cfg.DatabaseURL, PublicURL: "http://webhookd.test", KheopsMaxAttempts: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	st1, st2 := open(), open()
	if err := st1.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	delays := []time.Duration{time.Second}
	newEngine(t, st1, engineOptions{allow: loopback, kheopsDelays: delays})
	newEngine(t, st2, engineOptions{allow: loopback, kheopsDelays: delays})

	var mu sync.Mutex
	seen := map[string]int{}
	rcv := newReceiver(t, false, func(n int, w http.ResponseWriter) {
		if n%2 == 0 {
			w.WriteHeader(500) // half the first attempts fail, so retries are shared too
		}
	})
	const albums = 30
	ctx := context.Background()
	album, _ := albumWithWebhook(t, st1, rcv.URL, nil)
	for i := 0; i < albums-1; i++ {
		// More webhooks on the same album: one new_user event fans out to all of them.
		if _, err := st1.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: album, URL: rcv.URL, Name: fmt.Sprint(i),
			Events: store.EventSet(0).With(store.EventNewUser), Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	addBob(t, st1, album)
	// Facility events published on both processes: each makes its first attempts itself
	// (direct dispatch), and their retries go through the shared queue.
	facilityHook(t, st1, rcv.URL)
	const events = 20
	for i := range events {
		publish(t, []*store.Store{st1, st2}[i%2], 1)
	}
	deadline := time.Now().Add(40 * time.Second)
	for {
		var pending int64
		st1.DB().Model(&store.Delivery{}).Where("status = ?", store.DeliveryPending).Count(&pending)
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still pending", pending)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rcv.mu.Lock()
	for _, r := range rcv.got {
		if a := r.header.Get("X-Kheops-Attempt"); a != "" { // facility requests carry no attempt number
			seen[r.header.Get("Webhook-Id")+" "+a]++
		}
	}
	total := len(rcv.got)
	rcv.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s sent %d times", k, n)
		}
	}
	var recorded int64
	st1.DB().Model(&store.DeliveryAttempt{}).Count(&recorded)
	if int64(total) != recorded || total < albums+events {
		t.Errorf("%d requests received, %d attempts recorded, %d deliveries", total, recorded, albums+events)
	}
}

// TestKilledMidDelivery kills an engine while its request is in flight — its database
// connections vanish, so it can record nothing, as when the process dies — and checks that
// another engine makes the attempt again within two minutes: an attempt River fetched (Kheops),
// and one made by direct dispatch (facility, on PostgreSQL), whose job stayed running.
func TestKilledMidDelivery(t *testing.T) {
	for _, family := range []string{store.FamilyKheops, store.FamilyFacility} {
		t.Run(family, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
				t.Parallel()
				cfg := testdb.Config(t, kind)
				open := func() *store.Store {
					st, err := store.Open(context.Background(), store.Config{DatabaseURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath,
						PublicURL: "http://webhookd.test", KheopsMaxAttempts: 2})
					if err != nil {
						t.Fatal(err)
					}
					return st
				}
				st1 := open()
				if err := st1.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				newEngine(t, st1, engineOptions{allow: loopback})
				release := make(chan struct{})
				rcv := newReceiver(t, false, func(n int, w http.ResponseWriter) {
					if n == 1 {
						<-release // the first request hangs while its process dies
					}
				})
				var hookID string
				if family == store.FamilyKheops {
					album, hook := albumWithWebhook(t, st1, rcv.URL, nil)
					addBob(t, st1, album)
					hookID = hook.ID
				} else {
					hookID = facilityHook(t, st1, rcv.URL).ID
					publish(t, st1, 1)
				}
				first := rcv.wait(t, 10*time.Second)
				if family == store.FamilyFacility && kind == testdb.Postgres {
					if got := attemptJobs(t, st1); got["running"] != 1 {
						t.Fatalf("attempt jobs %v, want 1 running (direct dispatch)", got)
					}
				}
				_ = st1.Close() // the process dies: nothing more reaches its database
				close(release)

				st2 := open()
				t.Cleanup(func() { _ = st2.Close() })
				killed := time.Now()
				newEngine(t, st2, engineOptions{allow: loopback})
				second := rcv.wait(t, 2*time.Minute)
				if second.header.Get("Webhook-Id") != first.header.Get("Webhook-Id") {
					t.Errorf("re-run: id %s, first id %s", second.header.Get("Webhook-Id"), first.header.Get("Webhook-Id"))
				}
				if a := second.header.Get("X-Kheops-Attempt"); family == store.FamilyKheops && a != "1/2" {
					t.Errorf("re-run: attempt %s, want 1/2", a)
				}
				t.Logf("attempt made again %s after the kill", time.Since(killed).Round(time.Second))
				if d := waitDelivery(t, st2, hookID, 10*time.Second); d.Status != store.DeliverySuccess {
					t.Errorf("status %s", d.Status)
				}
			})
		})
	}
}

// TestPurgeOldLogs checks that the periodic job deletes facility and user deliveries older than
// 14 days and keeps the rest.
func TestPurgeOldLogs(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		st := testdb.Open(t, kind, store.Config{})
		now := time.Now().UTC()
		rows := []store.Delivery{
			{ID: "old-facility", Family: store.FamilyFacility, CreatedAt: now.Add(-15 * 24 * time.Hour)},
			{ID: "old-user", Family: store.FamilyUser, CreatedAt: now.Add(-15 * 24 * time.Hour)},
			{ID: "recent-facility", Family: store.FamilyFacility, CreatedAt: now.Add(-13 * 24 * time.Hour)},
			{ID: "old-kheops", Family: store.FamilyKheops, CreatedAt: now.Add(-30 * 24 * time.Hour)},
		}
		for _, d := range rows {
			d.WebhookID, d.Event, d.URL, d.Payload, d.Status, d.MaxAttempts = "w", "e", "https://x", "{}", store.DeliverySuccess, 1
			if err := st.DB().Create(&d).Error; err != nil {
				t.Fatal(err)
			}
		}
		newEngine(t, st, engineOptions{}) // the purge runs when the engine starts, then hourly
		deadline := time.Now().Add(15 * time.Second)
		for {
			var left []string
			st.DB().Model(&store.Delivery{}).Order("id").Pluck("id", &left)
			if fmt.Sprint(left) == "[old-kheops recent-facility]" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("deliveries left: %v", left)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
