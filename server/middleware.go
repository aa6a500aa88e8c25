package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/store"
)

// TokenVerifier verifies bearer tokens.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (auth.Principal, error)
}

type principalKey struct{}

// principal returns the authenticated caller of a request.
func principal(ctx context.Context) auth.Principal {
	p, _ := ctx.Value(principalKey{}).(auth.Principal)
	return p
}

// publicPath tells which paths need no token.
func publicPath(path string) bool {
	return path == "/healthz" || path == "/livez" || path == "/readyz" || path == "/metrics" ||
		path == "/openapi.yaml" || path == "/openapi.json" || path == "/docs" || strings.HasPrefix(path, "/docs/") ||
		path == "/riverui" || strings.HasPrefix(path, "/riverui/")
}

// authenticate verifies the bearer token of every API request and provisions its user.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if publicPath(r.URL.Path) {
			return next(c)
		}
		h := r.Header.Get(echo.HeaderAuthorization)
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return kheopsError(http.StatusUnauthorized, "Unauthorized", "a bearer token is required (Authorization: Bearer <JWT>)")
		}
		p, err := s.verifier.Verify(r.Context(), strings.TrimSpace(token))
		if err == nil && !principalOK(p) {
			err = errors.New("a claim holds NUL characters or invalid UTF-8")
		}
		if err != nil {
			// The reason only: Verify's errors never hold the token.
			s.log.InfoContext(r.Context(), "token rejected", "method", r.Method, "path", r.URL.Path, "reason", err.Error())
			return kheopsError(http.StatusUnauthorized, "Unauthorized", "the bearer token is not valid")
		}
		if err := s.users.provision(r.Context(), s.store, p); err != nil {
			return internalError(deadlineCause(r.Context(), err))
		}
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
		return next(c)
	}
}

// storableText rejects requests whose path or query values are not valid UTF-8 or hold NUL
// characters: no parameter can be such text, and PostgreSQL can neither store nor compare it
// (the query would fail). Kheops forms are checked by kheopsForms (forms.go). The facility family's only
// path parameters are webhook ids, which are answered 404 when they are not UUIDs, and its only
// query parameters are those of GET /logs; its JSON bodies are checked by their own validation.
func storableText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		kheops := familyOf(r.URL.Path) == familyKheops
		bad := kheops && !textOK(r.URL.Path)
		if kheops || r.URL.Path == logsPath {
			for _, vs := range r.URL.Query() {
				bad = bad || !allTextOK(vs)
			}
		}
		if bad {
			return badInput(r.URL.Path, "parameters must be UTF-8 text without NUL characters")
		}
		return next(c)
	}
}

func badInput(path, msg string) *apiError {
	if familyOf(path) == familyNest {
		return nestValidation([]string{msg})
	}
	return badRequest("%s", msg)
}

func textOK(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func allTextOK(vs []string) bool {
	for _, v := range vs {
		if !textOK(v) {
			return false
		}
	}
	return true
}

// principalOK tells whether the claims a request is served under can be stored.
func principalOK(p auth.Principal) bool {
	return textOK(p.Subject) && textOK(p.Email) && textOK(p.Name) && textOK(p.ClientID) && allTextOK(p.Facilities)
}

// userCache remembers the users already provisioned with their current email and name, so a
// token's user is written once, not on every request. It is bounded: when full it is cleared.
type userCache struct {
	mu   sync.Mutex
	seen map[string]string
}

const userCacheSize = 10000

func (u *userCache) provision(ctx context.Context, st *store.Store, p auth.Principal) error {
	key := p.Email + "\x00" + p.Name
	u.mu.Lock()
	known := u.seen[p.Subject] == key
	u.mu.Unlock()
	if known {
		return nil
	}
	if err := st.ProvisionUser(ctx, store.User{Sub: p.Subject, Email: p.Email, Name: p.Name}); err != nil {
		return err
	}
	u.mu.Lock()
	if u.seen == nil || len(u.seen) >= userCacheSize {
		u.seen = make(map[string]string)
	}
	u.seen[p.Subject] = key
	u.mu.Unlock()
	return nil
}

// kheopsNegotiation enforces Kheops' media types: an Accept header must allow JSON (406) and
// POST and PATCH bodies must be form-encoded (415). A PATCH with no body (or an empty one),
// whatever its Content-Type, is an empty form: the body of PATCH is optional, and generated
// clients send none when no field is set.
func kheopsNegotiation(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if familyOf(r.URL.Path) != familyKheops || publicPath(r.URL.Path) {
			return next(c)
		}
		if accept := r.Header.Get(echo.HeaderAccept); accept != "" && !acceptsJSON(accept) {
			return kheopsError(http.StatusNotAcceptable, "Not Acceptable", "responses are application/json; the Accept header excludes it")
		}
		// A body must be a form. A request without one may omit the type (resend reads none), and
		// a PATCH with no body or an empty one is an empty form whatever its type.
		noBody := emptyBody(r)
		noBody = noBody && (r.Method == http.MethodPatch || r.Header.Get(echo.HeaderContentType) == "")
		if (r.Method == http.MethodPost || r.Method == http.MethodPatch) && !noBody {
			mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
			if err != nil || mt != echo.MIMEApplicationForm {
				return kheopsError(http.StatusUnsupportedMediaType, "Unsupported Media Type",
					"the request body must be application/x-www-form-urlencoded")
			}
		}
		return next(c)
	}
}

// emptyBody tells whether a request has no body, reading at most one byte of it (which is put
// back): a chunked request does not say its length.
func emptyBody(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return true
	}
	var b [1]byte
	n, _ := io.ReadFull(r.Body, b[:])
	if n == 0 {
		return true
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b[:n]), r.Body), r.Body}
	return false
}

// acceptsJSON tells whether an Accept header allows application/json.
func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
				continue
			}
		}
		if mt == "application/json" || mt == "application/*" || mt == "*/*" {
			return true
		}
	}
	return false
}

// strictErrors turns every error a handler returns into an apiError: domain errors were already
// mapped by the handler; anything else is unexpected and becomes a logged 500.
func strictErrors(f gen.StrictHandlerFunc, operationID string) gen.StrictHandlerFunc {
	return func(c echo.Context, request any) (any, error) {
		resp, err := f(c, request)
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) {
				err = internalError(deadlineCause(c.Request().Context(), err))
			}
		}
		return resp, err
	}
}
