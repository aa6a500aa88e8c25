package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/internal/nodetest"
	"github.com/webhookd/webhookd/internal/testdb"
)

// TestStandardWebhooksInterop sends real deliveries of both families (album webhooks, facility
// and user webhooks) to a receiver, then verifies every one of them with the npm
// standardwebhooks library (pinned in tools/npm), the way the README tells receivers to: each
// delivery against each of its webhook's secrets, whsec_<base64> secrets and others. A body
// changed by one byte must fail, and so must a whsec_ secret keyed with its own bytes (the
// keying before Standard Webhooks interop).
func TestStandardWebhooksInterop(t *testing.T) {
	nodetest.Dir(t)
	whsec := func() string {
		b := make([]byte, 24)
		_, _ = rand.Read(b)
		return "whsec_" + base64.StdEncoding.EncodeToString(b)
	}
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newEventsFixture(t, kind, 200)
		secrets := map[string][]string{ // receiver path -> the secrets of its webhook
			"/kheops-whsec":   {whsec()},
			"/kheops-plain":   {"k1-secret"},
			"/facility-mixed": {whsec(), "plainFacilitySecret0123456789AB"},
			"/user-whsec":     {whsec()},
		}
		const triggers, facilityEvents, userEvents = 2, 3, 2
		want := 2*triggers + facilityEvents + userEvents

		// Album webhooks, fired by manual triggers.
		alice := f.env.Token(auth.TokenRequest{Subject: "alice", Email: "alice@example.org", Name: "Alice"})
		res, body := f.env.Do("POST", "/albums", alice, formType, "name=Interop")
		var album struct {
			ID string `json:"album_id"`
		}
		if res.StatusCode != 201 || json.Unmarshal(body, &album) != nil {
			t.Fatalf("create album: %d %s", res.StatusCode, body)
		}
		for _, path := range []string{"/kheops-whsec", "/kheops-plain"} {
			res, body := f.env.Do("POST", "/albums/"+album.ID+"/webhooks", alice, formType, url.Values{
				"url": {f.rcv.URL + path}, "name": {path}, "secret": {secrets[path][0]}, "event": {"new_user"}}.Encode())
			var hook struct{ ID string }
			if res.StatusCode != 201 || json.Unmarshal(body, &hook) != nil {
				t.Fatalf("create webhook: %d %s", res.StatusCode, body)
			}
			for range triggers {
				res, body := f.env.Do("POST", "/albums/"+album.ID+"/webhooks/"+hook.ID+"/trigger", alice, formType, "event=new_user&user=alice")
				if res.StatusCode != 202 {
					t.Fatalf("trigger: %d %s", res.StatusCode, body)
				}
			}
		}

		// A facility webhook with two secrets (a rotation) and a user webhook.
		f.webhook(t, "/facility-mixed", []string{"all"}, []string{"P-1"}, secrets["/facility-mixed"])
		userBody, _ := json.Marshal(map[string]any{"url": f.rcv.URL + "/user-whsec", "events": []string{"all"}, "secrets": secrets["/user-whsec"]})
		if res, body := f.env.Do("POST", userPath, f.appTok, "application/json", string(userBody)); res.StatusCode != 201 {
			t.Fatalf("create user webhook: %d %s", res.StatusCode, body)
		}
		for range facilityEvents {
			f.publish(t, `{"eventType": "shift.created", "facilityId": "P-1", "data": {"shiftId": "S-1"}}`)
		}
		for range userEvents {
			r, err := f.publisher.PublishUserEventWithBodyWithResponse(context.Background(), "application/json",
				strings.NewReader(`{"eventType": "facility.user-connection.accepted", "clientId": "app", "data": {"userId": "U-1"}}`))
			if err != nil || r.JSON202 == nil {
				t.Fatalf("publish user event: %v %s", err, r.Body)
			}
		}

		type delivery struct {
			Headers map[string]string `json:"headers"`
			Body    string            `json:"body"`
			Secrets []string          `json:"secrets"`
		}
		var got []delivery
		checks := 0
		for range want {
			c := f.rcv.next(t)
			h := map[string]string{}
			for k := range c.header {
				h[strings.ToLower(k)] = c.header.Get(k)
			}
			got = append(got, delivery{Headers: h, Body: string(c.body), Secrets: secrets[c.path]})
			checks += len(secrets[c.path])
		}
		file := filepath.Join(t.TempDir(), "deliveries.json")
		b, _ := json.Marshal(got)
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out := nodetest.Run(t, nodetest.Command{Name: "node", Args: []string{"server/testdata/verify-standardwebhooks.cjs", file}})
		var r struct {
			Deliveries, Verified, Checks, Passed, TamperedRejected, OldKeyingRejected, OldKeyingChecks int
			Failures                                                                                   []any
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("verifier output %q: %v", out, err)
		}
		t.Logf("standardwebhooks verified %d of %d deliveries (%d of %d signatures); %d tampered bodies and %d whsec_ secrets keyed with their own bytes refused",
			r.Verified, r.Deliveries, r.Passed, r.Checks, r.TamperedRejected, r.OldKeyingRejected)
		if r.Deliveries != want || r.Verified != want || r.Checks != checks || r.Passed != checks || len(r.Failures) != 0 {
			t.Errorf("the library did not verify every delivery: %s", out)
		}
		if r.TamperedRejected != checks || r.OldKeyingChecks == 0 || r.OldKeyingRejected != r.OldKeyingChecks {
			t.Errorf("the library accepted what it must refuse: %s", out)
		}
	})
}
