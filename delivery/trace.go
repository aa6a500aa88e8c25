package delivery

import (
	"context"
	"encoding/json"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceMetadata is the W3C trace context a job carries in its River metadata, so that the
// attempt it runs joins the trace of the request (or job) that queued it.
type traceMetadata struct {
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
}

// traceOpts returns insert options carrying ctx's trace context, or nil when tracing is off or
// ctx holds no span (the job's own options then apply unchanged).
func (e *Engine) traceOpts(ctx context.Context) *river.InsertOpts {
	if e.tracer == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	b, err := json.Marshal(traceMetadata{TraceParent: carrier["traceparent"], TraceState: carrier["tracestate"]})
	if err != nil {
		return nil
	}
	return &river.InsertOpts{Metadata: b}
}

// withTrace adds ctx's trace context to opts (nil allowed).
func (e *Engine) withTrace(ctx context.Context, opts *river.InsertOpts) *river.InsertOpts {
	t := e.traceOpts(ctx)
	if t == nil {
		return opts
	}
	if opts == nil {
		return t
	}
	withMeta := *opts
	withMeta.Metadata = t.Metadata
	return &withMeta
}

// startSpan starts the span of a job, child of the span whose context the job carries (when it
// carries one). Without a tracer it returns ctx and a span that records nothing.
func (e *Engine) startSpan(ctx context.Context, name string, metadata []byte, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if e.tracer == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	var m traceMetadata
	if len(metadata) > 0 && json.Unmarshal(metadata, &m) == nil && m.TraceParent != "" {
		ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": m.TraceParent, "tracestate": m.TraceState})
	}
	return e.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...))
}

// endSpan records a job's error on its span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
