package delivery_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/delivery/deliverytest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/payload"
	"github.com/webhookd/webhookd/store"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

// receiver is a local webhook receiver answering with respond(n) for its n-th request (1-based).
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []received
	ch  chan received
}

func newReceiver(t *testing.T, tls bool, respond func(n int, w http.ResponseWriter)) *receiver {
	t.Helper()
	r := &receiver{ch: make(chan received, 100)}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		rec := received{header: req.Header.Clone(), body: body, at: time.Now()}
		r.mu.Lock()
		r.got = append(r.got, rec)
		n := len(r.got)
		r.mu.Unlock()
		r.ch <- rec
		if respond != nil {
			respond(n, w)
		}
	})
	if tls {
		r.Server = httptest.NewTLSServer(h)
	} else {
		r.Server = httptest.NewServer(h)
	}
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) wait(t *testing.T, timeout time.Duration) received {
	t.Helper()
	select {
	case rec := <-r.ch:
		return rec
	case <-time.After(timeout):
		t.Fatalf("no request within %s", timeout)
		return received{}
	}
}

// engineOptions tune newEngine.
type engineOptions struct {
	kheopsDelays []time.Duration
	allow        []netip.Prefix
	disableAfter time.Duration
}

func newEngine(t *testing.T, st *store.Store, o engineOptions) *delivery.Engine {
	t.Helper()
	return deliverytest.Start(t, st, delivery.EngineConfig{
		UserAgent:    "webhookd/test",
		Policy:       delivery.TargetPolicy{Allow: o.allow},
		Kheops:       delivery.RetryPolicy{Delays: o.kheopsDelays},
		DisableAfter: o.disableAfter,
	})
}

// albumWithWebhook makes alice's album with a webhook on url subscribed to new_user, and bob.
func albumWithWebhook(t *testing.T, st *store.Store, url string, secret *string) (album string, hook store.WebhookView) {
	t.Helper()
	ctx := context.Background()
	for _, u := range []store.User{{Sub: "alice", Email: "alice@example.org", Name: "Alice"}, {Sub: "bob", Email: "bob@example.org", Name: "Bob"}} {
		if err := st.ProvisionUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	a, err := st.CreateAlbum(ctx, "alice", "Album", "")
	if err != nil {
		t.Fatal(err)
	}
	hook, err = st.CreateWebhook(ctx, store.AlbumWebhook{AlbumID: a.ID, URL: url, Name: "h", Secret: secret,
		Events: store.EventSet(0).With(store.EventNewUser), Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID, hook
}

var alice = payload.KheopsUser{Email: "alice@example.org", Name: "Alice", Sub: "alice", IsAdmin: true}

func addBob(t *testing.T, st *store.Store, album string) {
	t.Helper()
	if _, err := st.AddMember(context.Background(), album, "bob", alice); err != nil {
		t.Fatal(err)
	}
}

// waitDelivery waits until the webhook's only delivery is no longer pending.
func waitDelivery(t *testing.T, st *store.Store, webhookID string, timeout time.Duration) store.Delivery {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var d store.Delivery
		err := st.DB().Where("webhook_id = ?", webhookID).Take(&d).Error
		if err == nil && d.Status != store.DeliveryPending {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery of %s still not finished after %s (%v %+v)", webhookID, timeout, err, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func attempts(t *testing.T, st *store.Store, deliveryID string) []store.DeliveryAttempt {
	t.Helper()
	var as []store.DeliveryAttempt
	if err := st.DB().Where("delivery_id = ?", deliveryID).Order("attempt").Find(&as).Error; err != nil {
		t.Fatal(err)
	}
	return as
}

func TestKheopsRequest(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: 2})
		newEngine(t, st, engineOptions{allow: loopback})
		rcv := newReceiver(t, false, nil)
		secret := "kheops-secret"
		album, hook := albumWithWebhook(t, st, rcv.URL+"/hook?x=1", &secret)
		addBob(t, st, album)

		got := rcv.wait(t, 10*time.Second)
		d := waitDelivery(t, st, hook.ID, 10*time.Second)
		if d.Status != store.DeliverySuccess {
			t.Errorf("status %s", d.Status)
		}
		if string(got.body) != d.Payload {
			t.Errorf("body sent %s, stored %s", got.body, d.Payload)
		}
		h := got.header
		want := map[string]string{
			"Content-Type": "application/json", "User-Agent": "webhookd/test", "X-Kheops-Event": "new_user",
			"X-Kheops-Attempt": "1/2", "X-Kheops-Delivery": d.ID, "Webhook-Id": d.ID,
		}
		for k, v := range want {
			if h.Get(k) != v {
				t.Errorf("%s: %q, want %q", k, h.Get(k), v)
			}
		}
		if len(d.ID) != 30 {
			t.Errorf("delivery id %q is not 30 characters", d.ID)
		}
		if !delivery.VerifyKheops(secret, got.body, h.Get("X-Kheops-Signature")) {
			t.Error("X-Kheops-Signature does not verify")
		}
		if delivery.VerifyKheops("wrong", got.body, h.Get("X-Kheops-Signature")) {
			t.Error("X-Kheops-Signature verifies with a wrong secret")
		}
		if err := delivery.VerifyStandard(secret, h.Get("webhook-id"), h.Get("webhook-timestamp"), got.body,
			h.Get("webhook-signature"), time.Now(), time.Minute); err != nil {
			t.Errorf("webhook-signature: %v", err)
		}
		var body map[string]any
		_ = json.Unmarshal(got.body, &body)
		nu, _ := body["new_user"].(map[string]any)
		src, _ := body["source"].(map[string]any)
		if body["host"] != "http://webhookd.test" || body["album_id"] != album || body["is_manual_trigger"] != false ||
			nu["sub"] != "bob" || nu["email"] != "bob@example.org" || src["sub"] != "alice" || src["is_admin"] != true {
			t.Errorf("body %s", got.body)
		}
		if _, err := time.Parse(time.RFC3339, body["event_time"].(string)); err != nil {
			t.Errorf("event_time: %v", err)
		}
		as := attempts(t, st, d.ID)
		if len(as) != 1 || as[0].Status != 200 || as[0].Attempt != 1 {
			t.Errorf("attempts %+v", as)
		}
	})
}

func TestNoSecretNoSignature(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		st := testdb.Open(t, kind, store.Config{})
		newEngine(t, st, engineOptions{allow: loopback})
		rcv := newReceiver(t, false, nil)
		album, _ := albumWithWebhook(t, st, rcv.URL, nil)
		addBob(t, st, album)
		h := rcv.wait(t, 10*time.Second).header
		for _, k := range []string{"X-Kheops-Signature", "Webhook-Signature", "Nursa-Signature"} {
			if v, ok := h[k]; ok {
				t.Errorf("%s sent without a secret: %q", k, v)
			}
		}
		if h.Get("Webhook-Timestamp") == "" {
			t.Error("webhook-timestamp missing")
		}
	})
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name         string
		delays       []time.Duration
		statuses     []int // the receiver's answers, in order (the last one repeats)
		wantStatuses []int
		wantStatus   string
	}{
		{"retried until success", []time.Duration{time.Second, time.Second, time.Second}, []int{500, 503, 200}, []int{500, 503, 200}, store.DeliverySuccess},
		{"410 Gone stops", []time.Duration{time.Second, time.Second}, []int{410}, []int{410}, store.DeliveryFailure},
		{"a redirect is a failure, not followed", []time.Duration{time.Second}, []int{302}, []int{302, 302}, store.DeliveryFailure},
		{"gives up after the schedule", []time.Duration{time.Second}, []int{500}, []int{500, 500}, store.DeliveryFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
				t.Parallel()
				st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: len(tt.delays) + 1})
				newEngine(t, st, engineOptions{allow: loopback, kheopsDelays: tt.delays})
				rcv := newReceiver(t, false, func(n int, w http.ResponseWriter) {
					s := tt.statuses[min(n, len(tt.statuses))-1]
					if s == 302 {
						w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
					}
					w.WriteHeader(s)
					_, _ = w.Write([]byte(strings.Repeat("r", 10)))
				})
				album, hook := albumWithWebhook(t, st, rcv.URL, nil)
				addBob(t, st, album)
				d := waitDelivery(t, st, hook.ID, 30*time.Second)
				if d.Status != tt.wantStatus {
					t.Errorf("status %s, want %s", d.Status, tt.wantStatus)
				}
				as := attempts(t, st, d.ID)
				if len(as) != len(tt.wantStatuses) {
					t.Fatalf("%d attempts %+v, want %d", len(as), as, len(tt.wantStatuses))
				}
				rcv.mu.Lock()
				got := rcv.got
				rcv.mu.Unlock()
				for i, a := range as {
					if a.Status != tt.wantStatuses[i] || a.Attempt != i+1 || a.ResponseBody != "rrrrrrrrrr" {
						t.Errorf("attempt %d: %+v", i+1, a)
					}
					if h := got[i].header.Get("X-Kheops-Attempt"); h != strconv.Itoa(i+1)+"/"+strconv.Itoa(len(tt.delays)+1) {
						t.Errorf("X-Kheops-Attempt %q", h)
					}
					if got[i].header.Get("Webhook-Id") != d.ID {
						t.Errorf("webhook-id changed across attempts")
					}
					if i > 0 && got[i].at.Sub(got[i-1].at) < tt.delays[i-1] {
						t.Errorf("attempt %d came %s after the previous one, before the %s delay", i+1, got[i].at.Sub(got[i-1].at), tt.delays[i-1])
					}
				}
				if len(got) != len(as) {
					t.Errorf("receiver got %d requests for %d recorded attempts", len(got), len(as))
				}
			})
		})
	}
}

func TestRefusedTarget(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: 1})
		newEngine(t, st, engineOptions{kheopsDelays: []time.Duration{time.Second}}) // no allowlist
		rcv := newReceiver(t, false, nil)
		album, hook := albumWithWebhook(t, st, rcv.URL, nil)
		addBob(t, st, album)
		d := waitDelivery(t, st, hook.ID, 10*time.Second)
		as := attempts(t, st, d.ID)
		if d.Status != store.DeliveryFailure || len(as) != 1 || as[0].Status != -1 || !strings.Contains(as[0].Error, "target refused") ||
			!strings.Contains(as[0].Error, "loopback") {
			t.Errorf("delivery %+v attempts %+v", d, as)
		}
		select {
		case <-rcv.ch:
			t.Error("the refused target was reached")
		default:
		}
	})
}

func TestSurvivesRestartMidRetry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: 3})
		first := newEngine(t, st, engineOptions{allow: loopback, kheopsDelays: []time.Duration{time.Second, time.Second}})
		rcv := newReceiver(t, false, func(n int, w http.ResponseWriter) {
			if n == 1 {
				w.WriteHeader(500)
			}
		})
		album, hook := albumWithWebhook(t, st, rcv.URL, nil)
		addBob(t, st, album)
		rcv.wait(t, 10*time.Second)
		// Stop the engine once attempt 1 is recorded, before attempt 2 is due.
		deadline := time.Now().Add(10 * time.Second)
		for {
			var n int64
			st.DB().Model(&store.DeliveryAttempt{}).Count(&n)
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("attempt 1 not recorded")
			}
			time.Sleep(20 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := first.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		newEngine(t, st, engineOptions{allow: loopback, kheopsDelays: []time.Duration{time.Second, time.Second}})
		second := rcv.wait(t, 20*time.Second)
		if second.header.Get("X-Kheops-Attempt") != "2/3" {
			t.Errorf("after restart: attempt %q", second.header.Get("X-Kheops-Attempt"))
		}
		if d := waitDelivery(t, st, hook.ID, 10*time.Second); d.Status != store.DeliverySuccess {
			t.Errorf("status %s", d.Status)
		}
	})
}

func TestNewSeriesCoalescedEndToEnd(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		const delay = 2 * time.Second
		st := testdb.Open(t, kind, store.Config{NewSeriesDelay: delay})
		newEngine(t, st, engineOptions{allow: loopback})
		rcv := newReceiver(t, false, nil)
		album, hook := albumWithWebhook(t, st, rcv.URL, nil)
		if _, err := st.UpdateWebhook(context.Background(), album, hook.ID, store.WebhookPatch{Add: store.EventSet(0).With(store.EventNewSeries)}); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		start := time.Now()
		for _, series := range []string{"1.2.3.10", "1.2.3.9", "1.2.3.11"} {
			if _, err := st.AddSeries(ctx, album, "1.2.3", series, alice); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // the study stays busy: the notification waits
		}
		got := rcv.wait(t, 20*time.Second)
		if quiet := got.at.Sub(start); quiet < 600*time.Millisecond+delay {
			t.Errorf("sent %s after the first series, before the study was quiet for %s", quiet, delay)
		}
		var body struct {
			ImportSource string `json:"import_source"`
			Study        struct {
				StudyUID string `json:"study_uid"`
				Series   []struct {
					SeriesUID string `json:"series_uid"`
				} `json:"series"`
			} `json:"updated_study"`
		}
		if err := json.Unmarshal(got.body, &body); err != nil {
			t.Fatal(err)
		}
		var uids []string
		for _, s := range body.Study.Series {
			uids = append(uids, s.SeriesUID)
		}
		if got.header.Get("X-Kheops-Event") != "new_series" || body.ImportSource != "send" || body.Study.StudyUID != "1.2.3" ||
			strings.Join(uids, ",") != "1.2.3.9,1.2.3.10,1.2.3.11" {
			t.Errorf("new_series request: %s %s", got.header.Get("X-Kheops-Event"), got.body)
		}
		select {
		case extra := <-rcv.ch:
			t.Errorf("a second new_series request: %s", extra.body)
		case <-time.After(2 * delay):
		}
	})
}

// TestRetryAfterPostponesTheRetry: a 429's Retry-After longer than the scheduled delay
// postpones the retry (the webhook's bound, at most an hour: TestRetryAfterPostponesWebhook).
func TestRetryAfterPostponesTheRetry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		const base = 500 * time.Millisecond
		st := testdb.Open(t, kind, store.Config{KheopsMaxAttempts: 2})
		newEngine(t, st, engineOptions{allow: loopback, kheopsDelays: []time.Duration{base}})
		rcv := newReceiver(t, false, func(n int, w http.ResponseWriter) {
			if n == 1 {
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		album, hook := albumWithWebhook(t, st, rcv.URL, nil)
		addBob(t, st, album)
		first := rcv.wait(t, 10*time.Second)
		second := rcv.wait(t, 20*time.Second)
		if gap := second.at.Sub(first.at); gap < 3*time.Second || gap > 10*time.Second {
			t.Errorf("retried %s after Retry-After: 3 with a %s delay, want after 3 s", gap, base)
		}
		if d := waitDelivery(t, st, hook.ID, 10*time.Second); d.Status != store.DeliverySuccess {
			t.Errorf("status %s", d.Status)
		}
	})
}
