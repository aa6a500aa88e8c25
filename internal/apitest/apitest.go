// Package apitest starts webhookd's HTTP server on a fresh database for a test and hands out
// the generated client, with every response it receives validated against the contract.
package apitest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/delivery/deliverytest"
	"github.com/webhookd/webhookd/gen"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
)

// Env is a running server for one test.
type Env struct {
	Kind  testdb.Kind
	Store *store.Store
	// Proxy stands between the store and PostgreSQL when Options.ViaProxy is set.
	Proxy  *testdb.Proxy
	Server *httptest.Server
	key    jwk.Key
	router routers.Router
	t      testing.TB
}

// Options tune an Env.
type Options struct {
	// Store configures the store (the database fields are filled in).
	Store store.Config
	// Setup runs after the store is opened and before the server starts.
	Setup func(t testing.TB, st *store.Store)
	// Engine, when set, runs a delivery engine with this configuration (zero fields get the
	// defaults of deliverytest.Start).
	Engine *delivery.EngineConfig
	// RequestTimeout is the server's (server.Options.RequestTimeout); zero keeps its default.
	RequestTimeout time.Duration
	// ViaProxy, on PostgreSQL, connects the store through a testdb.Proxy (Env.Proxy), so a
	// test can cut the database off and bring it back.
	ViaProxy bool
	// Logger, when set, receives the server's logs (by default they are discarded, or shown
	// from level WARN with -v).
	Logger *slog.Logger
	// Server, when set, adjusts the server's options (observer, metrics...) before the
	// server is built.
	Server func(o *server.Options)
}

// New starts a server on a fresh database of the given kind.
func New(t testing.TB, kind testdb.Kind, opts Options) *Env {
	t.Helper()
	var st *store.Store
	var proxy *testdb.Proxy
	if opts.ViaProxy {
		if kind != testdb.Postgres {
			t.Fatalf("apitest: ViaProxy needs PostgreSQL, not %s", kind)
		}
		st, proxy = testdb.OpenViaProxy(t, opts.Store)
	} else {
		st = testdb.Open(t, kind, opts.Store)
	}
	if opts.Setup != nil {
		opts.Setup(t, st)
	}
	var engine *delivery.Engine
	if opts.Engine != nil {
		engine = deliverytest.Start(t, st, *opts.Engine)
	}
	key, err := auth.LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	set, err := auth.PublicKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{LocalKeys: set})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if opts.Logger != nil {
		log = opts.Logger
	}
	so := server.Options{Store: st, Verifier: v, Logger: log, RequestTimeout: opts.RequestTimeout}
	if engine != nil {
		so.Engine = engine
	}
	if opts.Server != nil {
		opts.Server(&so)
	}
	h, err := server.New(so).Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	spec.Servers = openapi3.Servers{{URL: srv.URL}}
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Kind: kind, Store: st, Proxy: proxy, Server: srv, key: key, router: router, t: t}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// Token returns a development token for req (TTL defaults to one hour).
func (e *Env) Token(req auth.TokenRequest) string {
	e.t.Helper()
	return e.TokenIssuedAt(req, time.Now())
}

// TokenIssuedAt returns a development token issued at the given time (to make expired ones).
func (e *Env) TokenIssuedAt(req auth.TokenRequest, at time.Time) string {
	e.t.Helper()
	if req.TTL == 0 {
		req.TTL = time.Hour
	}
	tok, err := auth.IssueToken(e.key, req, at)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// Client returns the generated client calling the server with the given bearer token ("" for
// none). Every response is validated against the contract; a violation fails the test.
func (e *Env) Client(token string) *gen.ClientWithResponses {
	e.t.Helper()
	c, err := gen.NewClientWithResponses(e.Server.URL,
		gen.WithHTTPClient(&http.Client{Transport: &validatingTransport{env: e}}),
		gen.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
			return nil
		}))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// HTTPClient returns a plain client whose responses are validated against the contract, for
// requests the generated client cannot make (malformed bodies, repeated form keys).
func (e *Env) HTTPClient() *http.Client {
	return &http.Client{Transport: &validatingTransport{env: e}}
}

// newRequest builds a request to the test server with a Content-Type when not empty.
func (e *Env) newRequest(method, path, contentType, body string) *http.Request {
	e.t.Helper()
	req, err := http.NewRequest(method, e.Server.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// Do sends a request through the contract-validating client, with a bearer token and a
// Content-Type when not empty, and returns the response with its whole body read.
func (e *Env) Do(method, path, token, contentType, body string) (*http.Response, []byte) {
	e.t.Helper()
	req := e.newRequest(method, path, contentType, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.HTTPClient().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res, b
}

// ContractAllows validates a request against the contract without sending it: nil when the
// contract allows it, else what is wrong with it.
func (e *Env) ContractAllows(method, path, contentType, body string) error {
	e.t.Helper()
	req := e.newRequest(method, path, contentType, body)
	route, params, err := e.router.FindRoute(req)
	if err != nil {
		e.t.Fatalf("%s %s is no operation of the contract: %v", method, path, err)
	}
	return openapi3filter.ValidateRequest(req.Context(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}})
}

// validatingTransport checks every response against the operation it answers, and the request
// of every 2xx answer against the contract: a request the server accepted must be one the
// contract allows (else the schema is stricter than the server, or the server laxer than the
// schema, and generated clients or validating proxies refuse what the server takes).
type validatingTransport struct{ env *Env }

func (v *validatingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var reqBody []byte
	if r.Body != nil {
		reqBody, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))

	route, params, err := v.env.router.FindRoute(r)
	if err != nil {
		// Not an operation of the contract (or an unknown path): nothing to validate against.
		return resp, nil
	}
	vr := r.Clone(r.Context())
	vr.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if err := openapi3filter.ValidateResponse(r.Context(), out); err != nil {
		v.env.t.Errorf("%s %s answered %d, which the contract does not allow: %v\nbody: %s",
			r.Method, r.URL.Path, resp.StatusCode, err, body)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		stated := asContractStates(r.Header.Get("Content-Type"), reqBody)
		// kin-openapi reads the body more than once, through GetBody.
		vr.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(stated)), nil }
		vr.Body, _ = vr.GetBody()
		in.Options = &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
		if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
			v.env.t.Errorf("%s %s was answered %d, but the contract does not allow the request: %v\nrequest body: %s",
				r.Method, r.URL.String(), resp.StatusCode, err, reqBody)
		}
	}
	return resp, nil
}

// kheopsEventKeys are the form keys that hold Kheops event names, which the server matches
// case-insensitively (and trims) while the contract lists them in lower case.
var kheopsEventKeys = regexp.MustCompile(`^(event|add_event|remove_event)(\[\d*\])?$`)

// asContractStates rewrites a request body the server accepted into the form the contract
// states, for the leniencies the contract documents and the validator cannot express:
//   - a body of white space only is no body;
//   - form event names in any case (and padded) are the lower-case values of the enum;
//   - a form key sent once with an empty value (event= clears the list, secret= removes the
//     secret) is left out: kin-openapi decodes such a value as null, not as the empty string.
func asContractStates(contentType string, body []byte) []byte {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(contentType); mt != "application/x-www-form-urlencoded" {
		return body
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return body
	}
	for k, vs := range values {
		if len(vs) == 1 && vs[0] == "" {
			delete(values, k)
			continue
		}
		if kheopsEventKeys.MatchString(k) {
			for i, v := range vs {
				vs[i] = strings.ToLower(strings.TrimSpace(v))
			}
		}
	}
	return []byte(values.Encode())
}
