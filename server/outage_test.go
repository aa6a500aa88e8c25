package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
)

// outageFixture is a server with an album (Kheops) and a facility application, and the
// requests of both families the outage tests send, with their status when the database is up.
type outageFixture struct {
	env              *apitest.Env
	aliceTok, appTok string
	pubTok           string // a publisher of facility events
	album            string
	requests         []outageRequest
	newUserTok       string // a user the server has not seen: provisioning needs the database
}

type outageRequest struct {
	name, method, path, token, contentType, body string
	family                                       string // kheops or nest
	up                                           int    // the status when the database is up
}

func newOutageFixture(t *testing.T, kind testdb.Kind, opts apitest.Options) *outageFixture {
	t.Helper()
	env := apitest.New(t, kind, opts)
	f := &outageFixture{env: env,
		aliceTok:   env.Token(auth.TokenRequest{Subject: "alice", Email: "alice@example.org", Name: "Alice"}),
		appTok:     env.Token(auth.TokenRequest{Subject: "svc", ClientID: "app", Facilities: []string{"P-1"}}),
		pubTok:     env.Token(auth.TokenRequest{Subject: "shifts", Scope: "webhooks:publish"}),
		newUserTok: env.Token(auth.TokenRequest{Subject: "newcomer"})}
	res, body := env.Do(http.MethodPost, "/albums", f.aliceTok, formType, "name=A")
	var album struct {
		ID string `json:"album_id"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal(body, &album) != nil {
		t.Fatalf("create album: %d %s", res.StatusCode, body)
	}
	f.album = album.ID
	hook := url.Values{"url": {"https://r.example.org"}, "name": {"h"}}.Encode()
	f.requests = []outageRequest{
		{"kheops get album", http.MethodGet, "/albums/" + f.album, f.aliceTok, "", "", "kheops", 200},
		{"kheops create webhook", http.MethodPost, "/albums/" + f.album + "/webhooks", f.aliceTok, formType, hook, "kheops", 201},
		{"kheops list webhooks", http.MethodGet, "/albums/" + f.album + "/webhooks", f.aliceTok, "", "", "kheops", 200},
		{"facility list", http.MethodGet, facilityPath, f.appTok, "", "", "nest", 200},
		{"facility create", http.MethodPost, facilityPath, f.appTok, "application/json",
			`{"url": "https://r.example.org", "events": ["all"]}`, "nest", 201},
		{"facility logs", http.MethodGet, "/api/v2/public/webhooks/logs", f.appTok, "", "", "nest", 200},
		{"publish a facility event", http.MethodPost, "/internal/events/facility", f.pubTok, "application/json",
			`{"eventType": "shift.created", "facilityId": "P-1", "data": {}}`, "nest", 202},
		{"a new user's first call (provisioning)", http.MethodGet, "/albums/" + f.album, f.newUserTok, "", "", "kheops", 404},
	}
	return f
}

// expectUnavailable checks that every request is a 503 with Retry-After in its family's shape,
// answered within 2 s, and that /healthz says 503.
func (f *outageFixture) expectUnavailable(t *testing.T) {
	t.Helper()
	for _, r := range f.requests {
		start := time.Now()
		res, body := f.env.Do(r.method, r.path, r.token, r.contentType, r.body)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: answered in %v", r.name, d)
		}
		if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "5" {
			t.Errorf("%s: %d (Retry-After %q) %s, want 503 with Retry-After 5", r.name, res.StatusCode,
				res.Header.Get("Retry-After"), body)
			continue
		}
		var got map[string]any
		_ = json.Unmarshal(body, &got)
		const detail = "the database is unavailable; retry later"
		ok := got["message"] == "Service Unavailable" && got["detail"] == detail && len(got) == 2
		if r.family == "nest" {
			ok = got["message"] == detail && got["error"] == "Service Unavailable" && got["statusCode"] == float64(503) && len(got) == 3
		}
		if !ok {
			t.Errorf("%s: body %s is not the %s shape of a 503", r.name, body, r.family)
		}
	}
	if res, body := f.env.Do(http.MethodGet, "/healthz", "", "", ""); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/healthz: %d %s, want 503", res.StatusCode, body)
	}
}

// TestDatabaseClosed: with the store's pool closed, every API call is a 503 with Retry-After in
// its family's shape (it was 500).
func TestDatabaseClosed(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newOutageFixture(t, kind, apitest.Options{})
		if err := f.env.Store.Close(); err != nil {
			t.Fatal(err)
		}
		f.expectUnavailable(t)
	})
}

// TestDatabaseOutageAndRecovery cuts PostgreSQL off (every connection dropped, new ones
// refused), checks the 503s, brings it back, and checks that the same process serves again
// without any intervention.
func TestDatabaseOutageAndRecovery(t *testing.T) {
	for _, kind := range testdb.Kinds(t) {
		if kind != testdb.Postgres {
			continue
		}
		f := newOutageFixture(t, kind, apitest.Options{ViaProxy: true})
		f.env.Proxy.Stop()
		f.expectUnavailable(t)

		f.env.Proxy.Start()
		deadline := time.Now().Add(10 * time.Second)
		for {
			res, _ := f.env.Do(http.MethodGet, "/healthz", "", "", "")
			if res.StatusCode == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/healthz still %d 10 s after the database came back", res.StatusCode)
			}
			time.Sleep(100 * time.Millisecond)
		}
		for _, r := range f.requests {
			if res, body := f.env.Do(r.method, r.path, r.token, r.contentType, r.body); res.StatusCode != r.up {
				t.Errorf("%s after recovery: %d %s, want %d", r.name, res.StatusCode, body, r.up)
			}
		}
	}
}

// TestDatabaseHangs: a PostgreSQL server that keeps its connections but stops answering (behind
// a paused proxy) holds no request past the request timeout: each is a 503 with Retry-After
// within 2 s, and the server serves again once the database answers. (SQLite has no such
// failure short of another process holding its write lock; a write then waits for the lock up
// to busy_timeout, 10 s, which the driver does not cut short, and answers 503.)
func TestDatabaseHangs(t *testing.T) {
	for _, kind := range testdb.Kinds(t) {
		if kind != testdb.Postgres {
			continue
		}
		f := newOutageFixture(t, kind, apitest.Options{RequestTimeout: 500 * time.Millisecond, ViaProxy: true})
		f.env.Proxy.Pause()
		for _, r := range f.requests {
			start := time.Now()
			res, body := f.env.Do(r.method, r.path, r.token, r.contentType, r.body)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("%s: answered in %v", r.name, d)
			}
			if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "5" {
				t.Errorf("%s: %d (Retry-After %q) %s, want 503", r.name, res.StatusCode, res.Header.Get("Retry-After"), body)
			}
		}
		f.env.Proxy.Resume()
		deadline := time.Now().Add(10 * time.Second)
		for _, r := range f.requests {
			for {
				res, body := f.env.Do(r.method, r.path, r.token, r.contentType, r.body)
				if res.StatusCode == r.up {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s after the database answers again: %d %s, want %d", r.name, res.StatusCode, body, r.up)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}
