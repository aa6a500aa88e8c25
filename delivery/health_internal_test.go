package delivery

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
)

func TestJudge(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	dur := func(d time.Duration) *time.Duration { return &d }
	answer := func(status int, retryAfter ...time.Duration) result {
		r := result{attempt: store.DeliveryAttempt{Status: status}}
		if len(retryAfter) > 0 {
			r.retryAfter, r.hasRetryAfter = retryAfter[0], true
		}
		return r
	}
	tests := []struct {
		name   string
		health store.Health
		res    result
		status string
		want   verdict
	}{
		{"2xx", store.Health{}, answer(204), store.DeliverySuccess, verdict{success: true}},
		{"410", store.Health{}, answer(410), store.DeliveryFailure, verdict{gone: true}},
		{"500, retried", store.Health{}, answer(500), store.DeliveryPending, verdict{failure: true}},
		{"500, last attempt", store.Health{}, answer(500), store.DeliveryFailure, verdict{failure: true, ended: true}},
		{"no answer", store.Health{}, result{attempt: store.DeliveryAttempt{Status: -1}, err: errors.New("refused")},
			store.DeliveryPending, verdict{failure: true}},
		{"429 Retry-After 30s", store.Health{}, answer(429, 30*time.Second), store.DeliveryPending,
			verdict{failure: true, postpone: at(30 * time.Second)}},
		{"503 Retry-After beyond the bound", store.Health{}, answer(503, 3*time.Hour), store.DeliveryPending,
			verdict{failure: true, postpone: at(MaxPostpone)}},
		{"429 without Retry-After: pace 1 s", store.Health{}, answer(429), store.DeliveryPending,
			verdict{failure: true, postpone: at(time.Second), pace: dur(time.Second)}},
		{"503 again: pace doubles", store.Health{PaceMS: 4000}, answer(503), store.DeliveryPending,
			verdict{failure: true, postpone: at(8 * time.Second), pace: dur(8 * time.Second)}},
		{"pace bounded", store.Health{PaceMS: 50000}, answer(503), store.DeliveryPending,
			verdict{failure: true, postpone: at(MaxPace), pace: dur(MaxPace)}},
		{"502 does not pace", store.Health{}, answer(502), store.DeliveryPending, verdict{failure: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := judge(tt.health, tt.res, tt.status, now)
			same := got.success == tt.want.success && got.failure == tt.want.failure && got.ended == tt.want.ended &&
				got.gone == tt.want.gone && equalPtr(got.postpone, tt.want.postpone) && equalPtr(got.pace, tt.want.pace)
			if !same {
				t.Errorf("got %+v (postpone %v, pace %v), want %+v (postpone %v, pace %v)", got, deref(got.postpone), deref(got.pace),
					tt.want, deref(tt.want.postpone), deref(tt.want.pace))
			}
		})
	}
}

// TestVerdictWrites: only the success of a webhook that was not troubled records nothing beyond
// the attempt (its outcome then needs no Next).
func TestVerdictWrites(t *testing.T) {
	since := time.Now().Add(-time.Hour)
	ok, failed := result{attempt: store.DeliveryAttempt{Status: 200}}, result{attempt: store.DeliveryAttempt{Status: 500}}
	tests := []struct {
		name   string
		health store.Health
		res    result
		want   bool
	}{
		{"success, healthy", store.Health{}, ok, false},
		{"success, failing", store.Health{FailingSince: &since}, ok, true},
		{"success, paced", store.Health{PaceMS: 1000}, ok, true},
		{"failure", store.Health{}, failed, true},
		{"gone", store.Health{}, result{attempt: store.DeliveryAttempt{Status: 410}}, true},
	}
	for _, tt := range tests {
		in := store.AttemptInput{Health: tt.health}
		if got := judge(tt.health, tt.res, store.DeliveryPending, time.Now()).writes(in); got != tt.want {
			t.Errorf("%s: writes %v, want %v", tt.name, got, tt.want)
		}
	}
}

func equalPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestLimiter(t *testing.T) {
	l := newLimiter(2, 2)
	now := time.Now()
	r1, _ := l.acquire("a", now)
	r2, _ := l.acquire("a", now)
	if r1 == nil || r2 == nil {
		t.Fatal("the first two attempts wait")
	}
	if r, _ := l.acquire("b", now); r == nil {
		t.Error("another webhook waits for a's attempts")
	} else {
		r(time.Millisecond)
	}
	// Over the bound: slots a mean duration / bound apart (1 s unknown mean / 2).
	var waits []time.Duration
	for range 3 {
		r, wait := l.acquire("a", now)
		if r != nil {
			t.Fatal("a third attempt in flight")
		}
		waits = append(waits, wait)
	}
	if waits[0] != 500*time.Millisecond || waits[1] != time.Second || waits[2] != 1500*time.Millisecond {
		t.Errorf("waits %v, want 500ms 1s 1.5s", waits)
	}
	r1(4 * time.Second) // the mean becomes 4 s: slots 2 s apart
	r, _ := l.acquire("a", now)
	if r == nil {
		t.Fatal("a freed slot is not taken")
	}
	if _, wait := l.acquire("a", now); wait != 3500*time.Millisecond {
		t.Errorf("wait %v after a 4 s attempt, want 3.5s (1.5s + 2s)", wait)
	}
	for range 300 {
		l.acquire("a", now)
	}
	if _, wait := l.acquire("a", now); wait < limiterMaxWait || wait >= limiterMaxWait*3/2 {
		t.Errorf("far back in line: wait %v, want between %v and 1.5 times it", wait, limiterMaxWait)
	}
	if r, _ := newLimiter(-1, -1).acquire("a", now); r == nil {
		t.Error("no bound: an attempt waits")
	}
}

func TestLimiterQueuesAttemptsOfAFastEndpoint(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	// Two slots; one attempt ended in 2 ms (a webhook's mean is kept while it has attempts in
	// flight): a slot frees every millisecond.
	fast := newLimiter(2, 2)
	r, _ := fast.acquire("a", now)
	other, _ := fast.acquire("a", now)
	r(2 * time.Millisecond)
	held, _ := fast.take(ctx, "a", now)
	if held == nil || other == nil {
		t.Fatal("a free slot is not taken")
	}
	got := make(chan func(time.Duration), 2)
	for range 2 {
		go func() {
			r, wait := fast.take(ctx, "a", now)
			if r == nil {
				t.Errorf("an attempt of a fast endpoint is snoozed %v instead of queued", wait)
			}
			got <- r
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if len(got) != 0 {
		t.Fatal("an attempt over the bound got a slot while it was held")
	}
	held(2 * time.Millisecond) // handed to the first queued attempt...
	first := <-got
	first(2 * time.Millisecond) // ...then to the second
	(<-got)(2 * time.Millisecond)
	if r, _ := fast.acquire("a", now); r == nil {
		t.Error("the slot is not free once the queued attempts ended")
	} else {
		r(2 * time.Millisecond)
	}

	// A slow endpoint's attempts are snoozed, not queued: they hold no worker.
	slow := newLimiter(2, 2)
	r, _ = slow.acquire("b", now)
	slowOther, _ := slow.acquire("b", now)
	r(4 * time.Second)
	held, _ = slow.take(ctx, "b", now)
	if r, wait := slow.take(ctx, "b", now); r != nil || wait < limiterMinWait {
		t.Errorf("slow endpoint over the bound: release %v, wait %v; want a snooze", r != nil, wait)
	}
	held(4 * time.Second)
	slowOther(4 * time.Second)

	// A queued attempt whose context ends gives its place up.
	cctx, cancel := context.WithCancel(ctx)
	held, _ = fast.take(ctx, "a", now)
	done := make(chan time.Duration)
	go func() { r, wait := fast.take(cctx, "a", now); done <- wait; _ = r }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if wait := <-done; wait != limiterMinWait {
		t.Errorf("cancelled while queued: wait %v, want a snooze of %v", wait, limiterMinWait)
	}
	held(2 * time.Millisecond)
	if r, _ := fast.acquire("a", now); r == nil {
		t.Error("a cancelled waiter kept a slot")
	}
	other(2 * time.Millisecond)
}

func TestLimiterRemembersAnIdleWebhook(t *testing.T) {
	ctx := context.Background()
	l := newLimiter(1, 1)
	now := time.Now()
	r, _ := l.acquire("a", now)
	r(2 * time.Millisecond) // a is idle; its mean is 2 ms
	// The next burst: its first attempt takes the slot, the second queues on the mean it
	// remembers instead of being snoozed as an endpoint of unknown speed.
	held, _ := l.take(ctx, "a", now)
	if held == nil {
		t.Fatal("an idle webhook's slot is not free")
	}
	got := queued(ctx, t, l, "a", now, "an attempt over the bound of a webhook idle a moment")
	held(2 * time.Millisecond)
	if r := <-got; r != nil {
		r(2 * time.Millisecond)
	}
	if _, ok := l.hooks["a"]; !ok {
		t.Fatal("an idle webhook is forgotten at once")
	}
	// Idle for limiterForget: forgotten at the next sweep.
	later := time.Now().Add(limiterForget + time.Second)
	if r, _ := l.acquire("b", later); r != nil {
		r(time.Millisecond)
	}
	if _, ok := l.hooks["a"]; ok {
		t.Error("a webhook idle for limiterForget is kept")
	}
	if _, ok := l.hooks["b"]; !ok {
		t.Error("the webhook just used is forgotten")
	}
}

func TestLimiterBoundFollowsSpeed(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		name      string
		max, fast int
		took      time.Duration // the webhook's one attempt ended so far (0: none)
		want      int
	}{
		{name: "unknown speed", max: 2, fast: 4, want: 2},
		{name: "fast", max: 2, fast: 4, took: 5 * time.Millisecond, want: 4},
		{name: "slow", max: 2, fast: 4, took: limiterFastMean, want: 2},
		{name: "fast bound below the bound", max: 3, fast: 1, took: 5 * time.Millisecond, want: 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLimiter(c.max, c.fast)
			if c.took > 0 {
				r, _ := l.acquire("a", now)
				r(c.took)
			}
			n := 0
			for ; n < 100; n++ {
				if r, _ := l.acquire("a", now); r == nil {
					break
				}
			}
			if n != c.want || !l.saturated("a") {
				t.Errorf("%d attempts in flight (saturated %v), want %d", n, l.saturated("a"), c.want)
			}
		})
	}
}

func TestLimiterFastEndpointTurningSlow(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	l := newLimiter(2, 4)
	r, _ := l.acquire("a", now)
	r(5 * time.Millisecond)
	var held []func(time.Duration)
	for range 4 {
		r, _ := l.acquire("a", now)
		held = append(held, r)
	}
	got := queued(ctx, t, l, "a", now, "an attempt of a fast endpoint")
	// Two slow attempts end: the mean is over limiterFastMean, the bound back to 2 with 2 still
	// in flight; the freed slots are not handed to the queued attempt.
	held[0](time.Second)
	held[1](time.Second)
	time.Sleep(10 * time.Millisecond)
	if len(got) != 0 {
		t.Fatal("a slot over the bound of an endpoint turned slow was handed on")
	}
	if r, _ := l.acquire("a", now); r != nil {
		t.Fatal("a third attempt in flight to an endpoint turned slow")
	}
	held[2](time.Second) // under the bound again: the slot goes to the queued attempt
	if r := <-got; r != nil {
		r(time.Second)
	}
	held[3](time.Second)
}

// queued starts an attempt of webhook id that must queue for a slot rather than be snoozed (what
// names it in the error), and returns where its release comes once it gets one.
func queued(ctx context.Context, t *testing.T, l *limiter, id string, now time.Time, what string) <-chan func(time.Duration) {
	got := make(chan func(time.Duration), 1)
	go func() {
		r, wait := l.take(ctx, id, now)
		if r == nil {
			t.Errorf("%s is snoozed %v instead of queued", what, wait)
		}
		got <- r
	}()
	time.Sleep(10 * time.Millisecond) // in the queue
	return got
}
