// Package telemetry sets up OpenTelemetry tracing: spans are exported over OTLP/HTTP
// (protobuf) as the standard OTEL_EXPORTER_OTLP_* variables say (endpoint, headers, timeout,
// TLS...), with OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES. config.Config.Traces tells
// whether to set it up at all; when not, nothing is built and tracing costs nothing.
//
// The provider is handed to the server and the delivery engine explicitly; no global is set.
package telemetry

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/webhookd/webhookd/buildinfo"
)

// Tracing is a tracer provider exporting to the configured OTLP endpoint.
type Tracing struct {
	provider *sdktrace.TracerProvider
}

// New starts exporting spans; call Shutdown to flush them.
func New(ctx context.Context, info buildinfo.Info) (*Tracing, error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	res, err := resource.Merge(
		resource.NewSchemaless(attribute.String("service.name", "webhookd"), attribute.String("service.version", info.Version)),
		resource.Environment(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return &Tracing{provider: sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))}, nil
}

// Provider is the tracer provider to hand to the server and the engine.
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }

// Shutdown exports the spans still buffered and stops.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: shutdown: %w", err)
	}
	return nil
}
