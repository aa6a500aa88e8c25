package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// recordTogether records outcomes with RecordAttempt from concurrent callers whose calls all
// wait while first calls (one per batch that may run at once, of the deliveries firsts) hold
// the recorder, so that they run as one batch. It returns their results and the statements the
// batch ran.
func recordTogether(t *testing.T, st *store.Store, firsts []string, outcomes []store.AttemptOutcome) ([]bool, []error, int64) {
	t.Helper()
	ctx := context.Background()
	counter := testdb.CountStatements(st)
	hold := make(chan struct{})
	firstDone := make(chan error, len(firsts))
	for _, first := range firsts {
		held := make(chan struct{})
		go func() {
			_, err := st.RecordAttempt(ctx, store.AttemptOutcome{Attempt: attempt(first, 1), Status: store.DeliverySuccess,
				Next: func(*gorm.DB) error { close(held); <-hold; return nil }})
			firstDone <- err
		}()
		<-held
	}
	recorded, errs := make([]bool, len(outcomes)), make([]error, len(outcomes))
	var wg sync.WaitGroup
	for i, o := range outcomes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recorded[i], errs[i] = st.RecordAttempt(ctx, o)
		}()
	}
	waitPending(t, "calls", func() int { return store.PendingRecords(st) }, len(outcomes))
	counter.Reset()
	close(hold)
	for range firsts {
		if err := <-firstDone; err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	return recorded, errs, counter.N()
}

// pendingDeliveries returns a function that adds k pending deliveries (marked for a resend)
// to webhook w and returns their ids.
func pendingDeliveries(t *testing.T, st *store.Store, w store.FacilityWebhook) func(k int) []string {
	var n int
	return func(k int) []string {
		t.Helper()
		ids := make([]string, k)
		for i := range ids {
			n++
			ids[i] = fmt.Sprintf("d%03d", n)
			d := store.Delivery{ID: ids[i], Family: store.FamilyFacility, WebhookID: w.ID, Event: "shift.created",
				URL: w.URL, Secrets: "[]", Payload: "{}", Status: store.DeliveryPending, MaxAttempts: 4, Resend: true, CreatedAt: time.Now()}
			if err := st.DB().Create(&d).Error; err != nil {
				t.Fatal(err)
			}
		}
		return ids
	}
}

// gateLogger counts statements and, while armed, holds the goroutine of each statement after
// it ran (a batch holding its batcher) until hold is closed.
type gateLogger struct {
	logger.Interface
	n     atomic.Int64
	armed atomic.Bool
	held  chan struct{}
	hold  chan struct{}
}

func (g *gateLogger) Trace(context.Context, time.Time, func() (string, int64), error) {
	g.n.Add(1)
	if g.armed.Load() {
		g.held <- struct{}{}
		<-g.hold
	}
}

// TestLoadAttemptsInBatches: attempts starting together read their inputs in one statement; a
// delivery that does not exist is ErrNotFound for its caller alone.
func TestLoadAttemptsInBatches(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		ctx := context.Background()
		st := testdb.Open(t, kind, store.Config{})
		w := facilityWebhook(t, st)
		if err := st.DB().Exec("INSERT INTO webhook_health (webhook_id, failed_deliveries, pace_ms) VALUES (?, 3, 250)", w.ID).Error; err != nil {
			t.Fatal(err)
		}
		deliveries := pendingDeliveries(t, st, w)
		holders := store.LoadBatches(st)
		firsts, ids := deliveries(holders), append(deliveries(39), "missing")
		if _, err := st.RecordAttempt(ctx, store.AttemptOutcome{Attempt: attempt(ids[0], 1), Status: store.DeliveryPending}); err != nil {
			t.Fatal(err)
		}
		g := &gateLogger{Interface: logger.Discard, held: make(chan struct{}), hold: make(chan struct{})}
		st.DB().Config.Logger = g
		g.armed.Store(true)
		var wg sync.WaitGroup
		for _, id := range firsts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := st.LoadAttempt(ctx, id); err != nil {
					t.Error(err)
				}
			}()
			<-g.held
		}
		g.armed.Store(false)
		inputs, errs := make([]store.AttemptInput, len(ids)), make([]error, len(ids))
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inputs[i], errs[i] = st.LoadAttempt(ctx, id)
			}()
		}
		waitPending(t, "loads", func() int { return store.PendingLoads(st) }, len(ids))
		g.n.Store(0)
		close(g.hold)
		wg.Wait()
		if n := g.n.Load(); n != 1 {
			t.Errorf("%d statements to load %d attempts, want 1", n, len(ids))
		}
		for i, id := range ids {
			in, err := inputs[i], errs[i]
			if id == "missing" {
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("missing: %+v, %v; want ErrNotFound", in, err)
				}
				continue
			}
			recorded := 0
			if i == 0 {
				recorded = 1
			}
			if err != nil || in.ID != id || in.Recorded != recorded || !in.HookExists || !in.HookEnabled ||
				in.FailedDeliveries != 3 || in.PaceMS != 250 || in.Status != store.DeliveryPending {
				t.Errorf("%s: %+v, %v", id, in, err)
			}
		}
	})
}

func attempt(delivery string, n int) store.DeliveryAttempt {
	return store.DeliveryAttempt{DeliveryID: delivery, Attempt: n, Status: 200, DurationMS: 3, CreatedAt: time.Now()}
}

// TestRecordAttemptsInBatches: attempts finishing together are recorded in one batch of a
// constant number of statements, whatever its size; inside a batch, an attempt recorded before
// (a re-run after a crash), a deleted delivery and a failing Next change nothing and fail no
// other outcome, and each RecordAttempt reports what it did as it would alone.
func TestRecordAttemptsInBatches(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		ctx := context.Background()
		st := testdb.Open(t, kind, store.Config{})
		w := facilityWebhook(t, st)
		deliveries := pendingDeliveries(t, st, w)
		status := func(id string) (string, bool, int) {
			t.Helper()
			in, err := st.LoadAttempt(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return in.Status, in.Resend, in.Recorded
		}

		holders := store.RecordBatches(st)

		// One outcome and forty run the same statements, with and without Next, and every one
		// is recorded.
		for _, withNext := range []bool{false, true} {
			statements := map[int]int64{}
			for _, size := range []int{1, 40} {
				firsts, ids := deliveries(holders), deliveries(size)
				outcomes := make([]store.AttemptOutcome, size)
				var nexts sync.Map
				for i, id := range ids {
					outcomes[i] = store.AttemptOutcome{Attempt: attempt(id, 1), Status: store.DeliverySuccess, Resend: i%2 == 0}
					if withNext {
						outcomes[i].Next = func(*gorm.DB) error { nexts.Store(id, true); return nil }
					}
				}
				recorded, errs, stmts := recordTogether(t, st, firsts, outcomes)
				statements[size] = stmts
				for i, id := range ids {
					s, resend, attempts := status(id)
					_, next := nexts.Load(id)
					if !recorded[i] || errs[i] != nil || s != store.DeliverySuccess || resend != (i%2 != 0) || attempts != 1 || next != withNext {
						t.Errorf("batch of %d, %s: recorded %v, %v; status %q, resend %v, %d attempts, Next run %v",
							size, id, recorded[i], errs[i], s, resend, attempts, next)
					}
				}
			}
			if statements[1] != statements[40] || statements[1] > 2 {
				t.Errorf("Next %v, statements: %d for a batch of 1, %d for 40; want the same, at most 2", withNext, statements[1], statements[40])
			}
		}

		// A batch with an attempt recorded before, a deleted delivery and (with Next) a failing
		// Next.
		for _, withNext := range []bool{false, true} {
			firsts, ids := deliveries(holders), deliveries(8)
			if ok, err := st.RecordAttempt(ctx, store.AttemptOutcome{Attempt: attempt(ids[1], 1), Status: store.DeliveryPending}); !ok || err != nil {
				t.Fatalf("record %s alone: %v %v", ids[1], ok, err)
			}
			if err := st.DB().Exec("DELETE FROM deliveries WHERE id = ?", ids[2]).Error; err != nil {
				t.Fatal(err)
			}
			failed := errors.New("next failed")
			outcomes := make([]store.AttemptOutcome, 0, 7)
			for _, id := range ids[1:] {
				o := store.AttemptOutcome{Attempt: attempt(id, 1), Status: store.DeliverySuccess}
				if withNext && id == ids[3] {
					o.Next = func(*gorm.DB) error { return failed }
				}
				outcomes = append(outcomes, o)
			}
			recorded, errs, _ := recordTogether(t, st, firsts, outcomes)
			for i, id := range ids[1:] {
				want, wantRecorded, wantErr, wantAttempts := store.DeliverySuccess, true, error(nil), 1
				switch {
				case id == ids[1]: // recorded before: unchanged
					want, wantRecorded = store.DeliveryPending, false
				case id == ids[2]: // deleted
					wantRecorded = false
				case id == ids[3] && withNext: // its Next failed: rolled back
					want, wantRecorded, wantErr, wantAttempts = store.DeliveryPending, false, failed, 0
				}
				if recorded[i] != wantRecorded || !errors.Is(errs[i], wantErr) {
					t.Errorf("Next %v, %s: recorded %v, %v; want %v, %v", withNext, id, recorded[i], errs[i], wantRecorded, wantErr)
				}
				if id == ids[2] {
					if _, err := st.LoadAttempt(ctx, id); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("deleted %s: %v", id, err)
					}
					continue
				}
				if s, _, attempts := status(id); s != want || attempts != wantAttempts {
					t.Errorf("Next %v, %s: status %q with %d attempts, want %q with %d", withNext, id, s, attempts, want, wantAttempts)
				}
			}
		}
	})
}
