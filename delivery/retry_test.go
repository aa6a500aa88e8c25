package delivery

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestParseDelays(t *testing.T) {
	tests := []struct {
		in      string
		want    []time.Duration
		wantErr bool
	}{
		{"5s,30s,2m,10m", []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}, false},
		{" 5m , 30m,60m ", []time.Duration{5 * time.Minute, 30 * time.Minute, 60 * time.Minute}, false},
		{"1h30m", []time.Duration{90 * time.Minute}, false},
		{"500ms", []time.Duration{500 * time.Millisecond}, false},
		{"", nil, true},
		{"  ", nil, true},
		{"5s,,30s", nil, true},
		{"5s,", nil, true},
		{",5s", nil, true},
		{"5", nil, true},
		{"soon", nil, true},
		{"0s", nil, true},
		{"-5s", nil, true},
		{"5s;30s", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDelays(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseDelays(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseDelays(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaxAttempts(t *testing.T) {
	if got := (RetryPolicy{Delays: []time.Duration{time.Second, time.Minute, time.Hour, time.Hour}}).MaxAttempts(); got != 5 {
		t.Errorf("MaxAttempts = %d, want 5", got)
	}
	if got := (RetryPolicy{}).MaxAttempts(); got != 1 {
		t.Errorf("MaxAttempts(no delays) = %d, want 1", got)
	}
}

func fixed(r float64) func() float64 { return func() float64 { return r } }

func TestNextDelay(t *testing.T) {
	p := RetryPolicy{Delays: []time.Duration{5 * time.Minute, 30 * time.Minute, 60 * time.Minute}, Jitter: 0.1}
	tests := []struct {
		name       string
		policy     RetryPolicy
		attempt    int
		retryAfter time.Duration
		rnd        func() float64
		want       time.Duration
		wantNext   bool
	}{
		{"first, no jitter drawn at middle", p, 1, 0, fixed(0.5), 5 * time.Minute, true},
		{"second, lowest jitter", p, 2, 0, fixed(0), 27 * time.Minute, true},
		{"third, highest jitter", p, 3, 0, fixed(1), 66 * time.Minute, true},
		{"no jitter configured", RetryPolicy{Delays: p.Delays}, 2, 0, fixed(0), 30 * time.Minute, true},
		{"jitter above 1 clamped", RetryPolicy{Delays: p.Delays, Jitter: 5}, 1, 0, fixed(0), 0, true},
		{"after the last attempt", p, 4, 0, fixed(0.5), 0, false},
		{"attempt 0", p, 0, 0, fixed(0.5), 0, false},
		{"no delays", RetryPolicy{}, 1, 0, fixed(0.5), 0, false},
		{"Retry-After within bounds", p, 1, 7 * time.Minute, fixed(0), 7 * time.Minute, true},
		{"Retry-After below base", p, 1, 10 * time.Second, fixed(0), 5 * time.Minute, true},
		{"Retry-After above 2x base", p, 1, 24 * time.Hour, fixed(1), 10 * time.Minute, true},
		{"Retry-After exactly 2x base", p, 2, time.Hour, fixed(1), time.Hour, true},
		{"Retry-After on last delay", p, 3, 90 * time.Minute, fixed(0), 90 * time.Minute, true},
		{"Retry-After after the last attempt", p, 4, time.Minute, fixed(0), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next := tt.policy.NextDelay(tt.attempt, tt.retryAfter, tt.rnd)
			if got != tt.want || next != tt.wantNext {
				t.Fatalf("NextDelay(%d, %s) = %s, %v; want %s, %v", tt.attempt, tt.retryAfter, got, next, tt.want, tt.wantNext)
			}
		})
	}
}

func TestNextDelayJitterBounds(t *testing.T) {
	p := RetryPolicy{Delays: []time.Duration{10 * time.Second}, Jitter: 0.2}
	rng := rand.New(rand.NewPCG(1, 2))
	lo, hi := 8*time.Second, 12*time.Second
	seenLow, seenHigh := false, false
	for i := 0; i < 10000; i++ {
		d, ok := p.NextDelay(1, 0, rng.Float64)
		if !ok || d < lo || d > hi {
			t.Fatalf("NextDelay = %s, %v; want within [%s, %s]", d, ok, lo, hi)
		}
		seenLow = seenLow || d < 9*time.Second
		seenHigh = seenHigh || d > 11*time.Second
	}
	if !seenLow || !seenHigh {
		t.Errorf("jitter does not spread: low seen %v, high seen %v", seenLow, seenHigh)
	}
	// nil rnd uses math/rand/v2 and stays within bounds.
	for i := 0; i < 100; i++ {
		if d, _ := p.NextDelay(1, 0, nil); d < lo || d > hi {
			t.Fatalf("NextDelay(nil rnd) = %s", d)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"120", 2 * time.Minute, true},
		{" 0 ", 0, true},
		{"Wed, 21 Oct 2015 07:30:00 GMT", 2 * time.Minute, true},
		{"Wednesday, 21-Oct-15 07:29:00 GMT", time.Minute, true},
		{"Wed Oct 21 07:28:30 2015", 30 * time.Second, true},
		{"Wed, 21 Oct 2015 07:00:00 GMT", 0, true},
		{"", 0, false},
		{"-5", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999", time.Duration(1<<63 - 1), true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := ParseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("ParseRetryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		err    error
		want   Outcome
	}{
		{200, nil, Success},
		{201, nil, Success},
		{202, nil, Success},
		{204, nil, Success},
		{299, nil, Success},
		{http.StatusGone, nil, Stop},
		{301, nil, Retry},
		{302, nil, Retry},
		{304, nil, Retry},
		{400, nil, Retry},
		{404, nil, Retry},
		{429, nil, Retry},
		{500, nil, Retry},
		{502, nil, Retry},
		{503, nil, Retry},
		{100, nil, Retry},
		{0, nil, Retry},
		{0, errors.New("connection refused"), Retry},
		{200, errors.New("body read failed"), Retry},
	}
	for _, tt := range tests {
		if got := Classify(tt.status, tt.err); got != tt.want {
			t.Errorf("Classify(%d, %v) = %s, want %s", tt.status, tt.err, got, tt.want)
		}
	}
	for o, want := range map[Outcome]string{Success: "success", Retry: "retry", Stop: "stop", Outcome(9): "Outcome(9)"} {
		if o.String() != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), o.String(), want)
		}
	}
}
