package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

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
}

// Server implements gen.StrictServerInterface.
type Server struct {
	store    *store.Store
	verifier TokenVerifier
	log      *slog.Logger
	users    userCache
}

var _ gen.StrictServerInterface = (*Server)(nil)

// New returns a Server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Server{store: opts.Store, verifier: opts.Verifier, log: opts.Logger}
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
	e.Use(requestLog(s.log))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.ErrorContext(c.Request().Context(), "panic", "err", err, "stack", string(stack))
			return internalError(err)
		},
	}))
	e.Use(limitBodies)
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

	gen.RegisterHandlers(e, gen.NewStrictHandler(s, []gen.StrictMiddlewareFunc{strictErrors}))
	return e, nil
}

// GetHealth answers 200 when the database answers.
func (s *Server) GetHealth(ctx context.Context, _ gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "health check failed", "err", err)
		return gen.GetHealth503JSONResponse{Status: gen.Unavailable}, nil
	}
	return gen.GetHealth200JSONResponse{Status: gen.Ok}, nil
}
