package delivery_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// isolationCase is one measure of the latency of a healthy webhook's deliveries while another
// webhook's endpoint takes `slow` per request with `queued` deliveries waiting.
type isolationCase struct {
	concurrency int // WebhookConcurrency of the engine (-1: no bound)
	// live queues the slow endpoint's deliveries while the engine runs (and the healthy
	// deliveries come), rather than before it starts.
	live    bool
	workers int
	slow    time.Duration
	queued  int
	// healthy deliveries are triggered every `every` for `window`.
	every, window time.Duration
}

// isolationResult is the latency of the healthy deliveries, from creation to arrival.
type isolationResult struct {
	p50, p99, max time.Duration
	n             int
	// worst are the 5 slowest deliveries: when they were created (from the first) and their latency.
	worst [][2]time.Duration
}

func (r isolationResult) String() string {
	return fmt.Sprintf("p50 %s, p99 %s, max %s over %d deliveries", r.p50.Round(time.Millisecond),
		r.p99.Round(time.Millisecond), r.max.Round(time.Millisecond), r.n)
}

func measureIsolation(t *testing.T, kind testdb.Kind, c isolationCase) isolationResult {
	t.Helper()
	ctx := context.Background()
	st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: 1})
	stop := make(chan struct{})
	busy := make(chan struct{}, 1) // the slow endpoint got its first request
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		select {
		case busy <- struct{}{}:
		default:
		}
		select {
		case <-time.After(c.slow):
		case <-stop:
		}
	}))
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived[r.Header.Get("Webhook-Id")] = time.Now()
		mu.Unlock()
	}))
	t.Cleanup(func() { close(stop); slow.Close(); healthy.Close() }) // after the engine stops
	// The backlog is queued before the engine starts, then the healthy deliveries come at a
	// steady rate while it works.
	e, err := delivery.NewEngine(st, delivery.EngineConfig{
		UserAgent: "webhookd/test", Policy: delivery.TargetPolicy{Allow: loopback},
		Kheops: delivery.RetryPolicy{Delays: []time.Duration{time.Minute}}, Facility: delivery.RetryPolicy{Delays: []time.Duration{time.Minute}},
		Timeout: c.slow + 5*time.Second, PollInterval: 50 * time.Millisecond,
		Workers: c.workers, WebhookConcurrency: c.concurrency, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	st.SetEnqueuer(e)
	album, slowHook := albumWithWebhook(t, st, slow.URL, nil)
	addBob(t, st, album)
	healthyHook, err := st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: album, URL: healthy.URL, Name: "healthy", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	trigger := store.ManualTrigger{Event: store.EventNewUser, User: "bob"}
	queue := func() {
		for range c.queued {
			if err := st.TriggerWebhook(ctx, album, slowHook.ID, trigger, alice); err != nil {
				t.Error(err)
				return
			}
		}
	}
	if !c.live {
		queue()
	}
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Stop(sctx)
	})
	var wg sync.WaitGroup
	if c.live {
		wg.Go(queue)
	}
	if c.queued > 0 {
		select { // the engine is working the backlog: measure from there
		case <-busy:
		case <-time.After(30 * time.Second):
			t.Fatal("the slow endpoint got no request")
		}
	}
	tick := time.NewTicker(c.every)
	for end := time.Now().Add(c.window); time.Now().Before(end); <-tick.C {
		wg.Go(func() {
			if err := st.TriggerWebhook(ctx, album, healthyHook.ID, trigger, alice); err != nil {
				t.Error(err)
			}
		})
	}
	tick.Stop()
	wg.Wait()
	var ds []store.Delivery
	st.DB().Where("webhook_id = ?", healthyHook.ID).Find(&ds)
	deadline := time.Now().Add(time.Duration(c.queued)*c.slow + 30*time.Second)
	for {
		mu.Lock()
		n := len(arrived)
		mu.Unlock()
		if n == len(ds) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d healthy deliveries arrived", n, len(ds))
		}
		time.Sleep(20 * time.Millisecond)
	}
	lat := make([]time.Duration, 0, len(ds))
	var worst [][2]time.Duration
	first := slices.MinFunc(ds, func(a, b store.Delivery) int { return a.CreatedAt.Compare(b.CreatedAt) }).CreatedAt
	mu.Lock()
	for _, d := range ds {
		l := arrived[d.ID].Sub(d.CreatedAt)
		lat = append(lat, l)
		worst = append(worst, [2]time.Duration{d.CreatedAt.Sub(first), l})
	}
	mu.Unlock()
	slices.Sort(lat)
	slices.SortFunc(worst, func(a, b [2]time.Duration) int { return int(b[1] - a[1]) })
	at := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	return isolationResult{p50: at(0.5), p99: at(0.99), max: lat[len(lat)-1], n: len(lat), worst: worst[:min(5, len(worst))]}
}

// TestSlowEndpointIsolation measures a healthy webhook's delivery latency while another
// webhook's endpoint takes 1 s per request with 60 deliveries queued for 20 workers (the issue's
// 10 s and 1,000, scaled down to run in seconds; TestSlowEndpointIsolationFullSize runs the full
// size), three times in the same run: with no slow endpoint (the machine's own latency, the
// reference), without a bound of attempts per webhook (the 20 workers all wait on the slow
// endpoint, the ceiling), and with the default bound (10).
func TestSlowEndpointIsolation(t *testing.T) {
	c := isolationCase{workers: 20, slow: time.Second, queued: 60, every: 50 * time.Millisecond, window: 2 * time.Second}
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		base, unbounded, bounded := c, c, c
		base.queued, base.concurrency = 0, delivery.DefaultWebhookConcurrency
		unbounded.concurrency, bounded.concurrency = -1, delivery.DefaultWebhookConcurrency
		// Ratios in the same run (the machine is shared and noisy): the median, which the
		// unbounded run spends waiting for a worker, must fall to less than a third, the p99
		// below the unbounded one. The absolute figure (p99 < 1 s) holds on a machine
		// that is not saturated; the README gives the measures. A machine saturated by other
		// work can blur one measure: the three runs are made again once before failing.
		for try := 1; ; try++ {
			alone := measureIsolation(t, kind, base)
			before := measureIsolation(t, kind, unbounded)
			after := measureIsolation(t, kind, bounded)
			t.Logf("%s, try %d, healthy webhook alone: %s", kind, try, alone)
			t.Logf("%s, next to an endpoint taking %s/request with %d queued, %d workers: unbounded %s", kind, c.slow, c.queued, c.workers, before)
			t.Logf("%s, the same bounded at %d attempts in flight per webhook: %s", kind, bounded.concurrency, after)
			if after.p50*3 <= before.p50 && after.p99 < before.p99 {
				return
			}
			if try == 2 {
				t.Errorf("healthy p50/p99 %s/%s with the bound, %s/%s without (%s/%s alone): want p50 < a third, p99 below",
					after.p50, after.p99, before.p50, before.p99, alone.p50, alone.p99)
				return
			}
		}
	})
}

// TestSlowEndpointIsolationFullSize is the figure: a receiver taking 10 s per request
// with 1,000 deliveries queued, the default 100 workers, healthy deliveries every 100 ms for
// 30 s (WEBHOOKD_ISOLATION_WINDOW_S). It takes minutes, so it runs only when
// WEBHOOKD_ISOLATION_FULL=1 (WEBHOOKD_ISOLATION_BEFORE=1 adds the unbounded run; the figures
// are in the README); TestSlowEndpointIsolation runs the same measure scaled down in CI.
func TestSlowEndpointIsolationFullSize(t *testing.T) {
	if os.Getenv("WEBHOOKD_ISOLATION_FULL") != "1" {
		t.Skip("minutes long: set WEBHOOKD_ISOLATION_FULL=1 (TestSlowEndpointIsolation runs the scaled-down measure)")
	}
	window, _ := strconv.Atoi(os.Getenv("WEBHOOKD_ISOLATION_WINDOW_S"))
	c := isolationCase{workers: delivery.DefaultWorkers, slow: 10 * time.Second, queued: 1000, every: 100 * time.Millisecond,
		window: time.Duration(max(window, 30)) * time.Second, live: os.Getenv("WEBHOOKD_ISOLATION_LIVE") == "1"}
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		for _, conc := range []int{delivery.DefaultWebhookConcurrency, -1} {
			if conc < 0 && os.Getenv("WEBHOOKD_ISOLATION_BEFORE") != "1" {
				continue
			}
			c.concurrency = conc
			r := measureIsolation(t, kind, c)
			t.Logf("%s, slow endpoint %s/request, %d queued (live %v), bound %d: healthy %s; slowest (created at, latency): %v",
				kind, c.slow, c.queued, c.live, conc, r, r.worst)
		}
	})
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
