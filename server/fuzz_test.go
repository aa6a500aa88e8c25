package server

// Fuzz targets of the hand-written readers and validators of the server. `make test` runs
// their seeds (the inputs of issue 7 among them) as regression tests; `make fuzz` fuzzes each
// for FUZZTIME, and CI does so for 20 s each.

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/runtime"

	"github.com/webhookd/webhookd/gen"
)

// kheopsFormSeeds are form bodies for the form fuzz targets: the hostile inputs of issue 7,
// valid forms of both list styles, and odd encodings.
var kheopsFormSeeds = []string{
	"url=https://r.example.org&name=x&event[99999999999]=new_user",
	"url=https://r.example.org&name=x&event[20000000]=new_user",
	"url=https://r.example.org&name=x&event[-1]=new_user",
	"event[99999999999]=new_user",
	"add_event[99999999999]=new_user&remove_event[1]=new_series",
	"event=new_series&StudyInstanceUID=1.2&SeriesInstanceUID[99999999999]=1.2.3",
	"event=new_series&StudyInstanceUID=1.2.840.1&SeriesInstanceUID=1.2.840.1.1&SeriesInstanceUID=1.2.840.1.2",
	"event=new_user&user=bob",
	"url=https://r.example.org&name=x&event=new_user&event=new_series&enabled=false&secret=s",
	"event[1]=remove_series&event[0]=new_user&event[]=delete_album",
	"event=",
	"url=a&url=b",
	"url[0]=x",
	"event[0][1]=x&event[0=x&event[01]=x&event[%2B1]=x",
	"name=%00&event=%ff",
	"a=1;b=2&%zz",
	"enabled=maybe",
	strings.Repeat("event=new_user&", 1001),
	"&&&=&=",
}

// listRules are the form rules of a form with every Kheops list key.
var listRules = formRules{lists: map[string]bool{"event": true, "add_event": true, "remove_event": true, "SeriesInstanceUID": true}}

// FuzzReadForm: the bounded form reader never panics, and what it accepts holds only text,
// plain keys, single values for single-valued keys and no more values than pairs sent.
func FuzzReadForm(f *testing.F) {
	for _, s := range kheopsFormSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		form, aerr := readForm(raw, listRules)
		if aerr != nil {
			if aerr.status != http.StatusBadRequest || aerr.detail == "" {
				t.Fatalf("refusal %d %q, want a 400 with a detail", aerr.status, aerr.detail)
			}
			return
		}
		values := 0
		for k, vs := range form {
			if strings.Contains(k, "[") {
				t.Fatalf("key with brackets %q left in the form", k)
			}
			if !textOK(k) || !allTextOK(vs) {
				t.Fatalf("non-text accepted in %q=%q", k, vs)
			}
			if !listRules.lists[k] && len(vs) > 1 {
				t.Fatalf("single-valued key %q holds %d values", k, len(vs))
			}
			values += len(vs)
		}
		if values > strings.Count(raw, "&")+1 || values > maxFormPairs {
			t.Fatalf("%d values from %d pairs", values, strings.Count(raw, "&")+1)
		}
	})
}

// FuzzKheopsForms runs a form body through the whole Kheops form path: the bounded reader, the
// generated binder on what it returns, and the rules of webhook creation, patch and manual
// trigger. Nothing panics, and what the rules accept is within their limits.
func FuzzKheopsForms(f *testing.F) {
	for _, s := range kheopsFormSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		form, aerr := readForm(raw, listRules)
		if aerr != nil {
			return
		}
		var create gen.WebhookCreateForm
		if runtime.BindForm(&create, form, nil, nil) == nil {
			if validateURL(create.Url) == nil && len(create.Url) > maxURLLength {
				t.Fatalf("url of %d bytes accepted", len(create.Url))
			}
			if name, err := validateName("name", create.Name); err == nil && (name == "" || len(name) > 4*maxNameLength) {
				t.Fatalf("name %q accepted", name)
			}
			if create.Event != nil {
				_, _ = parseEvents("event", *create.Event)
			}
		}
		var patch gen.WebhookPatchForm
		if runtime.BindForm(&patch, form, nil, nil) == nil {
			if p, err := webhookPatch(&patch); err == nil && p.Events != nil && (p.Add != 0 || p.Remove != 0) {
				t.Fatalf("patch with both event and add/remove_event accepted: %+v", p)
			}
		}
		var trigger gen.TriggerForm
		if runtime.BindForm(&trigger, form, nil, nil) == nil {
			if tr, err := manualTrigger(&trigger); err == nil {
				for _, uid := range append([]string{tr.StudyUID}, tr.SeriesUIDs...) {
					if uid != "" && !validUID(uid) {
						t.Fatalf("trigger accepted UID %q", uid)
					}
				}
			}
		}
	})
}

// FuzzFacilityBody runs a JSON body through the facility and user webhook validation and the
// event validation. Nothing panics, and a body the validation accepts binds to the generated
// type (the binding never fails after the validation passed).
func FuzzFacilityBody(f *testing.F) {
	for _, s := range []string{
		`{"url": "https://r.example.org", "events": ["all"]}`,
		`{"url": "https://r.example.org", "events": ["shift.created"], "facilities": ["P-1"], "secrets": ["a", "b"]}`,
		`{"url": "http://x", "events": [], "name": "x"}`,
		`{"url": 1, "events": "all", "facilities": "P-1", "secrets": [null, ""], "enabled": "yes"}`,
		`{"url": "https://r.example.org", "events": ["all"], "facilities": ["\u0000"]}`,
		`{"eventType": "shift.created", "facilityId": "P-1", "data": {"a": 1}, "idempotencyKey": "k"}`,
		`{"eventType": "facility.creation.accepted", "clientId": "app", "data": null}`,
		`{"url": "https://r.example.org", "url": 5}`,
		`[{}]`, `null`, `"x"`, `{`, ``, `{"a":1}{"b":2}`,
		`{"events": [` + strings.Repeat(`"all",`, 1000) + `"all"]}`,
		`{"url": "https://[::1]:99999/x", "events": ["all"]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		keys, body, err := decodeWebhookBody(echo.MIMEApplicationJSON, []byte(raw))
		if err != nil {
			return
		}
		for route, rules := range webhookBodyRoutes {
			if msgs := validateWebhookBody(keys, body, rules); len(msgs) == 0 && strings.TrimSpace(raw) != "" {
				var into any = &gen.FacilityWebhookUpdate{}
				switch {
				case rules.create && rules.facilities:
					into = &gen.FacilityWebhookCreate{}
				case rules.create:
					into = &gen.UserWebhookCreate{}
				case !rules.facilities:
					into = &gen.UserWebhookUpdate{}
				}
				if err := json.Unmarshal([]byte(raw), into); err != nil {
					t.Fatalf("%s: valid body does not bind: %v", route, err)
				}
			}
		}
		for _, route := range eventRoutes {
			_ = eventBodyErrors(keys, body, route.target, route.types())
		}
	})
}

// uidRE is the DICOM UID grammar (PS3.5 §9.1), as a reference for validUID.
var uidRE = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$`)

// FuzzDICOMUID checks validUID against the grammar's regular expression and the 64-character
// limit.
func FuzzDICOMUID(f *testing.F) {
	for _, s := range []string{"1.2.840.10008.1.2", "0", "0.0", "1..2", ".1", "1.", "01.2", "1.02", "1.2a",
		"1." + strings.Repeat("9", 62), "1." + strings.Repeat("9", 63), "", "１.２", "1.2\x00", "1.2 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uid string) {
		want := len(uid) <= maxUIDLength && uidRE.MatchString(uid)
		if got := validUID(uid); got != want {
			t.Fatalf("validUID(%q) = %v, want %v", uid, got, want)
		}
	})
}
