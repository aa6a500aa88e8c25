package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

func TestDeleteFacilityWebhookStopsItsPendingDeliveries(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{})
		ctx := context.Background()
		w, err := st.CreateFacilityWebhook(ctx, store.FacilityWebhook{Kind: store.FamilyFacility, ClientID: "app",
			URL: "https://r.example.org", Events: []string{"all"}, Facilities: []string{"P-1"}, Secrets: []string{"s"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []store.Delivery{
			{ID: "pending", Status: store.DeliveryPending},
			{ID: "done", Status: store.DeliverySuccess},
		} {
			d.Family, d.WebhookID, d.Event, d.URL, d.Payload, d.MaxAttempts, d.CreatedAt = store.FamilyFacility, w.ID, "shift.created", w.URL, "{}", 4, time.Now()
			if err := st.DB().Create(&d).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := st.DeleteFacilityWebhook(ctx, "app", store.FamilyFacility, w.ID); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]string{"pending": store.DeliveryFailure, "done": store.DeliverySuccess} {
			d, _, err := st.GetDelivery(ctx, id)
			if err != nil || d.Status != want {
				t.Errorf("delivery %s: %v %q, want %q (kept in the logs)", id, err, d.Status, want)
			}
		}
	})
}
