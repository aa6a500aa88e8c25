package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

var loopbackPolicy = TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

func TestClientRefusesLoopbackWithoutAllowlist(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()

	_, err := NewHTTPClient(ClientConfig{}).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if !errors.Is(err, ErrTargetRefused) {
		t.Fatalf("Post = %v, want refused", err)
	}
	if got, want := DescribeError(err), "target refused: address 127.0.0.1 is loopback"; got != want {
		t.Fatalf("DescribeError = %q, want %q", got, want)
	}
	if Classify(0, err) != Retry {
		t.Errorf("Classify(refused) != Retry")
	}
	if hits != 0 {
		t.Fatalf("server was reached %d times", hits)
	}
}

func TestClientReachesAllowedTarget(t *testing.T) {
	var gotUA, gotSig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUA = r.Header.Get("User-Agent")
		gotSig = r.Header.Get(HeaderKheopsSignature)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	client := NewHTTPClient(ClientConfig{Policy: loopbackPolicy, UserAgent: "webhookd-test/1"})
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	req.Header.Set(HeaderKheopsSignature, KheopsSignature("s", []byte("{}")))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || Classify(resp.StatusCode, nil) != Success {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if gotUA != "webhookd-test/1" {
		t.Errorf("User-Agent = %q", gotUA)
	}
	if !VerifyKheops("s", []byte("{}"), gotSig) {
		t.Errorf("signature header not received")
	}
	if req.Header.Get("User-Agent") != "" {
		t.Errorf("the caller's request was modified")
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	followed := false
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { followed = true })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := NewHTTPClient(ClientConfig{Policy: loopbackPolicy}).Post(srv.URL+"/hook", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/elsewhere" {
		t.Fatalf("got %d Location %q, want the 302 itself", resp.StatusCode, resp.Header.Get("Location"))
	}
	if followed {
		t.Fatal("redirect was followed")
	}
	if Classify(resp.StatusCode, nil) != Retry {
		t.Errorf("Classify(302) != Retry")
	}
}

func TestClientIgnoresProxyEnvironment(t *testing.T) {
	client := NewHTTPClient(ClientConfig{})
	tr, ok := client.Transport.(*transport)
	if !ok {
		t.Fatalf("Transport is %T", client.Transport)
	}
	if tr.base.Proxy != nil {
		t.Fatal("transport uses a proxy function")
	}
	if tr.timeout != DefaultTimeout {
		t.Errorf("default timeout = %s, want %s", tr.timeout, DefaultTimeout)
	}
}

func TestReadLimitedBody(t *testing.T) {
	tests := []struct {
		size, want int
	}{
		{0, 0},
		{10, 10},
		{MaxResponseBody, MaxResponseBody},
		{MaxResponseBody + 1, MaxResponseBody},
		{1 << 20, MaxResponseBody},
	}
	for _, tt := range tests {
		got, err := ReadLimitedBody(bytes.NewReader(bytes.Repeat([]byte("x"), tt.size)))
		if err != nil || len(got) != tt.want {
			t.Errorf("ReadLimitedBody(%d bytes) = %d bytes, %v; want %d", tt.size, len(got), err, tt.want)
		}
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("y"), 1<<20))
	}))
	defer srv.Close()
	resp, err := NewHTTPClient(ClientConfig{Policy: loopbackPolicy}).Get(srv.URL)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer resp.Body.Close()
	body, err := ReadLimitedBody(resp.Body)
	if err != nil || len(body) != MaxResponseBody {
		t.Fatalf("ReadLimitedBody(response) = %d bytes, %v", len(body), err)
	}
}

func TestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	mux := http.NewServeMux()
	mux.HandleFunc("/slow-headers", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := NewHTTPClient(ClientConfig{Policy: loopbackPolicy, Timeout: 100 * time.Millisecond})

	start := time.Now()
	_, err := client.Get(srv.URL + "/slow-headers")
	if err == nil {
		t.Fatal("slow server: no error")
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("timeout took %s", elapsed)
	}
	if got := DescribeError(err); got != "timeout after 100ms" {
		t.Errorf("DescribeError = %q (from %v), want %q", got, err, "timeout after 100ms")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v is not context.DeadlineExceeded", err)
	}

	resp, err := client.Get(srv.URL + "/slow-body")
	if err != nil {
		t.Fatalf("slow body: headers should arrive in time: %v", err)
	}
	defer resp.Body.Close()
	body, err := ReadLimitedBody(resp.Body)
	if string(body) != "partial" {
		t.Errorf("body so far = %q", body)
	}
	if got := DescribeError(err); got != "timeout after 100ms" {
		t.Errorf("DescribeError(body read) = %q (from %v)", got, err)
	}
}

func TestClientTransportErrors(t *testing.T) {
	// Connection refused: a port that was just closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	ln.Close()
	client := NewHTTPClient(ClientConfig{Policy: loopbackPolicy})
	if _, err := client.Get(closedURL); DescribeError(err) != "connection refused" {
		t.Errorf("closed port: DescribeError = %q (from %v)", DescribeError(err), err)
	}

	// TLS with a certificate the client does not trust.
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	_, err = client.Get(tlsSrv.URL)
	if got := DescribeError(err); got != "TLS: certificate signed by unknown authority" {
		t.Errorf("untrusted TLS: DescribeError = %q (from %v)", got, err)
	}
	// And trusted through ClientConfig.TLSConfig.
	pool := x509.NewCertPool()
	pool.AddCert(tlsSrv.Certificate())
	trusting := NewHTTPClient(ClientConfig{Policy: loopbackPolicy, TLSConfig: &tls.Config{RootCAs: pool}})
	resp, err := trusting.Get(tlsSrv.URL)
	if err != nil {
		t.Fatalf("trusted TLS: %v", err)
	}
	resp.Body.Close()

	// An https URL on a plain HTTP server.
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	_, err = client.Get(strings.Replace(plain.URL, "http://", "https://", 1))
	if got := DescribeError(err); got != "http: server gave HTTP response to HTTPS client" {
		t.Errorf("https to plain HTTP: DescribeError = %q (from %v)", got, err)
	}
}

func TestDescribeError(t *testing.T) {
	wrap := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://hooks.example/x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: err}}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"refused", wrap(&RefusedError{Addr: netip.MustParseAddr("127.0.0.1"), Reason: "loopback"}), "target refused: address 127.0.0.1 is loopback"},
		{"refused via host", wrap(&RefusedError{Host: "h.example", Addr: netip.MustParseAddr("10.0.0.1"), Reason: "private (RFC 1918)"}), "target refused: host h.example: address 10.0.0.1 is private (RFC 1918)"},
		{"timeout", &url.Error{Op: "Post", URL: "u", Err: &TimeoutError{After: 15 * time.Second, Err: context.DeadlineExceeded}}, "timeout after 15s"},
		{"dns not found", wrap(&net.DNSError{Err: "no such host", Name: "nope.invalid", IsNotFound: true}), "DNS: no such host"},
		{"dns timeout", wrap(&net.DNSError{Err: "i/o timeout", Name: "x", IsTimeout: true}), "DNS: timeout"},
		{"dns other", wrap(&net.DNSError{Err: "server misbehaving", Name: "x"}), "DNS: server misbehaving"},
		{"connection refused", wrap(os.NewSyscallError("connect", syscall.ECONNREFUSED)), "connection refused"},
		{"connection reset", wrap(os.NewSyscallError("read", syscall.ECONNRESET)), "connection reset by peer"},
		{"unknown authority", &url.Error{Op: "Post", URL: "u", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}, "TLS: certificate signed by unknown authority"},
		{"hostname mismatch", &url.Error{Op: "Post", URL: "u", Err: x509.HostnameError{Certificate: &x509.Certificate{DNSNames: []string{"a.example"}}, Host: "b.example"}}, "TLS: certificate is valid for a.example, not b.example"},
		{"canceled", &url.Error{Op: "Post", URL: "u", Err: context.Canceled}, "canceled"},
		{"caller deadline", &url.Error{Op: "Post", URL: "u", Err: context.DeadlineExceeded}, "timeout"},
		{"EOF", &url.Error{Op: "Post", URL: "u", Err: io.EOF}, "connection closed before a complete response"},
		{"other", &url.Error{Op: "Post", URL: "u", Err: errors.New(`unsupported protocol scheme "ftp"`)}, `unsupported protocol scheme "ftp"`},
		{"wrapped other", fmt.Errorf("attempt 2: %w", wrap(errors.New("weird"))), "weird"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DescribeError(tt.err); got != tt.want {
				t.Fatalf("DescribeError(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}
