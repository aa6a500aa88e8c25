package delivery

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseDelays parses a comma-separated retry schedule such as
// "5s,30s,2m,10m": Go durations, spaces around entries trimmed, each greater
// than zero. An empty list, an empty entry or anything that is not a
// duration is an error.
func ParseDelays(s string) ([]time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("parse retry delays: no delays")
	}
	parts := strings.Split(s, ",")
	delays := make([]time.Duration, 0, len(parts))
	for i, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("parse retry delays: entry %d is empty", i+1)
		}
		d, err := time.ParseDuration(part)
		if err != nil {
			return nil, fmt.Errorf("parse retry delays: entry %d: %w", i+1, err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("parse retry delays: entry %d (%s) must be greater than zero", i+1, part)
		}
		delays = append(delays, d)
	}
	return delays, nil
}

// RetryPolicy says how often and when a failed delivery is tried again.
type RetryPolicy struct {
	// Delays are the waits before the 2nd, 3rd, ... attempts, each counted
	// from the end of the previous attempt.
	Delays []time.Duration
	// Jitter spreads each delay uniformly by up to this fraction either
	// way (0.1 = ±10 %); it is clamped to [0, 1].
	Jitter float64
}

// MaxAttempts returns the number of attempts a delivery gets in all: the
// first one plus one per delay.
func (p RetryPolicy) MaxAttempts() int { return len(p.Delays) + 1 }

// NextDelay returns, after failed attempt number attempt (1-based), how long
// to wait before the next attempt, and false when there is no next attempt.
//
// The base delay is Delays[attempt-1]. Without a Retry-After (retryAfter <= 0)
// the delay is the base spread by Jitter: base × (1 + Jitter × (2r − 1)) with
// r = rnd(), a number in [0, 1) (nil rnd means math/rand/v2.Float64).
// When the receiver sent a Retry-After, that wait is used instead, without
// jitter, but clamped to [base, 2×base]: a receiver can slow the schedule down
// by up to twice the base delay, never speed it up or stall it.
func (p RetryPolicy) NextDelay(attempt int, retryAfter time.Duration, rnd func() float64) (time.Duration, bool) {
	if attempt < 1 || attempt > len(p.Delays) {
		return 0, false
	}
	base := p.Delays[attempt-1]
	if retryAfter > 0 {
		upper := base * 2
		if upper < base { // overflow
			upper = time.Duration(math.MaxInt64)
		}
		return min(max(retryAfter, base), upper), true
	}
	jitter := min(max(p.Jitter, 0), 1)
	if jitter == 0 {
		return base, true
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	r := min(max(rnd(), 0), 1)
	d := float64(base) * (1 + jitter*(2*r-1))
	if d >= math.MaxInt64 {
		return time.Duration(math.MaxInt64), true
	}
	return time.Duration(d), true
}

// ParseRetryAfter parses a Retry-After header value, either delta-seconds
// ("120") or an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", measured from
// now), into a wait. A date in the past gives 0. It returns false for an
// empty or malformed value.
func ParseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if strings.Trim(h, "0123456789") == "" {
		secs, err := strconv.ParseInt(h, 10, 64)
		if err != nil || secs > math.MaxInt64/int64(time.Second) {
			return time.Duration(math.MaxInt64), true // only digits: too large
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// Outcome is what to do after an attempt.
type Outcome int

// The outcomes of an attempt.
const (
	// Retry means the attempt failed and may be tried again.
	Retry Outcome = iota
	// Success means the receiver accepted the delivery (2xx).
	Success
	// Stop means the receiver asked never to be sent this again (410 Gone).
	Stop
)

// String returns "retry", "success" or "stop".
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Stop:
		return "stop"
	case Retry:
		return "retry"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Classify judges an attempt from its response status or transport error:
// Success for 2xx, Stop for 410 Gone, and Retry for everything else,
// including 3xx (redirects are not followed), 429, 5xx and any transport
// error (a refused target too: DNS may change).
func Classify(status int, err error) Outcome {
	switch {
	case err != nil:
		return Retry
	case status >= 200 && status <= 299:
		return Success
	case status == http.StatusGone:
		return Stop
	}
	return Retry
}
