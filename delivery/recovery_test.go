package delivery_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// TestResendAndRecoverSendAgain fails two deliveries (2 attempts each), fixes the webhook (a
// new url and secret), then resends one and recovers the other: each gets a third attempt, at
// the new url with the new secret, and ends as its outcome says.
func TestResendAndRecoverSendAgain(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		ctx := context.Background()
		st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: 2})
		newEngine(t, st, engineOptions{allow: loopback, kheopsDelays: []time.Duration{50 * time.Millisecond}})
		broken := newReceiver(t, false, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) })
		fixed := newReceiver(t, false, nil)
		oldSecret, newSecret := "old", "new"
		album, hook := albumWithWebhook(t, st, broken.URL, &oldSecret)
		addBob(t, st, album)
		trigger := store.ManualTrigger{Event: store.EventNewUser, User: "bob"}
		if err := st.TriggerWebhook(ctx, album, hook.ID, trigger, alice); err != nil {
			t.Fatal(err)
		}
		var ds []store.Delivery
		deadline := time.Now().Add(20 * time.Second)
		for {
			st.DB().Where("webhook_id = ? AND status = ?", hook.ID, store.DeliveryFailure).Order("created_at, id").Find(&ds)
			if len(ds) == 2 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(ds) != 2 {
			t.Fatalf("%d failed deliveries, want 2", len(ds))
		}
		if _, err := st.UpdateWebhook(ctx, album, hook.ID, store.WebhookPatch{URL: &fixed.URL, Secret: &newSecret}); err != nil {
			t.Fatal(err)
		}

		if err := st.ResendKheopsDelivery(ctx, album, hook.ID, ds[0].ID); err != nil {
			t.Fatal(err)
		}
		n, err := st.RecoverKheopsDeliveries(ctx, album, hook.ID, time.Now().Add(-time.Hour), time.Now())
		if err != nil || n != 1 {
			t.Fatalf("recover: %d %v, want the other delivery", n, err)
		}
		got := map[string]received{}
		for range 2 {
			r := fixed.wait(t, 10*time.Second)
			got[r.header.Get("Webhook-Id")] = r
		}
		for _, d := range ds {
			r, ok := got[d.ID]
			if !ok {
				t.Fatalf("%s was not sent again (got %v)", d.ID, got)
			}
			if h := r.header.Get("X-Kheops-Attempt"); h != "3/3" {
				t.Errorf("X-Kheops-Attempt %q, want 3/3", h)
			}
			if !delivery.VerifyKheops(newSecret, r.body, r.header.Get("X-Kheops-Signature")) {
				t.Error("not signed with the new secret")
			}
		}
		for _, d := range ds {
			final := waitStatus(t, st, d.ID, 10*time.Second)
			as := attempts(t, st, d.ID)
			if final.Status != store.DeliverySuccess || final.Resend || len(as) != 3 || as[2].Status != 200 {
				t.Errorf("%s: status %s resend %v attempts %+v, want success after 3", d.ID, final.Status, final.Resend, as)
			}
		}
		select {
		case r := <-fixed.ch:
			t.Errorf("an extra request: %s", r.header.Get("X-Kheops-Attempt"))
		case <-time.After(300 * time.Millisecond):
		}
	})
}

// waitStatus waits until a delivery is no longer pending.
func waitStatus(t *testing.T, st *store.Store, id string, timeout time.Duration) store.Delivery {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var d store.Delivery
		err := st.DB().Where("id = ?", id).Take(&d).Error
		if err == nil && d.Status != store.DeliveryPending {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s still pending after %s (%v)", id, timeout, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
