package store_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// TestHealthStatements runs the engine's health statements on both databases: a failing run
// that disables only once long enough with enough failed deliveries, a success that resets it,
// postponing that never brings a bound forward, the paced slot taken once, and a disable that
// ends the pending deliveries and happens once.
func TestHealthStatements(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		ctx := context.Background()
		st := testdb.Open(t, kind, store.Config{})
		w := facilityWebhook(t, st)
		for range 2 {
			if _, err := st.PublishEvent(ctx, store.PublishInput{Kind: store.EventKindFacility, EventType: "shift.created",
				FacilityID: "P-1", Data: []byte(`{}`), Publisher: "p"}); err != nil {
				t.Fatal(err)
			}
		}
		var ids []string
		st.DB().Model(&store.Delivery{}).Where("webhook_id = ?", w.ID).Order("id").Pluck("id", &ids)
		tx := func(fn func(tx *gorm.DB) error) {
			t.Helper()
			if err := st.DB().Transaction(fn); err != nil {
				t.Fatal(err)
			}
		}
		health := func() store.AttemptInput {
			t.Helper()
			in, err := st.LoadAttempt(ctx, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			return in
		}
		if in := health(); !in.HookExists || !in.HookEnabled || in.Troubled() || in.NotBefore != nil {
			t.Fatalf("a new webhook: %+v", in)
		}

		p := store.HealthPolicy{DisableAfter: time.Hour, MinDeliveries: 3}
		t0 := time.Now().Add(-2 * time.Hour)
		fail := func(at time.Time, ended bool) bool {
			t.Helper()
			var sustained bool
			tx(func(tx *gorm.DB) error {
				var err error
				sustained, err = store.RecordFailure(tx, w.ID, at, ended, p)
				return err
			})
			return sustained
		}
		// Two hours of failures, but only 2 deliveries ended: not yet; the third: sustained.
		for i, c := range []struct {
			at    time.Time
			ended bool
			want  bool
		}{{t0, false, false}, {t0.Add(time.Minute), true, false}, {time.Now(), true, false}, {time.Now(), false, false}, {time.Now(), true, true}} {
			if got := fail(c.at, c.ended); got != c.want {
				t.Errorf("failure %d: sustained %v, want %v", i, got, c.want)
			}
		}
		if in := health(); in.FailingSince == nil || in.FailingSince.Sub(t0).Abs() > time.Second || in.FailedDeliveries != 3 {
			t.Errorf("failing run: since %v (want %v), %d deliveries", in.FailingSince, t0, in.FailedDeliveries)
		}
		// A success resets the run: three more failed deliveries within the hour are not enough.
		tx(func(tx *gorm.DB) error { return store.RecordSuccess(tx, w.ID, time.Second) })
		if in := health(); in.Troubled() {
			t.Errorf("after a success: %+v", in.Health)
		}
		for range 3 {
			if fail(time.Now(), true) {
				t.Error("a new run of failures was sustained at once")
			}
		}

		// Postpone: the later bound wins; the pace is set, then halved by each success.
		later, sooner := time.Now().Add(time.Hour), time.Now().Add(time.Minute)
		pace := 4 * time.Second
		tx(func(tx *gorm.DB) error { return store.Postpone(tx, w.ID, later, &pace) })
		tx(func(tx *gorm.DB) error { return store.Postpone(tx, w.ID, sooner, nil) })
		in := health()
		if in.NotBefore == nil || in.NotBefore.Sub(later).Abs() > time.Second || in.PaceMS != 4000 {
			t.Errorf("postponed: not before %v (want %v), pace %d ms", in.NotBefore, later, in.PaceMS)
		}
		for _, want := range []int64{2000, 1000, 0} {
			tx(func(tx *gorm.DB) error { return store.RecordSuccess(tx, w.ID, time.Second) })
			if got := health().PaceMS; got != want {
				t.Errorf("pace after a success: %d ms, want %d", got, want)
			}
		}

		// The paced slot: taken when nothing bounds the webhook, then not until it passes.
		if ok, err := st.ReservePace(ctx, w.ID, time.Now(), time.Second); err != nil || ok {
			t.Errorf("reserve while postponed: %v %v", ok, err)
		}
		if ok, err := st.ReservePace(ctx, w.ID, later.Add(time.Second), time.Second); err != nil || !ok {
			t.Errorf("reserve after the bound: %v %v", ok, err)
		}
		if ok, err := st.ReservePace(ctx, w.ID, later.Add(1500*time.Millisecond), time.Second); err != nil || ok {
			t.Errorf("reserve within the pace: %v %v", ok, err)
		}

		// Disable: once, with its reason, ending the pending deliveries.
		for i, want := range []bool{true, false} {
			tx(func(tx *gorm.DB) error {
				got, err := store.DisableWebhook(tx, store.FamilyFacility, w.ID, "gone")
				if got != want {
					t.Errorf("disable %d: %v, want %v", i+1, got, want)
				}
				return err
			})
		}
		got, err := st.GetFacilityWebhook(ctx, "app", store.FamilyFacility, w.ID)
		if err != nil || got.Enabled || got.DisabledReason == nil || *got.DisabledReason != "gone" {
			t.Errorf("disabled webhook: %+v %v", got, err)
		}
		var pending int64
		st.DB().Model(&store.Delivery{}).Where("webhook_id = ? AND status = ?", w.ID, store.DeliveryPending).Count(&pending)
		if in := health(); pending != 0 || in.HookEnabled || in.Status != store.DeliveryFailure {
			t.Errorf("%d pending deliveries left, enabled %v, status %s", pending, in.HookEnabled, in.Status)
		}
		// Enabled again: the reason and the health are gone.
		on := true
		if got, err = st.UpdateFacilityWebhook(ctx, "app", store.FamilyFacility, w.ID, store.FacilityWebhookPatch{Enabled: &on}); err != nil ||
			!got.Enabled || got.DisabledReason != nil {
			t.Errorf("enabled again: %+v %v", got, err)
		}
		if in := health(); in.Troubled() || in.NotBefore != nil || !in.HookEnabled {
			t.Errorf("health after enabling: %+v", in)
		}
	})
}
