package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

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
