package delivery

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
)

func TestDecide(t *testing.T) {
	p := RetryPolicy{Delays: []time.Duration{time.Second, time.Minute}}
	half := func() float64 { return 0.5 } // no jitter
	tests := []struct {
		name       string
		n, max     int
		res        result
		wantStatus string
		wantDelay  time.Duration
	}{
		{"2xx succeeds", 1, 3, result{attempt: store.DeliveryAttempt{Status: 204}}, store.DeliverySuccess, 0},
		{"500 retried after the first delay", 1, 3, result{attempt: store.DeliveryAttempt{Status: 500}}, store.DeliveryPending, time.Second},
		{"then the second", 2, 3, result{attempt: store.DeliveryAttempt{Status: 500}}, store.DeliveryPending, time.Minute},
		{"the last attempt fails", 3, 3, result{attempt: store.DeliveryAttempt{Status: 500}}, store.DeliveryFailure, 0},
		{"410 stops", 1, 3, result{attempt: store.DeliveryAttempt{Status: 410}}, store.DeliveryFailure, 0},
		{"no response is retried", 1, 3, result{attempt: store.DeliveryAttempt{Status: -1}, err: errors.New("refused")}, store.DeliveryPending, time.Second},
		{"Retry-After within bounds is used", 1, 3, result{attempt: store.DeliveryAttempt{Status: 429}, retryAfter: 1500 * time.Millisecond}, store.DeliveryPending, 1500 * time.Millisecond},
		{"Retry-After is capped at twice the delay", 1, 3, result{attempt: store.DeliveryAttempt{Status: 503}, retryAfter: time.Hour}, store.DeliveryPending, 2 * time.Second},
		{"Retry-After cannot shorten the delay", 2, 3, result{attempt: store.DeliveryAttempt{Status: 503}, retryAfter: time.Second}, store.DeliveryPending, time.Minute},
		{"the stored max wins over a longer policy", 2, 2, result{attempt: store.DeliveryAttempt{Status: 500}}, store.DeliveryFailure, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, delay := decide(p, tt.n, tt.max, tt.res, half)
			if status != tt.wantStatus || delay != tt.wantDelay {
				t.Errorf("got %s after %s, want %s after %s", status, delay, tt.wantStatus, tt.wantDelay)
			}
		})
	}
}

func TestSendReadsRetryAfterAndCapsTheBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
		big := make([]byte, 100<<10)
		for i := range big {
			big[i] = 'x'
		}
		big[10] = 0 // a NUL byte, which PostgreSQL text cannot hold
		_, _ = w.Write(big)
	}))
	defer srv.Close()
	e := &Engine{http: NewHTTPClient(ClientConfig{Timeout: 2 * time.Second,
		Policy: TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})}
	res := e.send(context.Background(), store.Delivery{ID: "d", Family: store.FamilyKheops, URL: srv.URL, Payload: "{}",
		Secrets: "[]", MaxAttempts: 1}, 1)
	if res.attempt.Status != 503 || res.retryAfter != 7*time.Second {
		t.Errorf("status %d, retry after %s", res.attempt.Status, res.retryAfter)
	}
	if n := len(res.attempt.ResponseBody); n != MaxResponseBody-1 {
		t.Errorf("kept %d bytes of the body, want %d (64 KiB less the NUL byte)", n, MaxResponseBody-1)
	}
}
