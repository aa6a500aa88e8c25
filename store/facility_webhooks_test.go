package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

func TestMatchingFacilityWebhooks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{})
		ctx := context.Background()
		create := func(kind, client string, events, facilities []string) string {
			t.Helper()
			w, err := st.CreateFacilityWebhook(ctx, store.FacilityWebhook{Kind: kind, ClientID: client,
				URL: "https://r.example.org/" + client, Events: events, Facilities: facilities,
				Secrets: []string{"s-" + client}})
			if err != nil {
				t.Fatal(err)
			}
			return w.ID
		}
		a := create(store.FamilyFacility, "app1", []string{"shift.created"}, []string{"P-1", "P-2"})
		b := create(store.FamilyFacility, "app2", []string{"all"}, []string{"P-1"})
		c := create(store.FamilyFacility, "app1", []string{"shift.cancelled"}, []string{"P-1"})
		d := create(store.FamilyFacility, "app1", []string{"shift.created"}, []string{"P-3"})
		// Both the type and all: found once.
		e := create(store.FamilyFacility, "app3", []string{"shift.created", "all"}, []string{"P-2", "P-1"})
		// A user webhook of all events is never a facility match.
		u := create(store.FamilyUser, "app1", []string{"all"}, nil)
		u2 := create(store.FamilyUser, "app1", []string{"facility.creation.accepted"}, nil)
		create(store.FamilyUser, "app2", []string{"facility.creation.rejected"}, nil)

		ids := func(hooks []store.FacilityWebhook) []string {
			out := []string{}
			for _, h := range hooks {
				out = append(out, h.ID)
			}
			return out
		}
		cases := []struct {
			name           string
			user           bool
			key, eventType string
			want           []string
		}{
			{"type or all, facility in", false, "P-1", "shift.created", []string{a, b, e}},
			{"another type", false, "P-1", "shift.cancelled", []string{b, c, e}},
			{"type only on another facility", false, "P-3", "shift.created", []string{d}},
			{"second facility of a list", false, "P-2", "shift.created", []string{a, e}},
			{"no such facility", false, "P-9", "shift.created", []string{}},
			{"no subscriber of the type", false, "P-3", "shift.cancelled", []string{}},
			{"user: all and the type", true, "app1", "facility.creation.accepted", []string{u, u2}},
			{"user: all only", true, "app1", "facility.creation.rejected", []string{u}},
			{"user: another application", true, "app9", "facility.creation.accepted", []string{}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				counter := testdb.NewStatementCounter()
				var got []store.FacilityWebhook
				err := st.DB().Session(&gorm.Session{Logger: counter}).Transaction(func(tx *gorm.DB) error {
					counter.Reset()
					var err error
					if tc.user {
						got, err = store.MatchingUserWebhooks(tx, tc.key, tc.eventType)
					} else {
						got, err = store.MatchingFacilityWebhooks(tx, tc.key, tc.eventType)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(ids(got), tc.want) {
					t.Errorf("got %v, want %v", ids(got), tc.want)
				}
				for _, h := range got {
					if len(h.Secrets) != 1 || h.Secrets[0] != "s-"+h.ClientID || h.URL != "https://r.example.org/"+h.ClientID {
						t.Errorf("webhook %s loaded as %+v", h.ID, h)
					}
					if (h.Kind == store.FamilyUser) != tc.user || len(h.Events) == 0 {
						t.Errorf("webhook %s loaded as %+v", h.ID, h)
					}
				}
				if n := counter.N(); n > 2 {
					t.Errorf("%d statements, want at most 2", n)
				}
			})
		}
	})
}

func TestFacilityWebhookLifecycle(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		st := testdb.Open(t, kind, store.Config{})
		ctx := context.Background()
		w, err := st.CreateFacilityWebhook(ctx, store.FacilityWebhook{Kind: store.FamilyFacility, ClientID: "app",
			URL: "https://r.example.org", Events: []string{"shift.created", "all", "shift.created"},
			Facilities: []string{"P-2", "P-1", "P-2"}, Secrets: []string{"b", "a"}})
		if err != nil {
			t.Fatal(err)
		}
		want := store.FacilityWebhook{ID: w.ID, Kind: store.FamilyFacility, ClientID: "app", URL: "https://r.example.org", Enabled: true,
			Events: []string{"shift.created", "all"}, Facilities: []string{"P-2", "P-1"}, Secrets: []string{"b", "a"}}
		same := func(got store.FacilityWebhook, want store.FacilityWebhook) {
			t.Helper()
			got.CreatedAt = time.Time{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		}
		same(w, want)
		got, err := st.GetFacilityWebhook(ctx, "app", store.FamilyFacility, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		same(got, want)

		// Another application, or the other kind: not found.
		for _, k := range [][2]string{{"other", store.FamilyFacility}, {"app", store.FamilyUser}} {
			if _, err := st.GetFacilityWebhook(ctx, k[0], k[1], w.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("get as %v: %v", k, err)
			}
			if _, err := st.UpdateFacilityWebhook(ctx, k[0], k[1], w.ID, store.FacilityWebhookPatch{}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("update as %v: %v", k, err)
			}
			if err := st.DeleteFacilityWebhook(ctx, k[0], k[1], w.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("delete as %v: %v", k, err)
			}
		}

		// An empty patch changes nothing; a list sent replaces, the others are kept.
		got, err = st.UpdateFacilityWebhook(ctx, "app", store.FamilyFacility, w.ID, store.FacilityWebhookPatch{})
		if err != nil {
			t.Fatal(err)
		}
		same(got, want)
		url, events := "https://s.example.org", []string{"shift.cancelled"}
		got, err = st.UpdateFacilityWebhook(ctx, "app", store.FamilyFacility, w.ID,
			store.FacilityWebhookPatch{URL: &url, Events: &events, Secrets: &[]string{}})
		if err != nil {
			t.Fatal(err)
		}
		want.URL, want.Events, want.Secrets = url, events, []string{}
		same(got, want)

		// A failing patch (three secrets) changes nothing.
		if _, err := st.UpdateFacilityWebhook(ctx, "app", store.FamilyFacility, w.ID,
			store.FacilityWebhookPatch{URL: &w.URL, Secrets: &[]string{"1", "2", "3"}}); err == nil {
			t.Error("three secrets accepted")
		}
		got, _ = st.GetFacilityWebhook(ctx, "app", store.FamilyFacility, w.ID)
		same(got, want)

		// Newest first, only the application's own of that kind.
		var ids []string
		for i := range 3 {
			h, err := st.CreateFacilityWebhook(ctx, store.FacilityWebhook{Kind: store.FamilyFacility, ClientID: "app",
				URL: fmt.Sprintf("https://r%d.example.org", i), Events: []string{"all"}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append([]string{h.ID}, ids...)
		}
		if _, err := st.CreateFacilityWebhook(ctx, store.FacilityWebhook{Kind: store.FamilyUser, ClientID: "app",
			URL: "https://u.example.org", Events: []string{"all"}}); err != nil {
			t.Fatal(err)
		}
		list, err := st.ListFacilityWebhooks(ctx, "app", store.FamilyFacility)
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, h := range list {
			listed = append(listed, h.ID)
		}
		if want := append(ids, w.ID); !reflect.DeepEqual(listed, want) {
			t.Errorf("listed %v, want %v", listed, want)
		}
		if list[0].Facilities == nil || list[0].Secrets == nil || len(list[0].Events) != 1 {
			t.Errorf("lists of a new webhook: %+v", list[0])
		}

		// Deleting removes the join rows too.
		if err := st.DeleteFacilityWebhook(ctx, "app", store.FamilyFacility, w.ID); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"facility_webhook_events", "facility_webhook_facilities", "facility_webhook_secrets"} {
			var n int64
			if err := st.DB().Table(table).Where("webhook_id = ?", w.ID).Count(&n).Error; err != nil || n != 0 {
				t.Errorf("%s: %d rows left (%v)", table, n, err)
			}
		}
		if _, err := st.GetFacilityWebhook(ctx, "app", store.FamilyFacility, w.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get after delete: %v", err)
		}
		// A user webhook cannot hold facilities.
		if _, err := st.CreateFacilityWebhook(ctx, store.FacilityWebhook{Kind: store.FamilyUser, ClientID: "app",
			URL: "https://u.example.org", Events: []string{"all"}, Facilities: []string{"P-1"}}); err == nil {
			t.Error("user webhook with facilities accepted")
		}
	})
}
