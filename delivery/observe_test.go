package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/delivery/deliverytest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/internal/testlog"
	"github.com/webhookd/webhookd/store"
)

func TestOutcomeClass(t *testing.T) {
	tests := []struct {
		status int
		err    error
		want   string
	}{
		{200, nil, delivery.ClassSuccess},
		{204, nil, delivery.ClassSuccess},
		{302, nil, delivery.Class3xx},
		{404, nil, delivery.Class4xx},
		{410, nil, delivery.Class4xx},
		{503, nil, delivery.Class5xx},
		{-1, &delivery.TimeoutError{After: time.Second}, delivery.ClassTimeout},
		{-1, fmt.Errorf("dial: %w", context.DeadlineExceeded), delivery.ClassTimeout},
		{-1, &delivery.RefusedError{}, delivery.ClassRefusedTarget},
		{-1, errors.New("connection refused"), delivery.ClassConnectionError},
	}
	for _, tt := range tests {
		if got := delivery.OutcomeClass(tt.status, tt.err); got != tt.want {
			t.Errorf("OutcomeClass(%d, %v) = %s, want %s", tt.status, tt.err, got, tt.want)
		}
	}
}

// observed records what an Observer is told.
type observed struct {
	mu  sync.Mutex
	got []string
	// directs counts first attempts by what direct dispatch did with them.
	directs map[string]int
}

func (o *observed) AttemptDone(family, class string, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, family+"/"+class)
}

func (o *observed) DirectDispatch(result string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.directs == nil {
		o.directs = map[string]int{}
	}
	o.directs[result] += n
}

// direct is how many first attempts direct dispatch reported with result.
func (o *observed) direct(result string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.directs[result]
}

// TestAttemptsAreLoggedAndObserved: a failed attempt is a WARN line with the webhook, the
// target host, the status, attempt n/max and the next retry; the observer sees each attempt.
func TestAttemptsAreLoggedAndObserved(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: 2})
		var logs testlog.Buffer
		obs := &observed{}
		deliverytest.Start(t, st, delivery.EngineConfig{
			Policy: delivery.TargetPolicy{Allow: loopback}, Observer: obs,
			Kheops: delivery.RetryPolicy{Delays: []time.Duration{time.Second}},
			Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		})
		rcv := newReceiver(t, false, func(n int, w http.ResponseWriter) {
			if n == 1 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
		album, hook := albumWithWebhook(t, st, rcv.URL+"/path?token=secret", nil)
		addBob(t, st, album)
		if d := waitDelivery(t, st, hook.ID, 20*time.Second); d.Status != store.DeliverySuccess {
			t.Fatalf("delivery %+v", d)
		}
		failed := logs.Lines(t, "webhook attempt failed")
		if len(failed) != 1 {
			t.Fatalf("failed-attempt lines %v", failed)
		}
		w := failed[0]
		host := strings.TrimPrefix(rcv.URL, "http://")
		if w["level"] != "WARN" || w["webhook"] != hook.ID || w["target_host"] != host || w["status"] != float64(503) ||
			w["attempt"] != "1/2" || w["outcome"] != "5xx" || w["next_retry_in"] != "1s" || w["next_retry_at"] == nil {
			t.Errorf("failed attempt logged as %v", w)
		}
		if ok := logs.Lines(t, "webhook delivered"); len(ok) != 1 || ok[0]["level"] != "INFO" || ok[0]["attempt"] != "2/2" {
			t.Errorf("success logged as %v", ok)
		}
		if strings.Contains(fmt.Sprint(logs.Lines(t, "")), "secret") {
			t.Error("the logs show the webhook url's query")
		}
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if strings.Join(obs.got, ",") != "kheops/5xx,kheops/success" {
			t.Errorf("observed %v", obs.got)
		}
	})
}

func TestReadyAndQueueStats(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		ctx := context.Background()
		st := testdb.Open(t, kind, store.Config{})
		e, err := delivery.NewEngine(st, delivery.EngineConfig{Kheops: delivery.RetryPolicy{Delays: []time.Duration{time.Second}},
			Facility: delivery.RetryPolicy{Delays: []time.Duration{time.Second}}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.CheckQueueSchema(ctx); err == nil || !strings.Contains(err.Error(), "webhookd migrate") {
			t.Errorf("unmigrated queue: %v", err)
		}
		if err := e.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.CheckQueueSchema(ctx); err != nil {
			t.Errorf("migrated queue: %v", err)
		}
		if err := e.Ready(ctx); err == nil || err.Error() != "not started" {
			t.Errorf("before Start: %v", err)
		}
		st.SetEnqueuer(e)
		// A delivery waits in the queue, due now, while the engine is not started.
		rcv := newReceiver(t, false, nil)
		album, _ := albumWithWebhook(t, st, rcv.URL, nil)
		addBob(t, st, album)
		time.Sleep(20 * time.Millisecond)
		counts, age, err := e.QueueStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if counts["available"] < 1 || age <= 0 {
			t.Errorf("counts %v, oldest due %s", counts, age)
		}
		if _, ok := counts["completed"]; !ok || len(counts) != 8 {
			t.Errorf("every state is counted: %v", counts)
		}
		if err := e.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.Ready(ctx); err != nil {
			t.Errorf("running: %v", err)
		}
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := e.Stop(stopCtx); err != nil {
			t.Fatal(err)
		}
		if err := e.Ready(ctx); err == nil || err.Error() != "stopped" {
			t.Errorf("after Stop: %v", err)
		}
	})
}
