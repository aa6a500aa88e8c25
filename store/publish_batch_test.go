package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// gateEnqueuer is a store.Enqueuer for the batching tests: it holds the enqueues of deliveries
// to the webhook hold until release is closed (so that publishes pile up behind them), fails
// those to the webhook fail, and records the caller of each delivery (the callerKey value of its
// ref's context).
type gateEnqueuer struct {
	hold, fail string
	held       chan struct{}
	release    chan struct{}

	mu       sync.Mutex
	callerOf map[string]any // delivery id -> callerKey value
}

type callerKey struct{}

func (g *gateEnqueuer) EnqueueDeliveries(ctx context.Context, _ *sql.Tx, refs []store.DeliveryRef) error {
	for _, r := range refs {
		switch r.WebhookID {
		case g.hold:
			g.held <- struct{}{}
			<-g.release
		case g.fail:
			return errors.New("queue refuses")
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range refs {
		c := ctx
		if r.Ctx != nil {
			c = r.Ctx
		}
		g.callerOf[r.ID] = c.Value(callerKey{})
	}
	return nil
}

func (g *gateEnqueuer) EnqueueResends(context.Context, *sql.Tx, []store.DeliveryRef) error {
	return nil
}
func (g *gateEnqueuer) ScheduleSeriesFlush(context.Context, *sql.Tx, string, string, time.Time) error {
	return nil
}
func (g *gateEnqueuer) DeliveriesCommitted() {}

// batchFixture is a store with webhooks to publish to: facility P-n has n webhooks (n = 0..2),
// application app-1 one user webhook, facility FAIL one webhook whose enqueues fail, and
// facility GATE one whose enqueues wait for the gate.
type batchFixture struct {
	st      *store.Store
	enq     *gateEnqueuer
	counter *testdb.StatementCounter
}

func newBatchFixture(t *testing.T, kind testdb.Kind) *batchFixture {
	t.Helper()
	st := testdb.Open(t, kind, store.Config{})
	ctx := context.Background()
	hook := func(kind, client string, facilities ...string) string {
		t.Helper()
		w, err := st.CreateFacilityWebhook(ctx, store.FacilityWebhook{Kind: kind, ClientID: client,
			URL: "https://r.example.org/" + client, Events: []string{"all"}, Facilities: facilities, Secrets: []string{"s"}})
		if err != nil {
			t.Fatal(err)
		}
		return w.ID
	}
	hook(store.FamilyFacility, "app", "P-1", "P-2")
	hook(store.FamilyFacility, "app", "P-2")
	hook(store.FamilyUser, "app-1")
	enq := &gateEnqueuer{hold: hook(store.FamilyFacility, "app", "GATE"), fail: hook(store.FamilyFacility, "app", "FAIL"),
		held: make(chan struct{}), release: make(chan struct{}), callerOf: map[string]any{}}
	st.SetEnqueuer(enq)
	return &batchFixture{st: st, enq: enq, counter: testdb.CountStatements(st)}
}

// publishTogether publishes ins in one batch: it occupies every batch slot with a publish held
// by the gate, starts ins one after the other, each once the one before waits for a batch
// (caller i's context carries callerKey i), and opens the gate. It returns each caller's result
// and error, and the number of statements run once the gate opened (the batch's, the held
// publishes having run theirs).
func (f *batchFixture) publishTogether(t *testing.T, ins []store.PublishInput) ([]store.PublishResult, []error, int64) {
	t.Helper()
	f.enq.release = make(chan struct{})
	var gates sync.WaitGroup
	for range store.PublishBatches(f.st) {
		gates.Add(1)
		done := make(chan struct{})
		go func() {
			defer gates.Done()
			defer close(done)
			if _, err := f.st.PublishEvent(context.Background(), store.PublishInput{Kind: store.EventKindFacility,
				EventType: "shift.created", FacilityID: "GATE", Data: json.RawMessage(`{}`), Publisher: "app"}); err != nil {
				t.Errorf("held publish: %v", err)
			}
		}()
		// In its own batch, held; a publish that fails before the gate ends the test instead of
		// hanging it.
		select {
		case <-f.enq.held:
		case <-done:
			t.Fatal("the held publish returned before reaching the gate")
		case <-time.After(10 * time.Second):
			t.Fatal("the held publish did not reach the gate in 10 s")
		}
	}
	results, errs := make([]store.PublishResult, len(ins)), make([]error, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = f.st.PublishEvent(context.WithValue(context.Background(), callerKey{}, i), in)
		}()
		// Each caller waits for the batch before the next one starts, so that the batch holds
		// them in the order of ins (the first of two callers with one key records the event).
		waitPending(t, "publishes", func() int { return store.PublishPending(f.st) }, i+1)
	}
	f.counter.Reset()
	close(f.enq.release)
	wg.Wait()
	n := f.counter.N()
	gates.Wait()
	return results, errs, n
}

// stored reads the deliveries of an event: their facility, and the caller recorded for each.
func (f *batchFixture) stored(t *testing.T, eventID string) (facilities []string, callers []any) {
	t.Helper()
	rows, err := f.st.DB().Raw(`SELECT id, COALESCE(facility_id, '') FROM deliveries WHERE event_id = ? ORDER BY id`, eventID).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	f.enq.mu.Lock()
	defer f.enq.mu.Unlock()
	for rows.Next() {
		var id, facility string
		if err := rows.Scan(&id, &facility); err != nil {
			t.Fatal(err)
		}
		facilities = append(facilities, facility)
		callers = append(callers, f.enq.callerOf[id])
	}
	return facilities, callers
}

func facilityEvent(facility string, n int) store.PublishInput {
	return store.PublishInput{Kind: store.EventKindFacility, EventType: "shift.created", FacilityID: facility,
		Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)), Publisher: "app"}
}

func withKey(in store.PublishInput, publisher, key string) store.PublishInput {
	in.Publisher, in.IdempotencyKey = publisher, &key
	return in
}

// TestPublishBatchStatements: events published together run in one transaction whose statements
// do not grow with the batch: one SELECT of the idempotency keys, one of the webhooks per kind
// of event, one INSERT of the events and one of the deliveries (on PostgreSQL one INSERT of
// both), for 3 events as for 40.
func TestPublishBatchStatements(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newBatchFixture(t, kind)
		batchOf := func(n int) []store.PublishInput {
			ins := make([]store.PublishInput, n)
			for i := range ins {
				switch i % 3 {
				case 0:
					ins[i] = withKey(facilityEvent(fmt.Sprint("P-", i%4), i), "app", fmt.Sprintf("k-%d-%d", n, i))
				case 1:
					ins[i] = facilityEvent("P-2", i)
				default:
					ins[i] = store.PublishInput{Kind: store.EventKindUser, EventType: "facility.creation.accepted",
						ClientID: "app-1", Data: json.RawMessage(`{"facilityId":"P-1"}`), Publisher: "app"}
				}
			}
			return ins
		}
		counts := map[int]int64{}
		for _, n := range []int{3, 40} {
			_, errs, statements := f.publishTogether(t, batchOf(n))
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			counts[n] = statements
		}
		want := int64(5)
		if kind == testdb.Postgres {
			want = 4 // the events and their deliveries in one INSERT
		}
		if counts[3] != want || counts[40] != want {
			t.Errorf("statements for a batch of 3: %d, of 40: %d; want %d for both", counts[3], counts[40], want)
		}
	})
}

// TestPublishBatchResults: in a batch, every caller gets the result of its own event (its
// deliveries, made with its own context), an idempotency key used twice makes one event and a
// duplicate (in the batch's one transaction), a key used before the batch a duplicate of that
// event, and an event that cannot be published fails alone, its neighbours published.
func TestPublishBatchResults(t *testing.T) {
	type want struct {
		deliveries int
		duplicate  int // -1, or the caller whose event this one duplicates
		err        bool
	}
	// alone marks the batch whose transaction fails: its events are then published one by one.
	tests := []struct {
		name  string
		ins   []store.PublishInput
		want  []want
		alone bool
	}{
		{"own results", []store.PublishInput{facilityEvent("P-2", 0), facilityEvent("P-0", 1), facilityEvent("P-1", 2),
			facilityEvent("P-2", 3)},
			[]want{{2, -1, false}, {0, -1, false}, {1, -1, false}, {2, -1, false}}, false},
		{"a key twice in the batch", []store.PublishInput{withKey(facilityEvent("P-2", 0), "app", "twice"),
			facilityEvent("P-1", 1), withKey(facilityEvent("P-1", 2), "app", "twice"),
			withKey(facilityEvent("P-1", 3), "other-app", "twice")},
			[]want{{2, -1, false}, {1, -1, false}, {2, 0, false}, {1, -1, false}}, false},
		{"a key used before", []store.PublishInput{withKey(facilityEvent("P-1", 0), "app", "before"), facilityEvent("P-2", 1)},
			[]want{{2, -2, false}, {2, -1, false}}, false},
		{"a failing event", []store.PublishInput{facilityEvent("P-1", 0), facilityEvent("FAIL", 1), facilityEvent("P-2", 2),
			withKey(facilityEvent("FAIL", 3), "app", "failing")},
			[]want{{1, -1, false}, {0, -1, true}, {2, -1, false}, {0, -1, true}}, true},
	}
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newBatchFixture(t, kind)
		before, err := f.st.PublishEvent(context.Background(), withKey(facilityEvent("P-2", -1), "app", "before"))
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				results, errs, statements := f.publishTogether(t, tt.ins)
				if !tt.alone && statements > 5 {
					t.Errorf("%d statements: not one batch", statements)
				}
				for i, w := range tt.want {
					res, err := results[i], errs[i]
					if w.err {
						if err == nil || !strings.Contains(err.Error(), "queue refuses") {
							t.Errorf("caller %d: %+v, %v; want the queue's error", i, res, err)
						}
						continue
					}
					if err != nil {
						t.Errorf("caller %d: %v", i, err)
						continue
					}
					if res.Deliveries != w.deliveries || res.Duplicate != (w.duplicate != -1) {
						t.Errorf("caller %d: %+v, want %d deliveries, duplicate %v", i, res, w.deliveries, w.duplicate != -1)
					}
					switch {
					case w.duplicate == -2:
						if res.EventID != before.EventID {
							t.Errorf("caller %d: event %s, want the earlier %s", i, res.EventID, before.EventID)
						}
					case w.duplicate >= 0:
						if res.EventID != results[w.duplicate].EventID {
							t.Errorf("caller %d: event %s, want caller %d's %s", i, res.EventID, w.duplicate, results[w.duplicate].EventID)
						}
					default:
						facilities, callers := f.stored(t, res.EventID)
						if len(facilities) != w.deliveries {
							t.Errorf("caller %d: %d deliveries stored, want %d", i, len(facilities), w.deliveries)
						}
						for j := range facilities {
							if facilities[j] != tt.ins[i].FacilityID || callers[j] != i {
								t.Errorf("caller %d: a delivery for facility %s enqueued with the context of caller %v",
									i, facilities[j], callers[j])
							}
						}
					}
				}
				var events int64
				if err := f.st.DB().Raw(`SELECT COUNT(*) FROM events WHERE idempotency_key = 'twice' AND publisher = 'app'`).
					Scan(&events).Error; err != nil || events > 1 {
					t.Errorf("%d events hold the key twice (%v), want at most 1", events, err)
				}
			})
		}
	})
}
