package server

import (
	"context"
	"log/slog"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracing starts a server span per request, continuing the caller's trace when it sent a W3C
// traceparent header. The span's context goes down with the request: the deliveries a request
// creates carry it, so their attempts' spans join the request's trace.
func tracing(tracer trace.Tracer) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			route := c.Path()
			if route == "" || route == "/*" {
				route = routeUnmatched
			}
			ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span := tracer.Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", route),
					attribute.String("url.path", r.URL.Path)))
			defer span.End()
			c.SetRequest(r.WithContext(ctx))
			err := next(c) // accessLog, inside, has answered errors already
			status := c.Response().Status
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if status >= 500 {
				span.SetStatus(codes.Error, "")
			}
			return err
		}
	}
}

// traceID is the trace id of ctx's span, for logs.
func traceID(ctx context.Context) (slog.Attr, bool) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return slog.Attr{}, false
	}
	return slog.String("trace_id", sc.TraceID().String()), true
}
