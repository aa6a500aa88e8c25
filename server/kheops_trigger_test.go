package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/internal/testdb"
)

// TestTriggerWebhook: every rule and message of a manual trigger (reference/kheops.md); a
// trigger fires one delivery, marked manual, even for a disabled or unsubscribed webhook.
func TestTriggerWebhook(t *testing.T) {
	const (
		study, a, b = "1.2.276.0.7230010.3.1", "1.2.276.0.7230010.3.1.2", "1.2.276.0.7230010.3.1.10"
		otherStudy  = "1.2.276.0.7230010.3.2"
		otherSeries = "1.2.276.0.7230010.3.2.1"
		detailEvent = "'event' must be set to new_series or new_user"
		detailXor   = "use either 'StudyInstanceUID' and 'SeriesInstanceUID' (event new_series) or 'user' (event new_user), not both"
		detailSer   = "'StudyInstanceUID' and at least one 'SeriesInstanceUID' must be set with event new_series"
		detailUser  = "'user' must be set with event new_user"
		detailBadEv = "'event' %q cannot be triggered manually: use new_series or new_user"
	)
	newUserBody := func(user string) string {
		return `{"host":"http://webhookd.test","album_id":"%[1]s","source":` + aliceJSON + `,"is_manual_trigger":true,"new_user":` + user + `}`
	}
	newSeriesBody := func(series ...string) string {
		var list []string
		for _, s := range series {
			list = append(list, fmt.Sprintf(`{"series_uid":%q,"retrieve_url":"http://webhookd.test/api/studies/%s/series/%s"}`, s, study, s))
		}
		return `{"host":"http://webhookd.test","album_id":"%[1]s","source":` + aliceJSON + `,"is_manual_trigger":true,
			"import_source":"send","updated_study":{"study_uid":"` + study + `","retrieve_url":"http://webhookd.test/api/studies/` + study + `",
			"series":[` + strings.Join(list, ",") + `]}}`
	}
	type hookKind int
	const (
		disabled     hookKind = iota // enabled=false, no events
		unsubscribed                 // enabled, delete_album only
		otherAlbum                   // a webhook of another album of alice's
		unknown                      // no such webhook
	)
	tests := []struct {
		name    string
		hook    hookKind
		token   string // alice when empty
		values  url.Values
		status  int
		message string
		detail  string // exact detail of a 400 (its beginning when partial)
		partial bool
		// For a 202: the body (album id as %[1]s) and what the delivery concerns.
		event, body, user, series string
	}{
		{name: "new_user by sub, disabled webhook", hook: disabled, values: url.Values{"event": {"new_user"}, "user": {"bob"}},
			status: 202, event: "new_user", body: newUserBody(bobJSON), user: "bob"},
		{name: "new_user by email, event in upper case, unsubscribed webhook", hook: unsubscribed,
			values: url.Values{"event": {"NEW_USER"}, "user": {"bob@example.org"}}, status: 202, event: "new_user", body: newUserBody(bobJSON), user: "bob"},
		{name: "new_user of an admin", hook: disabled, values: url.Values{"event": {"new_user"}, "user": {"alice"}},
			status: 202, event: "new_user", body: newUserBody(aliceJSON), user: "alice"},
		{name: "new_series, series in any order", hook: disabled,
			values: url.Values{"event": {"new_series"}, "StudyInstanceUID": {study}, "SeriesInstanceUID": {b, a}},
			status: 202, event: "new_series", body: newSeriesBody(a, b), series: fmt.Sprintf(`[%q,%q]`, a, b)},
		{name: "new_series, one series named twice", hook: unsubscribed,
			values: url.Values{"event": {"New_Series"}, "StudyInstanceUID": {study}, "SeriesInstanceUID": {a, a}},
			status: 202, event: "new_series", body: newSeriesBody(a), series: fmt.Sprintf(`[%q]`, a)},

		{name: "no event", values: url.Values{"user": {"bob"}}, status: 400, message: "Bad Request", detail: detailEvent},
		{name: "empty event", values: url.Values{"event": {""}, "user": {"bob"}}, status: 400, message: "Bad Request", detail: detailEvent},
		{name: "remove_series", values: url.Values{"event": {"remove_series"}, "StudyInstanceUID": {study}, "SeriesInstanceUID": {a}},
			status: 400, message: "Bad Request", detail: fmt.Sprintf(detailBadEv, "remove_series")},
		{name: "delete_album", values: url.Values{"event": {"delete_album"}}, status: 400, message: "Bad Request",
			detail: fmt.Sprintf(detailBadEv, "delete_album")},
		{name: "unknown event", values: url.Values{"event": {"new_comment"}, "user": {"bob"}}, status: 400, message: "Bad Request",
			detail: fmt.Sprintf(detailBadEv, "new_comment")},
		{name: "new_series with user", values: url.Values{"event": {"new_series"}, "StudyInstanceUID": {study}, "SeriesInstanceUID": {a}, "user": {"bob"}},
			status: 400, message: "Bad Request", detail: detailXor},
		{name: "new_series with user only", values: url.Values{"event": {"new_series"}, "user": {"bob"}},
			status: 400, message: "Bad Request", detail: detailXor},
		{name: "new_series without series", values: url.Values{"event": {"new_series"}, "StudyInstanceUID": {study}},
			status: 400, message: "Bad Request", detail: detailSer},
		{name: "new_series without study", values: url.Values{"event": {"new_series"}, "SeriesInstanceUID": {a}},
			status: 400, message: "Bad Request", detail: detailSer},
		{name: "new_series without anything", values: url.Values{"event": {"new_series"}}, status: 400, message: "Bad Request", detail: detailSer},
		{name: "new_user with study", values: url.Values{"event": {"new_user"}, "user": {"bob"}, "StudyInstanceUID": {study}},
			status: 400, message: "Bad Request", detail: detailXor},
		{name: "new_user with series", values: url.Values{"event": {"new_user"}, "user": {"bob"}, "SeriesInstanceUID": {a}},
			status: 400, message: "Bad Request", detail: detailXor},
		{name: "new_user with series only", values: url.Values{"event": {"new_user"}, "StudyInstanceUID": {study}, "SeriesInstanceUID": {a}},
			status: 400, message: "Bad Request", detail: detailXor},
		{name: "new_user without user", values: url.Values{"event": {"new_user"}}, status: 400, message: "Bad Request", detail: detailUser},
		{name: "new_user with a blank user", values: url.Values{"event": {"new_user"}, "user": {"  "}}, status: 400, message: "Bad Request", detail: detailUser},
		{name: "study not a DICOM UID", values: url.Values{"event": {"new_series"}, "StudyInstanceUID": {"1.2.03"}, "SeriesInstanceUID": {a}},
			status: 400, message: "Bad Request", detail: "'StudyInstanceUID' is not a valid DICOM UID", partial: true},
		{name: "a series not a DICOM UID", values: url.Values{"event": {"new_series"}, "StudyInstanceUID": {study}, "SeriesInstanceUID": {a, "x"}},
			status: 400, message: "Bad Request", detail: "'SeriesInstanceUID' is not a valid DICOM UID", partial: true},

		{name: "user not a member", values: url.Values{"event": {"new_user"}, "user": {"carol"}}, status: 404, message: "User Not Found"},
		{name: "unknown user", values: url.Values{"event": {"new_user"}, "user": {"nobody@example.org"}}, status: 404, message: "User Not Found"},
		{name: "a series not in the album", values: url.Values{"event": {"new_series"}, "StudyInstanceUID": {study}, "SeriesInstanceUID": {a, b + "1"}},
			status: 404, message: "Series Not Found"},
		{name: "series of another study", values: url.Values{"event": {"new_series"}, "StudyInstanceUID": {otherStudy}, "SeriesInstanceUID": {a}},
			status: 404, message: "Series Not Found"},
		{name: "study of the series wrong", values: url.Values{"event": {"new_series"}, "StudyInstanceUID": {study}, "SeriesInstanceUID": {otherSeries}},
			status: 404, message: "Series Not Found"},
		{name: "webhook of another album", hook: otherAlbum, values: url.Values{"event": {"new_user"}, "user": {"bob"}},
			status: 404, message: "Webhook Not Found"},
		{name: "unknown webhook", hook: unknown, values: url.Values{"event": {"new_user"}, "user": {"bob"}}, status: 404, message: "Webhook Not Found"},
		{name: "plain member", values: url.Values{"event": {"new_user"}, "user": {"bob"}}, token: "bob", status: 403, message: "Forbidden"},
		{name: "non-member", values: url.Values{"event": {"new_user"}, "user": {"bob"}}, token: "carol", status: 404, message: "Album Not Found"},
	}
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k, eng := newKheopsEngine(t, kind)
		hooks := map[hookKind]string{
			disabled:     k.createWebhook(t, url.Values{"enabled": {"false"}, "url": {"https://disabled.example.org/"}}).Id,
			unsubscribed: k.createWebhook(t, url.Values{"event": {"delete_album"}, "url": {"https://unsubscribed.example.org/"}}).Id,
			unknown:      "xxxxxxxxxxxxxxxxxxxx",
		}
		other := k.createAlbum(t, k.alice, "Other")
		res, body := k.form(t, "POST", "/albums/"+other+"/webhooks", k.aliceTok, url.Values{"url": {"https://other.example.org/"}, "name": {"o"}})
		var ow struct{ ID string }
		if res.StatusCode != http.StatusCreated || json.Unmarshal(body, &ow) != nil {
			t.Fatalf("webhook of another album: %d %s", res.StatusCode, body)
		}
		hooks[otherAlbum] = ow.ID
		for _, s := range []struct{ study, series string }{{study, a}, {study, b}, {otherStudy, otherSeries}} {
			k.addSeries(t, k.aliceTok, s.study, s.series, http.StatusCreated)
		}
		tokens := map[string]string{"": k.aliceTok, "bob": k.bobTok, "carol": k.carolTok}
		fired := map[string]int{}

		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := k.deliveries(t)
				hook := hooks[tt.hook]
				res, body := k.form(t, "POST", "/albums/"+k.album+"/webhooks/"+hook+"/trigger", tokens[tt.token], tt.values)
				if res.StatusCode != tt.status {
					t.Fatalf("status %d %s, want %d", res.StatusCode, body, tt.status)
				}
				after := k.deliveries(t)
				if tt.status != http.StatusAccepted {
					var e struct{ Message, Detail string }
					if err := json.Unmarshal(body, &e); err != nil {
						t.Fatalf("error body %s: %v", body, err)
					}
					if e.Message != tt.message || e.Detail == "" {
						t.Errorf("error %+v, want message %q", e, tt.message)
					}
					if tt.detail != "" && !(e.Detail == tt.detail || tt.partial && strings.HasPrefix(e.Detail, tt.detail)) {
						t.Errorf("detail %q, want %q", e.Detail, tt.detail)
					}
					if len(after) != len(before) {
						t.Errorf("a refused trigger recorded %d deliveries", len(after)-len(before))
					}
					return
				}
				if len(body) != 0 {
					t.Errorf("202 with a body: %s", body)
				}
				if len(after) != len(before)+1 {
					t.Fatalf("%d deliveries recorded, want 1", len(after)-len(before))
				}
				d := after[len(after)-1]
				fired[hook]++
				if d.WebhookID != hook || d.Event != tt.event || !d.IsManual || deref(d.UserSub) != tt.user ||
					deref(d.SeriesUIDs) != tt.series || (tt.series != "") != (deref(d.StudyUID) == study) {
					t.Errorf("delivery %+v", d.Delivery)
				}
				checkBody(t, d.Body, fmt.Sprintf(tt.body, k.album))
				if ids := eng.enqueuedIDs(); len(ids) == 0 || ids[len(ids)-1] != d.ID {
					t.Errorf("delivery %s not enqueued (%v)", d.ID, ids)
				}
			})
		}

		// The history shows the manual triggers; the webhooks are unchanged.
		for _, kind := range []hookKind{disabled, unsubscribed} {
			got, err := k.alice.GetWebhookWithResponse(context.Background(), k.album, hooks[kind], nil)
			if err != nil || got.JSON200 == nil {
				t.Fatalf("get webhook: %v", err)
			}
			w := got.JSON200
			if w.NumberOfTriggers != fired[hooks[kind]] || len(w.Triggers) != fired[hooks[kind]] {
				t.Errorf("webhook %d: %d triggers, want %d", kind, w.NumberOfTriggers, fired[hooks[kind]])
			}
			for _, tr := range w.Triggers {
				if !tr.IsManualTrigger || (tr.User == nil) == (tr.Study == nil) {
					t.Errorf("trigger %+v", tr)
				}
			}
			if kind == disabled && w.Enabled {
				t.Error("the trigger enabled the webhook")
			}
		}
		// A form the server cannot read is a 415, not a trigger.
		res, body = k.raw(t, "POST", "/albums/"+k.album+"/webhooks/"+hooks[disabled]+"/trigger", k.aliceTok,
			"application/json", `{"event":"new_user","user":"bob"}`)
		assertKheopsError(t, "JSON body", res, body, http.StatusUnsupportedMediaType)
	})
}
