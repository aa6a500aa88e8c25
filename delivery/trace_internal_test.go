package delivery

import (
	"context"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
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
