package queueui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/delivery/deliverytest"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/queueui"
	"github.com/webhookd/webhookd/server"
)

const password = "s3cret-admin"

// newEnv runs the service with River UI and makes one delivery, so that the queue holds an
// attempt job.
func newEnv(t *testing.T) *apitest.Env {
	t.Helper()
	got := make(chan struct{}, 10)
	rcv := deliverytest.Receiver(t, got).URL
	env := apitest.New(t, testdb.SQLite, apitest.Options{
		Engine: &delivery.EngineConfig{Policy: delivery.TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}},
		Server: func(o *server.Options) {
			ui, err := queueui.New(o.Engine.(*delivery.Engine).Client(), password, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			if err := ui.Start(ctx); err != nil {
				t.Fatal(err)
			}
			o.QueueUI = ui
		},
	})
	alice := env.Token(auth.TokenRequest{Subject: "alice"})
	bob := env.Token(auth.TokenRequest{Subject: "bob"})
	form := "application/x-www-form-urlencoded"
	_, body := env.Do("POST", "/albums", alice, form, "name=A")
	album := strings.Split(strings.Split(string(body), `"album_id":"`)[1], `"`)[0]
	v := url.Values{"url": {rcv}, "name": {"h"}, "event": {"new_user"}}
	if res, body := env.Do("POST", "/albums/"+album+"/webhooks", alice, form, v.Encode()); res.StatusCode != 201 {
		t.Fatalf("webhook: %d %s", res.StatusCode, body)
	}
	env.Do("GET", "/albums/"+album, bob, "", "")
	env.Do("PUT", "/albums/"+album+"/users/bob", alice, "", "")
	select {
	case <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("the webhook never fired")
	}
	return env
}

func get(t *testing.T, rawURL, user, pass string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", rawURL, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestRiverUIBehindBasicAuth(t *testing.T) {
	env := newEnv(t)
	base := env.Server.URL + queueui.Prefix
	for _, c := range []struct{ user, pass string }{{"", ""}, {"admin", "wrong"}, {"root", password}} {
		res, _ := get(t, base+"/", c.user, c.pass)
		if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("%q/%q: %d %q", c.user, c.pass, res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	}
	res, body := get(t, base+"/", queueui.User, password)
	if res.StatusCode != 200 || !strings.Contains(body, "<html") {
		t.Errorf("the UI page: %d %.200s", res.StatusCode, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, body = get(t, base+"/api/jobs?state=completed&limit=20", queueui.User, password)
		if strings.Contains(body, "webhookd_attempt") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if res.StatusCode != 200 || !strings.Contains(body, "webhookd_attempt") {
		t.Errorf("the jobs API: %d %.300s", res.StatusCode, body)
	}
}

func TestRiverUIOffWithoutPassword(t *testing.T) {
	env := apitest.New(t, testdb.SQLite, apitest.Options{})
	res, _ := get(t, env.Server.URL+queueui.Prefix+"/", queueui.User, password)
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("/riverui/ without an admin password: %d, want 404", res.StatusCode)
	}
	if _, err := queueui.New(nil, "", nil); err == nil {
		t.Error("New without a password must fail")
	}
}

// TestRiverUIInABrowser loads the jobs page in headless Chromium (Debian's package; .ci/run
// installs it) and finds the attempt job in the rendered page.
func TestRiverUIInABrowser(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI needs chromium for the River UI browser test")
		}
		t.Skip("no chromium installed")
	}
	env := newEnv(t)
	// The browser goes through a proxy that adds the admin credentials (Chromium does not send
	// a URL's user:password with the page's own API calls); the credentials themselves are
	// tested by TestRiverUIBehindBasicAuth.
	target, _ := url.Parse(env.Server.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	direct := proxy.Director
	proxy.Director = func(r *http.Request) {
		direct(r)
		r.SetBasicAuth(queueui.User, password)
	}
	front := httptest.NewServer(proxy)
	defer front.Close()
	u, _ := url.Parse(front.URL + queueui.Prefix + "/jobs?state=completed")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var dom string
	for attempt := 0; attempt < 3; attempt++ {
		out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
			"--user-data-dir="+t.TempDir(), "--virtual-time-budget=15000", "--dump-dom", u.String()).Output()
		if err != nil {
			t.Logf("chromium: %v", err)
		}
		dom = string(out)
		if strings.Contains(dom, "webhookd_attempt") {
			return
		}
	}
	t.Errorf("the rendered jobs page does not list the attempt job:\n%.3000s", dom)
}
