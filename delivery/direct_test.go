package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/delivery/deliverytest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// facilityHook creates a facility webhook of every event of facility P-1 to url.
func facilityHook(t *testing.T, st *store.Store, url string) store.FacilityWebhook {
	t.Helper()
	h, err := st.CreateFacilityWebhook(context.Background(), store.FacilityWebhook{Kind: store.FamilyFacility, ClientID: "app",
		URL: url, Events: []string{"all"}, Facilities: []string{"P-1"}, Secrets: []string{"s"}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// publish publishes n shift.created events of facility P-1.
func publish(t *testing.T, st *store.Store, n int) {
	t.Helper()
	for i := range n {
		if _, err := st.PublishEvent(context.Background(), store.PublishInput{Kind: store.EventKindFacility,
			EventType: "shift.created", FacilityID: "P-1", Data: []byte(fmt.Sprintf(`{"n":%d}`, i)), Publisher: "app"}); err != nil {
			t.Fatal(err)
		}
	}
}

// onPostgres runs fn on PostgreSQL only: direct dispatch is PostgreSQL's (on SQLite every
// attempt goes through River, which TestDirectDispatch checks).
func onPostgres(t *testing.T, fn func(t *testing.T)) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		if kind == testdb.Postgres {
			fn(t)
		}
	})
}

// waitSucceeded waits until n deliveries of webhook have succeeded.
func waitSucceeded(t *testing.T, st *store.Store, webhookID string, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var done int64
		if err := st.DB().Model(&store.Delivery{}).Where("webhook_id = ? AND status = ?", webhookID, store.DeliverySuccess).
			Count(&done).Error; err != nil {
			t.Fatal(err)
		}
		if done == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries succeeded", done, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// attemptJobs counts the River jobs of attempts by state.
func attemptJobs(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	var rows []struct {
		State string
		N     int
	}
	if err := st.DB().Raw(`SELECT state, COUNT(*) AS n FROM river_job WHERE kind = 'webhookd_attempt' GROUP BY state`).
		Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out
}

// waitJobs waits until the River jobs of attempts are want, by state.
func waitJobs(t *testing.T, st *store.Store, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := attemptJobs(t, st)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("attempt jobs %v, want %v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// On PostgreSQL the first attempt of a delivery to a healthy webhook is made without River: its
// job, inserted running with the delivery, is deleted when the attempt is recorded. With direct
// dispatch off, and on SQLite, River runs it and keeps it completed.
func TestDirectDispatch(t *testing.T) {
	for _, tc := range []struct {
		name        string
		directQueue int
	}{
		{"default", 0},
		{"off", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
				t.Parallel()
				st := testdb.Open(t, kind, store.Config{})
				obs := &observed{}
				deliverytest.Start(t, st, delivery.EngineConfig{Policy: delivery.TargetPolicy{Allow: loopback},
					DirectQueue: tc.directQueue, Observer: obs})
				rcv := newReceiver(t, false, nil)
				hook := facilityHook(t, st, rcv.URL)
				publish(t, st, 3)
				for range 3 {
					rcv.wait(t, 10*time.Second)
				}
				waitSucceeded(t, st, hook.ID, 3)
				want, direct := map[string]int{"completed": 3}, 0
				if kind == testdb.Postgres && tc.directQueue >= 0 {
					want, direct = map[string]int{}, 3
				}
				if got := obs.direct(delivery.DirectQueued); got != direct {
					t.Errorf("observed %d first attempts queued for direct dispatch, want %d", got, direct)
				}
				waitJobs(t, st, want)
			})
		})
	}
}

// A webhook's bound of attempts in flight holds for direct dispatch: attempts over it are handed
// back to River, and every delivery is made once.
func TestDirectDispatchKeepsTheWebhookBound(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		st := testdb.Open(t, kind, store.Config{})
		deliverytest.Start(t, st, delivery.EngineConfig{Policy: delivery.TargetPolicy{Allow: loopback},
			WebhookConcurrency: 1, FastWebhookConcurrency: 1})
		var inFlight, most atomic.Int32
		rcv := newReceiver(t, false, func(int, http.ResponseWriter) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(100 * time.Millisecond)
		})
		facilityHook(t, st, rcv.URL)
		const events = 6
		publish(t, st, events)
		ids := map[string]bool{}
		for range events {
			ids[rcv.wait(t, 30*time.Second).header.Get("Webhook-Id")] = true
		}
		if len(ids) != events {
			t.Errorf("%d distinct deliveries received of %d", len(ids), events)
		}
		select {
		case extra := <-rcv.ch:
			t.Errorf("a delivery was sent twice: %s", extra.header.Get("Webhook-Id"))
		case <-time.After(time.Second):
		}
		if m := most.Load(); m > 1 {
			t.Errorf("%d requests in flight at once, bound 1", m)
		}
	})
}

// Attempts of direct dispatch still waiting, or cut short, when the engine stops are handed
// back to River: none stays running, where only River's rescuer would find it.
func TestDirectDispatchHandsBackOnStop(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		st := testdb.Open(t, testdb.Postgres, store.Config{})
		obs := &observed{}
		e := deliverytest.Start(t, st, delivery.EngineConfig{Policy: delivery.TargetPolicy{Allow: loopback}, Workers: 1, Observer: obs})
		release := make(chan struct{})
		rcv := newReceiver(t, false, func(int, http.ResponseWriter) { <-release })
		t.Cleanup(func() { close(release) }) // before the receiver closes: it waits for its requests
		facilityHook(t, st, rcv.URL)
		publish(t, st, 3)
		rcv.wait(t, 10*time.Second) // the first is in flight, the two others wait
		if got := attemptJobs(t, st); got["running"] != 3 {
			t.Fatalf("attempt jobs before Stop %v, want 3 running", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_ = e.Stop(ctx)
		if got := attemptJobs(t, st); got["available"] != 3 || got["running"] != 0 {
			t.Errorf("attempt jobs after Stop %v, want 3 available", got)
		}
		if got := obs.direct(delivery.DirectHandedBack); got != 3 {
			t.Errorf("observed %d attempts handed back, want 3", got)
		}
	})
}

// A first attempt that waited in the direct queue longer than River's rescue allows is handed
// back rather than made (River would otherwise rescue its running job and send it again): with
// a 2 s timeout and River's shortest rescue (timeout + 11 s) the wait is bounded at 1 s, and a
// receiver holding the only worker for 1.5 s makes the two attempts behind it wait longer. Each
// delivery is still sent once.
func TestDirectDispatchHandsBackALongWait(t *testing.T) {
	onPostgres(t, func(t *testing.T) {
		st := testdb.Open(t, testdb.Postgres, store.Config{})
		obs := &observed{}
		deliverytest.Start(t, st, delivery.EngineConfig{Policy: delivery.TargetPolicy{Allow: loopback}, Workers: 1, Observer: obs,
			RescueAfter: time.Millisecond})
		rcv := newReceiver(t, false, func(n int, _ http.ResponseWriter) {
			if n == 1 {
				time.Sleep(1500 * time.Millisecond)
			}
		})
		hook := facilityHook(t, st, rcv.URL)
		publish(t, st, 3)
		ids := map[string]bool{}
		for range 3 {
			ids[rcv.wait(t, 10*time.Second).header.Get("Webhook-Id")] = true
		}
		waitSucceeded(t, st, hook.ID, 3)
		if len(ids) != 3 {
			t.Errorf("%d distinct deliveries received of 3", len(ids))
		}
		if got := obs.direct(delivery.DirectHandedBack); got != 2 {
			t.Errorf("observed %d attempts handed back, want 2", got)
		}
		waitJobs(t, st, map[string]int{"completed": 2}) // the 2 handed back, completed by River
	})
}

// The direct queue's room is set aside when the engine is made: a bound over MaxDirectQueue is
// refused rather than allocated.
func TestDirectQueueBounded(t *testing.T) {
	st := testdb.Open(t, testdb.SQLite, store.Config{})
	_, err := delivery.NewEngine(st, delivery.EngineConfig{DirectQueue: delivery.MaxDirectQueue + 1,
		Kheops: delivery.RetryPolicy{Delays: []time.Duration{time.Second}}, Facility: delivery.RetryPolicy{Delays: []time.Duration{time.Second}}})
	if err == nil {
		t.Fatal("an engine with a direct queue over MaxDirectQueue was made")
	}
}
