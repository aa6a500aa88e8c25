package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/webhookd/webhookd/gen"
)

// Engine is what /readyz asks of the delivery engine.
type Engine interface {
	// Ready reports whether the engine is working jobs.
	Ready(ctx context.Context) error
	// CheckQueueSchema reports whether the queue's tables have this build's migrations.
	CheckQueueSchema(ctx context.Context) error
}

// RequestObserver is told of every request once answered (metrics). It must not block.
type RequestObserver interface {
	// ObserveRequest gets the route pattern (e.g. /albums/:album_id; "unmatched" for unknown
	// paths), so its values are bounded.
	ObserveRequest(method, route string, status int, took time.Duration)
}

// HeaderRequestID carries a request's id: taken from the request when it is a plausible id,
// made otherwise, and always returned.
const HeaderRequestID = "X-Request-Id"

// routeUnmatched labels requests no route matched.
const routeUnmatched = "unmatched"

type requestIDKey struct{}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID accepts 1 to 128 characters that cannot forge log lines or headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '-' || r == '_' || r == '.' || r == ':' || r == '/' || r == '+' || r == '='
		if !ok {
			return false
		}
	}
	return true
}

// accessLog gives every request an id (X-Request-Id), and once it is answered logs one line
// (method, route, path, status, duration, client address, request id) and tells the observer.
// It never logs headers (tokens) or bodies. The client address is the connection's peer:
// forwarding headers are not trusted.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		r := c.Request()
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = uuid.NewString()
		}
		c.Response().Header().Set(HeaderRequestID, id)
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
		if err := next(c); err != nil {
			c.Error(err)
		}
		took := time.Since(start)
		route := c.Path()
		if route == "" || route == "/*" {
			route = routeUnmatched
		}
		status := c.Response().Status
		client, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			client = r.RemoteAddr
		}
		s.log.InfoContext(c.Request().Context(), "request", "method", r.Method, "route", route,
			"path", r.URL.Path, "status", status, "duration_ms", float64(took.Microseconds())/1000,
			"bytes", c.Response().Size, "client", client)
		s.observer.ObserveRequest(r.Method, route, status, took)
		return nil
	}
}

// requestIDHandler adds the request id (and the trace id when traced) to every record logged with a request's context.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if id := RequestID(ctx); id != "" {
		rec.AddAttrs(slog.String("request_id", id))
	}
	if a, ok := traceID(ctx); ok {
		rec.AddAttrs(a)
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// unmatchedFirst answers requests no route matched before the other middlewares (the token,
// media types, forms) judge them: an unknown path is a 404 whatever else is wrong.
func unmatchedFirst(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Path() == "/*" {
			return notFound(c)
		}
		return next(c)
	}
}

// notFound answers paths no route matches: 404 in the family's error shape, before any token
// is asked for.
func notFound(c echo.Context) error {
	if familyOf(c.Request().URL.Path) == familyNest {
		return nestError(http.StatusNotFound, "Cannot "+c.Request().Method+" "+c.Request().URL.Path)
	}
	return kheopsError(http.StatusNotFound, "Not Found", "no resource at this path")
}

type noObserver struct{}

func (noObserver) ObserveRequest(string, string, int, time.Duration) {}

// GetHealth answers 200 when the database answers.
func (s *Server) GetHealth(ctx context.Context, _ gen.GetHealthRequestObject) (gen.GetHealthResponseObject, error) {
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "health check failed", "err", err)
		return gen.GetHealth503JSONResponse{Status: gen.HealthStatusUnavailable}, nil
	}
	return gen.GetHealth200JSONResponse{Status: gen.HealthStatusOk}, nil
}

// GetLiveness answers 200: the process serves HTTP.
func (s *Server) GetLiveness(context.Context, gen.GetLivenessRequestObject) (gen.GetLivenessResponseObject, error) {
	return gen.GetLiveness200JSONResponse{Status: gen.HealthStatusOk}, nil
}

// readinessTimeout bounds each readiness check.
const readinessTimeout = 2 * time.Second

// GetReadiness answers 200 when the database answers, its schema is current and the delivery
// engine runs; 503 with each failed check's reason otherwise.
func (s *Server) GetReadiness(ctx context.Context, _ gen.GetReadinessRequestObject) (gen.GetReadinessResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, readinessTimeout)
	defer cancel()
	var r gen.Readiness
	failed := false
	check := func(fn func(context.Context) error) string {
		if err := fn(ctx); err != nil {
			failed = true
			return err.Error()
		}
		return "ok"
	}
	r.Checks.Database = check(s.store.Ping)
	r.Checks.Migrations = check(func(ctx context.Context) error {
		if err := s.store.CheckSchema(ctx); err != nil {
			return err
		}
		if s.engine == nil {
			return nil
		}
		return s.engine.CheckQueueSchema(ctx)
	})
	r.Checks.DeliveryEngine = check(func(ctx context.Context) error {
		if s.engine == nil {
			return errNoEngine
		}
		return s.engine.Ready(ctx)
	})
	if failed {
		r.Status = gen.ReadinessStatusUnavailable
		s.log.WarnContext(ctx, "not ready", "database", r.Checks.Database, "migrations", r.Checks.Migrations,
			"delivery_engine", r.Checks.DeliveryEngine)
		return gen.GetReadiness503JSONResponse(r), nil
	}
	r.Status = gen.ReadinessStatusOk
	return gen.GetReadiness200JSONResponse(r), nil
}

type constError string

func (e constError) Error() string { return string(e) }

// errNoEngine is the readiness of a server built without a delivery engine.
const errNoEngine = constError("not configured")
