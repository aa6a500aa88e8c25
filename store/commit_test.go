package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// commitCounter is a store.Enqueuer that counts DeliveriesCommitted calls and can fail enqueues.
type commitCounter struct {
	fail      bool
	committed atomic.Int32
}

func (c *commitCounter) EnqueueDeliveries(context.Context, *sql.Tx, []store.DeliveryRef) error {
	if c.fail {
		return errors.New("queue down")
	}
	return nil
}

func (c *commitCounter) EnqueueResends(context.Context, *sql.Tx, []store.DeliveryRef) error {
	return nil
}

func (c *commitCounter) ScheduleSeriesFlush(context.Context, *sql.Tx, string, string, time.Time) error {
	return nil
}

func (c *commitCounter) DeliveriesCommitted() { c.committed.Add(1) }

// The engine is told once a transaction that enqueued deliveries has committed, not before, not
// after a rollback, and not for transactions that enqueued nothing.
func TestDeliveriesCommittedAfterCommitOnly(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{})
		ctx := context.Background()
		enq := &commitCounter{}
		st.SetEnqueuer(enq)
		facilityWebhook(t, st, "s")
		publish := func(facility string) error {
			_, err := st.PublishEvent(ctx, store.PublishInput{Kind: store.EventKindFacility, EventType: "shift.created",
				FacilityID: facility, Data: json.RawMessage(`{}`), Publisher: "app"})
			return err
		}
		if err := publish("P-2"); err != nil || enq.committed.Load() != 0 {
			t.Fatalf("no delivery: err %v, told %d times, want 0", err, enq.committed.Load())
		}
		if err := publish("P-1"); err != nil || enq.committed.Load() != 1 {
			t.Fatalf("one delivery: err %v, told %d times, want 1", err, enq.committed.Load())
		}
		enq.fail = true
		if err := publish("P-1"); err == nil || enq.committed.Load() != 1 {
			t.Fatalf("rolled back: err %v, told %d times, want an error and still 1", err, enq.committed.Load())
		}
	})
}
