package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

func TestCreateWebhook(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		path := "/albums/" + k.album + "/webhooks"

		// Events come back in Kheops order whatever the order and case sent; no secret leaks.
		res, body := k.form(t, "POST", path, k.aliceTok, url.Values{"url": {"https://r.example.org/a"}, "name": {"  first  "},
			"event": {"NEW_USER", "new_series"}, "secret": {"s3cr3t"}})
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d %s", res.StatusCode, body)
		}
		var got map[string]any
		_ = json.Unmarshal(body, &got)
		want := map[string]any{"url": "https://r.example.org/a", "name": "first", "use_secret": true,
			"events": []any{"new_series", "new_user"}, "enabled": true, "number_of_triggers": float64(0)}
		for key, w := range want {
			if fmt.Sprint(got[key]) != fmt.Sprint(w) {
				t.Errorf("%s = %v, want %v", key, got[key], w)
			}
		}
		if id, _ := got["id"].(string); len(id) != 20 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Errorf("id %q is not 20 characters of [A-Za-z0-9]", id)
		}
		for _, absent := range []string{"secret", "last_triggers"} {
			if _, ok := got[absent]; ok {
				t.Errorf("%s must not be in %s", absent, body)
			}
		}
		// The generated client's indexed form (event[0]=...) is accepted too, enabled=false kept.
		enabled := false
		events := []gen.KheopsEventOrNone{gen.FormDeleteAlbum}
		res2, err := k.alice.CreateWebhookWithFormdataBodyWithResponse(context.Background(), k.album, nil,
			gen.CreateWebhookFormdataRequestBody{Url: "http://r.example.org/b", Name: "b", Event: &events, Enabled: &enabled})
		if err != nil || res2.JSON201 == nil {
			t.Fatalf("generated client: %v %s", err, res2.Body)
		}
		if res2.JSON201.Enabled || len(res2.JSON201.Events) != 1 || res2.JSON201.Events[0] != gen.DeleteAlbum || res2.JSON201.UseSecret {
			t.Errorf("generated client create: %+v", res2.JSON201)
		}

		bad := []struct {
			name   string
			values url.Values
		}{
			{"missing url", url.Values{"name": {"x"}}},
			{"relative url", url.Values{"url": {"/hook"}, "name": {"x"}}},
			{"ftp url", url.Values{"url": {"ftp://r.example.org/"}, "name": {"x"}}},
			{"url without host", url.Values{"url": {"https://"}, "name": {"x"}}},
			{"url with an invalid host", url.Values{"url": {"HTTPs://<"}, "name": {"x"}}},
			{"url with a space in the host", url.Values{"url": {"https://a b.example.org/"}, "name": {"x"}}},
			{"url with port 0", url.Values{"url": {"https://r.example.org:0/"}, "name": {"x"}}},
			{"url too long", url.Values{"url": {"https://r.example.org/" + strings.Repeat("a", 1024)}, "name": {"x"}}},
			{"missing name", url.Values{"url": {"https://r.example.org/"}}},
			{"blank name", url.Values{"url": {"https://r.example.org/"}, "name": {"   "}}},
			{"name too long", url.Values{"url": {"https://r.example.org/"}, "name": {strings.Repeat("n", 256)}}},
			{"empty secret", url.Values{"url": {"https://r.example.org/"}, "name": {"x"}, "secret": {""}}},
			{"secret too long", url.Values{"url": {"https://r.example.org/"}, "name": {"x"}, "secret": {strings.Repeat("s", 1025)}}},
			{"unknown event", url.Values{"url": {"https://r.example.org/"}, "name": {"x"}, "event": {"new_series", "new_comment"}}},
			{"enabled not a boolean", url.Values{"url": {"https://r.example.org/"}, "name": {"x"}, "enabled": {"maybe"}}},
			{"url sent twice", url.Values{"url": {"https://r.example.org/", "https://other.example.org/"}, "name": {"x"}}},
			{"name sent twice", url.Values{"url": {"https://r.example.org/"}, "name": {"x", "y"}}},
		}
		for _, tt := range bad {
			res, body := k.form(t, "POST", path, k.aliceTok, tt.values)
			assertKheopsError(t, tt.name, res, body, http.StatusBadRequest)
		}
		list, _ := k.alice.ListWebhooksWithResponse(context.Background(), k.album, nil)
		if list.HTTPResponse.Header.Get("X-Total-Count") != "2" {
			t.Errorf("bad requests created webhooks: total %s", list.HTTPResponse.Header.Get("X-Total-Count"))
		}
	})
}

func assertKheopsError(t *testing.T, name string, res *http.Response, body []byte, status int) {
	t.Helper()
	var e gen.KheopsError
	if res.StatusCode != status || json.Unmarshal(body, &e) != nil || e.Message == "" || e.Detail == "" {
		t.Errorf("%s: got %d %s, want %d with {message, detail}", name, res.StatusCode, body, status)
	}
}

func TestUpdateWebhook(t *testing.T) {
	all := []string{"new_series", "remove_series", "new_user", "delete_album"}
	tests := []struct {
		name       string
		start      []string
		patch      url.Values
		wantStatus int
		wantEvents []string
		check      func(t *testing.T, w gen.Webhook)
	}{
		{name: "event replaces the list", start: []string{"new_series", "new_user"},
			patch: url.Values{"event": {"delete_album", "remove_series"}}, wantStatus: 200, wantEvents: []string{"remove_series", "delete_album"}},
		{name: "event= clears the list", start: all, patch: url.Values{"event": {""}}, wantStatus: 200, wantEvents: []string{}},
		{name: "add_event adds", start: []string{"new_user"}, patch: url.Values{"add_event": {"new_series"}}, wantStatus: 200,
			wantEvents: []string{"new_series", "new_user"}},
		{name: "remove_event removes", start: all, patch: url.Values{"remove_event": {"new_user", "delete_album"}}, wantStatus: 200,
			wantEvents: []string{"new_series", "remove_series"}},
		{name: "removal wins over addition", start: []string{"new_user"},
			patch: url.Values{"add_event": {"new_series", "remove_series"}, "remove_event": {"new_series"}}, wantStatus: 200,
			wantEvents: []string{"remove_series", "new_user"}},
		{name: "event with add_event is a 400", start: []string{"new_user"},
			patch: url.Values{"event": {"new_series"}, "add_event": {"delete_album"}}, wantStatus: 400, wantEvents: []string{"new_user"}},
		{name: "event with remove_event is a 400", start: []string{"new_user"},
			patch: url.Values{"event": {"new_series"}, "remove_event": {"new_user"}}, wantStatus: 400, wantEvents: []string{"new_user"}},
		{name: "unknown event is a 400", start: []string{"new_user"}, patch: url.Values{"add_event": {"nope"}}, wantStatus: 400,
			wantEvents: []string{"new_user"}},
		{name: "an empty value among events is a 400", start: []string{"new_user"}, patch: url.Values{"event": {"new_series", ""}},
			wantStatus: 400, wantEvents: []string{"new_user"}},
		{name: "secret= removes the secret", start: nil, patch: url.Values{"secret": {""}}, wantStatus: 200, wantEvents: []string{},
			check: func(t *testing.T, w gen.Webhook) {
				if w.UseSecret {
					t.Error("secret kept")
				}
			}},
		{name: "url, name and enabled", start: []string{"new_user"},
			patch: url.Values{"url": {"https://other.example.org/x"}, "name": {" renamed "}, "enabled": {"false"}}, wantStatus: 200,
			wantEvents: []string{"new_user"}, check: func(t *testing.T, w gen.Webhook) {
				if w.Url != "https://other.example.org/x" || w.Name != "renamed" || w.Enabled || !w.UseSecret {
					t.Errorf("got %+v", w)
				}
			}},
		{name: "a bad url changes nothing else", start: []string{"new_user"},
			patch: url.Values{"name": {"should not apply"}, "url": {"mailto:x@example.org"}}, wantStatus: 400, wantEvents: []string{"new_user"},
			check: func(t *testing.T, w gen.Webhook) {
				if w.Name != "hook" {
					t.Errorf("half-applied: name %q", w.Name)
				}
			}},
		{name: "an empty patch changes nothing", start: []string{"new_user"}, patch: url.Values{}, wantStatus: 200,
			wantEvents: []string{"new_user"}},
	}
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := k.createWebhook(t, url.Values{"event": tt.start, "secret": {"initial"}})
				res, body := k.form(t, "PATCH", "/albums/"+k.album+"/webhooks/"+w.Id, k.aliceTok, tt.patch)
				if res.StatusCode != tt.wantStatus {
					t.Fatalf("status %d, want %d: %s", res.StatusCode, tt.wantStatus, body)
				}
				if tt.wantStatus != 200 {
					assertKheopsError(t, tt.name, res, body, tt.wantStatus)
				}
				got, err := k.alice.GetWebhookWithResponse(context.Background(), k.album, w.Id, nil)
				if err != nil || got.JSON200 == nil {
					t.Fatalf("get: %v", err)
				}
				events := []string{}
				for _, e := range got.JSON200.Events {
					events = append(events, string(e))
				}
				if strings.Join(events, ",") != strings.Join(tt.wantEvents, ",") {
					t.Errorf("events %v, want %v", events, tt.wantEvents)
				}
				if tt.check != nil {
					d := got.JSON200
					tt.check(t, gen.Webhook{Id: d.Id, Url: d.Url, Name: d.Name, UseSecret: d.UseSecret, Events: d.Events, Enabled: d.Enabled})
				}
			})
		}
	})
}

func TestWebhookAccess(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		w := k.createWebhook(t, url.Values{})
		other := k.createAlbum(t, k.alice, "Other")
		hookPath := "/albums/" + k.album + "/webhooks/" + w.Id
		expired := k.env.TokenIssuedAt(auth.TokenRequest{Subject: "alice", TTL: time.Minute}, time.Now().Add(-time.Hour))

		tests := []struct {
			name, method, path, token, contentType, body string
			accept                                       string
			status                                       int
		}{
			{"no token", "GET", hookPath, "", "", "", "", 401},
			{"expired token", "GET", hookPath, expired, "", "", "", 401},
			{"garbage token", "GET", hookPath, "not.a.jwt", "", "", "", 401},
			{"member not admin lists", "GET", "/albums/" + k.album + "/webhooks", k.bobTok, "", "", "", 403},
			{"member not admin gets", "GET", hookPath, k.bobTok, "", "", "", 403},
			{"member not admin creates", "POST", "/albums/" + k.album + "/webhooks", k.bobTok, "application/x-www-form-urlencoded", "url=https://x.org&name=x", "", 403},
			{"member not admin patches", "PATCH", hookPath, k.bobTok, "application/x-www-form-urlencoded", "enabled=false", "", 403},
			{"member not admin deletes", "DELETE", hookPath, k.bobTok, "", "", "", 403},
			{"non-member", "GET", hookPath, k.carolTok, "", "", "", 404},
			{"non-member lists", "GET", "/albums/" + k.album + "/webhooks", k.carolTok, "", "", "", 404},
			{"non-member lists a bad page", "GET", "/albums/" + k.album + "/webhooks?offset=-1", k.carolTok, "", "", "", 404},
			{"member not admin lists a bad page", "GET", "/albums/" + k.album + "/webhooks?limit=-1", k.bobTok, "", "", "", 403},
			{"unknown album", "GET", "/albums/nope/webhooks", k.aliceTok, "", "", "", 404},
			{"webhook of another album", "GET", "/albums/" + other + "/webhooks/" + w.Id, k.aliceTok, "", "", "", 404},
			{"patch webhook of another album", "PATCH", "/albums/" + other + "/webhooks/" + w.Id, k.aliceTok, "application/x-www-form-urlencoded", "enabled=false", "", 404},
			{"unknown webhook", "DELETE", "/albums/" + k.album + "/webhooks/xxxxxxxxxxxxxxxxxxxx", k.aliceTok, "", "", "", 404},
			{"Accept excludes JSON", "GET", hookPath, k.aliceTok, "", "", "text/html", 406},
			{"Accept JSON with q=0", "GET", hookPath, k.aliceTok, "", "", "application/json;q=0", 406},
			{"Accept wildcard", "GET", hookPath, k.aliceTok, "", "", "text/html, */*;q=0.1", 200},
			{"JSON body", "PATCH", hookPath, k.aliceTok, "application/json", `{"enabled":false}`, "", 415},
			{"form body without content type", "PATCH", hookPath, k.aliceTok, "", "enabled=false", "", 415},
			{"no content type", "POST", "/albums/" + k.album + "/webhooks", k.aliceTok, "", "url=https://x.org&name=x", "", 415},
			{"bad limit", "GET", "/albums/" + k.album + "/webhooks?limit=abc", k.aliceTok, "", "", "", 400},
			{"negative offset", "GET", "/albums/" + k.album + "/webhooks?offset=-1", k.aliceTok, "", "", "", 400},
			{"negative limit on history", "GET", hookPath + "?limit=-5", k.aliceTok, "", "", "", 400},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req, _ := http.NewRequest(tt.method, k.env.Server.URL+tt.path, strings.NewReader(tt.body))
				if tt.token != "" {
					req.Header.Set("Authorization", "Bearer "+tt.token)
				}
				if tt.contentType != "" {
					req.Header.Set("Content-Type", tt.contentType)
				}
				if tt.accept != "" {
					req.Header.Set("Accept", tt.accept)
				}
				res, err := k.env.HTTPClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var body gen.KheopsError
				_ = json.NewDecoder(res.Body).Decode(&body)
				if res.StatusCode != tt.status {
					t.Fatalf("status %d, want %d (%+v)", res.StatusCode, tt.status, body)
				}
				if tt.status >= 400 && (body.Message == "" || body.Detail == "") {
					t.Errorf("error body %+v lacks message or detail", body)
				}
				if tt.status == 401 && !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without WWW-Authenticate: Bearer (%q)", res.Header.Get("WWW-Authenticate"))
				}
			})
		}
		// Nothing changed through the refused requests.
		got, _ := k.alice.GetWebhookWithResponse(context.Background(), k.album, w.Id, nil)
		if got.JSON200 == nil || !got.JSON200.Enabled {
			t.Errorf("refused requests changed the webhook: %s", got.Body)
		}
	})
}

// addDeliveries records n deliveries of webhook w, one minute apart, oldest first; every third
// one failed, the others passed on their second attempt.
func addDeliveries(t *testing.T, st *store.Store, w string, n int) []string {
	t.Helper()
	start := time.Now().UTC().Add(-time.Duration(n) * time.Minute)
	var ids []string
	for i := 0; i < n; i++ {
		d := store.Delivery{ID: store.RandomString(store.DeliveryIDLength), Family: store.FamilyKheops, WebhookID: w,
			Event: "new_user", URL: "https://r.example.org", Payload: "{}", Status: store.DeliverySuccess, MaxAttempts: 5,
			CreatedAt: start.Add(time.Duration(i) * time.Minute), UserSub: ptr("bob")}
		if i%3 == 0 {
			d.Status = store.DeliveryFailure
		}
		if err := st.DB().Create(&d).Error; err != nil {
			t.Fatal(err)
		}
		for a := 1; a <= 2; a++ {
			status := 500
			if a == 2 && d.Status == store.DeliverySuccess {
				status = 200
			}
			if err := st.DB().Create(&store.DeliveryAttempt{DeliveryID: d.ID, Attempt: a, Status: status,
				CreatedAt: d.CreatedAt.Add(time.Duration(a) * time.Second)}).Error; err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, d.ID)
	}
	countTriggers(t, st, w)
	return ids
}

// countTriggers sets the webhook's trigger count and last triggers from its deliveries, as the
// store does when it records deliveries itself.
func countTriggers(t *testing.T, st *store.Store, webhookID string) {
	t.Helper()
	if err := st.RecountTriggers(context.Background(), webhookID); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestListWebhooks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		ctx := context.Background()
		var created []gen.Webhook
		for i := 0; i < 4; i++ {
			created = append(created, k.createWebhook(t, url.Values{"url": {fmt.Sprintf("https://r.example.org/%d", i%2)}}))
			time.Sleep(2 * time.Millisecond)
		}
		ids := addDeliveries(t, k.env.Store, created[1].Id, 7)

		res, err := k.alice.ListWebhooksWithResponse(ctx, k.album, nil)
		if err != nil || res.JSON200 == nil {
			t.Fatal(err)
		}
		list := *res.JSON200
		if res.HTTPResponse.Header.Get("X-Total-Count") != "4" || len(list) != 4 {
			t.Fatalf("total %s, %d items", res.HTTPResponse.Header.Get("X-Total-Count"), len(list))
		}
		for i, w := range list {
			if w.Id != created[3-i].Id {
				t.Errorf("item %d is %s, want %s (newest first)", i, w.Id, created[3-i].Id)
			}
		}
		hook := list[2]
		if hook.NumberOfTriggers != 7 || hook.LastTriggers == nil || len(*hook.LastTriggers) != 5 {
			t.Fatalf("triggers of the fired webhook: %+v", hook)
		}
		for i, lt := range *hook.LastTriggers {
			want := gen.Pass
			if (6-i)%3 == 0 {
				want = gen.Fail
			}
			if lt.Id != ids[6-i] || lt.Status != want {
				t.Errorf("last_triggers[%d] = %+v, want {%s %s}", i, lt, ids[6-i], want)
			}
		}
		if !strings.Contains(string(res.Body), `"number_of_triggers":0`) || strings.Count(string(res.Body), "last_triggers") != 1 {
			t.Errorf("last_triggers must be absent for webhooks that never fired: %s", res.Body)
		}

		limit, offset := 2, 1
		page, _ := k.alice.ListWebhooksWithResponse(ctx, k.album, &gen.ListWebhooksParams{Limit: &limit, Offset: &offset})
		if len(*page.JSON200) != 2 || (*page.JSON200)[0].Id != created[2].Id || page.HTTPResponse.Header.Get("X-Total-Count") != "4" {
			t.Errorf("page: %s total %s", page.Body, page.HTTPResponse.Header.Get("X-Total-Count"))
		}
		u := "https://r.example.org/1"
		byURL, _ := k.alice.ListWebhooksWithResponse(ctx, k.album, &gen.ListWebhooksParams{Url: &u})
		if len(*byURL.JSON200) != 2 || byURL.HTTPResponse.Header.Get("X-Total-Count") != "2" {
			t.Errorf("url filter: %s", byURL.Body)
		}
		zero := 0
		empty, _ := k.alice.ListWebhooksWithResponse(ctx, k.album, &gen.ListWebhooksParams{Limit: &zero})
		if string(empty.Body) != "[]\n" {
			t.Errorf("limit=0: %q", empty.Body)
		}
	})
}

func TestGetWebhookTriggers(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		ctx := context.Background()
		w := k.createWebhook(t, url.Values{"event": {"new_user"}})
		fresh, _ := k.alice.GetWebhookWithResponse(ctx, k.album, w.Id, nil)
		if fresh.JSON200 == nil || !strings.Contains(string(fresh.Body), `"triggers":[]`) {
			t.Fatalf("a webhook that never fired has triggers []: %s", fresh.Body)
		}
		ids := addDeliveries(t, k.env.Store, w.Id, 3)
		// A delivery whose first attempt has not finished has no attempts key.
		pending := store.Delivery{ID: store.RandomString(30), Family: store.FamilyKheops, WebhookID: w.Id, Event: "new_series",
			IsManual: true, URL: "https://r.example.org", Payload: "{}", Status: store.DeliveryPending, MaxAttempts: 5,
			CreatedAt: time.Now().UTC(), StudyUID: ptr("1.2.3"), SeriesUIDs: ptr(`["1.2.3.4","1.2.3.5"]`)}
		if err := k.env.Store.DB().Create(&pending).Error; err != nil {
			t.Fatal(err)
		}
		countTriggers(t, k.env.Store, w.Id)
		limit := 2
		res, _ := k.alice.GetWebhookWithResponse(ctx, k.album, w.Id, &gen.GetWebhookParams{Limit: &limit})
		d := res.JSON200
		if d == nil || d.NumberOfTriggers != 4 || len(d.Triggers) != 2 || res.HTTPResponse.Header.Get("X-Total-Count") != "4" {
			t.Fatalf("history page: %s", res.Body)
		}
		first, second := d.Triggers[0], d.Triggers[1]
		if first.Id != pending.ID || first.Attempts != nil || !first.IsManualTrigger || first.Study == nil ||
			first.Study.StudyUid != "1.2.3" || len(first.Study.Series) != 2 || first.Study.Series[1].SeriesUid != "1.2.3.5" {
			t.Errorf("pending manual trigger: %+v", first)
		}
		if second.Id != ids[2] || second.Attempts == nil || len(*second.Attempts) != 2 || (*second.Attempts)[0].Attempt != 2 ||
			(*second.Attempts)[0].Status != 200 || second.User == nil || second.User.Sub != "bob" || second.User.Email == nil {
			t.Errorf("finished trigger: %+v", second)
		}
		offset := 10
		past, _ := k.alice.GetWebhookWithResponse(ctx, k.album, w.Id, &gen.GetWebhookParams{Offset: &offset})
		if past.JSON200 == nil || len(past.JSON200.Triggers) != 0 || past.JSON200.NumberOfTriggers != 4 {
			t.Errorf("page past the end: %s", past.Body)
		}
		// Deleting the webhook removes it and its history.
		if del, _ := k.alice.DeleteWebhookWithResponse(ctx, k.album, w.Id, nil); del.StatusCode() != 204 {
			t.Fatalf("delete: %d", del.StatusCode())
		}
		var n int64
		k.env.Store.DB().Model(&store.Delivery{}).Where("webhook_id = ?", w.Id).Count(&n)
		if n != 0 {
			t.Errorf("%d deliveries left after delete", n)
		}
	})
}

func TestListWebhooksStatementCount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		ctx := context.Background()
		for i := 0; i < 100; i++ {
			w := k.env.Store // created directly: 100 HTTP calls would only slow the test
			v, err := w.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: k.album, URL: "https://r.example.org", Name: "h",
				Events: store.EventSet(0).With(store.EventNewUser), Enabled: true})
			if err != nil {
				t.Fatal(err)
			}
			addDeliveries(t, k.env.Store, v.ID, 1+i%7)
		}
		counter := testdb.CountStatements(k.env.Store)
		count := func(limit int) int64 {
			// Warm the token's user cache so only the request's own statements are counted.
			k.alice.ListWebhooksWithResponse(ctx, k.album, &gen.ListWebhooksParams{Limit: &limit})
			counter.Reset()
			res, err := k.alice.ListWebhooksWithResponse(ctx, k.album, &gen.ListWebhooksParams{Limit: &limit})
			if err != nil || res.JSON200 == nil || len(*res.JSON200) != limit {
				t.Fatalf("list %d: %v", limit, err)
			}
			return counter.N()
		}
		one, hundred := count(1), count(100)
		if one != hundred {
			t.Errorf("statements: %d for a page of 1, %d for a page of 100", one, hundred)
		}
		// The caller's membership, the page, its total and last triggers: one statement.
		if one != 1 {
			t.Errorf("statements per list request: %d, want 1", one)
		}
	})
}

func TestGetWebhookStatementCount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		ctx := context.Background()
		small := k.createWebhook(t, url.Values{"event": {"new_user"}})
		large := k.createWebhook(t, url.Values{"event": {"new_user"}})
		addDeliveries(t, k.env.Store, small.Id, 1)
		addDeliveries(t, k.env.Store, large.Id, 60)
		counter := testdb.CountStatements(k.env.Store)
		count := func(id string, want int) int64 {
			k.alice.GetWebhookWithResponse(ctx, k.album, id, nil) // warm the user cache
			counter.Reset()
			res, err := k.alice.GetWebhookWithResponse(ctx, k.album, id, nil)
			if err != nil || res.JSON200 == nil || len(res.JSON200.Triggers) != want {
				t.Fatalf("get %s: %v", id, err)
			}
			return counter.N()
		}
		if one, sixty := count(small.Id, 1), count(large.Id, 60); one != sixty {
			t.Errorf("statements: %d for a history of 1, %d for 60", one, sixty)
		}
	})
}

// TestTriggersAreCounted fires events through the API and reads the counters the store keeps.
func TestTriggersAreCounted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		ctx := context.Background()
		w := k.createWebhook(t, url.Values{"event": {"new_user"}})
		other := k.createWebhook(t, url.Values{"event": {"new_series"}})
		for i := 0; i < 7; i++ {
			res, body := k.form(t, "POST", "/albums/"+k.album+"/webhooks/"+w.Id+"/trigger", k.aliceTok,
				url.Values{"event": {"new_user"}, "user": {"bob"}})
			if res.StatusCode != http.StatusAccepted {
				t.Fatalf("trigger: %d %s", res.StatusCode, body)
			}
		}
		if res, _ := k.alice.AddAlbumUserWithResponse(ctx, k.album, "carol", nil); res.StatusCode() != http.StatusCreated {
			t.Fatal("add carol")
		}
		list, _ := k.alice.ListWebhooksWithResponse(ctx, k.album, nil)
		got := map[string]gen.Webhook{}
		for _, v := range *list.JSON200 {
			got[v.Id] = v
		}
		if h := got[w.Id]; h.NumberOfTriggers != 8 || h.LastTriggers == nil || len(*h.LastTriggers) != 5 {
			t.Errorf("fired webhook: %d triggers, last %v", h.NumberOfTriggers, h.LastTriggers)
		}
		if h := got[other.Id]; h.NumberOfTriggers != 0 || h.LastTriggers != nil {
			t.Errorf("webhook that never fired: %+v", h)
		}
		d, _ := k.alice.GetWebhookWithResponse(ctx, k.album, w.Id, nil)
		if d.JSON200.NumberOfTriggers != 8 || len(d.JSON200.Triggers) != 8 || d.HTTPResponse.Header.Get("X-Total-Count") != "8" {
			t.Errorf("history: %d triggers, %d listed", d.JSON200.NumberOfTriggers, len(d.JSON200.Triggers))
		}
	})
}

// TestUpdateWebhookWithoutBody: the body of PATCH is optional, so a PATCH with none (as
// generated clients send when no field is set), or an empty one, is a no-op answered 200, not
// a 415; a body that is not a form still is a 415.
func TestUpdateWebhookWithoutBody(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		w := k.createWebhook(t, url.Values{"event": {"new_user", "new_series"}, "secret": {"s"}})
		path := "/albums/" + k.album + "/webhooks/" + w.Id
		tests := []struct {
			name, contentType string
			body              io.Reader
		}{
			{"no body, no content type", "", nil},
			{"empty form", "application/x-www-form-urlencoded", strings.NewReader("")},
			{"empty body of another type", "application/json", strings.NewReader("")},
			{"empty chunked body", "", io.MultiReader(strings.NewReader(""))},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodPatch, k.env.Server.URL+path, tt.body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+k.aliceTok)
				if tt.contentType != "" {
					req.Header.Set("Content-Type", tt.contentType)
				}
				res, err := k.env.HTTPClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				var got gen.Webhook
				if res.StatusCode != http.StatusOK || json.Unmarshal(b, &got) != nil {
					t.Fatalf("status %d: %s", res.StatusCode, b)
				}
				if got.Url != w.Url || got.Name != w.Name || !got.UseSecret || !got.Enabled || !sameEvents(got.Events, w.Events) {
					t.Errorf("changed: %+v, was %+v", got, w)
				}
			})
		}
		// The generated client with no body at all.
		res, err := k.alice.UpdateWebhookWithBodyWithResponse(context.Background(), k.album, w.Id, nil, "", nil)
		if err != nil || res.JSON200 == nil {
			t.Fatalf("generated client, no body: %v %s %s", err, res.Status(), res.Body)
		}
	})
}
