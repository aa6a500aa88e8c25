package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/webhookd/webhookd/store"
)

// family tells which API a request belongs to; each has its own error shape.
type family int

const (
	familyKheops family = iota // {"message", "detail"}
	familyNest                 // {"message", "error", "statusCode"}
)

func familyOf(path string) family {
	if strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/internal/") {
		return familyNest
	}
	return familyKheops
}

// apiError is an error answered to the client, in the shape of the route's family.
type apiError struct {
	status int
	// message is Kheops' message (its reason, e.g. "Album Not Found") or Nest's single message.
	message string
	// detail is Kheops' detail.
	detail string
	// messages is Nest's list of validation failures (status 400).
	messages []string
	// cause is logged for 5xx, never sent.
	cause error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %s: %v", e.status, e.message, e.cause)
	}
	return fmt.Sprintf("%d %s: %s%s", e.status, e.message, e.detail, strings.Join(e.messages, "; "))
}

func (e *apiError) Unwrap() error { return e.cause }

// kheopsError builds a Kheops error.
func kheopsError(status int, message, detail string) *apiError {
	return &apiError{status: status, message: message, detail: detail}
}

func badRequest(format string, args ...any) *apiError {
	return kheopsError(http.StatusBadRequest, "Bad Request", fmt.Sprintf(format, args...))
}

// nestError builds a NestJS-style error with one message.
func nestError(status int, message string) *apiError {
	return &apiError{status: status, message: message}
}

// nestValidation builds a NestJS-style 400 listing every failed rule.
func nestValidation(messages []string) *apiError {
	return &apiError{status: http.StatusBadRequest, message: "Bad Request", messages: messages}
}

// StatusClientClosedRequest is the status recorded (never seen by anyone) for a request whose
// client went away before the answer: nginx's 499. It is not a server error: it is neither
// logged as one nor counted among the 5xx.
const StatusClientClosedRequest = 499

// retryAfterSeconds is the Retry-After of a 503: the pool reconnects on the next request.
const retryAfterSeconds = "5"

// internalError is the answer to an error no handler expected: a 503 with Retry-After when the
// database is unavailable (store.IsUnavailable) or did not answer before the request's deadline
// (the client may retry), a 499 (StatusClientClosedRequest) when the client cancelled the
// request (its context is canceled: see deadlineCause), a logged 500 otherwise.
func internalError(err error) *apiError {
	if errors.Is(err, context.Canceled) {
		return &apiError{status: StatusClientClosedRequest, message: "Client Closed Request",
			detail: "the client closed the request before it was answered", cause: err}
	}
	if store.IsUnavailable(err) || errors.Is(err, context.DeadlineExceeded) {
		return &apiError{status: http.StatusServiceUnavailable, message: http.StatusText(http.StatusServiceUnavailable),
			detail: "the database is unavailable; retry later", cause: err}
	}
	return &apiError{status: http.StatusInternalServerError, message: "Internal Server Error",
		detail: "an unexpected error occurred; it has been logged", cause: err}
}

type kheopsBody struct {
	Message string `json:"message"`
	Detail  string `json:"detail"`
}

type nestBody struct {
	Message    any    `json:"message"`
	Error      string `json:"error,omitempty"`
	StatusCode int    `json:"statusCode"`
}

// errorHandler renders every error in the shape of the route's family. Errors that are neither
// apiError nor echo.HTTPError come from the generated binding of parameters and bodies: they are
// the client's fault (400). Handler errors never arrive raw: strictErrors wraps them.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var ae *apiError
		var he *echo.HTTPError
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			ae = tooLarge()
		case errors.As(err, &ae):
		case errors.As(err, &he):
			msg := http.StatusText(he.Code)
			detail := fmt.Sprint(he.Message)
			if he.Internal != nil {
				detail = fmt.Sprintf("%s: %v", detail, he.Internal)
			}
			ae = &apiError{status: he.Code, message: msg, detail: detail}
			if he.Code == http.StatusBadRequest {
				ae.messages = []string{detail}
			}
		default:
			ae = &apiError{status: http.StatusBadRequest, message: "Bad Request", detail: err.Error(),
				messages: []string{err.Error()}}
		}
		if ae.status == StatusClientClosedRequest {
			log.DebugContext(c.Request().Context(), "client closed the request", "method", c.Request().Method,
				"path", c.Request().URL.Path, "err", ae)
		}
		if ae.status >= 500 {
			log.ErrorContext(c.Request().Context(), "request failed", "method", c.Request().Method,
				"path", c.Request().URL.Path, "status", ae.status, "err", ae)
		}
		if ae.status == http.StatusServiceUnavailable {
			c.Response().Header().Set("Retry-After", retryAfterSeconds)
		}
		if ae.status == http.StatusUnauthorized && familyOf(c.Request().URL.Path) == familyKheops {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="webhookd"`)
		}
		var body any
		if familyOf(c.Request().URL.Path) == familyKheops {
			body = kheopsBody{Message: ae.message, Detail: ae.detail}
		} else {
			body = nestShape(ae)
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(ae.status)
			return
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(body)
		_ = c.Blob(ae.status, echo.MIMEApplicationJSON, buf.Bytes())
	}
}

func nestShape(ae *apiError) nestBody {
	switch {
	case ae.status == http.StatusUnauthorized:
		return nestBody{Message: "Unauthorized", StatusCode: ae.status}
	case ae.status == http.StatusBadRequest:
		msgs := ae.messages
		if len(msgs) == 0 {
			msgs = []string{ae.detail}
		}
		return nestBody{Message: msgs, Error: "Bad Request", StatusCode: ae.status}
	case ae.status >= 500 && ae.status != http.StatusServiceUnavailable:
		return nestBody{Message: "Internal server error", Error: http.StatusText(ae.status), StatusCode: ae.status}
	default:
		msg := ae.message
		if ae.detail != "" && msg == http.StatusText(ae.status) {
			msg = ae.detail
		}
		return nestBody{Message: msg, Error: http.StatusText(ae.status), StatusCode: ae.status}
	}
}
