package delivery

import (
	"context"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/webhookd/webhookd/store"
)

func TestTraceContextInJobMetadata(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)

	off := &Engine{}
	opts := &river.InsertOpts{Queue: "q"}
	if off.traceOpts(ctx) != nil || off.withTrace(ctx, opts) != opts {
		t.Error("with tracing off, jobs carry nothing")
	}
	if c, span := off.startSpan(ctx, "x", []byte(`{"traceparent":"00-0102-0304-01"}`)); c != ctx || span.IsRecording() {
		t.Error("with tracing off, no span is started")
	}

	rec := tracetest.NewSpanRecorder()
	on := &Engine{tracer: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("t")}
	got := on.withTrace(ctx, opts)
	if got == opts || got.Queue != "q" || !strings.Contains(string(got.Metadata), `"traceparent":"00-01020300000000000000000000000000-0405060000000000-01"`) {
		t.Errorf("insert options %+v %s", got, got.Metadata)
	}
	if on.traceOpts(context.Background()) != nil {
		t.Error("a context without a span carries nothing")
	}
	_, span := on.startSpan(context.Background(), "webhook attempt", got.Metadata)
	span.End()
	ended := rec.Ended()
	if len(ended) != 1 || ended[0].Parent().SpanID() != sc.SpanID() || ended[0].SpanContext().TraceID() != sc.TraceID() {
		t.Errorf("the job's span is not the child of the carried context: %+v", ended)
	}
}

// Deliveries enqueued together (events published in one batch) each carry the trace of their
// own request: a ref's Ctx wins over the context EnqueueDeliveries is called with.
func TestFirstAttemptCarriesItsRefTrace(t *testing.T) {
	span := func(b byte) context.Context {
		return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{b}, SpanID: trace.SpanID{b}, TraceFlags: trace.FlagsSampled}))
	}
	e := &Engine{tracer: sdktrace.NewTracerProvider().Tracer("t"), limit: newLimiter(0, 0)}
	batchCtx := span(9)
	for _, tc := range []struct {
		name string
		ref  store.DeliveryRef
		want string
	}{
		{"own context", store.DeliveryRef{ID: "d1", WebhookID: "w", Ctx: span(1)}, "00-01000000000000000000000000000000-0100000000000000-01"},
		{"another", store.DeliveryRef{ID: "d2", WebhookID: "w", Ctx: span(2)}, "00-02000000000000000000000000000000-0200000000000000-01"},
		{"none: the call's", store.DeliveryRef{ID: "d3", WebhookID: "w"}, "00-09000000000000000000000000000000-0900000000000000-01"},
	} {
		p := e.firstAttempt(batchCtx, tc.ref)
		if args, ok := p.Args.(attemptArgs); !ok || args.DeliveryID != tc.ref.ID || args.Attempt != 1 {
			t.Errorf("%s: args %+v", tc.name, p.Args)
		}
		if p.InsertOpts == nil || !strings.Contains(string(p.InsertOpts.Metadata), `"traceparent":"`+tc.want+`"`) {
			t.Errorf("%s: metadata %v, want traceparent %s", tc.name, p.InsertOpts, tc.want)
		}
	}
}
