package server

import (
	"bytes"
	"math/rand"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"
	"testing/quick"

	"github.com/webhookd/webhookd/gen"
)

// TestWebhookListAsGenerated: the list answer is written as the generated code writes it, the
// same headers and the same bytes, for webhooks with every field set at random (a field added to
// the contract and not to appendWebhook fails here), with empty and nil slices and pointers, and
// with strings that encoding/json escapes.
func TestWebhookListAsGenerated(t *testing.T) {
	reason, empty, nilList := "410 <Gone> & \"quoted\"", []gen.TriggerSummary{}, []gen.TriggerSummary(nil)
	var pages [][]gen.Webhook
	pages = append(pages, nil, []gen.Webhook{}, []gen.Webhook{{}},
		[]gen.Webhook{{Events: []gen.KheopsEvent{}, LastTriggers: &empty}, {LastTriggers: &nilList, DisabledReason: &reason}})
	for _, s := range []string{
		"", "plain", `"\`, "<script>&amp;</script>", "\b\f\n\r\t\x00\x01\x1f\x7f", "naïve ☃ 😀",
		"\u2028\u2029", "bad \xff utf-8 \xc3", "\xed\xa0\x80 surrogate", "https://x.org/?a=1&b=<2>",
	} {
		pages = append(pages, []gen.Webhook{{Id: s, Name: s, Url: s, DisabledReason: &s, Events: []gen.KheopsEvent{gen.KheopsEvent(s)},
			LastTriggers: &[]gen.TriggerSummary{{Id: s, Status: gen.TriggerSummaryStatus(s)}, {Id: s, Status: gen.Pass}}}})
	}
	rnd := rand.New(rand.NewSource(1))
	for range 300 {
		v, ok := quick.Value(reflect.TypeOf([]gen.Webhook{}), rnd)
		if !ok {
			t.Fatal("quick.Value cannot make webhooks")
		}
		pages = append(pages, v.Interface().([]gen.Webhook))
	}
	pool := &bufferPool{}
	for i, page := range pages {
		generated := gen.ListWebhooks200JSONResponse{Body: page, Headers: gen.ListWebhooks200ResponseHeaders{XTotalCount: 1000 + i}}
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		if err := generated.VisitListWebhooksResponse(want); err != nil {
			t.Fatal(err)
		}
		if err := (webhookList{ListWebhooks200JSONResponse: generated, buffers: pool}).VisitListWebhooksResponse(got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Fatalf("page %d:\n got %s\nwant %s", i, got.Body, want.Body)
		}
		if got.Code != want.Code || got.Header().Get("Content-Length") != strconv.Itoa(want.Body.Len()) {
			t.Errorf("page %d: status %d, Content-Length %s; want %d, %d", i, got.Code, got.Header().Get("Content-Length"), want.Code, want.Body.Len())
		}
		got.Header().Del("Content-Length")
		if !reflect.DeepEqual(got.Header(), want.Header()) {
			t.Errorf("page %d: headers %v, want %v", i, got.Header(), want.Header())
		}
	}
}

// BenchmarkWebhookListEncoding compares the generated encoding of a page of 100 webhooks with
// appendWebhooks.
func BenchmarkWebhookListEncoding(b *testing.B) {
	page := make([]gen.Webhook, 100)
	for i := range page {
		last := make([]gen.TriggerSummary, 5)
		for j := range last {
			last[j] = gen.TriggerSummary{Id: "0123456789abcdefghijABCDEFGHIJ", Status: gen.Pass}
		}
		page[i] = gen.Webhook{Id: "0123456789abcdefghij", Name: "hook", Url: "https://receiver.example.org/hook",
			Events: []gen.KheopsEvent{gen.NewSeries, gen.NewUser}, Enabled: true, NumberOfTriggers: 10000, LastTriggers: &last}
	}
	generated := gen.ListWebhooks200JSONResponse{Body: page}
	b.Run("generated", func(b *testing.B) {
		for b.Loop() {
			_ = generated.VisitListWebhooksResponse(httptest.NewRecorder())
		}
	})
	pool := &bufferPool{}
	b.Run("appendWebhooks", func(b *testing.B) {
		for b.Loop() {
			_ = webhookList{ListWebhooks200JSONResponse: generated, buffers: pool}.VisitListWebhooksResponse(httptest.NewRecorder())
		}
	})
}
