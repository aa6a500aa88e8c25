package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// TestPublishEventDeliveries: publishing takes the same number of statements for 1 and for 40
// matching webhooks (one multi-row INSERT of the deliveries), and every delivery carries its
// webhook's URL, client and secrets in order, for facility and user events.
func TestPublishEventDeliveries(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{FacilityMaxAttempts: 3})
		ctx := context.Background()
		create := func(kind, client string, from, to int) {
			t.Helper()
			var facilities []string
			if kind == store.FamilyFacility {
				facilities = []string{"P-1"}
			}
			for i := from; i < to; i++ {
				_, err := st.CreateFacilityWebhook(ctx, store.FacilityWebhook{Kind: kind, ClientID: client,
					URL: fmt.Sprintf("https://r.example.org/%s/%d", client, i), Events: []string{"all"},
					Facilities: facilities, Secrets: []string{"a-" + client, fmt.Sprintf("b-%d", i)}})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		counter := testdb.CountStatements(st)
		publish := func(in store.PublishInput) (store.PublishResult, int64) {
			t.Helper()
			counter.Reset()
			res, err := st.PublishEvent(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			return res, counter.N()
		}
		check := func(res store.PublishResult, want int, client string) {
			t.Helper()
			rows, err := st.DB().Raw(`SELECT url, secrets, client_id, status, max_attempts FROM deliveries
				WHERE event_id = ?`, res.EventID).Rows()
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			got := map[string]bool{}
			for rows.Next() {
				var url, secrets, clientID, status string
				var maxAttempts int
				if err := rows.Scan(&url, &secrets, &clientID, &status, &maxAttempts); err != nil {
					t.Fatal(err)
				}
				var list []string
				_ = json.Unmarshal([]byte(secrets), &list)
				var i int
				if _, err := fmt.Sscanf(url, "https://r.example.org/"+client+"/%d", &i); err != nil ||
					len(list) != 2 || list[0] != "a-"+client || list[1] != fmt.Sprintf("b-%d", i) ||
					clientID != client || status != store.DeliveryPending || maxAttempts != 3 {
					t.Errorf("delivery %s %s %s %s %d", url, secrets, clientID, status, maxAttempts)
				}
				got[url] = true
			}
			if res.Deliveries != want || len(got) != want {
				t.Errorf("%d deliveries (%d distinct URLs stored), want %d", res.Deliveries, len(got), want)
			}
		}
		facility := store.PublishInput{Kind: store.EventKindFacility, EventType: "shift.created", FacilityID: "P-1",
			Data: json.RawMessage(`{}`), Publisher: "app"}
		user := store.PublishInput{Kind: store.EventKindUser, EventType: "facility.creation.accepted", ClientID: "u1",
			Data: json.RawMessage(`{"facilityId":"P-1"}`), Publisher: "app"}
		for _, tc := range []struct {
			name, kind string
			in         store.PublishInput
			client     string
		}{{"facility", store.FamilyFacility, facility, "f1"}, {"user", store.FamilyUser, user, "u1"}} {
			create(tc.kind, tc.client, 0, 1)
			one, n1 := publish(tc.in)
			check(one, 1, tc.client)
			create(tc.kind, tc.client, 1, 40)
			many, n40 := publish(tc.in)
			check(many, 40, tc.client)
			if n1 != n40 {
				t.Errorf("%s: %d statements for 1 webhook, %d for 40", tc.name, n1, n40)
			}
		}
	})
}
