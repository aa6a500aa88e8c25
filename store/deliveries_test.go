package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

func TestDeleteFacilityWebhookStopsItsPendingDeliveries(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{})
		ctx := context.Background()
		w := facilityWebhook(t, st, "s")
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

func TestIDDrawnTwiceIsDrawnAgain(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		// The first two draws of each length collide; the third does not.
		drawn := map[int]int{}
		newID := func(n int) string {
			drawn[n]++
			if drawn[n] <= 2 {
				return strings.Repeat("A", n)
			}
			return store.RandomString(n)
		}
		st := testdb.Open(t, kind, store.Config{NewID: newID})
		ctx := context.Background()
		first := aliceAlbum(t, st, "one")
		second, err := st.CreateAlbum(ctx, "alice", "two", "")
		if err != nil || second.ID == first.ID || drawn[store.AlbumIDLength] != 3 {
			t.Fatalf("second album: %v %q (first %q), %d draws", err, second.ID, first.ID, drawn[store.AlbumIDLength])
		}
		w1, err := st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: first.ID, URL: "https://x.org", Name: "a"})
		if err != nil {
			t.Fatal(err)
		}
		w2, err := st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: first.ID, URL: "https://x.org", Name: "b"})
		if err != nil || w2.ID == w1.ID {
			t.Fatalf("second webhook: %v %q (first %q)", err, w2.ID, w1.ID)
		}
		if m, err := st.Membership(ctx, second.ID, "alice"); err != nil || !m.IsAdmin {
			t.Errorf("the redrawn album lost its admin: %v %+v", err, m)
		}
	})
}

func TestLastTriggersWithSimultaneousDeliveries(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{})
		ctx := context.Background()
		a := aliceAlbum(t, st, "a")
		w, err := st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: a.ID, URL: "https://x.org", Name: "w"})
		if err != nil {
			t.Fatal(err)
		}
		at := time.Now().UTC()
		for i := 0; i < 8; i++ { // eight deliveries of the same instant: the newest are the greatest ids
			d := store.Delivery{ID: fmt.Sprintf("d%d", i), Family: store.FamilyKheops, WebhookID: w.ID, Event: "new_user",
				URL: w.URL, Payload: "{}", Status: store.DeliverySuccess, MaxAttempts: 1, CreatedAt: at}
			if err := st.DB().Create(&d).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := st.RecountTriggers(ctx, w.ID); err != nil {
			t.Fatal(err)
		}
		list, err := st.ListWebhooks(ctx, a.ID, "alice", nil, store.Page{Limit: -1})
		if err != nil {
			t.Fatal(err)
		}
		views := list.Webhooks
		var ids []string
		for _, tr := range views[0].LastTriggers {
			ids = append(ids, tr.ID)
		}
		if strings.Join(ids, ",") != "d7,d6,d5,d4,d3" || views[0].NumberOfTriggers != 8 {
			t.Errorf("last triggers %v of %d", ids, views[0].NumberOfTriggers)
		}
	})
}
