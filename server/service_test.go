package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/openapi"
)

// TestServiceEndpoints checks what needs no token: health, the contract and Swagger UI.
func TestServiceEndpoints(t *testing.T) {
	env := apitest.New(t, testdb.SQLite, apitest.Options{})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := noRedirect.Get(env.Server.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	if res, body := get("/healthz"); res.StatusCode != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz: %d %s", res.StatusCode, body)
	}
	if res, body := get("/openapi.yaml"); res.StatusCode != 200 || body != string(openapi.YAML) {
		t.Errorf("/openapi.yaml: %d, %d bytes (want the document as written)", res.StatusCode, len(body))
	}
	res, body := get("/openapi.json")
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if res.StatusCode != 200 || json.Unmarshal([]byte(body), &doc) != nil || doc.OpenAPI != "3.0.3" || doc.Paths["/albums/{album_id}/webhooks"] == nil {
		t.Errorf("/openapi.json: %d %.200s", res.StatusCode, body)
	}
	if res, _ := get("/docs"); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/docs/" {
		t.Errorf("/docs: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res, body := get("/docs/"); res.StatusCode != 200 || !strings.Contains(body, "swagger") {
		t.Errorf("/docs/: %d", res.StatusCode)
	}
	if res, body := get("/docs/swagger-initializer.js"); res.StatusCode != 200 || !strings.Contains(body, "/openapi.yaml") {
		t.Errorf("the Swagger UI does not load /openapi.yaml: %d %.200s", res.StatusCode, body)
	}
	// Everything else needs a token.
	if res, _ := get("/albums/x"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("/albums/x without a token: %d", res.StatusCode)
	}
}

// TestUnstorableText sends NUL characters and invalid UTF-8 wherever text enters: each is a
// 400 in the family's shape (PostgreSQL could neither store nor compare it: a 500 otherwise).
func TestUnstorableText(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		app := k.env.Token(auth.TokenRequest{Subject: "svc", ClientID: "app", Facilities: []string{"P-1"}})
		pub := k.env.Token(auth.TokenRequest{Subject: "pub", Scope: "webhooks:publish"})
		form := "application/x-www-form-urlencoded"
		tests := []struct {
			name, method, path, token, contentType, body string
		}{
			{"NUL in an album id", "GET", "/albums/ab%00cd", k.aliceTok, "", ""},
			{"invalid UTF-8 in an album id", "GET", "/albums/ab%FFcd", k.aliceTok, "", ""},
			{"NUL in a user reference", "PUT", "/albums/" + k.album + "/users/a%00b", k.aliceTok, "", ""},
			{"NUL in an album name", "POST", "/albums", k.aliceTok, form, "name=a%00b"},
			{"invalid UTF-8 in a webhook name", "POST", "/albums/" + k.album + "/webhooks", k.aliceTok, form, "url=https://x.org&name=a%FFb"},
			{"NUL in a url filter", "GET", "/albums/" + k.album + "/webhooks?url=a%00", k.aliceTok, "", ""},
			{"NUL in a logs filter", "GET", "/api/v2/public/webhooks/logs?facilitiesIds[]=a%00b", app, "", ""},
			{"NUL in a facility id", "POST", "/internal/events/facility", pub, "application/json",
				`{"eventType":"shift.created","facilityId":"P\u0000","data":{}}`},
			{"NUL in an idempotency key", "POST", "/internal/events/user", pub, "application/json",
				`{"eventType":"facility.creation.accepted","clientId":"app","data":{},"idempotencyKey":"k\u0000"}`},
		}
		for _, tt := range tests {
			res, body := k.env.Do(tt.method, tt.path, tt.token, tt.contentType, tt.body)
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: %d %s", tt.name, res.StatusCode, body)
			}
		}
		nul := k.env.Token(auth.TokenRequest{Subject: "a\u0000b"})
		if res, body := k.env.Do("GET", "/albums/"+k.album, nul, "", ""); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("a token whose sub holds NUL: %d %s", res.StatusCode, body)
		}
	})
}
