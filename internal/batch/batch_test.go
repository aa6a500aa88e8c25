package batch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/batch"
)

// gate is a batch function that records each batch's inputs and holds every batch until
// released, so a test can pile calls up behind a running one.
type gate struct {
	mu      sync.Mutex
	batches [][]int
	release chan struct{}
	started chan struct{}
	running atomic.Int32
	maxRun  atomic.Int32
}

func newGate() *gate {
	return &gate{release: make(chan struct{}), started: make(chan struct{}, 100)}
}

func (g *gate) run(_ context.Context, calls []*batch.Call[int, string]) {
	n := g.running.Add(1)
	defer g.running.Add(-1)
	for {
		m := g.maxRun.Load()
		if n <= m || g.maxRun.CompareAndSwap(m, n) {
			break
		}
	}
	ins := make([]int, len(calls))
	for i, c := range calls {
		ins[i] = c.In
	}
	g.mu.Lock()
	g.batches = append(g.batches, ins)
	g.mu.Unlock()
	g.started <- struct{}{}
	<-g.release
	for _, c := range calls {
		if c.In < 0 {
			c.Err = fmt.Errorf("negative %d", c.In)
			continue
		}
		c.Out = fmt.Sprint("out-", c.In)
	}
}

func (g *gate) sizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := make([]int, len(g.batches))
	for i, b := range g.batches {
		s[i] = len(b)
	}
	return s
}

// startCalls calls b.Do with each of ins, each on its own goroutine, and returns where their
// results (or "err: ...") arrive.
func startCalls(t *testing.T, b *batch.Batcher[int, string], ins []int) (results chan string) {
	t.Helper()
	results = make(chan string, len(ins))
	for _, in := range ins {
		go func() {
			out, err := b.Do(context.Background(), in)
			if err != nil {
				results <- "err: " + err.Error()
				return
			}
			results <- out
		}()
	}
	return results
}

func TestLightLoadRunsAtOnceAlone(t *testing.T) {
	g := newGate()
	close(g.release)
	b := batch.New(batch.Config{}, g.run)
	for i := range 3 {
		out, err := b.Do(context.Background(), i)
		if err != nil || out != fmt.Sprint("out-", i) {
			t.Fatalf("Do(%d) = %q, %v", i, out, err)
		}
	}
	if got := g.sizes(); fmt.Sprint(got) != "[1 1 1]" {
		t.Fatalf("batch sizes %v, want three batches of one", got)
	}
}

// With Linger, calls arriving one after the other, none during a batch, still share one: the
// first waits for the others (without it, each runs alone, as TestLightLoadRunsAtOnceAlone
// shows).
func TestLingerGathersATrickle(t *testing.T) {
	g := newGate()
	close(g.release)
	b := batch.New(batch.Config{Linger: 300 * time.Millisecond, MaxConcurrent: 4}, g.run)
	results := make(chan string, 3)
	for i := range 3 {
		go func() {
			out, _ := b.Do(context.Background(), i)
			results <- out
		}()
		time.Sleep(20 * time.Millisecond) // well within the linger, even on a loaded machine
	}
	for range 3 {
		<-results
	}
	if got := g.sizes(); fmt.Sprint(got) != "[3]" {
		t.Fatalf("batch sizes %v, want one batch of three", got)
	}
}

func TestCallsArrivingDuringABatchShareTheNext(t *testing.T) {
	tests := []struct {
		name      string
		cfg       batch.Config
		waiting   int
		wantSizes string
	}{
		{"all in one", batch.Config{}, 10, "[1 10]"},
		{"bounded by MaxSize", batch.Config{MaxSize: 4}, 10, "[1 4 4 2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate()
			b := batch.New(tt.cfg, g.run)
			first := startCalls(t, b, []int{0})
			<-g.started // the first batch runs, alone, and holds
			ins := make([]int, tt.waiting)
			for i := range ins {
				ins[i] = i + 1
			}
			rest := startCalls(t, b, ins)
			waitFor(t, func() bool { return pendingAtLeast(b, tt.waiting) })
			close(g.release)
			if got := <-first; got != "out-0" {
				t.Fatalf("first call: %q", got)
			}
			seen := map[string]bool{}
			for range tt.waiting {
				seen[<-rest] = true
			}
			for _, in := range ins {
				if !seen[fmt.Sprint("out-", in)] {
					t.Fatalf("no result out-%d among %v", in, seen)
				}
			}
			if got := fmt.Sprint(g.sizes()); got != tt.wantSizes {
				t.Fatalf("batch sizes %s, want %s", got, tt.wantSizes)
			}
		})
	}
}

func TestEachCallGetsItsOwnError(t *testing.T) {
	g := newGate()
	b := batch.New(batch.Config{}, g.run)
	first := startCalls(t, b, []int{0})
	<-g.started
	rest := startCalls(t, b, []int{1, -2, 3})
	waitFor(t, func() bool { return pendingAtLeast(b, 3) })
	close(g.release)
	<-first
	got := map[string]bool{}
	for range 3 {
		got[<-rest] = true
	}
	want := map[string]bool{"out-1": true, "err: negative -2": true, "out-3": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("results %v, want %v", got, want)
	}
}

func TestMaxConcurrentBatches(t *testing.T) {
	for _, limit := range []int{1, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			g := newGate()
			b := batch.New(batch.Config{MaxSize: 1, MaxConcurrent: limit}, g.run)
			results := startCalls(t, b, []int{1, 2, 3, 4, 5, 6})
			for range limit {
				<-g.started
			}
			// Give a batch over the limit the time to start, if it could.
			time.Sleep(50 * time.Millisecond)
			if got := g.running.Load(); got != int32(limit) {
				t.Fatalf("%d batches running, want %d", got, limit)
			}
			close(g.release)
			for range 6 {
				<-results
			}
			if got := g.maxRun.Load(); got != int32(limit) {
				t.Fatalf("at most %d batches ran at once, want %d", got, limit)
			}
		})
	}
}

func TestCallerGivingUp(t *testing.T) {
	g := newGate()
	b := batch.New(batch.Config{}, g.run)
	first := startCalls(t, b, []int{0})
	<-g.started
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := b.Do(ctx, 7); done <- err }()
	waitFor(t, func() bool { return pendingAtLeast(b, 1) })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Do did not return when its context was cancelled")
	}
	close(g.release)
	<-first
	// The cancelled call is not run: only the first batch ran.
	time.Sleep(20 * time.Millisecond)
	if got := fmt.Sprint(g.sizes()); got != "[1]" {
		t.Fatalf("batch sizes %s, want [1] (the cancelled call is dropped)", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func pendingAtLeast(b *batch.Batcher[int, string], n int) bool { return b.Pending() >= n }

func TestAllOrEach(t *testing.T) {
	tests := []struct {
		name    string
		ins     []int
		allErr  error
		want    string
		wantRan string
	}{
		{"a batch runs all at once", []int{1, 2}, nil, "[all-1 all-2]", "all"},
		{"a failed batch runs each alone", []int{1, -2}, errors.New("no"), "[one-1 err]", "all one one"},
		{"a single call runs alone", []int{3}, nil, "[one-3]", "one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []string
			run := batch.AllOrEach(
				func(_ context.Context, calls []*batch.Call[int, string]) ([]string, error) {
					ran = append(ran, "all")
					outs := make([]string, len(calls))
					for i, c := range calls {
						outs[i] = fmt.Sprint("all-", c.In)
					}
					return outs, tt.allErr
				},
				func(_ context.Context, c *batch.Call[int, string]) (string, error) {
					ran = append(ran, "one")
					if c.In < 0 {
						return "", errors.New("negative")
					}
					return fmt.Sprint("one-", c.In), nil
				})
			calls := make([]*batch.Call[int, string], len(tt.ins))
			for i, in := range tt.ins {
				calls[i] = &batch.Call[int, string]{Ctx: context.Background(), In: in}
			}
			run(context.Background(), calls)
			got := make([]string, len(calls))
			for i, c := range calls {
				got[i] = c.Out
				if c.Err != nil {
					got[i] = "err"
				}
			}
			if fmt.Sprint(got) != tt.want || strings.Join(ran, " ") != tt.wantRan {
				t.Fatalf("results %v after %v, want %s after %s", got, ran, tt.want, tt.wantRan)
			}
		})
	}
}
