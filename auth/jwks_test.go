package auth

import (
	"context"
	"crypto/elliptic"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// jwksServer serves a JWKS that the test can replace.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	hang   bool // requests wait until release is closed
	hits   atomic.Int64

	release chan struct{}
}

func newJWKSServer(t *testing.T, set jwk.Set) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK, release: make(chan struct{})}
	s.setKeys(t, set)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status, hang := s.body, s.status, s.hang
		s.mu.Unlock()
		if hang {
			select {
			case <-s.release:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.release) }) // runs before Close
	return s
}

func (s *jwksServer) setKeys(t *testing.T, set jwk.Set) {
	t.Helper()
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.setBody(body, http.StatusOK)
}

func (s *jwksServer) setBody(body []byte, status int) {
	s.mu.Lock()
	s.body, s.status = body, status
	s.mu.Unlock()
}

func TestJWKSRotation(t *testing.T) {
	t.Parallel()
	keyA := newEC(t, elliptic.P256())
	keyB := newEC(t, elliptic.P256())
	setA := jwk.NewSet()
	addPublic(t, setA, &keyA.PublicKey, "key-a", jwa.ES256)
	setB := jwk.NewSet()
	addPublic(t, setB, &keyB.PublicKey, "key-b", jwa.ES256)

	srv := newJWKSServer(t, setA)
	v, err := NewVerifier(t.Context(), VerifierConfig{
		JWKSURL:         srv.URL,
		Issuer:          "https://issuer.test",
		Audience:        "webhookd",
		RefreshInterval: time.Second,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times by NewVerifier, want 1", got)
	}

	base := claims(time.Now())
	tokA := sign(t, jwa.ES256, keyA, "key-a", base)
	tokB := sign(t, jwa.ES256, keyB, "key-b", base)

	if p, err := v.Verify(t.Context(), tokA); err != nil || p.Subject != "user-1" {
		t.Fatalf("Verify(key A) = %+v, %v", p, err)
	}
	_, err = v.Verify(t.Context(), tokB)
	checkRejected(t, tokB, err)

	// Rotate: the server now only publishes key B.
	srv.setKeys(t, setB)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := v.Verify(t.Context(), tokB); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rotated key not picked up after %d fetches", srv.hits.Load())
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, err = v.Verify(t.Context(), tokA)
	checkRejected(t, tokA, err)
}

func TestJWKSRefreshStopsWithContext(t *testing.T) {
	t.Parallel()
	key := newEC(t, elliptic.P256())
	set := jwk.NewSet()
	addPublic(t, set, &key.PublicKey, "k", jwa.ES256)
	srv := newJWKSServer(t, set)

	ctx, cancel := context.WithCancel(t.Context())
	v, err := NewVerifier(ctx, VerifierConfig{JWKSURL: srv.URL, RefreshInterval: time.Second})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	cancel()
	time.Sleep(2500 * time.Millisecond)
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times after the context ended, want 1", got)
	}
	// The last fetched keys keep working.
	if _, err := v.Verify(t.Context(), sign(t, jwa.ES256, key, "k", claims(time.Now()))); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// TestJWKSSlowRefresh checks that a refresh stuck on a slow JWKS endpoint
// does not hold up verification: the previous keys keep serving.
func TestJWKSSlowRefresh(t *testing.T) {
	t.Parallel()
	key := newEC(t, elliptic.P256())
	set := jwk.NewSet()
	addPublic(t, set, &key.PublicKey, "k", jwa.ES256)
	srv := newJWKSServer(t, set)
	v, err := NewVerifier(t.Context(), VerifierConfig{JWKSURL: srv.URL, RefreshInterval: time.Second})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	srv.mu.Lock()
	srv.hang = true
	srv.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for srv.hits.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no background refresh happened")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A refresh request is now hanging.
	token := sign(t, jwa.ES256, key, "k", claims(time.Now()))
	start := time.Now()
	if _, err := v.Verify(t.Context(), token); err != nil {
		t.Fatalf("Verify during a hanging refresh: %v", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("Verify took %v during a hanging refresh", d)
	}
}

func TestJWKSFirstFetchFails(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	tests := []struct {
		name   string
		body   string
		status int
		url    string
	}{
		{name: "server error", body: `oops`, status: http.StatusInternalServerError},
		{name: "not JSON", body: `<html>`, status: http.StatusOK},
		{name: "not a key set", body: `{"keys": 3}`, status: http.StatusOK},
		{name: "unreachable", url: downURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.url
			if url == "" {
				srv := newJWKSServer(t, jwk.NewSet())
				srv.setBody([]byte(tt.body), tt.status)
				url = srv.URL
			}
			if _, err := NewVerifier(t.Context(), VerifierConfig{JWKSURL: url}); err == nil {
				t.Fatal("NewVerifier succeeded")
			}
		})
	}
}

// TestJWKSInferredAlgorithm covers remote keys published without "alg".
func TestJWKSInferredAlgorithm(t *testing.T) {
	t.Parallel()
	rsaKey := newRSA(t)
	ecKey := newEC(t, elliptic.P256())
	set := jwk.NewSet()
	addPublic(t, set, &rsaKey.PublicKey, "rsa", "")
	addPublic(t, set, &ecKey.PublicKey, "ec", "")
	srv := newJWKSServer(t, set)
	v, err := NewVerifier(t.Context(), VerifierConfig{JWKSURL: srv.URL, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	base := claims(time.Now())

	tests := []struct {
		name   string
		token  string
		wantOK bool
	}{
		{"PS256 on RSA", sign(t, jwa.PS256, rsaKey, "rsa", base), true},
		{"ES256 on P-256", sign(t, jwa.ES256, ecKey, "ec", base), true},
		{"HS256 keyed with the RSA modulus", craft(t, map[string]any{"alg": "HS256", "kid": "rsa"}, base, hmacSHA256(rsaKey.PublicKey.N.Bytes())), false},
		{"ES384 header on P-256", craft(t, map[string]any{"alg": "ES384", "kid": "ec"}, base, func([]byte) []byte { return make([]byte, 96) }), false},
		{"ES256 signature under the RSA kid", sign(t, jwa.ES256, ecKey, "rsa", base), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tt.token)
			if tt.wantOK && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tt.wantOK {
				checkRejected(t, tt.token, err)
			}
		})
	}
}
