package delivery

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// limiter bounds the attempts in flight per webhook in this process, so that a slow endpoint
// holds at most that many of the engine's workers and the others keep serving the other
// webhooks.
//
// The bound follows the endpoint's speed. A webhook whose attempts take limiterFastMean or more
// on average, or none of whose attempts ended yet, gets max attempts in flight; a faster one
// gets fast. One webhook can only take max/mean attempts a second: at 10 attempts in flight,
// 1,000 events a second need attempts under 10 ms, which a busy machine does not keep, and the
// attempts over the bound would go to River, late. A fast endpoint holds each worker briefly,
// so it may hold more of them; one that turns slow raises its mean as its attempts end, and is
// back to max (its attempts over the new bound finish, none is stopped).
//
// An attempt over the bound does not wait in its worker: it is handed a later slot
// and snoozed until then. Slots are spaced by the webhook's mean attempt duration divided by
// the bound (its observed throughput), so a backlog is spread over the time the endpoint needs
// to take it and each waiting attempt is snoozed about once, rather than polled.
//
// A fast endpoint's attempts over the bound wait in their worker instead (take): when a slot is
// expected to free within limiterQueueWait, the attempt queues and is handed the next freed
// slot, first come first served. Snoozing costs a database write and a trip through River's
// scheduler (seconds); waiting a few milliseconds holds a worker only that long.
//
// A webhook's mean duration outlives its attempts in flight by limiterForget: a webhook whose
// events come in bursts (a batch of publishes committed at once) goes idle between them, and a
// burst over the bound queues on what its last attempts took instead of being snoozed as an
// endpoint of unknown speed.
//
// The bound is per process: N processes sharing a database allow up to N × max attempts in
// flight to one webhook, N × fast while it is fast (see README, "Endpoint health").
type limiter struct {
	// max bounds a webhook's attempts in flight; fast (at least max) bounds them while its
	// mean attempt duration is under limiterFastMean.
	max, fast int
	mu        sync.Mutex
	// hooks holds the webhooks with attempts in flight, slots handed out, or an attempt ended
	// within limiterForget.
	hooks map[string]*hookSlots
	// sweep is when hooks is next swept of the webhooks idle for limiterForget.
	sweep time.Time
}

type hookSlots struct {
	inFlight int
	// mean is a moving average of the webhook's attempt durations (0 until one ends).
	mean time.Duration
	// last is the latest slot handed to a waiting attempt.
	last time.Time
	// waiters are the attempts queued in their workers for a slot, oldest first: a freed slot
	// is handed to the first by closing its channel.
	waiters []chan struct{}
	// idle is when the webhook's last attempt in flight ended.
	idle time.Time
}

// Bounds of the wait handed to an attempt over the limit.
const (
	// limiterMinWait is the shortest snooze (River makes snoozed jobs available again in batches).
	limiterMinWait = 200 * time.Millisecond
	// limiterMaxWait is the furthest slot handed out: an attempt further back in line asks
	// again after between one and one and a half times it (spread, so that a long line does
	// not come back at once).
	limiterMaxWait = 10 * time.Minute
	// limiterUnknownMean stands for the mean duration of a webhook none of whose attempts ended.
	limiterUnknownMean = time.Second
	// limiterQueueWait is the longest an attempt over the bound is expected to wait in its
	// worker for a slot (its place in the queue times the webhook's mean duration / the bound);
	// a longer expected wait snoozes it. It waits at most twice this before snoozing anyway.
	limiterQueueWait = 100 * time.Millisecond
	// limiterForget is how long an idle webhook's mean duration is kept.
	limiterForget = time.Minute
	// limiterFastMean is the mean attempt duration under which a webhook gets the fast bound.
	limiterFastMean = 100 * time.Millisecond
)

// newLimiter bounds each webhook's attempts in flight at max, or at fast while they are fast
// (fast below max is max); max ≤ 0 is no bound.
func newLimiter(bound, fast int) *limiter {
	return &limiter{max: bound, fast: max(fast, bound), hooks: map[string]*hookSlots{}}
}

// bound is how many attempts in flight the webhook s may have.
func (l *limiter) bound(s *hookSlots) int {
	if s.mean > 0 && s.mean < limiterFastMean {
		return l.fast
	}
	return l.max
}

// acquire takes a slot of the webhook at now. It returns the function that gives the slot back
// (with the request's duration, 0 when none was made), or nil and how long to wait before
// asking again.
func (l *limiter) acquire(webhookID string, now time.Time) (func(took time.Duration), time.Duration) {
	if l.max <= 0 {
		return func(time.Duration) {}, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forget(now)
	s := l.hooks[webhookID]
	if s == nil {
		s = &hookSlots{}
		l.hooks[webhookID] = s
	}
	bound := l.bound(s)
	if s.inFlight < bound {
		s.inFlight++
		return func(took time.Duration) { l.release(webhookID, took) }, 0
	}
	mean := s.mean
	if mean <= 0 {
		mean = limiterUnknownMean
	}
	slot := s.last
	if slot.Before(now) {
		slot = now
	}
	slot = slot.Add(max(mean/time.Duration(bound), time.Millisecond))
	wait := slot.Sub(now)
	if wait > limiterMaxWait {
		// Far back in line: the slots after now+limiterMaxWait are not handed out.
		return nil, limiterMaxWait + time.Duration(rand.Int64N(int64(limiterMaxWait/2)))
	}
	s.last = slot
	return nil, max(wait, limiterMinWait)
}

// take is acquire for a worker that may wait: over the bound, an attempt of a webhook whose
// slots free fast enough (known mean duration, expected wait within limiterQueueWait) queues
// and gets the next freed slot; otherwise, or if it waits too long or ctx ends, it is told how
// long to snooze, as acquire tells it.
func (l *limiter) take(ctx context.Context, webhookID string, now time.Time) (func(took time.Duration), time.Duration) {
	if l.max <= 0 {
		return func(time.Duration) {}, 0
	}
	l.mu.Lock()
	s := l.hooks[webhookID]
	if s == nil || s.inFlight < l.bound(s) || s.mean <= 0 ||
		time.Duration(len(s.waiters)+1)*s.mean/time.Duration(l.bound(s)) > limiterQueueWait {
		l.mu.Unlock()
		return l.acquire(webhookID, now)
	}
	ready := make(chan struct{})
	s.waiters = append(s.waiters, ready)
	l.mu.Unlock()
	release := func(took time.Duration) { l.release(webhookID, took) }
	timer := time.NewTimer(2 * limiterQueueWait)
	defer timer.Stop()
	select {
	case <-ready:
		return release, 0
	case <-ctx.Done():
	case <-timer.C:
	}
	l.mu.Lock()
	for i, w := range s.waiters {
		if w == ready {
			s.waiters = append(s.waiters[:i:i], s.waiters[i+1:]...)
			l.mu.Unlock()
			return nil, limiterMinWait
		}
	}
	l.mu.Unlock()
	// Handed a slot as it gave up.
	if ctx.Err() != nil {
		release(0)
		return nil, limiterMinWait
	}
	return release, 0
}

// saturated tells whether the webhook has its bound of attempts in flight.
func (l *limiter) saturated(webhookID string) bool {
	if l.max <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.hooks[webhookID]
	return s != nil && s.inFlight >= l.bound(s)
}

func (l *limiter) release(webhookID string, took time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.hooks[webhookID]
	if s == nil {
		return
	}
	switch {
	case took <= 0: // no request was made
	case s.mean <= 0:
		s.mean = took
	default:
		s.mean = (4*s.mean + took) / 5
	}
	if len(s.waiters) > 0 && s.inFlight <= l.bound(s) {
		// The slot goes to the first attempt queued for it: still in flight. (Over a bound
		// that fell, the slot is not handed on; the waiters get one once under it again.)
		close(s.waiters[0])
		s.waiters = s.waiters[1:]
		return
	}
	s.inFlight--
	if s.inFlight <= 0 {
		s.idle = time.Now()
	}
}

// forget drops, at most once per limiterForget, the webhooks idle for limiterForget at now:
// hooks holds the webhooks active within the last two minutes or so, whatever their number.
func (l *limiter) forget(now time.Time) {
	if now.Before(l.sweep) {
		return
	}
	l.sweep = now.Add(limiterForget)
	for id, s := range l.hooks {
		if s.inFlight <= 0 && len(s.waiters) == 0 && s.last.Before(now) && now.Sub(s.idle) >= limiterForget {
			delete(l.hooks, id)
		}
	}
}
