package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// triggerN makes n manual new_user deliveries of a webhook of k.album and returns their ids,
// oldest first.
func (k *kheops) triggerN(t *testing.T, hook string, n int) []string {
	t.Helper()
	for range n {
		res, _ := k.form(t, http.MethodPost, "/albums/"+k.album+"/webhooks/"+hook+"/trigger", k.aliceTok,
			url.Values{"event": {"new_user"}, "user": {"bob"}})
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("trigger: %s", res.Status)
		}
	}
	var ids []string
	k.env.Store.DB().Model(&store.Delivery{}).Where("webhook_id = ?", hook).Order("created_at, id").Pluck("id", &ids)
	if len(ids) != n {
		t.Fatalf("%d deliveries, want %d", len(ids), n)
	}
	return ids
}

// setDelivery rewrites a delivery's status and creation time and gives it attempts failed
// attempts, as the engine would have left it.
func setDelivery(t *testing.T, st *store.Store, id, status string, created time.Time, attempts int) {
	t.Helper()
	if err := st.DB().Model(&store.Delivery{}).Where("id = ?", id).
		Updates(map[string]any{"status": status, "created_at": created.UTC()}).Error; err != nil {
		t.Fatal(err)
	}
	for a := 1; a <= attempts; a++ {
		if err := st.DB().Create(&store.DeliveryAttempt{DeliveryID: id, Attempt: a, Status: 500, CreatedAt: created}).Error; err != nil {
			t.Fatal(err)
		}
	}
}

func readDelivery(t *testing.T, st *store.Store, id string) store.Delivery {
	t.Helper()
	var d store.Delivery
	if err := st.DB().Where("id = ?", id).Take(&d).Error; err != nil {
		t.Fatal(err)
	}
	return d
}

func TestKheopsResendAndRecover(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k, eng := newKheopsEngine(t, kind)
		st := k.env.Store
		hook := k.createWebhook(t, url.Values{"event": {"new_user"}}).Id
		other := k.createWebhook(t, url.Values{"event": {"new_user"}}).Id
		ids := k.triggerN(t, hook, 4)
		otherIDs := k.triggerN(t, other, 1)
		base := time.Now().Add(-time.Hour).Truncate(time.Second)
		for i, id := range ids[:3] {
			setDelivery(t, st, id, store.DeliveryFailure, base.Add(time.Duration(i)*10*time.Minute), 2)
		}
		setDelivery(t, st, ids[3], store.DeliverySuccess, base.Add(30*time.Minute), 1)
		setDelivery(t, st, otherIDs[0], store.DeliveryFailure, base, 2)
		webhooks := "/albums/" + k.album + "/webhooks/"

		// Resend a delivery that succeeded: one more attempt (its second of 2), queued once.
		for range 2 {
			res, body := k.raw(t, http.MethodPost, webhooks+hook+"/triggers/"+ids[3]+"/resend", k.aliceTok, "", "")
			if res.StatusCode != http.StatusAccepted || strings.TrimSpace(string(body)) != `{"id":"`+ids[3]+`"}` {
				t.Fatalf("resend: %s %s", res.Status, body)
			}
		}
		if got := eng.resentIDs(); !slices.Equal(got, ids[3:]) {
			t.Errorf("queued %v, want %v once", got, ids[3:])
		}
		if d := readDelivery(t, st, ids[3]); d.Status != store.DeliveryPending || !d.Resend || d.MaxAttempts != 2 {
			t.Errorf("resent delivery: status %s resend %v max %d, want pending, true, 2", d.Status, d.Resend, d.MaxAttempts)
		}

		// Not found, not allowed.
		for _, c := range []struct {
			name, path, token string
			status            int
			message           string
		}{
			{"unknown trigger", webhooks + hook + "/triggers/nope/resend", k.aliceTok, 404, "Trigger Not Found"},
			{"trigger of another webhook", webhooks + hook + "/triggers/" + otherIDs[0] + "/resend", k.aliceTok, 404, "Trigger Not Found"},
			{"unknown webhook", webhooks + "nope/triggers/" + ids[0] + "/resend", k.aliceTok, 404, "Webhook Not Found"},
			{"not an admin", webhooks + hook + "/triggers/" + ids[0] + "/resend", k.bobTok, 403, "Forbidden"},
			{"not a member", webhooks + hook + "/recover", k.carolTok, 404, "Album Not Found"},
			{"recover unknown webhook", webhooks + "nope/recover", k.aliceTok, 404, "Webhook Not Found"},
		} {
			res, body := k.form(t, http.MethodPost, c.path, c.token, url.Values{"since": {base.Format(time.RFC3339)}})
			if res.StatusCode != c.status || !strings.Contains(string(body), `"message":"`+c.message+`"`) {
				t.Errorf("%s: %s %s, want %d %s", c.name, res.Status, body, c.status, c.message)
			}
		}

		// Recover [base+5m, base+25m): the 2nd and 3rd deliveries; a second call queues nothing.
		recover := func(values url.Values) (int, string) {
			t.Helper()
			res, body := k.form(t, http.MethodPost, webhooks+hook+"/recover", k.aliceTok, values)
			return res.StatusCode, strings.TrimSpace(string(body))
		}
		period := url.Values{"since": {base.Add(5 * time.Minute).Format(time.RFC3339)},
			"until": {base.Add(25 * time.Minute).Format(time.RFC3339Nano)}}
		if status, body := recover(period); status != 202 || body != `{"deliveries":2}` {
			t.Fatalf("recover: %d %s", status, body)
		}
		if status, body := recover(period); status != 202 || body != `{"deliveries":0}` {
			t.Errorf("recover again: %d %s", status, body)
		}
		// Since base, until now: only the first is still failed.
		if status, body := recover(url.Values{"since": {base.Format(time.RFC3339)}}); status != 202 || body != `{"deliveries":1}` {
			t.Errorf("recover since base: %d %s", status, body)
		}
		if got := eng.resentIDs(); !slices.Equal(got, []string{ids[3], ids[1], ids[2], ids[0]}) {
			t.Errorf("queued %v, want %v", got, []string{ids[3], ids[1], ids[2], ids[0]})
		}
		for _, id := range ids[:3] {
			if d := readDelivery(t, st, id); d.Status != store.DeliveryPending || !d.Resend || d.MaxAttempts != 3 {
				t.Errorf("recovered %s: status %s resend %v max %d, want pending, true, 3", id, d.Status, d.Resend, d.MaxAttempts)
			}
		}
		if d := readDelivery(t, st, otherIDs[0]); d.Status != store.DeliveryFailure || d.Resend {
			t.Errorf("another webhook's delivery was touched: %+v", d)
		}

		// Bad periods: 400 in the Kheops shape.
		for _, c := range []struct {
			values url.Values
			detail string
		}{
			{url.Values{}, "'since' must be an RFC 3339 date-time such as 2026-11-20T08:00:00Z"},
			{url.Values{"since": {"yesterday"}}, "'since' must be an RFC 3339 date-time such as 2026-11-20T08:00:00Z"},
			{url.Values{"since": {"2026-11-20"}}, "'since' must be an RFC 3339 date-time such as 2026-11-20T08:00:00Z"},
			{url.Values{"since": {"2026-11-20T08:00:00Z"}, "until": {"x"}}, "'until' must be an RFC 3339 date-time such as 2026-11-21T08:00:00Z"},
			{url.Values{"since": {"2026-11-20T08:00:00Z"}, "until": {"2026-11-20T08:00:00Z"}}, "'until' must be after 'since'"},
			{url.Values{"since": {"2026-11-20T08:00:00Z", "2026-11-21T08:00:00Z"}}, "'since' may be sent only once"},
		} {
			status, body := recover(c.values)
			if want := fmt.Sprintf(`{"message":"Bad Request","detail":%q}`, c.detail); status != 400 || body != want {
				t.Errorf("recover %v: %d %s, want 400 %s", c.values, status, body, want)
			}
		}
	})
}

// TestRecoverStatementCount checks that recovering 3 or 40 deliveries runs the same statements.
func TestRecoverStatementCount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k, _ := newKheopsEngine(t, kind)
		st := k.env.Store
		small := k.createWebhook(t, url.Values{"event": {"new_user"}}).Id
		large := k.createWebhook(t, url.Values{"event": {"new_user"}}).Id
		base := time.Now().Add(-time.Hour)
		for hook, n := range map[string]int{small: 3, large: 40} {
			for _, id := range k.triggerN(t, hook, n) {
				setDelivery(t, st, id, store.DeliveryFailure, base, 2)
			}
		}
		counter := testdb.CountStatements(st)
		count := func(hook string, want int) int64 {
			t.Helper()
			k.raw(t, http.MethodGet, "/albums/"+k.album, k.aliceTok, "", "") // warm the user cache
			counter.Reset()
			res, body := k.form(t, http.MethodPost, "/albums/"+k.album+"/webhooks/"+hook+"/recover", k.aliceTok,
				url.Values{"since": {base.Add(-time.Minute).Format(time.RFC3339)}})
			if res.StatusCode != 202 || strings.TrimSpace(string(body)) != fmt.Sprintf(`{"deliveries":%d}`, want) {
				t.Fatalf("recover: %s %s", res.Status, body)
			}
			return counter.N()
		}
		if few, many := count(small, 3), count(large, 40); few != many {
			t.Errorf("statements: %d to recover 3 deliveries, %d to recover 40", few, many)
		}
	})
}

// recoveryFacility is the facility fixture with a fake engine recording what is queued.
func newRecoveryFacility(t *testing.T, kind testdb.Kind) (*facilityFixture, *fakeEngine) {
	t.Helper()
	eng := &fakeEngine{}
	env := apitest.New(t, kind, apitest.Options{Setup: func(t testing.TB, st *store.Store) { st.SetEnqueuer(eng) }})
	f := &facilityFixture{env: env}
	f.appTok = env.Token(auth.TokenRequest{Subject: "svc-app", ClientID: "app", Facilities: appFacilities})
	f.otherTo = env.Token(auth.TokenRequest{Subject: "svc-other", ClientID: "other", Facilities: []string{"P-1"}})
	f.app, f.other = env.Client(f.appTok), env.Client(f.otherTo)
	return f, eng
}

func TestFacilityRetryAndRecover(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f, eng := newRecoveryFacility(t, kind)
		ctx := context.Background()
		st := f.env.Store
		fw := f.createFacility(t, f.app, gen.FacilityWebhookCreate{Url: "https://r.example.org/f",
			Events: []gen.FacilityEvent{"all"}, Facilities: &[]string{"P-1"}}).Id.String()
		uw := f.createUser(t, f.app, gen.UserWebhookCreate{Url: "https://r.example.org/u",
			Events: []gen.UserEvent{"all"}}).Id.String()
		for range 3 {
			if _, err := st.PublishEvent(ctx, store.PublishInput{Kind: store.EventKindFacility, EventType: "shift.created",
				FacilityID: "P-1", Data: []byte(`{}`), Publisher: "p"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.PublishEvent(ctx, store.PublishInput{Kind: store.EventKindUser, EventType: "facility.creation.accepted",
			ClientID: "app", Data: []byte(`{}`), Publisher: "p"}); err != nil {
			t.Fatal(err)
		}
		var fids, uids []string
		st.DB().Model(&store.Delivery{}).Where("webhook_id = ?", fw).Order("created_at, id").Pluck("id", &fids)
		st.DB().Model(&store.Delivery{}).Where("webhook_id = ?", uw).Pluck("id", &uids)
		base := time.Now().Add(-time.Hour).Truncate(time.Second)
		for i, id := range fids {
			setDelivery(t, st, id, store.DeliveryFailure, base.Add(time.Duration(i)*time.Minute), 4)
		}
		setDelivery(t, st, uids[0], store.DeliveryFailure, base, 4)

		// Retry one log: 202 {"data": {"id"}}, queued once however often it is asked.
		retry := "/api/v2/public/webhooks/logs/" + fids[0] + "/retry"
		for range 2 {
			status, body := f.raw(t, http.MethodPost, retry, f.appTok, "", "")
			if status != 202 {
				t.Fatalf("retry: %d %s", status, body)
			}
			sameJSON(t, "retry", body, map[string]any{"data": map[string]any{"id": fids[0]}})
		}
		if got := eng.resentIDs(); !slices.Equal(got, fids[:1]) {
			t.Errorf("queued %v, want %v", got, fids[:1])
		}
		logNotFound := map[string]any{"message": "Webhook log not found", "error": "Not Found", "statusCode": 404}
		for _, c := range []struct{ name, path, token string }{
			{"another application's log", retry, f.otherTo},
			{"an unknown log", "/api/v2/public/webhooks/logs/nope/retry", f.appTok},
		} {
			status, body := f.raw(t, http.MethodPost, c.path, c.token, "", "")
			if status != 404 {
				t.Errorf("%s: %d %s", c.name, status, body)
			}
			sameJSON(t, c.name, body, logNotFound)
		}

		// Recover: the facility webhook's failed deliveries since base+30s (2 of 3), then none.
		since := base.Add(30 * time.Second).Format(time.RFC3339)
		recover := func(path, token, body string) (int, []byte) {
			t.Helper()
			return f.raw(t, http.MethodPost, path+"/recover", token, jsonType, body)
		}
		status, body := recover(facilityPath+"/"+fw, f.appTok, `{"since":"`+since+`"}`)
		if status != 202 {
			t.Fatalf("recover: %d %s", status, body)
		}
		sameJSON(t, "recover", body, map[string]any{"data": map[string]any{"deliveries": 2}})
		status, body = recover(facilityPath+"/"+fw, f.appTok, `{"since":"`+since+`"}`)
		sameJSON(t, "recover again", body, map[string]any{"data": map[string]any{"deliveries": 0}})
		status, body = recover(userPath+"/"+uw, f.appTok, `{"since":"`+base.Format(time.RFC3339)+`","until":null}`)
		if status != 202 {
			t.Fatalf("recover user: %d %s", status, body)
		}
		sameJSON(t, "recover user", body, map[string]any{"data": map[string]any{"deliveries": 1}})
		if got, want := eng.resentIDs(), []string{fids[0], fids[1], fids[2], uids[0]}; !slices.Equal(got, want) {
			t.Errorf("queued %v, want %v", got, want)
		}

		// 404s and 400s.
		for _, c := range []struct {
			name, path, token, body string
			status                  int
			want                    any
		}{
			{"another application's webhook", facilityPath + "/" + fw, f.otherTo, `{"since":"` + since + `"}`, 404, notFoundBody},
			{"a user webhook on the facility route", facilityPath + "/" + uw, f.appTok, `{"since":"` + since + `"}`, 404, notFoundBody},
			{"not a UUID", userPath + "/nope", f.appTok, `{"since":"` + since + `"}`, 404, notFoundBody},
			{"no token", userPath + "/" + uw, "", `{"since":"` + since + `"}`, 401, unauthorizedBody},
			{"empty body", userPath + "/" + uw, f.appTok, ``, 400,
				badRequest("since must be an RFC 3339 date-time such as 2026-11-20T08:00:00Z")},
			{"every rule", facilityPath + "/" + fw, f.appTok, `{"from":1,"since":5,"until":"tomorrow"}`, 400,
				badRequest("property from should not exist", "since must be an RFC 3339 date-time such as 2026-11-20T08:00:00Z",
					"until must be an RFC 3339 date-time such as 2026-11-21T08:00:00Z")},
			{"until before since", facilityPath + "/" + fw, f.appTok, `{"since":"2026-11-20T08:00:00Z","until":"2026-11-19T08:00:00+01:00"}`, 400,
				badRequest("until must be after since")},
			{"not an object", facilityPath + "/" + fw, f.appTok, `[]`, 400, badRequest("the request body must be a JSON object")},
		} {
			status, body := recover(c.path, c.token, c.body)
			if status != c.status {
				t.Errorf("%s: %d %s, want %d", c.name, status, body, c.status)
			}
			sameJSON(t, c.name, body, c.want)
		}
	})
}

func TestFacilityWebhookEnabled(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f, _ := newRecoveryFacility(t, kind)
		ctx := context.Background()
		st := f.env.Store
		w := f.createFacility(t, f.app, gen.FacilityWebhookCreate{Url: "https://r.example.org/f",
			Events: []gen.FacilityEvent{"all"}, Facilities: &[]string{"P-1"}})
		if !w.Enabled || w.DisabledReason != nil {
			t.Errorf("new webhook: enabled %v, reason %v", w.Enabled, w.DisabledReason)
		}
		id := w.Id.String()
		publish := func() int {
			t.Helper()
			res, err := st.PublishEvent(ctx, store.PublishInput{Kind: store.EventKindFacility, EventType: "shift.created",
				FacilityID: "P-1", Data: []byte(`{}`), Publisher: "p"})
			if err != nil {
				t.Fatal(err)
			}
			return res.Deliveries
		}
		patch := func(body string) map[string]any {
			t.Helper()
			status, b := f.raw(t, http.MethodPatch, facilityPath+"/"+id, f.appTok, jsonType, body)
			if status != 201 {
				t.Fatalf("patch %s: %d %s", body, status, b)
			}
			var env struct{ Data map[string]any }
			_ = json.Unmarshal(b, &env)
			return env.Data
		}
		if got := patch(`{"enabled": false}`); got["enabled"] != false {
			t.Errorf("disabled: %v", got)
		}
		if n := publish(); n != 0 {
			t.Errorf("a disabled webhook got %d deliveries", n)
		}
		// The service disabled it: the reason shows until it is enabled again.
		if err := st.DB().Exec(`UPDATE facility_webhooks SET disabled_reason = 'gone' WHERE id = ?`, id).Error; err != nil {
			t.Fatal(err)
		}
		res, err := f.app.GetFacilityWebhookWithResponse(ctx, id)
		if err != nil || res.JSON200 == nil || res.JSON200.Data.DisabledReason == nil || *res.JSON200.Data.DisabledReason != "gone" {
			t.Fatalf("get: %v %s", err, res.Body)
		}
		if got := patch(`{"enabled": true}`); got["enabled"] != true || got["disabledReason"] != nil {
			t.Errorf("enabled again: %v", got)
		}
		if n := publish(); n != 1 {
			t.Errorf("an enabled webhook got %d deliveries", n)
		}
		status, body := f.raw(t, http.MethodPatch, facilityPath+"/"+id, f.appTok, jsonType, `{"enabled": "no"}`)
		if status != 400 {
			t.Errorf("enabled as a string: %d %s", status, body)
		}
		sameJSON(t, "enabled as a string", body, badRequest("enabled must be a boolean value"))
		_, body = f.raw(t, http.MethodPost, facilityPath, f.appTok, jsonType,
			`{"url": "https://r.example.org", "events": ["all"], "enabled": false}`)
		sameJSON(t, "enabled on create", body, badRequest("property enabled should not exist"))
	})
}

func TestKheopsDisabledReason(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		hook := k.createWebhook(t, url.Values{"event": {"new_user"}}).Id
		if err := k.env.Store.DB().Exec(`UPDATE album_webhooks SET enabled = FALSE, disabled_reason = 'gone' WHERE id = ?`, hook).Error; err != nil {
			t.Fatal(err)
		}
		path := "/albums/" + k.album + "/webhooks/" + hook
		_, body := k.raw(t, http.MethodGet, path, k.aliceTok, "", "")
		if !strings.Contains(string(body), `"disabled_reason":"gone"`) {
			t.Errorf("get: %s", body)
		}
		_, body = k.raw(t, http.MethodGet, "/albums/"+k.album+"/webhooks", k.aliceTok, "", "")
		if !strings.Contains(string(body), `"disabled_reason":"gone"`) {
			t.Errorf("list: %s", body)
		}
		// Disabling again keeps the reason; enabling removes it.
		_, body = k.form(t, http.MethodPatch, path, k.aliceTok, url.Values{"enabled": {"false"}})
		if !strings.Contains(string(body), `"disabled_reason":"gone"`) {
			t.Errorf("disabled again: %s", body)
		}
		_, body = k.form(t, http.MethodPatch, path, k.aliceTok, url.Values{"enabled": {"true"}})
		if strings.Contains(string(body), `disabled_reason`) || !strings.Contains(string(body), `"enabled":true`) {
			t.Errorf("enabled: %s", body)
		}
	})
}
