package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.opentelemetry.io/otel/trace"

	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/openapi"
	"github.com/webhookd/webhookd/server/swaggerui"
	"github.com/webhookd/webhookd/store"
)

// Options are what a Server needs.
type Options struct {
	Store    *store.Store
	Verifier TokenVerifier
	Logger   *slog.Logger
	// Engine is the delivery engine /readyz checks; nil reports it "not configured".
	Engine Engine
	// Observer is told of every request (metrics); nil observes nothing.
	Observer RequestObserver
	// Metrics, when set, is served at GET /metrics without a token.
	Metrics http.Handler
	// RequestTimeout bounds the work of one request (its database statements); zero means
	// 10 s. Past it the answer is a 503 with Retry-After.
	RequestTimeout time.Duration
	// Tracer, when set, gets a span per request (OpenTelemetry); nil traces nothing.
	Tracer trace.TracerProvider
	// QueueUI, when set, is served at /riverui and below; it does its own authentication
	// (the bearer token is not asked for there).
	QueueUI http.Handler
}

// Server implements gen.StrictServerInterface.
type Server struct {
	store    *store.Store
	verifier TokenVerifier
	log      *slog.Logger
	users    userCache
	engine   Engine
	observer RequestObserver
	metrics  http.Handler
	timeout  time.Duration
	tracer   trace.TracerProvider
	queueUI  http.Handler
	// buffers holds the buffers of encoded webhook lists, reused from one request to the next.
	buffers bufferPool
}

var _ gen.StrictServerInterface = (*Server)(nil)

// New returns a Server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Observer == nil {
		opts.Observer = noObserver{}
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = defaultRequestTimeout
	}
	return &Server{store: opts.Store, verifier: opts.Verifier, log: slog.New(requestIDHandler{opts.Logger.Handler()}),
		engine: opts.Engine, observer: opts.Observer, metrics: opts.Metrics, timeout: opts.RequestTimeout,
		tracer: opts.Tracer, queueUI: opts.QueueUI}
}

// Handler returns the HTTP handler of the whole service: the API, the contract at
// /openapi.yaml and /openapi.json, and Swagger UI at /docs.
func (s *Server) Handler() (http.Handler, error) {
	spec, err := gen.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(s.log)
	if s.tracer != nil {
		e.Use(tracing(s.tracer.Tracer("github.com/webhookd/webhookd/server")))
	}
	e.Use(s.accessLog)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.ErrorContext(c.Request().Context(), "panic", "err", err, "stack", string(stack))
			return internalError(err)
		},
	}))
	e.Use(withDeadline(s.timeout))
	e.Use(limitBodies)
	e.Use(unmatchedFirst)
	e.Use(kheopsNegotiation)
	e.Use(s.authenticate)
	e.Use(storableText)
	e.Use(kheopsForms(formRulesOf(spec)))
	e.Use(validateLogsQuery)
	e.Use(validateEventBodies)
	e.Use(validateWebhookBodies)
	e.Use(validateRecoverBodies)

	e.GET("/openapi.yaml", func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", openapi.YAML) })
	e.GET("/openapi.json", func(c echo.Context) error { return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, specJSON) })
	swaggerui.Register(e, "/docs", "/openapi.yaml")
	if s.metrics != nil {
		e.GET("/metrics", echo.WrapHandler(s.metrics))
	}
	if s.queueUI != nil {
		ui := echo.WrapHandler(s.queueUI)
		e.Any("/riverui", ui)
		e.Any("/riverui/*", ui)
	}
	e.RouteNotFound("/*", notFound)

	gen.RegisterHandlers(e, gen.NewStrictHandler(s, []gen.StrictMiddlewareFunc{strictErrors}))
	return e, nil
}
