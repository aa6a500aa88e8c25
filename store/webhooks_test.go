package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/payload"
	"github.com/webhookd/webhookd/store"
)

// TestListWebhooksPages reads pages of an album's webhooks and checks every field of every view
// against the rows as GORM reads them, the totals (also of an empty page and of a page past the
// end), the last triggers, whose ids may hold any character, and who may read them.
func TestListWebhooksPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{})
		ctx := context.Background()
		a := aliceAlbum(t, st, "a")
		other := aliceAlbum(t, st, "other")
		if _, err := st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: other.ID, URL: "https://x.org/1", Name: "elsewhere"}); err != nil {
			t.Fatal(err)
		}
		secret, reason := "s3cret", "the endpoint answered 410 Gone"
		var hooks []store.WebhookView
		for i, w := range []store.AlbumWebhook{
			{URL: "https://x.org/1", Name: "plain", Enabled: true},
			{URL: "https://x.org/2", Name: "signed", Secret: &secret, Events: store.EventSet(0).With(store.EventNewUser), Enabled: true},
			{URL: "https://x.org/1", Name: "disabled", DisabledReason: &reason,
				Events: store.EventSet(0).With(store.EventNewSeries).With(store.EventDeleteAlbum)},
		} {
			w.AlbumID = a.ID
			v, err := st.CreateWebhook(ctx, w)
			if err != nil {
				t.Fatal(err)
			}
			if w.DisabledReason != nil { // CreateWebhook does not store a reason
				if err := st.DB().Exec("UPDATE album_webhooks SET disabled_reason = ? WHERE id = ?", reason, v.ID).Error; err != nil {
					t.Fatal(err)
				}
			}
			hooks = append(hooks, v)
			time.Sleep(time.Duration(i+1) * time.Millisecond)
		}
		// The second webhook fired 7 times; ids and statuses chosen to trip a careless reading.
		at := time.Now().UTC()
		fired := []struct{ id, status string }{
			{"old-1", store.DeliverySuccess}, {"old-2", store.DeliverySuccess},
			{"p3:f", store.DeliverySuccess}, {"naïve, \"quoted\"", store.DeliveryFailure}, {"0", store.DeliveryPending},
			{"f12:p4:", store.DeliverySuccess}, {"a b", store.DeliveryFailure},
		}
		for i, f := range fired {
			d := store.Delivery{ID: f.id, Family: store.FamilyKheops, WebhookID: hooks[1].ID, Event: "new_user",
				URL: hooks[1].URL, Payload: "{}", Status: f.status, MaxAttempts: 1, CreatedAt: at.Add(time.Duration(i) * time.Second)}
			if err := st.DB().Create(&d).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := st.RecountTriggers(ctx, hooks[1].ID); err != nil {
			t.Fatal(err)
		}
		want := func(i int) store.WebhookView {
			var w store.AlbumWebhook
			if err := st.DB().Where("id = ?", hooks[i].ID).Take(&w).Error; err != nil {
				t.Fatal(err)
			}
			v := store.WebhookView{AlbumWebhook: w, NumberOfTriggers: w.Triggers}
			if i == 1 {
				for j := len(fired) - 1; j >= len(fired)-5; j-- {
					v.LastTriggers = append(v.LastTriggers, store.TriggerSummary{ID: fired[j].id, Success: fired[j].status == store.DeliverySuccess})
				}
			}
			return v
		}
		url1 := "https://x.org/1"
		for _, tc := range []struct {
			name  string
			url   *string
			page  store.Page
			want  []int // indexes in hooks
			total int64
		}{
			{"all", nil, store.Page{Limit: -1}, []int{2, 1, 0}, 3},
			{"page", nil, store.Page{Limit: 1, Offset: 1}, []int{1}, 3},
			{"last page", nil, store.Page{Limit: 5, Offset: 2}, []int{0}, 3},
			{"empty page", nil, store.Page{Limit: 0}, nil, 3},
			{"past the end", nil, store.Page{Limit: 2, Offset: 3}, nil, 3},
			{"by url", &url1, store.Page{Limit: -1}, []int{2, 0}, 2},
			{"by url past the end", &url1, store.Page{Limit: -1, Offset: 9}, nil, 2},
		} {
			list, err := st.ListWebhooks(ctx, a.ID, "alice", tc.url, tc.page)
			if err != nil || !list.IsAdmin {
				t.Fatalf("%s: %v, admin %t", tc.name, err, list.IsAdmin)
			}
			views, total := list.Webhooks, list.Total
			if total != tc.total || len(views) != len(tc.want) {
				t.Errorf("%s: %d views of %d, want %d of %d", tc.name, len(views), total, len(tc.want), tc.total)
				continue
			}
			for j, i := range tc.want {
				w := want(i)
				got := views[j]
				if !got.CreatedAt.Equal(w.CreatedAt) {
					t.Errorf("%s: item %d created at %v, want %v", tc.name, j, got.CreatedAt, w.CreatedAt)
				}
				got.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("%s: item %d\n got %+v\nwant %+v", tc.name, j, got, w)
				}
			}
		}
		// UpdateWebhook answers with the same last triggers.
		name := "renamed"
		v, err := st.UpdateWebhook(ctx, a.ID, hooks[1].ID, store.WebhookPatch{Name: &name})
		if w := want(1); err != nil || !reflect.DeepEqual(v.LastTriggers, w.LastTriggers) || v.NumberOfTriggers != len(fired) {
			t.Errorf("update: %v %+v, want last triggers %+v", err, v, w.LastTriggers)
		}
		// Only members read the list, and only admins its webhooks.
		if err := st.ProvisionUser(ctx, store.User{Sub: "bob"}); err != nil {
			t.Fatal(err)
		}
		if list, err := st.ListWebhooks(ctx, a.ID, "bob", nil, store.Page{Limit: -1}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a stranger reads %+v, %v; want ErrNotFound", list, err)
		}
		if _, err := st.AddMember(ctx, a.ID, "bob", payload.KheopsUser{Sub: "alice"}); err != nil {
			t.Fatal(err)
		}
		if list, err := st.ListWebhooks(ctx, a.ID, "bob", nil, store.Page{Limit: -1}); err != nil || list.IsAdmin ||
			len(list.Webhooks) != 0 || list.Total != 0 {
			t.Errorf("a member who is not an admin reads %+v, %v; want nothing", list, err)
		}
	})
}
