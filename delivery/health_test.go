package delivery_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// manual triggers a new_user delivery (about alice) of the album's webhook by hand.
func manual(t *testing.T, st *store.Store, album, hook string) {
	t.Helper()
	if err := st.TriggerWebhook(context.Background(), album, hook, store.ManualTrigger{Event: store.EventNewUser, User: "alice"}, alice); err != nil {
		t.Fatal(err)
	}
}

func readHook(t *testing.T, st *store.Store, id string) store.AlbumWebhook {
	t.Helper()
	var w store.AlbumWebhook
	if err := st.DB().Where("id = ?", id).Take(&w).Error; err != nil {
		t.Fatal(err)
	}
	return w
}

func countRequests(r *receiver) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// TestGoneDisablesWebhook: a 410 disables the webhook at once with its reason and ends its
// pending deliveries as failed (one waiting for its retry is not retried); events create no
// delivery until it is enabled again; the manual trigger still fires.
func TestGoneDisablesWebhook(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: 2})
		// The retry is 4 s away: long enough that the second trigger's 410 comes first on a
		// loaded machine (1 s raced it), short enough to check that it never comes.
		const retryDelay = 4 * time.Second
		newEngine(t, st, engineOptions{allow: loopback, kheopsDelays: []time.Duration{retryDelay}})
		rcv := newReceiver(t, false, func(n int, w http.ResponseWriter) {
			switch n {
			case 1:
				w.WriteHeader(http.StatusInternalServerError)
			case 2:
				w.WriteHeader(http.StatusGone)
			}
		})
		album, hook := albumWithWebhook(t, st, rcv.URL, nil)
		manual(t, st, album, hook.ID) // 500: pending, retried in retryDelay
		rcv.wait(t, 10*time.Second)
		firstFailed := time.Now()
		var waiting store.Delivery
		st.DB().Where("webhook_id = ?", hook.ID).Take(&waiting)
		manual(t, st, album, hook.ID) // 410
		rcv.wait(t, 10*time.Second)
		deadline := time.Now().Add(10 * time.Second)
		for readHook(t, st, hook.ID).Enabled && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		w := readHook(t, st, hook.ID)
		if w.Enabled || w.DisabledReason == nil || !strings.HasPrefix(*w.DisabledReason, "the endpoint answered 410 Gone at ") {
			t.Fatalf("after a 410: enabled %v, reason %v", w.Enabled, w.DisabledReason)
		}
		if d := waitStatus(t, st, waiting.ID, time.Second); d.Status != store.DeliveryFailure {
			t.Errorf("the delivery waiting for its retry: %s", d.Status)
		}
		addBob(t, st, album) // new_user: the disabled webhook gets no delivery
		var n int64
		st.DB().Model(&store.Delivery{}).Where("webhook_id = ?", hook.ID).Count(&n)
		if n != 2 {
			t.Errorf("%d deliveries, want 2 (none for an event while disabled)", n)
		}
		manual(t, st, album, hook.ID) // still fires
		if r := rcv.wait(t, 10*time.Second); r.header.Get("X-Kheops-Attempt") != "1/2" {
			t.Errorf("manual trigger: %v", r.header)
		}
		time.Sleep(time.Until(firstFailed.Add(retryDelay + 2*time.Second))) // past the retry of the delivery that was waiting
		if got := countRequests(rcv); got != 3 {
			t.Errorf("%d requests, want 3 (no retry of the failed deliveries)", got)
		}
		if as := attempts(t, st, waiting.ID); len(as) != 1 {
			t.Errorf("the abandoned delivery has %d attempts", len(as))
		}
	})
}

// TestSustainedFailureDisablesWebhook: every attempt failing for DisableAfter is not enough
// with 9 failed deliveries; the 10th disables the webhook with its reason. On another webhook,
// a success ends the failing run.
func TestSustainedFailureDisablesWebhook(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		ctx := context.Background()
		st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: 1})
		newEngine(t, st, engineOptions{allow: loopback, kheopsDelays: []time.Duration{time.Minute}, disableAfter: 300 * time.Millisecond})
		failing := newReceiver(t, false, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) })
		album, hook := albumWithWebhook(t, st, failing.URL, nil)
		start := time.Now()
		for range 9 {
			manual(t, st, album, hook.ID)
			failing.wait(t, 10*time.Second)
		}
		for time.Since(start) < time.Second {
			time.Sleep(50 * time.Millisecond)
		}
		waitAll := func(hookID string) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for {
				var pending int64
				st.DB().Model(&store.Delivery{}).Where("webhook_id = ? AND status = ?", hookID, store.DeliveryPending).Count(&pending)
				if pending == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d deliveries still pending", pending)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		waitAll(hook.ID)
		if w := readHook(t, st, hook.ID); !w.Enabled {
			t.Fatalf("disabled after 9 failed deliveries: %v", *w.DisabledReason)
		}
		manual(t, st, album, hook.ID)
		failing.wait(t, 10*time.Second)
		waitAll(hook.ID)
		w := readHook(t, st, hook.ID)
		if w.Enabled || w.DisabledReason == nil || !strings.HasPrefix(*w.DisabledReason, "every attempt failed from ") ||
			!strings.HasSuffix(*w.DisabledReason, "(10 deliveries failed)") {
			t.Errorf("after 10 failed deliveries over %s: enabled %v, reason %v", time.Since(start), w.Enabled, w.DisabledReason)
		}

		// A success ends the run: 10 failed deliveries over a second, one success in the middle.
		flaky := newReceiver(t, false, func(n int, w http.ResponseWriter) {
			if n != 6 {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		other, err := st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: album, URL: flaky.URL, Name: "flaky", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 11 {
			manual(t, st, album, other.ID)
			flaky.wait(t, 10*time.Second)
			// Each outcome is recorded before the next attempt: the success must come after the
			// first five failures and before the last five, also on a machine slow to record.
			waitAll(other.ID)
			if i == 4 {
				time.Sleep(time.Second)
			}
		}
		waitAll(other.ID)
		if w := readHook(t, st, other.ID); !w.Enabled {
			t.Errorf("disabled though a success came in the middle: %v", *w.DisabledReason)
		}
	})
}

// TestRetryAfterPostponesWebhook: a 429 with Retry-After postpones every pending delivery of
// the webhook, not only the one answered; a Retry-After beyond an hour is bounded to an hour.
func TestRetryAfterPostponesWebhook(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		ctx := context.Background()
		st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: 2})
		newEngine(t, st, engineOptions{allow: loopback, kheopsDelays: []time.Duration{100 * time.Millisecond}})
		rcv := newReceiver(t, false, func(n int, w http.ResponseWriter) {
			if n == 1 {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		album, hook := albumWithWebhook(t, st, rcv.URL, nil)
		manual(t, st, album, hook.ID)
		first := rcv.wait(t, 10*time.Second)
		waitPostponed(t, st, hook.ID) // the 429 is recorded (attempts already in flight are not recalled)
		manual(t, st, album, hook.ID) // another delivery, pending while the webhook is postponed
		for range 2 {
			if r := rcv.wait(t, 15*time.Second); r.at.Sub(first.at) < 2*time.Second {
				t.Errorf("a request %s after the 429's Retry-After: 2", r.at.Sub(first.at))
			}
		}

		// Retry-After: 7200 postpones by an hour.
		long := newReceiver(t, false, func(_ int, w http.ResponseWriter) {
			w.Header().Set("Retry-After", "7200")
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		other, err := st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: album, URL: long.URL, Name: "long", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		manual(t, st, album, other.ID)
		sent := long.wait(t, 10*time.Second).at
		in := waitPostponed(t, st, other.ID)
		if in.NotBefore.Before(sent.Add(59*time.Minute)) || in.NotBefore.After(time.Now().Add(time.Hour)) {
			t.Errorf("postponed until %v, want about an hour after %v", in.NotBefore, sent)
		}
	})
}

// waitPostponed waits until the webhook's first delivery reads a postponement, and returns it.
func waitPostponed(t *testing.T, st *store.Store, hookID string) store.AttemptInput {
	t.Helper()
	var d store.Delivery
	st.DB().Where("webhook_id = ?", hookID).Order("created_at").Take(&d)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		in, err := st.LoadAttempt(context.Background(), d.ID)
		if err == nil && in.NotBefore != nil {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook %s not postponed (%v)", hookID, err)
		}
	}
}

// TestPaceBacksOffAndRecovers: 503s without Retry-After space the webhook's attempts by a pace
// that doubles (1 s, then 2 s) and halves again with each success.
func TestPaceBacksOffAndRecovers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		ctx := context.Background()
		st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: 4})
		newEngine(t, st, engineOptions{allow: loopback, kheopsDelays: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond}})
		rcv := newReceiver(t, false, func(n int, w http.ResponseWriter) {
			if n <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
		album, hook := albumWithWebhook(t, st, rcv.URL, nil)
		manual(t, st, album, hook.ID)
		var at []time.Time
		for range 3 {
			at = append(at, rcv.wait(t, 15*time.Second).at)
		}
		if gap := at[1].Sub(at[0]); gap < time.Second {
			t.Errorf("second attempt %s after the first 503, want at least the 1 s pace", gap)
		}
		if gap := at[2].Sub(at[1]); gap < 2*time.Second {
			t.Errorf("third attempt %s after the second 503, want at least the 2 s pace", gap)
		}
		var d store.Delivery
		st.DB().Where("webhook_id = ?", hook.ID).Take(&d)
		if d := waitStatus(t, st, d.ID, 5*time.Second); d.Status != store.DeliverySuccess {
			t.Errorf("status %s", d.Status)
		}
		in, err := st.LoadAttempt(ctx, d.ID)
		if err != nil || in.PaceMS != 1000 || in.FailingSince != nil {
			t.Errorf("after a success: pace %d ms (want 1000, halved), failing since %v, %v", in.PaceMS, in.FailingSince, err)
		}
	})
}

// TestDisabledWebhookRetriesEnd: a delivery waiting for its retry when its owner disables the
// webhook ends as failed at its turn, without a request.
func TestDisabledWebhookRetriesEnd(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		ctx := context.Background()
		st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: 3})
		newEngine(t, st, engineOptions{allow: loopback, kheopsDelays: []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}})
		rcv := newReceiver(t, false, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) })
		album, hook := albumWithWebhook(t, st, rcv.URL, nil)
		addBob(t, st, album) // new_user: a delivery, not manual
		rcv.wait(t, 10*time.Second)
		off := false
		if _, err := st.UpdateWebhook(ctx, album, hook.ID, store.WebhookPatch{Enabled: &off}); err != nil {
			t.Fatal(err)
		}
		d := waitDelivery(t, st, hook.ID, 15*time.Second)
		if as := attempts(t, st, d.ID); d.Status != store.DeliveryFailure || len(as) != 1 {
			t.Errorf("status %s after %d attempts, want failure after 1", d.Status, len(as))
		}
		if n := countRequests(rcv); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
		if w := readHook(t, st, hook.ID); w.DisabledReason != nil {
			t.Errorf("a reason for the owner's disabling: %s", *w.DisabledReason)
		}
	})
}
