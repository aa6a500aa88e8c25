package server_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/internal/testdb"
)

// TestContractStatesServerRules: every rule the server enforces with a 400 that OpenAPI can
// express is in the contract, so a validating proxy or a generated client refuses the same
// requests. Each request here is answered 400 by the server and refused by the contract. (The
// other way round, every request answered 2xx in any test must be one the contract allows:
// apitest checks it on every call.)
func TestContractStatesServerRules(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	const jsonType = "application/json"
	long := func(n int) string { return strings.Repeat("a", n) }
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		hook := k.createWebhook(t, url.Values{"event": {"new_user"}}).Id
		publisher := k.env.Token(auth.TokenRequest{Subject: "shifts", Scope: "webhooks:publish"})
		app := k.env.Token(auth.TokenRequest{Subject: "svc", ClientID: "app", Facilities: []string{"P-1"}})
		a := "/albums/" + k.album
		w := a + "/webhooks/" + hook
		tests := []struct {
			name, method, path, token, contentType, body string
		}{
			{"limit < 0", "GET", a + "/webhooks?limit=-1", k.aliceTok, "", ""},
			{"offset < 0", "GET", a + "/webhooks?offset=-1", k.aliceTok, "", ""},
			{"trigger history limit < 0", "GET", w + "?limit=-1", k.aliceTok, "", ""},
			{"study UID with a leading zero", "PUT", "/studies/1.2.03/series/1.2.3/albums/" + k.album, k.aliceTok, "", ""},
			{"series UID with an empty component", "PUT", "/studies/1.2.3/series/1..2/albums/" + k.album, k.aliceTok, "", ""},
			{"study UID with letters", "DELETE", "/studies/1.2.3a/albums/" + k.album, k.aliceTok, "", ""},
			{"UID of 65 characters", "DELETE", "/studies/1." + strings.Repeat("1", 63) + "/albums/" + k.album, k.aliceTok, "", ""},
			{"album name too long", "POST", "/albums", k.aliceTok, form, "name=" + long(256)},
			{"album name blank", "POST", "/albums", k.aliceTok, form, "name=+++"},
			{"album description too long", "POST", "/albums", k.aliceTok, form, "name=x&description=" + long(2049)},
			{"webhook url not http(s)", "POST", a + "/webhooks", k.aliceTok, form, "name=n&url=ftp%3A%2F%2Fr.example.org"},
			{"webhook url not a url", "POST", a + "/webhooks", k.aliceTok, form, "name=n&url=receiver"},
			{"webhook url too long", "POST", a + "/webhooks", k.aliceTok, form, "name=n&url=https%3A%2F%2Fr.example.org%2F" + long(1010)},
			{"webhook name blank", "POST", a + "/webhooks", k.aliceTok, form, "name=+&url=https%3A%2F%2Fr.example.org"},
			{"webhook secret too long", "POST", a + "/webhooks", k.aliceTok, form, "name=n&url=https%3A%2F%2Fr.example.org&secret=" + long(1025)},
			{"webhook unknown event", "POST", a + "/webhooks", k.aliceTok, form, "name=n&url=https%3A%2F%2Fr.example.org&event=new_study"},
			{"patch event with add_event", "PATCH", w, k.aliceTok, form, "event=new_user&add_event=new_series"},
			{"patch event with remove_event", "PATCH", w, k.aliceTok, form, "event=new_user&remove_event=new_series"},
			{"patch url not http(s)", "PATCH", w, k.aliceTok, form, "url=mailto%3Aa%40example.org"},
			{"patch unknown add_event", "PATCH", w, k.aliceTok, form, "add_event=nope"},
			{"trigger delete_album", "POST", w + "/trigger", k.aliceTok, form, "event=delete_album"},
			{"trigger remove_series", "POST", w + "/trigger", k.aliceTok, form, "event=remove_series&StudyInstanceUID=1.2&SeriesInstanceUID=1.2.3"},
			{"trigger without event", "POST", w + "/trigger", k.aliceTok, form, "user=bob"},
			{"trigger series UID malformed", "POST", w + "/trigger", k.aliceTok, form, "event=new_series&StudyInstanceUID=1.2&SeriesInstanceUID=1.02"},

			{"facility url http", "POST", facilityPath, app, jsonType, `{"url": "http://r.example.org", "events": ["all"]}`},
			{"facility no events", "POST", facilityPath, app, jsonType, `{"url": "https://r.example.org", "events": []}`},
			{"facility unknown event", "POST", facilityPath, app, jsonType, `{"url": "https://r.example.org", "events": ["shift.eaten"]}`},
			{"facility three secrets", "POST", facilityPath, app, jsonType, `{"url": "https://r.example.org", "events": ["all"], "secrets": ["a", "b", "c"]}`},
			{"facility empty secret", "POST", facilityPath, app, jsonType, `{"url": "https://r.example.org", "events": ["all"], "secrets": [""]}`},
			{"facility unknown property", "POST", facilityPath, app, jsonType, `{"url": "https://r.example.org", "events": ["all"], "name": "x"}`},
			{"user webhook with facilities", "POST", userPath, app, jsonType, `{"url": "https://r.example.org", "events": ["all"], "facilities": []}`},
			{"logs limit > 100", "GET", "/api/v2/public/webhooks/logs?limit=101", app, "", ""},
			{"logs limit < 0", "GET", "/api/v2/public/webhooks/logs?limit=-1", app, "", ""},
			{"logs unknown event type", "GET", "/api/v2/public/webhooks/logs?eventType=shift.eaten", app, "", ""},
			{"logs sort direction", "GET", "/api/v2/public/webhooks/logs?sortDirection=UP", app, "", ""},
			{"publish all", "POST", "/internal/events/facility", publisher, jsonType, `{"eventType": "all", "facilityId": "P-1", "data": {}}`},
			{"publish blank facility", "POST", "/internal/events/facility", publisher, jsonType, `{"eventType": "shift.created", "facilityId": " ", "data": {}}`},
			{"publish long idempotency key", "POST", "/internal/events/facility", publisher, jsonType,
				`{"eventType": "shift.created", "facilityId": "P-1", "data": {}, "idempotencyKey": "` + long(256) + `"}`},
			{"publish user event unknown", "POST", "/internal/events/user", publisher, jsonType, `{"eventType": "shift.created", "clientId": "app", "data": {}}`},
			{"publish user blank client", "POST", "/internal/events/user", publisher, jsonType, `{"eventType": "facility.creation.accepted", "clientId": "", "data": {}}`},
		}
		// The check itself: requests the server takes are allowed.
		for _, ok := range [][4]string{
			{"GET", a + "/webhooks?limit=0&offset=3", "", ""},
			{"PUT", "/studies/0.1.20/series/1.2.0.3/albums/" + k.album, "", ""},
			{"PATCH", w, form, "add_event=new_series&remove_event=new_user&url=HTTP%3A%2F%2Fr.example.org&secret="},
			{"PATCH", w, "", ""},
			{"POST", facilityPath, jsonType, `{"url": "https://r.example.org", "events": ["all"], "facilities": null, "secrets": null}`},
		} {
			if err := k.env.ContractAllows(ok[0], ok[1], ok[2], ok[3]); err != nil {
				t.Errorf("%s %s %s: the contract refuses a request the server takes: %v", ok[0], ok[1], ok[3], err)
			}
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, body := k.env.Do(tt.method, tt.path, tt.token, tt.contentType, tt.body)
				if res.StatusCode != 400 {
					t.Errorf("server answered %d, want 400: %s", res.StatusCode, body)
				}
				if err := k.env.ContractAllows(tt.method, tt.path, tt.contentType, tt.body); err == nil {
					t.Errorf("the contract allows the request the server refuses")
				}
			})
		}
	})
}
