package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/labstack/echo/v4"
)

// defaultRequestTimeout bounds the work of one request when Options.RequestTimeout is zero.
const defaultRequestTimeout = 10 * time.Second

// withDeadline gives every request a context that ends after d, so that a database that
// accepts connections but no longer answers cannot hold a request (and its connection) for
// long: the request's statements are cancelled and the answer is a 503 with Retry-After.
func withDeadline(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// deadlineCause marks err with the request's deadline when that deadline has passed, or with
// context.Canceled when the client cancelled the request (it closed the connection), whatever
// error the driver made of the cancellation (SQLite says "interrupted"), so that internalError
// answers 503 for the former and records a 499 (no server error) for the latter.
func deadlineCause(ctx context.Context, err error) error {
	switch cerr := ctx.Err(); {
	case errors.Is(cerr, context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w (%w)", err, context.DeadlineExceeded)
	case errors.Is(cerr, context.Canceled) && !errors.Is(err, context.Canceled):
		return fmt.Errorf("%w (%w)", err, context.Canceled)
	}
	return err
}
