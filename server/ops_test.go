package server_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/internal/testlog"
	"github.com/webhookd/webhookd/server"
)

// requests records what a RequestObserver is told.
type requests struct {
	mu  sync.Mutex
	got []string
}

func (r *requests) ObserveRequest(method, route string, status int, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, method+" "+route+" "+http.StatusText(status))
}

func jsonLines(t *testing.T, s, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func TestHealthProbes(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		ready := apitest.New(t, kind, apitest.Options{Engine: &delivery.EngineConfig{}})
		res, body := ready.Do("GET", "/readyz", "", "", "")
		if res.StatusCode != 200 || string(body) != `{"checks":{"database":"ok","delivery_engine":"ok","migrations":"ok"},"status":"ok"}`+"\n" {
			t.Errorf("/readyz with a running engine: %d %s", res.StatusCode, body)
		}
		res, body = ready.Do("GET", "/livez", "", "", "")
		if res.StatusCode != 200 || string(body) != `{"status":"ok"}`+"\n" {
			t.Errorf("/livez: %d %s", res.StatusCode, body)
		}
		if res, _ := ready.Do("GET", "/healthz", "", "", ""); res.StatusCode != 200 {
			t.Errorf("/healthz: %d", res.StatusCode)
		}

		noEngine := apitest.New(t, kind, apitest.Options{})
		res, body = noEngine.Do("GET", "/readyz", "", "", "")
		if res.StatusCode != 503 || !strings.Contains(string(body), `"delivery_engine":"not configured"`) ||
			!strings.Contains(string(body), `"status":"unavailable"`) || !strings.Contains(string(body), `"database":"ok"`) {
			t.Errorf("/readyz without an engine: %d %s", res.StatusCode, body)
		}
		if err := noEngine.Store.Close(); err != nil {
			t.Fatal(err)
		}
		res, body = noEngine.Do("GET", "/readyz", "", "", "")
		if res.StatusCode != 503 || strings.Contains(string(body), `"database":"ok"`) {
			t.Errorf("/readyz with the database closed: %d %s", res.StatusCode, body)
		}
		if res, _ := noEngine.Do("GET", "/livez", "", "", ""); res.StatusCode != 200 {
			t.Errorf("/livez must not depend on the database: %d", res.StatusCode)
		}
	})
}

// TestUnknownPaths: 404 in the family's error shape, with or without a token, whatever the
// method or media type.
func TestUnknownPaths(t *testing.T) {
	env := apitest.New(t, testdb.SQLite, apitest.Options{})
	tests := []struct {
		method, path, contentType, want string
	}{
		{"GET", "/nope", "", `{"message":"Not Found","detail":"no resource at this path"}`},
		{"POST", "/nope", "text/plain", `{"message":"Not Found","detail":"no resource at this path"}`},
		{"GET", "/albums/x/webhooks/y/z", "", `{"message":"Not Found","detail":"no resource at this path"}`},
		{"GET", "/api/v2/public/nope", "", `{"message":"Cannot GET /api/v2/public/nope","error":"Not Found","statusCode":404}`},
		{"DELETE", "/internal/nope", "", `{"message":"Cannot DELETE /internal/nope","error":"Not Found","statusCode":404}`},
	}
	for _, tt := range tests {
		res, body := env.Do(tt.method, tt.path, "", tt.contentType, "x")
		if res.StatusCode != 404 || strings.TrimSpace(string(body)) != tt.want || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s %s", tt.method, tt.path, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
}

// TestAccessLogAndRequestID: one line per request with method, route, status, duration,
// client and request id; X-Request-Id is taken when plausible, made otherwise, and returned;
// the token rejection carries the request id too; the observer gets the route pattern.
func TestAccessLogAndRequestID(t *testing.T) {
	var logs testlog.Buffer
	obs := &requests{}
	env := apitest.New(t, testdb.SQLite, apitest.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Server: func(o *server.Options) { o.Observer = obs }})
	do := func(path, requestID string) *http.Response {
		req, _ := http.NewRequest("GET", env.Server.URL+path, nil)
		if requestID != "" {
			req.Header.Set(server.HeaderRequestID, requestID)
		}
		req.Header.Set("Authorization", "Bearer not-a-jwt")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if got := do("/albums/A1", "trace-42").Header.Get(server.HeaderRequestID); got != "trace-42" {
		t.Errorf("a plausible X-Request-Id is kept: got %q", got)
	}
	for _, bad := range []string{"", "has space", strings.Repeat("x", 129), "new\"line"} {
		got := do("/livez", bad).Header.Get(server.HeaderRequestID)
		if len(got) != 36 || got == bad {
			t.Errorf("X-Request-Id %q: answered %q, want a fresh UUID", bad, got)
		}
	}
	lines := jsonLines(t, logs.String(), "request")
	if len(lines) != 5 {
		t.Fatalf("%d request lines:\n%s", len(lines), logs.String())
	}
	first := lines[0]
	if first["level"] != "INFO" || first["method"] != "GET" || first["route"] != "/albums/:album_id" || first["path"] != "/albums/A1" ||
		first["status"] != float64(401) || first["client"] != "127.0.0.1" || first["request_id"] != "trace-42" {
		t.Errorf("access line %v", first)
	}
	if d, ok := first["duration_ms"].(float64); !ok || d <= 0 {
		t.Errorf("duration_ms %v", first["duration_ms"])
	}
	rejected := jsonLines(t, logs.String(), "token rejected")
	if len(rejected) != 1 || rejected[0]["request_id"] != "trace-42" || rejected[0]["reason"] == nil {
		t.Errorf("token rejection %v", rejected)
	}
	do("/nope", "")
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.got[0] != "GET /albums/:album_id Unauthorized" || obs.got[1] != "GET /livez OK" || obs.got[5] != "GET unmatched Not Found" {
		t.Errorf("observed %v", obs.got)
	}
}
