package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/store"
)

// tlsReceiver is an https receiver (the facility family only accepts https urls) whose
// requests arrive on a channel; it answers with status.
type tlsReceiver struct {
	*httptest.Server
	requests chan *capturedRequest
}

type capturedRequest struct {
	header http.Header
	body   []byte
	path   string
}

func newTLSReceiver(t *testing.T, status int) *tlsReceiver {
	t.Helper()
	r := &tlsReceiver{requests: make(chan *capturedRequest, 50)}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.requests <- &capturedRequest{header: req.Header.Clone(), body: b, path: req.URL.Path}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *tlsReceiver) next(t *testing.T) *capturedRequest {
	t.Helper()
	select {
	case c := <-r.requests:
		return c
	case <-time.After(15 * time.Second):
		t.Fatal("no request arrived")
		return nil
	}
}

func (r *tlsReceiver) none(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case c := <-r.requests:
		t.Errorf("unexpected request to %s: %s", c.path, c.body)
	case <-time.After(wait):
	}
}

// eventsFixture is a server with a delivery engine trusting the receiver's test CA.
type eventsFixture struct {
	env       *apitest.Env
	rcv       *tlsReceiver
	app       *gen.ClientWithResponses
	publisher *gen.ClientWithResponses
	appTok    string
}

func newEventsFixture(t *testing.T, kind testdb.Kind, status int) *eventsFixture {
	t.Helper()
	rcv := newTLSReceiver(t, status)
	env := apitest.New(t, kind, apitest.Options{Engine: &delivery.EngineConfig{
		UserAgent: "webhookd/test",
		Policy:    delivery.TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		TLSConfig: rcv.Client().Transport.(*http.Transport).TLSClientConfig.Clone(),
	}})
	f := &eventsFixture{env: env, rcv: rcv}
	f.appTok = env.Token(auth.TokenRequest{Subject: "svc", ClientID: "app", Facilities: []string{"P-1", "P-2"}})
	f.app = env.Client(f.appTok)
	f.publisher = env.Client(env.Token(auth.TokenRequest{Subject: "shifts-service", Scope: "webhooks:publish"}))
	return f
}

func (f *eventsFixture) webhook(t *testing.T, path string, events, facilities, secrets []string) string {
	t.Helper()
	body := map[string]any{"url": f.rcv.URL + path, "events": events, "secrets": secrets}
	if facilities != nil {
		body["facilities"] = facilities
	}
	b, _ := json.Marshal(body)
	res, err := f.app.CreateFacilityWebhookWithBodyWithResponse(context.Background(), "application/json", strings.NewReader(string(b)))
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create webhook: %v %s", err, res.Body)
	}
	return res.JSON201.Data.Id.String()
}

func (f *eventsFixture) publish(t *testing.T, body string) gen.EventAccepted {
	t.Helper()
	res, err := f.publisher.PublishFacilityEventWithBodyWithResponse(context.Background(), "application/json", strings.NewReader(body))
	if err != nil || res.JSON202 == nil {
		t.Fatalf("publish: %v %d %s", err, res.StatusCode(), res.Body)
	}
	return *res.JSON202
}

func TestFacilityEventDelivery(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		f := newEventsFixture(t, kind, http.StatusOK)
		secrets := []string{"sDV1aKqitCLClI12m7UPFbAAvZfZquJw", "mryefgHPBVHJwux0o3BYW7hPM0BZlcCa"}
		f.webhook(t, "/p1-created", []string{"shift.created"}, []string{"P-1"}, secrets)
		f.webhook(t, "/p1-all", []string{"all"}, []string{"P-1"}, secrets[:1])
		f.webhook(t, "/p2-created", []string{"shift.created"}, []string{"P-2"}, secrets[:1])
		f.webhook(t, "/p1-cancelled", []string{"shift.cancelled"}, []string{"P-1"}, secrets[:1])

		acc := f.publish(t, `{"eventType":"shift.created","facilityId":"P-1","data":{"shiftId":"S-1","facilityId":"P-1"},"idempotencyKey":"k-1"}`)
		if acc.Deliveries != 2 || acc.Duplicate {
			t.Fatalf("accepted %+v, want 2 deliveries", acc)
		}
		got := map[string]*capturedRequest{}
		for i := 0; i < 2; i++ {
			c := f.rcv.next(t)
			got[c.path] = c
		}
		f.rcv.none(t, 300*time.Millisecond)
		c := got["/p1-created"]
		if c == nil || got["/p1-all"] == nil {
			t.Fatalf("the matching webhooks were not called: %v", got)
		}
		if string(c.body) != `{"data":{"facilityId":"P-1","shiftId":"S-1"},"eventType":"shift.created"}` {
			t.Errorf("body %s", c.body)
		}
		sig := c.header.Get("Nursa-Signature")
		if strings.Count(sig, "v1=") != 2 || !strings.HasPrefix(sig, "t=") {
			t.Errorf("Nursa-Signature %q: want t= and one v1 per secret", sig)
		}
		for _, s := range secrets {
			if err := delivery.VerifyNursa(s, c.body, sig, time.Now(), time.Minute); err != nil {
				t.Errorf("Nursa-Signature with %s: %v", s, err)
			}
			if err := delivery.VerifyStandard(s, c.header.Get("webhook-id"), c.header.Get("webhook-timestamp"), c.body,
				c.header.Get("webhook-signature"), time.Now(), time.Minute); err != nil {
				t.Errorf("webhook-signature with %s: %v", s, err)
			}
		}
		if err := delivery.VerifyNursa("wrong-secret", c.body, sig, time.Now(), time.Minute); err == nil {
			t.Error("Nursa-Signature verifies with a wrong secret")
		}
		if c.header.Get("X-Kheops-Event") != "" || c.header.Get("User-Agent") != "webhookd/test" {
			t.Errorf("headers %v", c.header)
		}

		// The same idempotency key again creates nothing.
		again := f.publish(t, `{"eventType":"shift.created","facilityId":"P-1","data":{"shiftId":"S-1"},"idempotencyKey":"k-1"}`)
		if !again.Duplicate || again.EventId != acc.EventId || again.Deliveries != 2 {
			t.Errorf("replayed key: %+v, first %+v", again, acc)
		}
		f.rcv.none(t, 500*time.Millisecond)
		var n int64
		f.env.Store.DB().Model(&store.Delivery{}).Count(&n)
		if n != 2 {
			t.Errorf("%d deliveries after a replayed key, want 2", n)
		}
	})
}

func TestUserEventDelivery(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		f := newEventsFixture(t, kind, http.StatusOK)
		b := `{"url":"` + f.rcv.URL + `/user","events":["facility.creation.accepted"],"secrets":["abc"]}`
		if res, err := f.app.CreateUserWebhookWithBodyWithResponse(context.Background(), "application/json", strings.NewReader(b)); err != nil || res.JSON201 == nil {
			t.Fatalf("create user webhook: %v %s", err, res.Body)
		}
		for _, client := range []string{"other", "app"} {
			res, err := f.publisher.PublishUserEventWithBodyWithResponse(context.Background(), "application/json",
				strings.NewReader(`{"eventType":"facility.creation.accepted","clientId":"`+client+`","data":{"facilityId":"P-9"}}`))
			if err != nil || res.JSON202 == nil {
				t.Fatalf("publish: %v %s", err, res.Body)
			}
			want := map[string]int{"other": 0, "app": 1}[client]
			if res.JSON202.Deliveries != want {
				t.Errorf("client %s: %d deliveries, want %d", client, res.JSON202.Deliveries, want)
			}
		}
		c := f.rcv.next(t)
		if string(c.body) != `{"data":{"facilityId":"P-9"},"eventType":"facility.creation.accepted"}` ||
			delivery.VerifyNursa("abc", c.body, c.header.Get("Nursa-Signature"), time.Now(), time.Minute) != nil {
			t.Errorf("user event request: %s %v", c.body, c.header)
		}
	})
}

func TestPublishRules(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newEventsFixture(t, kind, http.StatusOK)
		noScope := f.appTok
		withScope := f.env.Token(auth.TokenRequest{Subject: "p", Scope: "read webhooks:publish"})
		tests := []struct {
			name, path, token, body string
			status                  int
			messages                []string
		}{
			{"no scope", "/internal/events/facility", noScope, `{"eventType":"shift.created","facilityId":"P-1","data":{}}`, 403, nil},
			{"no token", "/internal/events/user", "", `{}`, 401, nil},
			{"bad event and facility", "/internal/events/facility", withScope, `{"eventType":"all","facilityId":" ","data":{}}`, 400,
				[]string{"eventType must be one of the following values: shift.request.created, shift.request.cancelled, shift.report.created, shift.scheduled.cancelled, shift.scheduled, shift.created, shift.report.accepted-automatically, shift.report.accepted, shift.report.rejected, shift.cancelled", "facilityId should not be empty"}},
			{"user event without client", "/internal/events/user", withScope, `{"eventType":"facility.creation.accepted","clientId":"","data":{}}`, 400,
				[]string{"clientId should not be empty"}},
			{"every rule at once", "/internal/events/facility", withScope, `{"eventType":5,"facilityId":7,"data":[1],"idempotencyKey":"","extra":1}`, 400,
				[]string{"property extra should not exist", "eventType must be a string",
					"eventType must be one of the following values: shift.request.created, shift.request.cancelled, shift.report.created, shift.scheduled.cancelled, shift.scheduled, shift.created, shift.report.accepted-automatically, shift.report.accepted, shift.report.rejected, shift.cancelled",
					"facilityId must be a string", "data must be an object", "idempotencyKey should not be empty"}},
			{"malformed JSON", "/internal/events/facility", withScope, `{"eventType":`, 400, nil},
			{"not an object", "/internal/events/user", withScope, `[1,2]`, 400, []string{"the request body must be a JSON object"}},
			{"no scope with a bad body", "/internal/events/user", noScope, `nope`, 403, nil},
			{"facility event on the user route", "/internal/events/user", withScope, `{"eventType":"shift.created","clientId":"app","data":{}}`, 400,
				[]string{"eventType must be one of the following values: facility.user-connection.accepted, facility.user-connection.rejected, facility.creation.accepted, facility.creation.rejected"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				req, _ := http.NewRequest("POST", f.env.Server.URL+tt.path, strings.NewReader(tt.body))
				req.Header.Set("Content-Type", "application/json")
				if tt.token != "" {
					req.Header.Set("Authorization", "Bearer "+tt.token)
				}
				res, err := f.env.HTTPClient().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var body struct {
					Message    any `json:"message"`
					StatusCode int `json:"statusCode"`
				}
				_ = json.NewDecoder(res.Body).Decode(&body)
				if res.StatusCode != tt.status || body.StatusCode != tt.status {
					t.Fatalf("status %d (%+v), want %d", res.StatusCode, body, tt.status)
				}
				if tt.messages != nil {
					b, _ := json.Marshal(body.Message)
					w, _ := json.Marshal(tt.messages)
					if string(b) != string(w) {
						t.Errorf("messages %s\nwant %s", b, w)
					}
				}
			})
		}
	})
}

func TestWebhookLogs(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		t.Parallel()
		f := newEventsFixture(t, kind, http.StatusInternalServerError)
		f.webhook(t, "/logged", []string{"all"}, []string{"P-1", "P-2"}, []string{"s"})
		first := f.publish(t, `{"eventType":"shift.created","facilityId":"P-1","data":{"n":1}}`)
		f.publish(t, `{"eventType":"shift.cancelled","facilityId":"P-2","data":{"n":2}}`)
		// Each delivery fails twice (one retry after 1 s), then is a failure.
		deadline := time.Now().Add(30 * time.Second)
		for {
			var pending int64
			f.env.Store.DB().Model(&store.Delivery{}).Where("status = ?", store.DeliveryPending).Count(&pending)
			if pending == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("deliveries still pending")
			}
			time.Sleep(100 * time.Millisecond)
		}
		ctx := context.Background()
		res, err := f.app.ListWebhookLogsWithResponse(ctx, nil)
		if err != nil || res.JSON200 == nil || len(res.JSON200.Data) != 2 {
			t.Fatalf("logs: %v %s", err, res.Body)
		}
		newest, oldest := res.JSON200.Data[0], res.JSON200.Data[1]
		if newest.EventType != "shift.cancelled" || oldest.EventType != "shift.created" || *oldest.FacilityId != "P-1" {
			t.Errorf("order or fields: %s", res.Body)
		}
		if oldest.Status != gen.WebhookLogStatusFailure || oldest.ResponseStatus != 500 || oldest.ResponseBody != `{"ok":true}` ||
			len(oldest.Retries) != 1 || oldest.Retries[0].RetryAttempt != 1 || oldest.Retries[0].ResponseStatus != 500 ||
			oldest.RequestPayload["eventType"] != "shift.created" || !strings.HasSuffix(oldest.Url, "/logged") {
			t.Errorf("log item: %+v", oldest)
		}
		asc := gen.ASC
		limit := 1
		ev := gen.ListWebhookLogsParamsEventType("shift.cancelled")
		fac := []string{"P-1"}
		for _, tc := range []struct {
			params gen.ListWebhookLogsParams
			want   []string
		}{
			{gen.ListWebhookLogsParams{SortDirection: &asc}, []string{"shift.created", "shift.cancelled"}},
			{gen.ListWebhookLogsParams{Limit: &limit}, []string{"shift.cancelled"}},
			{gen.ListWebhookLogsParams{EventType: &ev}, []string{"shift.cancelled"}},
			{gen.ListWebhookLogsParams{FacilitiesIds: &fac}, []string{"shift.created"}},
		} {
			r, _ := f.app.ListWebhookLogsWithResponse(ctx, &tc.params)
			var got []string
			for _, d := range r.JSON200.Data {
				got = append(got, d.EventType)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("filter %+v: %v, want %v", tc.params, got, tc.want)
			}
		}
		// Another application sees none of them.
		other := f.env.Client(f.env.Token(auth.TokenRequest{Subject: "x", ClientID: "other"}))
		if r, _ := other.ListWebhookLogsWithResponse(ctx, nil); r.JSON200 == nil || len(r.JSON200.Data) != 0 {
			t.Errorf("another application's logs: %s", r.Body)
		}
		_ = first
	})
}

func TestWebhookLogsValidation(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newFacilityFixture(t, kind)
		tests := []struct {
			query string
			want  []string
		}{
			{"limit=101", []string{"limit must not be greater than 100"}},
			{"limit=x&offset=-1", []string{"limit must be an integer number", "offset must not be less than 0"}},
			{"sortDirection=up", []string{"sortDirection must be one of the following values: ASC, DESC"}},
			{"startDate=2026-02-01T00:00:00Z&endDate=2026-01-01T00:00:00Z", []string{"startDate must be a date before endDate"}},
			{"startDate=yesterday", []string{"startDate must be a valid ISO 8601 date string"}},
			{"limit=1000&sortDirection=asc&eventType=nope", []string{"limit must not be greater than 100",
				"sortDirection must be one of the following values: ASC, DESC",
				"eventType must be one of the following values: shift.request.created, shift.request.cancelled, shift.report.created, shift.scheduled.cancelled, shift.scheduled, shift.created, shift.report.accepted-automatically, shift.report.accepted, shift.report.rejected, shift.cancelled, facility.user-connection.accepted, facility.user-connection.rejected, facility.creation.accepted, facility.creation.rejected"}},
		}
		for _, tt := range tests {
			status, body := f.raw(t, "GET", "/api/v2/public/webhooks/logs?"+tt.query, f.appTok, "", "")
			var e gen.NestValidationError
			_ = json.Unmarshal(body, &e)
			w, _ := json.Marshal(tt.want)
			g, _ := json.Marshal(e.Message)
			if status != 400 || string(w) != string(g) || e.Error != "Bad Request" || e.StatusCode != 400 {
				t.Errorf("%s: %d %s\nwant %s", tt.query, status, body, w)
			}
		}
		if status, body := f.raw(t, "GET", "/api/v2/public/webhooks/logs?limit=100&offset=0&sortDirection=ASC", f.appTok, "", ""); status != 200 {
			t.Errorf("valid query: %d %s", status, body)
		}
	})
}

func TestWebhookLogsStatementCount(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		f := newFacilityFixture(t, kind) // no engine: deliveries are recorded, attempts added below
		ctx := context.Background()
		st := f.env.Store
		w, err := st.CreateFacilityWebhook(ctx, store.FacilityWebhook{Kind: store.FamilyFacility, ClientID: "app",
			URL: "https://r.example.org", Events: []string{"all"}, Facilities: []string{"P-1"}, Secrets: []string{"s"}})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			if _, err := st.PublishEvent(ctx, store.PublishInput{Kind: store.EventKindFacility, EventType: "shift.created",
				FacilityID: "P-1", Data: []byte(`{"i":1}`), Publisher: "p"}); err != nil {
				t.Fatal(err)
			}
		}
		var ids []string
		st.DB().Model(&store.Delivery{}).Where("webhook_id = ?", w.ID).Pluck("id", &ids)
		for _, id := range ids {
			for a := 1; a <= 2; a++ {
				if err := st.DB().Create(&store.DeliveryAttempt{DeliveryID: id, Attempt: a, Status: 500, CreatedAt: time.Now()}).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		counter := testdb.CountStatements(st)
		count := func(limit int) int64 {
			f.app.ListWebhookLogsWithResponse(ctx, &gen.ListWebhookLogsParams{Limit: &limit}) // warm the user cache
			counter.Reset()
			res, err := f.app.ListWebhookLogsWithResponse(ctx, &gen.ListWebhookLogsParams{Limit: &limit})
			if err != nil || res.JSON200 == nil || len(res.JSON200.Data) != limit || len(res.JSON200.Data[0].Retries) != 1 {
				t.Fatalf("logs %d: %v %.300s", limit, err, res.Body)
			}
			return counter.N()
		}
		if one, hundred := count(1), count(100); one != hundred {
			t.Errorf("statements: %d for a page of 1, %d for a page of 100", one, hundred)
		}
	})
}
