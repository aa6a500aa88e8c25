package telemetry_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/buildinfo"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/telemetry"
)

// collector is an in-process OTLP/HTTP receiver: it decodes the protobuf export requests.
type collector struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	attrs map[string]string // resource attributes
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, a := range rs.GetResource().GetAttributes() {
			c.attrs[a.Key] = a.GetValue().GetStringValue()
		}
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (c *collector) find(name string) []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range c.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			if sv := a.GetValue().GetStringValue(); sv != "" {
				return sv
			}
			return a.GetValue().String()
		}
	}
	return ""
}

// TestRequestAndAttemptSpans exports to an in-process OTLP receiver: the request that adds bob
// to an album (sent with a W3C traceparent) has a server span in the caller's trace, and the
// new_user delivery it causes has an attempt span, child of that request's span.
func TestRequestAndAttemptSpans(t *testing.T) {
	col := &collector{attrs: map[string]string{}}
	otlp := httptest.NewServer(col)
	defer otlp.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.URL)
	t.Setenv("OTEL_SERVICE_NAME", "")
	tracing, err := telemetry.New(context.Background(), buildinfo.Info{Version: "9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{}, 10)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- struct{}{} }))
	defer receiver.Close()
	env := apitest.New(t, testdb.SQLite, apitest.Options{
		Engine: &delivery.EngineConfig{Tracer: tracing.Provider(), Policy: delivery.TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}},
		Server: func(o *server.Options) { o.Tracer = tracing.Provider() },
	})
	alice := env.Token(auth.TokenRequest{Subject: "alice"})
	bob := env.Token(auth.TokenRequest{Subject: "bob"})
	form := "application/x-www-form-urlencoded"
	_, body := env.Do("POST", "/albums", alice, form, "name=A")
	var album struct {
		ID string `json:"album_id"`
	}
	if err := json.Unmarshal(body, &album); err != nil {
		t.Fatal(err)
	}
	v := url.Values{"url": {receiver.URL}, "name": {"h"}, "event": {"new_user"}}
	res, body := env.Do("POST", "/albums/"+album.ID+"/webhooks", alice, form, v.Encode())
	var hook struct {
		ID string `json:"id"`
	}
	if res.StatusCode != 201 || json.Unmarshal(body, &hook) != nil {
		t.Fatalf("webhook: %d %s", res.StatusCode, body)
	}
	env.Do("GET", "/albums/"+album.ID, bob, "", "")

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("PUT", env.Server.URL+"/albums/"+album.ID+"/users/bob", nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	select {
	case <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("the webhook never fired")
	}
	// The attempt's span ends once the attempt is recorded, just after the receiver answered:
	// wait for the record, then flush.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := env.Do("GET", "/albums/"+album.ID+"/webhooks/"+hook.ID, alice, "", "")
		var view struct {
			Triggers []struct {
				Attempts []any `json:"attempts"`
			} `json:"triggers"`
		}
		if json.Unmarshal(body, &view) == nil && len(view.Triggers) == 1 && len(view.Triggers[0].Attempts) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the attempt was never recorded: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if err := tracing.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	requests := col.find("PUT /albums/:album_id/users/:user")
	if len(requests) != 1 {
		t.Fatalf("request spans %v", requests)
	}
	rs := requests[0]
	if hex.EncodeToString(rs.TraceId) != traceID || hex.EncodeToString(rs.ParentSpanId) != "00f067aa0ba902b7" || rs.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("the request span does not continue the caller's trace: %v", rs)
	}
	attempts := col.find("webhook attempt")
	if len(attempts) != 1 {
		t.Fatalf("attempt spans %v", attempts)
	}
	as := attempts[0]
	if hex.EncodeToString(as.TraceId) != traceID || hex.EncodeToString(as.ParentSpanId) != hex.EncodeToString(rs.SpanId) {
		t.Errorf("the attempt span is not the request span's child: trace %x parent %x, request span %x", as.TraceId, as.ParentSpanId, rs.SpanId)
	}
	if attr(as, "webhookd.outcome") != "success" || attr(as, "webhookd.event") != "new_user" || attr(as, "webhookd.family") != "kheops" {
		t.Errorf("attempt span attributes %v", as.Attributes)
	}
	if col.attrs["service.name"] != "webhookd" || col.attrs["service.version"] != "9.9.9" {
		t.Errorf("resource %v", col.attrs)
	}
}
