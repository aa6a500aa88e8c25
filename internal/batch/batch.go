// Package batch coalesces concurrent calls into batches, the way a database's group commit
// does: while a batch runs, the calls that arrive wait together and run as the next batch. A
// call that arrives when nothing runs starts at once, alone, so light load pays no added delay;
// under heavy load the cost of a round trip or a commit is shared by every call of a batch.
package batch

import (
	"context"
	"sync"
	"time"
)

// Call is one caller's part of a batch: Run reads Ctx and In and sets Out and Err.
type Call[In, Out any] struct {
	// Ctx is the caller's context, for the values it carries (a trace, a request id). A batch
	// runs under the batcher's own context: one caller giving up does not cancel the others.
	Ctx context.Context
	In  In
	Out Out
	Err error

	done chan struct{}
}

// Func runs a batch: it must set Out or Err on every call before it returns.
type Func[In, Out any] func(ctx context.Context, calls []*Call[In, Out])

// Config configures a Batcher.
type Config struct {
	// MaxSize bounds the calls of one batch (default 100).
	MaxSize int
	// MaxConcurrent bounds the batches running at once (default 1: one writer, as SQLite
	// allows; more lets a server database work on several batches).
	MaxConcurrent int
	// Timeout bounds one batch's run (default 10 s).
	Timeout time.Duration
	// Linger is how long a batch waits for more calls before it runs, unless it is full
	// (default 0: it runs at once). It suits calls whose callers can wait a little, for fewer
	// and larger batches under a steady trickle of calls.
	Linger time.Duration
}

// Batcher runs calls in batches. Its zero value is not usable: use New.
type Batcher[In, Out any] struct {
	run     Func[In, Out]
	cfg     Config
	mu      sync.Mutex
	pending []*Call[In, Out]
	running int
	// lingering is set while a batch waits for more calls (Linger): new calls join it rather
	// than start batches of their own.
	lingering bool
}

// New returns a Batcher that runs batches with run.
func New[In, Out any](cfg Config, run Func[In, Out]) *Batcher[In, Out] {
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 100
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Batcher[In, Out]{run: run, cfg: cfg}
}

// Do runs in in the next batch and returns its result. If ctx ends first, Do returns ctx's
// error at once; the call may still run (and commit) if its batch had already started, as a
// request whose client gave up during its commit would.
func (b *Batcher[In, Out]) Do(ctx context.Context, in In) (Out, error) {
	c := &Call[In, Out]{Ctx: ctx, In: in, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	if b.running < b.cfg.MaxConcurrent && !b.lingering {
		b.running++
		go b.loop()
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.Out, c.Err
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
}

// loop runs batches until no call is pending.
func (b *Batcher[In, Out]) loop() {
	for {
		b.mu.Lock()
		if b.cfg.Linger > 0 && len(b.pending) > 0 && len(b.pending) < b.cfg.MaxSize && !b.lingering {
			b.lingering = true
			b.mu.Unlock()
			time.Sleep(b.cfg.Linger)
			b.mu.Lock()
			b.lingering = false
		}
		n := min(len(b.pending), b.cfg.MaxSize)
		if n == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		calls := b.pending[:n:n]
		b.pending = append([]*Call[In, Out](nil), b.pending[n:]...)
		b.mu.Unlock()
		b.runBatch(calls)
	}
}

// runBatch runs the calls whose callers still wait, and wakes every caller.
func (b *Batcher[In, Out]) runBatch(calls []*Call[In, Out]) {
	live := calls[:0:0]
	for _, c := range calls {
		if err := c.Ctx.Err(); err != nil {
			c.Err = err
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
	defer cancel()
	defer func() {
		for _, c := range live {
			close(c.done)
		}
	}()
	b.run(ctx, live)
}

// Pending is how many calls wait for a batch to start (for metrics, and for tests that wait
// for calls to pile up).
func (b *Batcher[In, Out]) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// AllOrEach builds a Func that runs a batch all or nothing with all, which returns one result
// per call, in order. When all fails, or the batch is a single call, every call runs alone with
// one, so that a call that fails fails by itself and its neighbours still succeed.
func AllOrEach[In, Out any](all func(ctx context.Context, calls []*Call[In, Out]) ([]Out, error),
	one func(ctx context.Context, c *Call[In, Out]) (Out, error)) Func[In, Out] {
	return func(ctx context.Context, calls []*Call[In, Out]) {
		if len(calls) > 1 {
			if outs, err := all(ctx, calls); err == nil {
				for i, c := range calls {
					c.Out = outs[i]
				}
				return
			}
		}
		for _, c := range calls {
			c.Out, c.Err = one(ctx, c)
		}
	}
}
