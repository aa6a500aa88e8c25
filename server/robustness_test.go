package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/internal/testdb"
)

// hostileRequest is one request of the robustness test.
type hostileRequest struct {
	what                 string // the variant, for failure messages
	method, path         string // path holds its query, already escaped
	token                string
	contentType, accept  string
	body                 string
	mutatesRealResources bool // a DELETE with valid ids and the owner's token: sent last
	probe                bool // a health probe: its 503 is the state it reports, not a failure
}

// Hostile values of path segments and query parameters, already URL-escaped.
var (
	hostileSegments = []string{"%00", "%ff%fe", "..%2f..%2fetc%2fpasswd", strings.Repeat("a", 5000),
		"%27%20OR%201%3D1--", "-1", "99999999999999999999", "%F0%9F%92%A9", "a%20b", "%2e%2e", "%7Balbum_id%7D",
		"null", "%C0%AF", "x;y", "%0d%0aX-Injected:%201", "%E2%80%AE", "1.2.3." + strings.Repeat("9", 100)}
	hostileQueryValues = []string{"99999999999999999999", "-1", "1e9", "NaN", "%00", "%ff", "0x10",
		strings.Repeat("9", 1000), "", "1&{q}=2", "%E2%80%AE", "true", "2026-13-45T99:99:99Z", "[]"}
)

// hostileBodies returns the bodies sent to an operation whose body has the given media type.
func hostileBodies(mediaType string) []struct{ contentType, body string } {
	big := strings.Repeat("a", 2<<20)
	type b = struct{ contentType, body string }
	common := []b{
		{"", ""},
		{"text/plain", "hello"},
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--x--"},
		{"multipart/form-data", "garbage"},
		{"application/xml", "<a/>"},
		{"application/octet-stream", "\x00\x01\x02\xff"},
		{mediaType, big},
		{mediaType + "; charset=utf-16", "\xff\xfe{\x00}\x00"},
		{mediaType + "; boundary", "x"},
	}
	if mediaType == "application/x-www-form-urlencoded" {
		return append(common, []b{
			{mediaType, "event[99999999999]=new_user&add_event[99999999999]=new_user&SeriesInstanceUID[99999999999]=1"},
			{mediaType, "event[20000000]=new_user"},
			{mediaType, "event[-1]=new_user&name=x&url=https://r.example.org"},
			{mediaType, "url[0]=x&name[1]=y&event[0][0][0]=z"},
			{mediaType, "%ff=%fe&name=%00"},
			{mediaType, strings.Repeat("event=new_user&", 1001)},
			{mediaType, strings.Repeat("a=1&", 100000)},
			{mediaType, "a=1;b=2"},
			{mediaType, "%zz=%"},
			{mediaType, "name=" + strings.Repeat("é", 300) + "&description=" + strings.Repeat("d", 5000)},
			{mediaType, "url=https://r.example.org&name=x&event=new_user&event=" + strings.Repeat("x", 10000)},
			{mediaType, "url=javascript:alert(1)&name=x"},
			{mediaType, "url=https://r.example.org&name=x&enabled=maybe"},
			{mediaType, "event=new_series&StudyInstanceUID=" + strings.Repeat("1.", 40) + "1&SeriesInstanceUID=01.2"},
			{mediaType, "event=new_user&user=" + strings.Repeat("u", 10000)},
			{"application/json", `{"name": "x", "url": "https://r.example.org"}`},
		}...)
	}
	return append(common, []b{
		{mediaType, strings.Repeat("[", 100000)},
		{mediaType, strings.Repeat(`{"a":`, 50000) + "1" + strings.Repeat("}", 50000)},
		{mediaType, `{"url": 1e999999, "events": 99999999999999999999999}`},
		{mediaType, `{"url": "https://r.example.org", "events": [` + strings.Repeat(`"all",`, 10000) + `"all"]}`},
		{mediaType, "{\"url\": \"https://r.example.org/\xff\", \"events\": [\"all\"]}"},
		{mediaType, `{"url": "https://r.example.org", "events": ["all"], "facilities": ["\u0000"], "secrets": ["\u0000"]}`},
		{mediaType, `{"eventType": "shift.created", "facilityId": "\u0000", "data": {}, "idempotencyKey": "` + strings.Repeat("k", 10000) + `"}`},
		{mediaType, `null`}, {mediaType, `[]`}, {mediaType, `"x"`}, {mediaType, `{`}, {mediaType, `{"a":1}{"b":2}`},
		{mediaType, `{"__proto__": {"admin": true}, "constructor": {}}`},
		{mediaType, `{"url": "https://r.example.org", "url": ["x"], "events": {"all": true}}`},
		{mediaType, `{"` + strings.Repeat("k", 100000) + `": 1}`},
		{mediaType, `{"url": "https://169.254.169.254/latest/meta-data", "events": ["all"], "secrets": ["a","b","c"]}`},
		{mediaType, `{"enabled": "false", "facilities": "P-1", "secrets": [1, null, ""]}`},
		{"application/x-www-form-urlencoded", "url=https://r.example.org&events=all"},
	}...)
}

// TestRobustness walks every operation of the embedded contract and sends it hostile variants:
// odd path segments and query values, malformed, oversized and mistyped bodies, wrong content
// types and Accept headers, and bad tokens. No answer may be a 5xx or take more than 2 s, and
// the server must be healthy afterwards. It logs the number of requests, the statuses seen and
// the server's memory before and after (`go test -v -run TestRobustness ./server/`).
func TestRobustness(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		env := k.env
		w := k.createWebhook(t, url.Values{"event": {"new_user", "new_series"}})
		appTok := env.Token(auth.TokenRequest{Subject: "svc", ClientID: "app", Facilities: []string{"P-1"}, Scope: "webhooks:publish"})
		res, body := env.Do(http.MethodPost, facilityPath, appTok, "application/json", `{"url": "https://r.example.org", "events": ["all"]}`)
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("create facility webhook: %d %s", res.StatusCode, body)
		}
		fw := between(string(body), `"id":"`, `"`)
		expired := env.TokenIssuedAt(auth.TokenRequest{Subject: "mallory", TTL: time.Second}, time.Unix(-1, 0))
		valid := map[string]string{"album_id": k.album, "webhook_id": w.Id, "user": "bob", "StudyInstanceUID": "1.2.3",
			"SeriesInstanceUID": "1.2.3.4", "webhookId": fw, "trigger_id": strings.Repeat("t", 30), "logId": fw}

		before := heapInUse() // the server's and the test's heap, before the requests are built
		operations := 0
		var reqs, last []hostileRequest
		add := func(r hostileRequest) {
			if r.mutatesRealResources {
				last = append(last, r)
				return
			}
			reqs = append(reqs, r)
		}
		paths := make([]string, 0, len(spec.Paths.Map()))
		for p := range spec.Paths.Map() {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			item := spec.Paths.Value(p)
			for method, op := range item.Operations() {
				operations++
				owner := k.aliceTok
				if strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/internal/") {
					owner = appTok
				}
				params := append(openapi3.Parameters{}, item.Parameters...)
				params = append(params, op.Parameters...)
				var pathParams, queryParams []string
				for _, pr := range params {
					switch pr.Value.In {
					case "path":
						pathParams = append(pathParams, pr.Value.Name)
					case "query":
						queryParams = append(queryParams, pr.Value.Name)
					}
				}
				fill := func(name, value string) string {
					out := p
					for _, pp := range pathParams {
						v := url.PathEscape(valid[pp])
						if pp == name {
							v = value
						}
						out = strings.ReplaceAll(out, "{"+pp+"}", v)
					}
					return out
				}
				validPath := fill("", "")
				deleting := method == http.MethodDelete
				// The probes (/healthz, /readyz, /livez) need no token; /readyz says 503 here, as
				// no delivery engine runs.
				probe := op.Security != nil && len(*op.Security) == 0 && method == http.MethodGet
				base := hostileRequest{method: method, path: validPath, token: owner, mutatesRealResources: deleting, probe: probe}
				var mediaType string
				if op.RequestBody != nil {
					for mt := range op.RequestBody.Value.Content {
						mediaType = mt
					}
				}
				r := base
				r.what = "valid ids"
				add(r)
				for _, pp := range pathParams {
					for _, h := range hostileSegments {
						r := base
						r.what, r.path, r.mutatesRealResources = "path "+pp+"="+trim(h), fill(pp, h), false
						add(r)
					}
				}
				for _, q := range append(queryParams, "limit", "unknown[0]") {
					for _, h := range hostileQueryValues {
						r := base
						r.what = "query " + q + "=" + trim(h)
						r.path = validPath + "?" + url.QueryEscape(q) + "=" + strings.ReplaceAll(h, "{q}", url.QueryEscape(q))
						add(r)
					}
				}
				if mediaType != "" || method == http.MethodPost || method == http.MethodPatch || method == http.MethodPut {
					if mediaType == "" {
						mediaType = "application/x-www-form-urlencoded"
					}
					for _, b := range hostileBodies(mediaType) {
						r := base
						r.what, r.contentType, r.body = "body "+b.contentType+" "+trim(b.body), b.contentType, b.body
						add(r)
					}
				}
				for _, a := range []string{"text/html", "*/*;q=0", "application/json;q=abc", "garbage/;;;", strings.Repeat("a/b,", 2000)} {
					r := base
					r.what, r.accept = "Accept "+trim(a), a
					add(r)
				}
				for _, tok := range []struct{ name, value string }{{"no token", ""}, {"empty bearer", " "},
					{"junk", "x.y.z"}, {"exp 0", expired}, {"member", k.bobTok}, {"outsider", k.carolTok},
					{"other family", map[bool]string{true: k.aliceTok, false: appTok}[owner == appTok]}} {
					r := base
					r.what, r.token = "token "+tok.name, tok.value
					r.mutatesRealResources = deleting && (tok.name == "member" || tok.name == "other family")
					add(r)
				}
			}
		}
		reqs = append(reqs, last...)

		client := &http.Client{Timeout: 10 * time.Second}
		statuses := map[int]int{}
		var slowest time.Duration
		var slowestWhat string
		unsendable := 0
		start := time.Now()
		for _, r := range reqs {
			req, err := http.NewRequest(r.method, env.Server.URL+r.path, strings.NewReader(r.body))
			if err != nil {
				unsendable++
				continue
			}
			if r.contentType != "" {
				req.Header.Set("Content-Type", r.contentType)
			}
			if r.accept != "" {
				req.Header.Set("Accept", r.accept)
			}
			if r.token != "" {
				req.Header.Set("Authorization", "Bearer "+r.token)
			}
			t0 := time.Now()
			res, err := client.Do(req)
			if err != nil {
				t.Errorf("%s %s (%s): %v", r.method, trim(r.path), r.what, err)
				continue
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			d := time.Since(t0)
			statuses[res.StatusCode]++
			if d > slowest {
				slowest, slowestWhat = d, r.method+" "+trim(r.path)+" ("+r.what+")"
			}
			if res.StatusCode >= 500 && !(r.probe && res.StatusCode == http.StatusServiceUnavailable) {
				t.Errorf("%s %s (%s): %d", r.method, trim(r.path), r.what, res.StatusCode)
			}
			if d > 2*time.Second {
				t.Errorf("%s %s (%s): answered in %v", r.method, trim(r.path), r.what, d)
			}
		}
		elapsed := time.Since(start)
		sent := len(reqs) - unsendable
		reqs, last = nil, nil
		after := heapInUse()

		// Healthy afterwards: the health check, and a normal request of each family.
		if res, _ := env.Do(http.MethodGet, "/healthz", "", "", ""); res.StatusCode != http.StatusOK {
			t.Errorf("/healthz after the run: %d", res.StatusCode)
		}
		album := k.createAlbum(t, k.alice, "after the storm")
		if res, body := env.Do(http.MethodGet, "/albums/"+album, k.aliceTok, "", ""); res.StatusCode != http.StatusOK {
			t.Errorf("get album after the run: %d %s", res.StatusCode, body)
		}
		if res, body := env.Do(http.MethodGet, facilityPath, appTok, "", ""); res.StatusCode != http.StatusOK {
			t.Errorf("list facility webhooks after the run: %d %s", res.StatusCode, body)
		}

		codes := make([]int, 0, len(statuses))
		for c := range statuses {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		var summary []string
		for _, c := range codes {
			summary = append(summary, fmt.Sprintf("%d×%d", c, statuses[c]))
		}
		t.Logf("%d operations, %d requests in %v (%d not expressible as a URL); statuses %s; slowest %v: %s",
			operations, sent, elapsed.Round(time.Millisecond), unsendable,
			strings.Join(summary, " "), slowest.Round(time.Millisecond), slowestWhat)
		t.Logf("heap in use (after GC): %.1f MiB before, %.1f MiB after", float64(before)/(1<<20), float64(after)/(1<<20))
	})
}

// heapInUse returns the process's heap in use after a garbage collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// trim shortens a value for messages.
func trim(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%s…(%d bytes)", s[:60], len(s))
	}
	return s
}

// between returns the text of s between the first from and the next to.
func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}

// TestNonTextPathIDs: ids that are not text (NUL, invalid UTF-8) are a 404 in the facility
// family and a 400 in Kheops', on both databases (PostgreSQL refused the retry's log id: 500).
func TestNonTextPathIDs(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		k := newKheops(t, kind)
		appTok := k.env.Token(auth.TokenRequest{Subject: "svc", ClientID: "app", Facilities: []string{"P-1"}})
		for _, id := range []string{"%00", "%ff%fe", "%C0%AF"} {
			for _, c := range []struct {
				method, path, token string
				want                int
			}{
				{http.MethodPost, "/api/v2/public/webhooks/logs/" + id + "/retry", appTok, 404},
				{http.MethodGet, facilityPath + "/" + id, appTok, 404},
				{http.MethodDelete, userPath + "/" + id, appTok, 404},
				{http.MethodGet, "/albums/" + id, k.aliceTok, 400},
				{http.MethodGet, "/albums/" + k.album + "/webhooks/" + id, k.aliceTok, 400},
			} {
				if res, body := k.env.Do(c.method, c.path, c.token, "", ""); res.StatusCode != c.want {
					t.Errorf("%s %s: %d %s, want %d", c.method, c.path, res.StatusCode, body, c.want)
				}
			}
		}
	})
}
