package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/internal/testdb"
)

const (
	secureURL     = "should be a secure URL with HTTPS"
	urlString     = "url must be a string"
	eventsMin     = "events must contain at least 1 elements"
	eventsArray   = "events must be an array"
	facString     = "each value in facilities must be a string"
	facArray      = "facilities must be an array"
	secretsMax    = "secrets must contain no more than 2 elements"
	secretsArray  = "secrets must be an array"
	secretString  = "each value in secrets must be a string"
	secretEmpty   = "each value in secrets should not be empty"
	secretNUL     = "each value in secrets must not contain NUL characters"
	facilityNUL   = "each value in facilities must not contain NUL characters"
	jsonType      = "application/json"
	notJSONObject = "the request body must be a JSON object"
	wrongType     = "the request body must be JSON, sent with Content-Type: application/json"
)

// validationCase is one request body and the exact messages of its 400 (none: accepted).
type validationCase struct {
	name string
	body string
	want []string
}

// The seed's "Request Validation Error" example, exactly: each rule of the facility family
// fails once.
var seedExample = validationCase{"the seed's example", `{"url": 5, "events": 5, "facilities": [1], "secrets": "x"}`,
	[]string{secureURL, urlString, eventsMin, eventsArray, facilityEventsMsg, facString, secretsMax, secretsArray}}

var createFacilityCases = []validationCase{
	{"valid", `{"url": "https://r.example.org/hook", "events": ["shift.created"]}`, nil},
	{"empty object", `{}`, []string{secureURL, urlString, eventsMin, eventsArray, facilityEventsMsg}},
	{"url missing", `{"events": ["all"]}`, []string{secureURL, urlString}},
	{"url null", `{"url": null, "events": ["all"]}`, []string{secureURL, urlString}},
	{"url a number", `{"url": 5, "events": ["all"]}`, []string{secureURL, urlString}},
	{"url an array", `{"url": ["https://r.example.org"], "events": ["all"]}`, []string{secureURL, urlString}},
	{"url http", `{"url": "http://r.example.org", "events": ["all"]}`, []string{secureURL}},
	{"url empty", `{"url": "", "events": ["all"]}`, []string{secureURL}},
	{"url without host", `{"url": "https://", "events": ["all"]}`, []string{secureURL}},
	{"url relative", `{"url": "/hook", "events": ["all"]}`, []string{secureURL}},
	{"url with a space", `{"url": "https://r.example .org", "events": ["all"]}`, []string{secureURL}},
	{"url with a bad port", `{"url": "https://r.example.org:99999/", "events": ["all"]}`, []string{secureURL}},
	{"url not https", `{"url": "ftp://r.example.org", "events": ["all"]}`, []string{secureURL}},
	{"url HTTPS, IP and port", `{"url": "HTTPS://10.0.0.1:8443/x?y=1", "events": ["all"]}`, nil},
	{"events missing", `{"url": "https://r.example.org"}`, []string{eventsMin, eventsArray, facilityEventsMsg}},
	{"events null", `{"url": "https://r.example.org", "events": null}`, []string{eventsMin, eventsArray, facilityEventsMsg}},
	{"events empty", `{"url": "https://r.example.org", "events": []}`, []string{eventsMin}},
	{"events a valid string", `{"url": "https://r.example.org", "events": "all"}`, []string{eventsMin, eventsArray}},
	{"events an unknown string", `{"url": "https://r.example.org", "events": "nope"}`, []string{eventsMin, eventsArray, facilityEventsMsg}},
	{"events an object", `{"url": "https://r.example.org", "events": {"all": true}}`, []string{eventsMin, eventsArray, facilityEventsMsg}},
	{"events with an unknown value", `{"url": "https://r.example.org", "events": ["all", "nope"]}`, []string{facilityEventsMsg}},
	{"events with a number", `{"url": "https://r.example.org", "events": [1]}`, []string{facilityEventsMsg}},
	{"events of the user family", `{"url": "https://r.example.org", "events": ["facility.creation.accepted"]}`, []string{facilityEventsMsg}},
	{"events are case-sensitive", `{"url": "https://r.example.org", "events": ["ALL"]}`, []string{facilityEventsMsg}},
	{"facilities with a number", `{"url": "https://r.example.org", "events": ["all"], "facilities": ["P-1", 2]}`, []string{facString}},
	{"facilities a string", `{"url": "https://r.example.org", "events": ["all"], "facilities": "P-1"}`, []string{facArray}},
	{"facilities a number", `{"url": "https://r.example.org", "events": ["all"], "facilities": 7}`, []string{facArray, facString}},
	{"facilities with NUL", `{"url": "https://r.example.org", "events": ["all"], "facilities": ["P-\u0000"]}`, []string{facilityNUL}},
	{"facilities null", `{"url": "https://r.example.org", "events": ["all"], "facilities": null}`, nil},
	{"three secrets", `{"url": "https://r.example.org", "events": ["all"], "secrets": ["a", "b", "c"]}`, []string{secretsMax}},
	{"two secrets", `{"url": "https://r.example.org", "events": ["all"], "secrets": ["a", "b"]}`, nil},
	{"secrets a string", `{"url": "https://r.example.org", "events": ["all"], "secrets": "abc"}`, []string{secretsMax, secretsArray}},
	{"secrets a number", `{"url": "https://r.example.org", "events": ["all"], "secrets": 5}`, []string{secretsMax, secretsArray, secretString}},
	{"secret a number", `{"url": "https://r.example.org", "events": ["all"], "secrets": [5]}`, []string{secretString}},
	{"secret empty", `{"url": "https://r.example.org", "events": ["all"], "secrets": [""]}`, []string{secretEmpty}},
	{"secret with NUL", `{"url": "https://r.example.org", "events": ["all"], "secrets": ["a\u0000b"]}`, []string{secretNUL}},
	{"three bad secrets", `{"url": "https://r.example.org", "events": ["all"], "secrets": [1, "", null]}`, []string{secretsMax, secretString, secretEmpty}},
	{"unknown properties, in the body's order", `{"name": "x", "url": "https://r.example.org", "events": ["all"], "Url": "y", "enabled": true}`,
		[]string{"property name should not exist", "property Url should not exist", "property enabled should not exist"}},
	{"read-only properties", `{"id": "9f08085c-9d51-49e6-bda0-e8b32e0f6605", "clientId": "x", "url": "https://r.example.org", "events": ["all"]}`,
		[]string{"property id should not exist", "property clientId should not exist"}},
	seedExample,
	{"unknown property first, then every rule", `{"secrets": [1, 2, 3], "foo": 1, "url": "http://r.example.org"}`,
		[]string{"property foo should not exist", secureURL, eventsMin, eventsArray, facilityEventsMsg, secretsMax, secretString}},
}

var updateFacilityCases = []validationCase{
	{"empty object", `{}`, nil},
	{"nulls are left out", `{"url": null, "events": null, "facilities": null, "secrets": null}`, nil},
	{"url http", `{"url": "http://r.example.org"}`, []string{secureURL}},
	{"url a number", `{"url": 1}`, []string{secureURL, urlString}},
	{"events empty", `{"events": []}`, []string{eventsMin}},
	{"events a string", `{"events": "shift.created"}`, []string{eventsMin, eventsArray}},
	{"events unknown", `{"events": ["shift.created", "shift.deleted"]}`, []string{facilityEventsMsg}},
	{"facilities and secrets", `{"facilities": [1], "secrets": [1, 2, 3]}`, []string{facString, secretsMax, secretString}},
	{"unknown properties", `{"id": "x", "clientId": "y"}`, []string{"property id should not exist", "property clientId should not exist"}},
	seedExample,
}

var createUserCases = []validationCase{
	{"valid", `{"url": "https://r.example.org", "events": ["facility.creation.accepted"]}`, nil},
	{"empty object", `{}`, []string{secureURL, urlString, eventsMin, eventsArray, userEventsMsg}},
	{"facility events", `{"url": "https://r.example.org", "events": ["shift.created"]}`, []string{userEventsMsg}},
	{"facilities are unknown", `{"url": "https://r.example.org", "events": ["all"], "facilities": ["P-1"]}`,
		[]string{"property facilities should not exist"}},
	{"every rule", `{"url": 5, "events": 5, "facilities": [1], "secrets": "x"}`,
		[]string{"property facilities should not exist", secureURL, urlString, eventsMin, eventsArray, userEventsMsg, secretsMax, secretsArray}},
}

var updateUserCases = []validationCase{
	{"empty object", `{}`, nil},
	{"facilities are unknown", `{"facilities": []}`, []string{"property facilities should not exist"}},
	{"events and secrets", `{"events": ["all", 3], "secrets": ["a", "b", "c"]}`, []string{userEventsMsg, secretsMax}},
}

// TestFacilityWebhookValidation checks every message, alone and together, on both families
// and both operations with a body. A 400 stores nothing and changes nothing.
func TestFacilityWebhookValidation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newFacilityFixture(t, kind)
		fw := f.createFacility(t, f.app, gen.FacilityWebhookCreate{Url: "https://before.example.org", Events: []gen.FacilityEvent{"all"}})
		uw := f.createUser(t, f.app, gen.UserWebhookCreate{Url: "https://before.example.org", Events: []gen.UserEvent{"all"}})
		ops := []struct {
			name, method, path string
			ok                 int
			cases              []validationCase
		}{
			{"create facility", http.MethodPost, facilityPath, http.StatusCreated, createFacilityCases},
			{"update facility", http.MethodPatch, facilityPath + "/" + fw.Id.String(), http.StatusCreated, updateFacilityCases},
			{"create user", http.MethodPost, userPath, http.StatusCreated, createUserCases},
			{"update user", http.MethodPatch, userPath + "/" + uw.Id.String(), http.StatusCreated, updateUserCases},
		}
		for _, op := range ops {
			for _, tc := range op.cases {
				t.Run(op.name+"/"+tc.name, func(t *testing.T) {
					status, body := f.raw(t, op.method, op.path, f.appTok, jsonType, tc.body)
					if tc.want == nil {
						if status != op.ok {
							t.Errorf("status %d, want %d: %s", status, op.ok, body)
						}
						return
					}
					if status != http.StatusBadRequest {
						t.Errorf("status %d, want 400: %s", status, body)
					}
					sameJSON(t, tc.name, body, badRequest(tc.want...))
				})
			}
		}

		// What the 400s left: the webhooks made by the valid creates, and the updated ones as
		// the valid (no-op) patches left them.
		list, _ := f.app.ListFacilityWebhooksWithResponse(t.Context())
		if n := len(list.JSON200.Data); n != 1+4 { // fixture + valid, IP, facilities null, two secrets
			t.Errorf("%d facility webhooks, want 5", n)
		}
		got, _ := f.app.GetFacilityWebhookWithResponse(t.Context(), fw.Id.String())
		if got.JSON200.Data.Url != fw.Url || len(got.JSON200.Data.Events) != 1 || len(got.JSON200.Data.Secrets) != 1 {
			t.Errorf("facility webhook after the failed patches: %+v", got.JSON200.Data)
		}
		users, _ := f.app.ListUserWebhooksWithResponse(t.Context())
		if n := len(users.JSON200.Data); n != 2 {
			t.Errorf("%d user webhooks, want 2", n)
		}
	})
}

// TestFacilityWebhookBodies checks the bodies that are not a JSON object, or not sent as JSON.
func TestFacilityWebhookBodies(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newFacilityFixture(t, kind)
		w := f.createFacility(t, f.app, gen.FacilityWebhookCreate{Url: "https://r.example.org", Events: []gen.FacilityEvent{"all"}})
		patch := facilityPath + "/" + w.Id.String()
		valid := `{"url": "https://r.example.org", "events": ["all"]}`
		cases := []struct {
			name, method, path, contentType, body string
			status                                int
			want                                  []string // exact messages; nil: checked by prefix
			prefix                                string
		}{
			{"truncated JSON", http.MethodPost, facilityPath, jsonType, `{"url": `, 400, nil, "the request body is not valid JSON: "},
			{"trailing comma", http.MethodPatch, patch, jsonType, `{"url": "https://r.example.org",}`, 400, nil, "the request body is not valid JSON: "},
			{"two objects", http.MethodPost, facilityPath, jsonType, valid + valid, 400, nil, "the request body is not valid JSON: "},
			{"an array", http.MethodPost, facilityPath, jsonType, `[` + valid + `]`, 400, []string{notJSONObject}, ""},
			{"a string", http.MethodPatch, patch, jsonType, `"x"`, 400, []string{notJSONObject}, ""},
			{"null", http.MethodPost, userPath, jsonType, `null`, 400, []string{notJSONObject}, ""},
			{"form-encoded", http.MethodPost, facilityPath, "application/x-www-form-urlencoded", "url=https://r.example.org&events=all", 400, []string{wrongType}, ""},
			{"text/plain", http.MethodPatch, patch, "text/plain", valid, 400, []string{wrongType}, ""},
			{"no Content-Type", http.MethodPost, userPath, "", valid, 400, []string{wrongType}, ""},
			{"another charset", http.MethodPost, facilityPath, "application/json; charset=latin1", valid, 400,
				[]string{"the request body must be encoded in UTF-8 (Content-Type: application/json; charset=utf-8)"}, ""},
			{"JSON with charset and odd case", http.MethodPost, facilityPath, "Application/JSON; charset=UTF-8", valid, 201, nil, ""},
			{"empty body: every rule of create", http.MethodPost, facilityPath, "", "", 400,
				[]string{secureURL, urlString, eventsMin, eventsArray, facilityEventsMsg}, ""},
			{"empty body: a no-op patch", http.MethodPatch, patch, "", "", 201, nil, ""},
			{"blank body with JSON type: a no-op patch", http.MethodPatch, patch, jsonType, " \n", 201, nil, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				status, body := f.raw(t, tc.method, tc.path, f.appTok, tc.contentType, tc.body)
				if status != tc.status {
					t.Fatalf("status %d, want %d: %.300s", status, tc.status, body)
				}
				if status != 400 {
					return
				}
				if tc.want != nil {
					sameJSON(t, tc.name, body, badRequest(tc.want...))
					return
				}
				var got gen.NestValidationError
				if err := json.Unmarshal(body, &got); err != nil || len(got.Message) != 1 ||
					!strings.HasPrefix(got.Message[0], tc.prefix) || got.Error != "Bad Request" || got.StatusCode != 400 {
					t.Errorf("body %s, want one message starting %q", body, tc.prefix)
				}
			})
		}
		// The webhook is as it was.
		got, _ := f.app.GetFacilityWebhookWithResponse(t.Context(), w.Id.String())
		if got.JSON200 == nil || got.JSON200.Data.Url != w.Url {
			t.Errorf("after the bad bodies: %s", got.Body)
		}
	})
}
