package swaggerui

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

const testSpecURL = "/api/openapi.json"

func newEcho(specURL string) *echo.Echo {
	e := echo.New()
	Register(e, "/docs", specURL)
	return e
}

func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRegisterRoutes(t *testing.T) {
	e := newEcho(testSpecURL)
	wantVersion := strings.TrimSpace(mustRead(t, "dist/VERSION"))

	tests := []struct {
		name         string
		method       string
		target       string
		wantStatus   int
		wantType     string // Content-Type prefix
		wantLocation string
		wantCache    string
		wantBody     []string // substrings
		wantEmpty    bool     // e.g. HEAD
		wantCSP      bool
	}{
		{name: "bare prefix redirects", method: http.MethodGet, target: "/docs",
			wantStatus: http.StatusMovedPermanently, wantLocation: "/docs/"},
		{name: "bare prefix redirect keeps query", method: http.MethodGet, target: "/docs?x=1",
			wantStatus: http.StatusMovedPermanently, wantLocation: "/docs/?x=1"},
		{name: "index page", method: http.MethodGet, target: "/docs/",
			wantStatus: http.StatusOK, wantType: "text/html; charset=utf-8", wantCache: "no-cache", wantCSP: true,
			wantBody: []string{testSpecURL, `src="./swagger-ui-bundle.js?v=` + wantVersion + `"`,
				`href="./swagger-ui.css?v=` + wantVersion + `"`, `src="./swagger-initializer.js?v=`, `id="swagger-ui"`}},
		{name: "index.html", method: http.MethodGet, target: "/docs/index.html",
			wantStatus: http.StatusOK, wantType: "text/html; charset=utf-8", wantCSP: true, wantBody: []string{testSpecURL}},
		{name: "index HEAD", method: http.MethodHead, target: "/docs/",
			wantStatus: http.StatusOK, wantType: "text/html; charset=utf-8", wantEmpty: true},
		{name: "initializer", method: http.MethodGet, target: "/docs/swagger-initializer.js",
			wantStatus: http.StatusOK, wantType: "text/javascript; charset=utf-8", wantCache: "no-cache",
			wantBody: []string{`url: "` + testSpecURL + `"`, "persistAuthorization: true", "tryItOutEnabled: true", "FormFields],",
				"deepLinking: true", "SwaggerUIBundle("}},
		{name: "bundle", method: http.MethodGet, target: "/docs/swagger-ui-bundle.js",
			wantStatus: http.StatusOK, wantType: "text/javascript; charset=utf-8", wantCache: cacheUnversioned,
			wantBody: []string{"SwaggerUIBundle"}},
		{name: "bundle versioned", method: http.MethodGet, target: "/docs/swagger-ui-bundle.js?v=" + wantVersion,
			wantStatus: http.StatusOK, wantType: "text/javascript; charset=utf-8", wantCache: cacheVersioned},
		{name: "css", method: http.MethodGet, target: "/docs/swagger-ui.css",
			wantStatus: http.StatusOK, wantType: "text/css; charset=utf-8", wantBody: []string{".swagger-ui"}},
		{name: "favicon 32", method: http.MethodGet, target: "/docs/favicon-32x32.png",
			wantStatus: http.StatusOK, wantType: "image/png", wantBody: []string{"\x89PNG"}},
		{name: "favicon 16", method: http.MethodGet, target: "/docs/favicon-16x16.png",
			wantStatus: http.StatusOK, wantType: "image/png", wantBody: []string{"\x89PNG"}},
		{name: "unknown asset", method: http.MethodGet, target: "/docs/nope.js", wantStatus: http.StatusNotFound},
		{name: "source map not shipped", method: http.MethodGet, target: "/docs/swagger-ui-bundle.js.map", wantStatus: http.StatusNotFound},
		{name: "embedded but unserved file", method: http.MethodGet, target: "/docs/VERSION", wantStatus: http.StatusNotFound},
		{name: "nested path", method: http.MethodGet, target: "/docs/dist/swagger-ui.css", wantStatus: http.StatusNotFound},
		{name: "traversal", method: http.MethodGet, target: "/docs/../swaggerui.go", wantStatus: http.StatusNotFound},
		{name: "POST not routed", method: http.MethodPost, target: "/docs/", wantStatus: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, e, tt.method, tt.target, nil)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", rec.Code, tt.wantStatus, truncate(rec.Body.String()))
			}
			if tt.wantLocation != "" {
				if got := rec.Header().Get("Location"); got != tt.wantLocation {
					t.Errorf("Location = %q, want %q", got, tt.wantLocation)
				}
			}
			if tt.wantStatus != http.StatusOK {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			if rec.Header().Get("ETag") == "" {
				t.Error("missing ETag")
			}
			if tt.wantCache != "" {
				if got := rec.Header().Get("Cache-Control"); got != tt.wantCache {
					t.Errorf("Cache-Control = %q, want %q", got, tt.wantCache)
				}
			} else if rec.Header().Get("Cache-Control") == "" {
				t.Error("missing Cache-Control")
			}
			csp := rec.Header().Get("Content-Security-Policy")
			if tt.wantCSP {
				for _, d := range []string{"script-src 'self';", "style-src 'self';", "default-src 'none'"} {
					if !strings.Contains(csp, d) {
						t.Errorf("CSP %q lacks %q", csp, d)
					}
				}
				if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
					t.Errorf("CSP %q allows unsafe sources", csp)
				}
			}
			body := rec.Body.String()
			if tt.wantEmpty {
				if body != "" {
					t.Errorf("HEAD body has %d bytes", len(body))
				}
				return
			}
			if body == "" {
				t.Fatal("empty body")
			}
			for _, s := range tt.wantBody {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %q", s)
				}
			}
		})
	}
}

func TestAssetsMatchEmbeddedFiles(t *testing.T) {
	e := newEcho(testSpecURL)
	for name := range assetTypes {
		t.Run(name, func(t *testing.T) {
			rec := do(t, e, http.MethodGet, "/docs/"+name, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d", rec.Code)
			}
			if want := mustRead(t, "dist/"+name); rec.Body.String() != want {
				t.Errorf("body differs from dist/%s (%d vs %d bytes)", name, rec.Body.Len(), len(want))
			}
		})
	}
}

func TestConditionalRequest(t *testing.T) {
	e := newEcho(testSpecURL)
	for _, target := range []string{"/docs/", "/docs/swagger-ui-bundle.js", "/docs/swagger-initializer.js"} {
		t.Run(target, func(t *testing.T) {
			first := do(t, e, http.MethodGet, target, nil)
			etag := first.Header().Get("ETag")
			rec := do(t, e, http.MethodGet, target, map[string]string{"If-None-Match": etag})
			if rec.Code != http.StatusNotModified {
				t.Errorf("status = %d, want 304", rec.Code)
			}
		})
	}
}

var specLiteralRE = regexp.MustCompile(`(?m)^\s*url: (".*"),$`)

func TestSpecURLEscaping(t *testing.T) {
	tests := []struct {
		name    string
		specURL string
		// forbidden substrings in the HTML page and the initializer script
		forbidden []string
		// forbidden substrings in the initializer script only (harmless in HTML text)
		forbiddenJS []string
	}{
		{name: "plain", specURL: "/openapi.json"},
		{name: "query string", specURL: "/openapi.json?a=1&b=2"},
		{name: "quotes", specURL: `/o"pen'api.json`, forbidden: []string{`/o"pen'api`}},
		{name: "script breakout", specURL: `/x.json"</script><script>alert(1)</script>`,
			forbidden: []string{"<script>alert", "</script><script>"}},
		{name: "line separators", specURL: "/a\u2028b\u2029c\nd.json", forbiddenJS: []string{"\u2028", "\u2029", "\nd.json"}},
		{name: "javascript scheme", specURL: "javascript:alert(1)", forbidden: []string{`href="javascript:`}},
		{name: "absolute", specURL: "https://api.example.com:8443/openapi.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEcho(tt.specURL)
			page := do(t, e, http.MethodGet, "/docs/", nil).Body.String()
			js := do(t, e, http.MethodGet, "/docs/swagger-initializer.js", nil).Body.String()
			for _, f := range tt.forbidden {
				if strings.Contains(page, f) {
					t.Errorf("page contains %q:\n%s", f, page)
				}
			}
			for _, f := range append(tt.forbidden, tt.forbiddenJS...) {
				if strings.Contains(js, f) {
					t.Errorf("initializer contains %q:\n%s", f, js)
				}
			}
			// The page shows exactly one script-tag pair per script.
			if n := strings.Count(page, "<script"); n != 2 {
				t.Errorf("page has %d <script tags, want 2", n)
			}
			// The initializer holds a valid JSON string literal that decodes
			// back to the exact spec URL.
			m := specLiteralRE.FindStringSubmatch(js)
			if m == nil {
				t.Fatalf("no url literal in initializer:\n%s", js)
			}
			var got string
			if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
				t.Fatalf("url literal %s is not a JSON string: %v", m[1], err)
			}
			if got != tt.specURL {
				t.Errorf("url literal decodes to %q, want %q", got, tt.specURL)
			}
		})
	}
}

func TestCSPConnectSrc(t *testing.T) {
	tests := []struct {
		specURL string
		want    string
	}{
		{"/openapi.json", "connect-src 'self';"},
		{"../openapi.json", "connect-src 'self';"},
		{"https://api.example.com:8443/openapi.yaml", "connect-src 'self' https://api.example.com:8443;"},
		{"http://[::1]:8080/openapi.yaml", "connect-src 'self' http://[::1]:8080;"},
		{"ftp://example.com/x", "connect-src 'self';"},
		{"https://a.example.com;script-src *@b/x", "connect-src 'self';"},
	}
	for _, tt := range tests {
		t.Run(tt.specURL, func(t *testing.T) {
			if got := contentSecurityPolicy(tt.specURL); !strings.Contains(got, tt.want) {
				t.Errorf("CSP = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

// TestHandlerStripPrefix checks the plain net/http mounting documented on
// Handler, including the relative redirect of the bare prefix.
func TestHandlerStripPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/api/docs/", http.StripPrefix("/api/docs", Handler(testSpecURL)))
	mux.Handle("/api/docs", http.StripPrefix("/api/docs", Handler(testSpecURL)))

	tests := []struct {
		method, target string
		wantStatus     int
		wantLocation   string
	}{
		{http.MethodGet, "/api/docs", http.StatusMovedPermanently, "./docs/"},
		{http.MethodGet, "/api/docs?q=1", http.StatusMovedPermanently, "./docs/?q=1"},
		{http.MethodGet, "/api/docs/", http.StatusOK, ""},
		{http.MethodGet, "/api/docs/swagger-ui.css", http.StatusOK, ""},
		{http.MethodGet, "/api/docs/missing.css", http.StatusNotFound, ""},
		{http.MethodPut, "/api/docs/", http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			rec := do(t, mux, tt.method, tt.target, nil)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Header().Get("Location"); got != tt.wantLocation {
				t.Errorf("Location = %q, want %q", got, tt.wantLocation)
			}
		})
	}
}

func TestRegisterPrefixForms(t *testing.T) {
	for _, prefix := range []string{"/docs", "/docs/", "docs"} {
		t.Run(prefix, func(t *testing.T) {
			e := newEchoPrefix(prefix)
			if rec := do(t, e, http.MethodGet, "/docs", nil); rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != "/docs/" {
				t.Errorf("/docs: status %d Location %q", rec.Code, rec.Header().Get("Location"))
			}
			if rec := do(t, e, http.MethodGet, "/docs/swagger-ui-bundle.js", nil); rec.Code != http.StatusOK {
				t.Errorf("bundle: status %d", rec.Code)
			}
		})
	}
	t.Run("root", func(t *testing.T) {
		e := newEchoPrefix("/")
		if rec := do(t, e, http.MethodGet, "/", nil); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), testSpecURL) {
			t.Errorf("/: status %d", rec.Code)
		}
		if rec := do(t, e, http.MethodGet, "/swagger-ui.css", nil); rec.Code != http.StatusOK {
			t.Errorf("css: status %d", rec.Code)
		}
	})
}

func TestVersion(t *testing.T) {
	if !regexp.MustCompile(`^5\.\d+\.\d+$`).MatchString(Version()) {
		t.Errorf("Version() = %q", Version())
	}
}

func newEchoPrefix(prefix string) *echo.Echo {
	e := echo.New()
	Register(e, prefix, testSpecURL)
	return e
}

func mustRead(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
