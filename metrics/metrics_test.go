package metrics_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/buildinfo"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/delivery/deliverytest"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/metrics"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
)

// TestScrapeAfterADelivery runs the service with its metrics, makes one album webhook fire
// once, and finds every family of metrics in /metrics with the counters moved.
func TestScrapeAfterADelivery(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		m := metrics.New(buildinfo.Info{Version: "9.9.9", Commit: "abc", Date: "today", GoVersion: "go1.26.8"})
		got := make(chan struct{}, 10)
		receiver := deliverytest.Receiver(t, got)
		env := apitest.New(t, kind, apitest.Options{
			Store:  store.Config{DeliveriesCreated: m.DeliveryCreated},
			Engine: &delivery.EngineConfig{Observer: m, Policy: delivery.TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}},
			Server: func(o *server.Options) {
				o.Observer, o.Metrics = m, m.Handler()
				m.WatchQueue(o.Engine.(metrics.QueueStats), 5*time.Second, slog.New(slog.DiscardHandler))
			},
		})
		before := scrape(t, env)
		for _, absent := range []string{`webhookd_deliveries_created_total{`, `webhookd_delivery_attempts_total{`} {
			if strings.Contains(before, absent) {
				t.Errorf("%s before any delivery", absent)
			}
		}
		for _, want := range []string{
			`webhookd_build_info{commit="abc",date="today",goversion="go1.26.8",version="9.9.9"} 1`,
			`webhookd_queue_stats_up 1`,
			`webhookd_queue_jobs{state="available"} `,
			`webhookd_queue_oldest_due_job_age_seconds `,
			`go_goroutines `,
		} {
			if !strings.Contains(before, want) {
				t.Errorf("first scrape lacks %q", want)
			}
		}

		alice := env.Token(auth.TokenRequest{Subject: "alice", Email: "alice@example.org"})
		bob := env.Token(auth.TokenRequest{Subject: "bob", Email: "bob@example.org"})
		form := "application/x-www-form-urlencoded"
		_, body := env.Do("POST", "/albums", alice, form, "name=A")
		var album struct {
			ID string `json:"album_id"`
		}
		if err := json.Unmarshal(body, &album); err != nil || album.ID == "" {
			t.Fatalf("album: %s", body)
		}
		v := url.Values{"url": {receiver.URL}, "name": {"h"}, "event": {"new_user"}}
		if res, body := env.Do("POST", "/albums/"+album.ID+"/webhooks", alice, form, v.Encode()); res.StatusCode != 201 {
			t.Fatalf("webhook: %d %s", res.StatusCode, body)
		}
		env.Do("GET", "/albums/"+album.ID, bob, "", "")
		if res, body := env.Do("PUT", "/albums/"+album.ID+"/users/bob", alice, "", ""); res.StatusCode >= 300 {
			t.Fatalf("add bob: %d %s", res.StatusCode, body)
		}
		select {
		case <-got:
		case <-time.After(20 * time.Second):
			t.Fatal("the webhook never fired")
		}
		// The attempt is counted once recorded, just after the receiver answered.
		deadline := time.Now().Add(10 * time.Second)
		var after string
		for {
			after = scrape(t, env)
			if strings.Contains(after, `webhookd_delivery_attempts_total{family="kheops",outcome="success"} 1`) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, want := range []string{
			`webhookd_deliveries_created_total{event="new_user",family="kheops"} 1`,
			`webhookd_delivery_attempts_total{family="kheops",outcome="success"} 1`,
			`webhookd_delivery_attempt_duration_seconds_count{family="kheops",outcome="success"} 1`,
			`webhookd_http_requests_total{method="POST",route="/albums",status="201"} 1`,
			`webhookd_http_requests_total{method="PUT",route="/albums/:album_id/users/:user",status="`,
			`webhookd_http_request_duration_seconds_count{method="POST",route="/albums/:album_id/webhooks"} 1`,
			`webhookd_http_requests_total{method="GET",route="/metrics",status="200"} `,
			`webhookd_queue_jobs{state="completed"} `,
		} {
			if !strings.Contains(after, want) {
				t.Errorf("scrape after the delivery lacks %q", want)
			}
		}
		if t.Failed() {
			t.Logf("scrape:\n%s", grep(after, "webhookd_"))
		}
	})
}

func TestMethodLabelIsBounded(t *testing.T) {
	m := metrics.New(buildinfo.Get())
	m.ObserveRequest("BREW", "unmatched", 404, time.Millisecond)
	m.ObserveRequest("GET", "unmatched", 404, time.Millisecond)
	res := httptestGet(t, m.Handler())
	if !strings.Contains(res, `webhookd_http_requests_total{method="other",route="unmatched",status="404"} 1`) ||
		!strings.Contains(res, `webhookd_http_requests_total{method="GET",route="unmatched",status="404"} 1`) || strings.Contains(res, "BREW") {
		t.Errorf("scrape:\n%s", grep(res, "webhookd_http_requests_total"))
	}
}

func scrape(t *testing.T, env *apitest.Env) string {
	t.Helper()
	res, err := http.Get(env.Server.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	return string(b)
}

func grep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Direct dispatch's counts are exposed by result.
func TestDirectDispatchCounted(t *testing.T) {
	m := metrics.New(buildinfo.Info{})
	m.DirectDispatch(delivery.DirectQueued, 3)
	m.DirectDispatch(delivery.DirectQueued, 2)
	m.DirectDispatch(delivery.DirectHandedBack, 1)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{
		`webhookd_direct_dispatch_total{result="queued"} 5`,
		`webhookd_direct_dispatch_total{result="handed_back"} 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("no %q in\n%s", want, rec.Body.String())
		}
	}
}
