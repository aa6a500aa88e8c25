package server_test

import (
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/internal/testdb"
)

var generatedSecret = regexp.MustCompile(`^[A-Za-z0-9]{32}$`)

func checkNewID(t *testing.T, id uuid.UUID) {
	t.Helper()
	if id.Version() != 4 || id.Variant() != uuid.RFC4122 {
		t.Errorf("id %s is not a UUID v4", id)
	}
}

func TestCreateFacilityWebhook(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newFacilityFixture(t, kind)

		// Facilities and secrets left out: the token's facilities, one generated secret.
		w := f.createFacility(t, f.app, gen.FacilityWebhookCreate{Url: "https://exemple.com/webhook",
			Events: []gen.FacilityEvent{"shift.report.created", "shift.request.created"}})
		checkNewID(t, w.Id)
		if w.ClientId != "app" || w.Url != "https://exemple.com/webhook" ||
			!reflect.DeepEqual(w.Events, []gen.FacilityEvent{"shift.report.created", "shift.request.created"}) ||
			!reflect.DeepEqual(w.Facilities, appFacilities) {
			t.Errorf("created %+v", w)
		}
		if len(w.Secrets) != 1 || !generatedSecret.MatchString(w.Secrets[0]) {
			t.Errorf("generated secrets %q", w.Secrets)
		}
		// Secrets are drawn anew each time.
		w2 := f.createFacility(t, f.app, gen.FacilityWebhookCreate{Url: "https://exemple.com/webhook", Events: []gen.FacilityEvent{"all"}})
		if w2.Secrets[0] == w.Secrets[0] || w2.Id == w.Id {
			t.Errorf("two webhooks share a secret or an id: %+v %+v", w, w2)
		}

		// Facilities and secrets sent are kept, in their order; repeated facilities and events once.
		w3 := f.createFacility(t, f.app, gen.FacilityWebhookCreate{Url: "https://r.example.org",
			Events:     []gen.FacilityEvent{"shift.created", "all", "shift.created"},
			Facilities: &[]string{"P-1", "P-123456", "P-1"}, Secrets: &[]string{"second", "first"}})
		if !reflect.DeepEqual(w3.Facilities, []string{"P-1", "P-123456"}) || !reflect.DeepEqual(w3.Secrets, []string{"second", "first"}) ||
			!reflect.DeepEqual(w3.Events, []gen.FacilityEvent{"shift.created", "all"}) {
			t.Errorf("created %+v", w3)
		}
		// An empty list of facilities or of secrets is what was asked for.
		w4 := f.createFacility(t, f.app, gen.FacilityWebhookCreate{Url: "https://r.example.org", Events: []gen.FacilityEvent{"all"},
			Facilities: &[]string{}, Secrets: &[]string{}})
		if len(w4.Facilities) != 0 || len(w4.Secrets) != 0 {
			t.Errorf("created %+v", w4)
		}

		// A facility outside the token: 403, nothing created.
		for _, facilities := range [][]string{{"P-2"}, {"P-1", "P-2"}, {"p-1"}} {
			res, err := f.app.CreateFacilityWebhookWithResponse(t.Context(), gen.FacilityWebhookCreate{Url: "https://r.example.org",
				Events: []gen.FacilityEvent{"all"}, Facilities: &facilities})
			if err != nil || res.StatusCode() != http.StatusForbidden {
				t.Fatalf("facilities %v: %v %d %s", facilities, err, res.StatusCode(), res.Body)
			}
			sameJSON(t, "403", res.Body, forbiddenBody)
		}
		// A token without facilities may create a webhook of no facilities, and nothing else.
		none := f.env.Client(f.env.Token(auth.TokenRequest{Subject: "svc-none", ClientID: "none"}))
		if w := f.createFacility(t, none, gen.FacilityWebhookCreate{Url: "https://r.example.org", Events: []gen.FacilityEvent{"all"}}); len(w.Facilities) != 0 {
			t.Errorf("created %+v", w)
		}
		if res, _ := none.CreateFacilityWebhookWithResponse(t.Context(), gen.FacilityWebhookCreate{Url: "https://r.example.org",
			Events: []gen.FacilityEvent{"all"}, Facilities: &[]string{"P-1"}}); res.StatusCode() != http.StatusForbidden {
			t.Errorf("no facilities in the token: %d", res.StatusCode())
		}

		// GET answers what POST answered.
		got, err := f.app.GetFacilityWebhookWithResponse(t.Context(), w3.Id.String())
		if err != nil || got.JSON200 == nil || !reflect.DeepEqual(got.JSON200.Data, w3) {
			t.Errorf("get: %v %s, want %+v", err, got.Body, w3)
		}
		list, _ := f.app.ListFacilityWebhooksWithResponse(t.Context())
		if n := len(list.JSON200.Data); n != 4 {
			t.Errorf("%d webhooks after 4 creates and 3 refusals", n)
		}
	})
}

func TestUpdateFacilityWebhook(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newFacilityFixture(t, kind)
		w := f.createFacility(t, f.app, gen.FacilityWebhookCreate{Url: "https://before.example.org",
			Events: []gen.FacilityEvent{"shift.created"}, Facilities: &[]string{"P-1"}})
		id := w.Id.String()

		patch := func(body, what string) gen.FacilityWebhook {
			t.Helper()
			res, err := f.app.UpdateFacilityWebhookWithBodyWithResponse(t.Context(), id, jsonType, strings.NewReader(body))
			if err != nil || res.StatusCode() != http.StatusCreated || res.JSON201 == nil {
				t.Fatalf("%s: %v %d %s", what, err, res.StatusCode(), res.Body)
			}
			return res.JSON201.Data
		}

		// {} changes nothing (and answers 201, as the seed documents).
		if got := patch(`{}`, "empty patch"); !reflect.DeepEqual(got, w) {
			t.Errorf("empty patch: %+v, want %+v", got, w)
		}
		// A field sent replaces, the others are kept.
		want := w
		want.Url = "https://after.example.org"
		if got := patch(`{"url": "https://after.example.org"}`, "url only"); !reflect.DeepEqual(got, want) {
			t.Errorf("url only: %+v, want %+v", got, want)
		}
		want.Events = []gen.FacilityEvent{"all"}
		want.Secrets = []string{"new"}
		if got := patch(`{"events": ["all"], "secrets": ["new"]}`, "events and secrets"); !reflect.DeepEqual(got, want) {
			t.Errorf("events and secrets: %+v, want %+v", got, want)
		}

		// The seed's example body: the seed's example data back, with this id and client.
		seedBody := `{
			"url": "https://exemple.com/webhook",
			"events": ["shift.report.created", "shift.request.created"],
			"facilities": ["P-123456", "P-123457"],
			"secrets": ["sDV1aKqitCLClI12m7UPFbAAvZfZquJw", "mryefgHPBVHJwux0o3BYW7hPM0BZlcCa"]
		}`
		status, body := f.raw(t, http.MethodPatch, facilityPath+"/"+id, f.appTok, jsonType, seedBody)
		if status != http.StatusCreated {
			t.Fatalf("seed body: %d %s", status, body)
		}
		sameJSON(t, "seed body", body, map[string]any{"data": map[string]any{
			"id":         id,
			"url":        "https://exemple.com/webhook",
			"events":     []string{"shift.report.created", "shift.request.created"},
			"clientId":   "app",
			"facilities": []string{"P-123456", "P-123457"},
			"secrets":    []string{"sDV1aKqitCLClI12m7UPFbAAvZfZquJw", "mryefgHPBVHJwux0o3BYW7hPM0BZlcCa"},
			"enabled":    true,
		}})
		want = patch(`{}`, "read back")

		// Facilities outside the token: 403, nothing changed (not even the url sent with them).
		status, body = f.raw(t, http.MethodPatch, facilityPath+"/"+id, f.appTok, jsonType,
			`{"url": "https://other.example.org", "facilities": ["P-1", "P-999"]}`)
		if status != http.StatusForbidden {
			t.Errorf("facility outside the token: %d %s", status, body)
		}
		sameJSON(t, "403", body, forbiddenBody)
		// The same for a webhook that does not exist is a 404.
		status, body = f.raw(t, http.MethodPatch, facilityPath+"/"+uuid.NewString(), f.appTok, jsonType, `{"facilities": ["P-999"]}`)
		if status != http.StatusNotFound {
			t.Errorf("unknown webhook, facility outside the token: %d %s", status, body)
		}
		// Three secrets: 400, nothing changed.
		status, _ = f.raw(t, http.MethodPatch, facilityPath+"/"+id, f.appTok, jsonType, `{"url": "https://other.example.org", "secrets": ["a", "b", "c"]}`)
		if status != http.StatusBadRequest {
			t.Errorf("three secrets: %d", status)
		}
		if got := patch(`{}`, "after the refusals"); !reflect.DeepEqual(got, want) {
			t.Errorf("after the refusals: %+v, want %+v", got, want)
		}

		// Empty lists replace too; the token's facilities are not put back.
		want.Facilities, want.Secrets = []string{}, []string{}
		if got := patch(`{"facilities": [], "secrets": []}`, "empty lists"); !reflect.DeepEqual(got, want) {
			t.Errorf("empty lists: %+v, want %+v", got, want)
		}
	})
}

func TestFacilityWebhookOwnership(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newFacilityFixture(t, kind)
		theirs := f.createFacility(t, f.other, gen.FacilityWebhookCreate{Url: "https://other.example.org", Events: []gen.FacilityEvent{"all"}})
		var mine []gen.FacilityWebhook
		for _, u := range []string{"https://one.example.org", "https://two.example.org", "https://three.example.org"} {
			mine = append(mine, f.createFacility(t, f.app, gen.FacilityWebhookCreate{Url: u, Events: []gen.FacilityEvent{"all"}}))
		}
		userHook := f.createUser(t, f.app, gen.UserWebhookCreate{Url: "https://user.example.org", Events: []gen.UserEvent{"all"}})

		// The list: the caller's own, newest first.
		list, err := f.app.ListFacilityWebhooksWithResponse(t.Context())
		if err != nil || list.JSON200 == nil {
			t.Fatal(err)
		}
		want := []gen.FacilityWebhook{mine[2], mine[1], mine[0]}
		if !reflect.DeepEqual(list.JSON200.Data, want) {
			t.Errorf("list:\n got  %+v\n want %+v", list.JSON200.Data, want)
		}
		if l, _ := f.other.ListFacilityWebhooksWithResponse(t.Context()); len(l.JSON200.Data) != 1 || l.JSON200.Data[0].Id != theirs.Id {
			t.Errorf("other's list: %s", l.Body)
		}

		// Another application's webhook, a user webhook's id, an unknown UUID, and ids that are
		// not UUIDs: 404 Webhook not found for GET, PATCH and DELETE.
		ids := []string{theirs.Id.String(), userHook.Id.String(), uuid.NewString(), "1", "not-a-uuid",
			strings.ReplaceAll(mine[0].Id.String(), "-", ""), "{" + mine[0].Id.String() + "}", "urn:uuid:" + mine[0].Id.String(),
			mine[0].Id.String() + "0", "%20" + mine[0].Id.String()}
		for _, id := range ids {
			for _, method := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
				status, body := f.raw(t, method, facilityPath+"/"+id, f.appTok, jsonType, map[bool]string{true: `{"url": "https://x.example.org"}`}[method == http.MethodPatch])
				if status != http.StatusNotFound {
					t.Errorf("%s %s: %d %s", method, id, status, body)
					continue
				}
				sameJSON(t, method+" "+id, body, notFoundBody)
			}
		}
		// The other application's webhook is untouched.
		if got, _ := f.other.GetFacilityWebhookWithResponse(t.Context(), theirs.Id.String()); got.JSON200 == nil || !reflect.DeepEqual(got.JSON200.Data, theirs) {
			t.Errorf("their webhook: %s", got.Body)
		}
		// An id in capitals is the same id.
		if got, _ := f.app.GetFacilityWebhookWithResponse(t.Context(), strings.ToUpper(mine[0].Id.String())); got.JSON200 == nil || got.JSON200.Data.Id != mine[0].Id {
			t.Errorf("id in capitals: %d %s", got.StatusCode(), got.Body)
		}

		// DELETE: 204, then gone (404), and out of the list.
		del, err := f.app.DeleteFacilityWebhookWithResponse(t.Context(), mine[1].Id.String())
		if err != nil || del.StatusCode() != http.StatusNoContent || len(del.Body) != 0 {
			t.Fatalf("delete: %v %d %s", err, del.StatusCode(), del.Body)
		}
		for _, method := range []string{http.MethodGet, http.MethodDelete} {
			if status, _ := f.raw(t, method, facilityPath+"/"+mine[1].Id.String(), f.appTok, "", ""); status != http.StatusNotFound {
				t.Errorf("%s after delete: %d", method, status)
			}
		}
		list, _ = f.app.ListFacilityWebhooksWithResponse(t.Context())
		if want := []gen.FacilityWebhook{mine[2], mine[0]}; !reflect.DeepEqual(list.JSON200.Data, want) {
			t.Errorf("list after delete: %+v", list.JSON200.Data)
		}
	})
}

func TestUserWebhooks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newFacilityFixture(t, kind)
		theirs := f.createUser(t, f.other, gen.UserWebhookCreate{Url: "https://other.example.org", Events: []gen.UserEvent{"all"}})
		a := f.createUser(t, f.app, gen.UserWebhookCreate{Url: "https://a.example.org",
			Events: []gen.UserEvent{"facility.user-connection.accepted", "facility.creation.rejected"}})
		checkNewID(t, a.Id)
		if a.ClientId != "app" || len(a.Secrets) != 1 || !generatedSecret.MatchString(a.Secrets[0]) ||
			!reflect.DeepEqual(a.Events, []gen.UserEvent{"facility.user-connection.accepted", "facility.creation.rejected"}) {
			t.Errorf("created %+v", a)
		}
		// No facilities key at all in a user webhook.
		status, body := f.raw(t, http.MethodGet, userPath+"/"+a.Id.String(), f.appTok, "", "")
		if status != http.StatusOK || strings.Contains(string(body), "facilities") {
			t.Errorf("get: %d %s", status, body)
		}
		b := f.createUser(t, f.app, gen.UserWebhookCreate{Url: "https://b.example.org", Events: []gen.UserEvent{"all"},
			Secrets: &[]string{"one", "two"}})
		if !reflect.DeepEqual(b.Secrets, []string{"one", "two"}) {
			t.Errorf("secrets sent: %q", b.Secrets)
		}
		// A facility webhook of the same application is not in this list.
		f.createFacility(t, f.app, gen.FacilityWebhookCreate{Url: "https://f.example.org", Events: []gen.FacilityEvent{"all"}})

		list, err := f.app.ListUserWebhooksWithResponse(t.Context())
		if err != nil || list.JSON200 == nil || !reflect.DeepEqual(list.JSON200.Data, []gen.UserWebhook{b, a}) {
			t.Errorf("list: %v %s", err, list.Body)
		}

		// PATCH: {} keeps, a field sent replaces; 201.
		up, err := f.app.UpdateUserWebhookWithResponse(t.Context(), a.Id.String(), gen.UserWebhookUpdate{})
		if err != nil || up.JSON201 == nil || !reflect.DeepEqual(up.JSON201.Data, a) {
			t.Fatalf("empty patch: %v %s", err, up.Body)
		}
		url := "https://a2.example.org"
		up, _ = f.app.UpdateUserWebhookWithResponse(t.Context(), a.Id.String(), gen.UserWebhookUpdate{Url: &url,
			Secrets: &[]string{"rotated", "current"}})
		want := a
		want.Url, want.Secrets = url, []string{"rotated", "current"}
		if up.JSON201 == nil || !reflect.DeepEqual(up.JSON201.Data, want) {
			t.Errorf("patch: %s", up.Body)
		}

		// Another application's, a facility webhook's id, not a UUID: 404.
		for _, id := range []string{theirs.Id.String(), "x"} {
			for _, method := range []string{http.MethodGet, http.MethodPatch, http.MethodDelete} {
				status, body := f.raw(t, method, userPath+"/"+id, f.appTok, jsonType, map[bool]string{true: `{}`}[method == http.MethodPatch])
				if status != http.StatusNotFound {
					t.Errorf("%s %s: %d %s", method, id, status, body)
				}
				sameJSON(t, method+" "+id, body, notFoundBody)
			}
		}
		if del, _ := f.app.DeleteUserWebhookWithResponse(t.Context(), a.Id.String()); del.StatusCode() != http.StatusNoContent {
			t.Errorf("delete: %d %s", del.StatusCode(), del.Body)
		}
		if got, _ := f.app.GetUserWebhookWithResponse(t.Context(), a.Id.String()); got.StatusCode() != http.StatusNotFound {
			t.Errorf("get after delete: %d", got.StatusCode())
		}
		if got, _ := f.other.GetUserWebhookWithResponse(t.Context(), theirs.Id.String()); got.JSON200 == nil {
			t.Errorf("their webhook: %s", got.Body)
		}
	})
}

// TestFacilityWebhooksUnauthorized checks the 401 of every operation of the family: no token,
// a token that is not a JWT, a token signed by another key.
func TestFacilityWebhooksUnauthorized(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newFacilityFixture(t, kind)
		stranger := newFacilityFixture(t, testdb.SQLite).appTok // signed by another server's key
		id := uuid.NewString()
		ops := []struct{ method, path string }{
			{http.MethodGet, facilityPath}, {http.MethodPost, facilityPath},
			{http.MethodGet, facilityPath + "/" + id}, {http.MethodPatch, facilityPath + "/" + id}, {http.MethodDelete, facilityPath + "/" + id},
			{http.MethodGet, userPath}, {http.MethodPost, userPath},
			{http.MethodGet, userPath + "/" + id}, {http.MethodPatch, userPath + "/" + id}, {http.MethodDelete, userPath + "/" + id},
		}
		for _, op := range ops {
			for _, token := range []string{"", "not-a-jwt", stranger} {
				// An invalid body too: authentication comes first.
				status, body := f.raw(t, op.method, op.path, token, jsonType, `{"nope": 1}`)
				if status != http.StatusUnauthorized {
					t.Errorf("%s %s: %d %s", op.method, op.path, status, body)
					continue
				}
				sameJSON(t, op.method+" "+op.path, body, unauthorizedBody)
			}
		}
	})
}
