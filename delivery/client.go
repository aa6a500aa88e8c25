package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout is the whole-request timeout used when ClientConfig.Timeout
// is not positive.
const DefaultTimeout = 15 * time.Second

// MaxResponseBody is the most ReadLimitedBody reads from a response body
// (64 KiB); the rest is not kept.
const MaxResponseBody = 64 << 10

// ClientConfig configures NewHTTPClient.
type ClientConfig struct {
	// Timeout bounds a whole request: connecting, TLS, sending, waiting
	// for the response and reading its body until it is closed. Zero or
	// negative means DefaultTimeout.
	Timeout time.Duration
	// Policy decides which addresses may be connected to.
	Policy TargetPolicy
	// TLSConfig, when not nil, is cloned and used for https targets
	// (e.g. to trust a test CA); nil means Go's defaults.
	TLSConfig *tls.Config
	// UserAgent is set on requests that carry no User-Agent; empty leaves
	// Go's default.
	UserAgent string
}

// TimeoutError reports a request that ran out of its ClientConfig.Timeout.
// errors.Is(err, context.DeadlineExceeded) holds for it.
type TimeoutError struct {
	// After is the timeout that expired.
	After time.Duration
	// Err is the error the transport or body reported when it expired.
	Err error
}

// Error returns e.g. "timeout after 15s".
func (e *TimeoutError) Error() string { return "timeout after " + e.After.String() }

// Unwrap returns the underlying error.
func (e *TimeoutError) Unwrap() error { return e.Err }

// Is reports whether target is context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// Timeout reports true, as net.Error timeouts do.
func (e *TimeoutError) Timeout() bool { return true }

// NewHTTPClient returns the client deliveries are sent with. It connects
// through Dialer (so cfg.Policy is enforced on every resolved and connected
// address), never uses a proxy (environment variables are ignored), does not
// follow redirects (a 3xx response is returned as it is) and applies
// cfg.Timeout to each whole request. The timeout is enforced by the client's
// transport through the request context, up to the closing of the response
// body, so errors carry the duration (*TimeoutError, "timeout after 15s");
// the returned client's own Timeout field is therefore left at zero.
func NewHTTPClient(cfg ClientConfig) *http.Client {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var tlsConfig *tls.Config
	if cfg.TLSConfig != nil {
		tlsConfig = cfg.TLSConfig.Clone()
	}
	dialer := &Dialer{Policy: cfg.Policy}
	base := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        tlsConfig,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           1000,
		MaxIdleConnsPerHost:    100, // as many as the workers that may target one receiver
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  1 * time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	return &http.Client{
		Transport: &transport{base: base, timeout: timeout, userAgent: cfg.UserAgent},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// transport adds the whole-request timeout and the User-Agent to base.
type transport struct {
	base      *http.Transport
	timeout   time.Duration
	userAgent string
}

// RoundTrip sends req with a deadline of t.timeout, released when the
// response body is closed.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	cause := &TimeoutError{After: t.timeout, Err: context.DeadlineExceeded}
	ctx, cancel := context.WithTimeoutCause(req.Context(), t.timeout, cause)
	out := req.Clone(ctx)
	if t.userAgent != "" && out.Header.Get("User-Agent") == "" {
		out.Header.Set("User-Agent", t.userAgent)
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		err = timeoutErr(ctx, cause, err)
		cancel()
		return nil, err
	}
	resp.Body = &timeoutBody{ReadCloser: resp.Body, ctx: ctx, cause: cause, cancel: cancel}
	return resp, nil
}

// CloseIdleConnections closes the underlying transport's idle connections.
func (t *transport) CloseIdleConnections() { t.base.CloseIdleConnections() }

// timeoutErr returns err as a *TimeoutError when ctx ended because of cause.
func timeoutErr(ctx context.Context, cause *TimeoutError, err error) error {
	if ctx.Err() != nil && context.Cause(ctx) == error(cause) {
		return &TimeoutError{After: cause.After, Err: err}
	}
	return err
}

// timeoutBody reports read errors caused by the request timeout as
// *TimeoutError and releases the request context on Close.
type timeoutBody struct {
	io.ReadCloser
	ctx    context.Context
	cause  *TimeoutError
	cancel context.CancelFunc
}

func (b *timeoutBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = timeoutErr(b.ctx, b.cause, err)
	}
	return n, err
}

func (b *timeoutBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// ReadLimitedBody reads at most MaxResponseBody bytes from r (a response
// body) and returns them; a longer body is cut there without error. It does
// not drain or close r: the caller must still close the body (draining a
// bounded amount first if it wants the connection reused). On a read error it
// returns what it read so far together with the error.
func ReadLimitedBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxResponseBody))
	if err != nil {
		return b, fmt.Errorf("read response body: %w", err)
	}
	return b, nil
}

// DescribeError turns an error from sending a request (or reading its
// response) into a short reason for the attempt log, e.g.
// "target refused: address 127.0.0.1 is loopback", "timeout after 15s",
// "connection refused", "TLS: certificate signed by unknown authority" or
// "DNS: no such host". Errors it does not recognise are reported by their
// innermost message, without the "Post <url>:" and "dial tcp <addr>:"
// prefixes. It returns "" for a nil error.
func DescribeError(err error) string {
	if err == nil {
		return ""
	}
	var refused *RefusedError
	if errors.As(err, &refused) {
		return refused.Error()
	}
	if errors.Is(err, ErrTargetRefused) {
		return innermost(err)
	}
	var timeout *TimeoutError
	if errors.As(err, &timeout) {
		return timeout.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		switch {
		case dnsErr.IsNotFound:
			return "DNS: no such host"
		case dnsErr.IsTimeout:
			return "DNS: timeout"
		default:
			return "DNS: " + dnsErr.Err
		}
	}
	if reason, ok := describeTLS(err); ok {
		return "TLS: " + reason
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before a complete response"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timeout"
	}
	return innermost(err)
}

// describeTLS recognises certificate and handshake errors.
func describeTLS(err error) (string, bool) {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verification *tls.CertificateVerificationError
	var recordHeader tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &unknownAuthority):
		return "certificate signed by unknown authority", true
	case errors.As(err, &hostname):
		return strings.TrimPrefix(hostname.Error(), "x509: "), true
	case errors.As(err, &invalid):
		return strings.TrimPrefix(invalid.Error(), "x509: "), true
	case errors.As(err, &verification):
		return strings.TrimPrefix(verification.Err.Error(), "x509: "), true
	case errors.As(err, &recordHeader):
		return "the server did not answer with TLS", true
	case errors.As(err, &alert):
		return strings.TrimPrefix(alert.Error(), "tls: "), true
	}
	return "", false
}

// innermost strips the *url.Error, *net.OpError and *os.SyscallError layers
// from err and returns the message of what is left.
func innermost(err error) string {
	for {
		var urlErr *url.Error
		var opErr *net.OpError
		var sysErr *os.SyscallError
		switch {
		case errors.As(err, &urlErr) && urlErr.Err != nil:
			err = urlErr.Err
		case errors.As(err, &opErr) && opErr.Err != nil:
			err = opErr.Err
		case errors.As(err, &sysErr) && sysErr.Err != nil:
			err = sysErr.Err
		default:
			return err.Error()
		}
	}
}
