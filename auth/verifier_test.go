package auth

import (
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

func newLocalVerifier(t *testing.T, set jwk.Set, issuer, audience string) *Verifier {
	t.Helper()
	v, err := NewVerifier(t.Context(), VerifierConfig{LocalKeys: set, Issuer: issuer, Audience: audience})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func TestVerifyValid(t *testing.T) {
	keys := newTestKeys(t)
	v := newLocalVerifier(t, keys.set, "https://issuer.test", "webhookd")
	now := time.Now()
	base := claims(now)

	tests := []struct {
		name  string
		token string
		want  Principal
	}{
		{
			name: "all claims, client_id wins over azp",
			token: sign(t, jwa.RS256, keys.rsa, "rsa-1", with(base,
				"email", "u@example.test", "name", "User One",
				"client_id", "cli-1", "azp", "azp-1",
				"facilities", []string{"fac-a", "fac-b"},
				"scope", "webhooks:read  webhooks:write")),
			want: Principal{
				Subject: "user-1", Email: "u@example.test", Name: "User One", ClientID: "cli-1",
				Facilities: []string{"fac-a", "fac-b"}, Scopes: []string{"webhooks:read", "webhooks:write"},
			},
		},
		{
			name:  "azp fallback",
			token: sign(t, jwa.RS256, keys.rsa, "rsa-1", with(base, "azp", "azp-1")),
			want:  Principal{Subject: "user-1", ClientID: "azp-1"},
		},
		{
			name:  "sub fallback",
			token: sign(t, jwa.RS256, keys.rsa, "rsa-1", base),
			want:  Principal{Subject: "user-1", ClientID: "user-1"},
		},
		{
			name:  "scope as array",
			token: sign(t, jwa.RS256, keys.rsa, "rsa-1", with(base, "scope", []string{"a", "b:c"})),
			want:  Principal{Subject: "user-1", ClientID: "user-1", Scopes: []string{"a", "b:c"}},
		},
		{
			name:  "empty facilities array",
			token: sign(t, jwa.RS256, keys.rsa, "rsa-1", with(base, "facilities", []string{})),
			want:  Principal{Subject: "user-1", ClientID: "user-1", Facilities: []string{}},
		},
		{
			name:  "EC key",
			token: sign(t, jwa.ES256, keys.ec, "ec-1", base),
			want:  Principal{Subject: "user-1", ClientID: "user-1"},
		},
		{
			name:  "audience in a list",
			token: sign(t, jwa.RS256, keys.rsa, "rsa-1", with(base, "aud", []string{"other", "webhookd"})),
			want:  Principal{Subject: "user-1", ClientID: "user-1"},
		},
		{
			name:  "expired within clock skew",
			token: sign(t, jwa.RS256, keys.rsa, "rsa-1", with(base, "exp", now.Add(-10*time.Second).Unix())),
			want:  Principal{Subject: "user-1", ClientID: "user-1"},
		},
		{
			name:  "nbf in the past",
			token: sign(t, jwa.RS256, keys.rsa, "rsa-1", with(base, "nbf", now.Add(-time.Minute).Unix())),
			want:  Principal{Subject: "user-1", ClientID: "user-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(t.Context(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !principalEqual(got, tt.want) {
				t.Fatalf("Principal = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func principalEqual(a, b Principal) bool {
	return a.Subject == b.Subject && a.Email == b.Email && a.Name == b.Name && a.ClientID == b.ClientID &&
		slices.Equal(a.Facilities, b.Facilities) && slices.Equal(a.Scopes, b.Scopes)
}

func TestHasScope(t *testing.T) {
	p := Principal{Scopes: []string{"webhooks:read", "admin"}}
	for _, tt := range []struct {
		scope string
		want  bool
	}{{"webhooks:read", true}, {"admin", true}, {"webhooks", false}, {"", false}} {
		if got := p.HasScope(tt.scope); got != tt.want {
			t.Errorf("HasScope(%q) = %v, want %v", tt.scope, got, tt.want)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	keys := newTestKeys(t)
	v := newLocalVerifier(t, keys.set, "https://issuer.test", "webhookd")
	now := time.Now()
	base := claims(now)
	rs := func(c map[string]any) string { return sign(t, jwa.RS256, keys.rsa, "rsa-1", c) }

	pubDER, err := x509.MarshalPKIXPublicKey(&keys.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	rsaJWK, _ := keys.set.LookupKeyID("rsa-1")
	pubJSON, err := json.Marshal(rsaJWK)
	if err != nil {
		t.Fatal(err)
	}
	hs256 := func(secret []byte) string {
		return craft(t, map[string]any{"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}, base, hmacSHA256(secret))
	}
	noneHeader := b64([]byte(`{"alg":"none","kid":"rsa-1"}`))
	payload, _ := json.Marshal(base)

	tests := []struct {
		name  string
		token string
	}{
		{"expired", rs(with(base, "exp", now.Add(-2*time.Minute).Unix()))},
		{"missing exp", rs(with(base, "exp", nil))},
		{"exp of wrong type", rs(with(base, "exp", "tomorrow"))},
		{"not yet valid (nbf)", rs(with(base, "nbf", now.Add(5*time.Minute).Unix()))},
		{"issued in the future (iat)", rs(with(base, "iat", now.Add(5*time.Minute).Unix()))},
		{"wrong issuer", rs(with(base, "iss", "https://evil.test"))},
		{"missing issuer", rs(with(base, "iss", nil))},
		{"wrong audience", rs(with(base, "aud", "someone-else"))},
		{"missing audience", rs(with(base, "aud", nil))},
		{"signed by another key with the same kid", sign(t, jwa.RS256, keys.otherRSA, "rsa-1", base)},
		{"unknown kid", sign(t, jwa.RS256, keys.otherRSA, "rsa-2", base)},
		{"no kid with several keys", sign(t, jwa.RS256, keys.rsa, "", base)},
		{"EC signature under the RSA kid", sign(t, jwa.ES256, keys.ec, "rsa-1", base)},
		{"alg none, empty signature", noneHeader + "." + b64(payload) + "."},
		{"alg none, junk signature", noneHeader + "." + b64(payload) + ".AAAA"},
		{"HS256 keyed with the PEM public key", hs256(pubPEM)},
		{"HS256 keyed with the DER public key", hs256(pubDER)},
		{"HS256 keyed with the JWK JSON", hs256(pubJSON)},
		{"HS256 keyed with the modulus", hs256(keys.rsa.PublicKey.N.Bytes())},
		{
			// jws.WithKeySet would verify this with the key's RS256 and
			// accept it although the header claims RS512.
			"RS256 signature under an RS512 header",
			craft(t, map[string]any{"alg": "RS512", "kid": "rsa-1"}, base, rsaPKCS1SHA256(t, keys.rsa)),
		},
		{
			"valid PS256 signature for an RS256 key",
			sign(t, jwa.PS256, keys.rsa, "rsa-1", base),
		},
		{
			"valid RS512 signature for an RS256 key",
			craft(t, map[string]any{"alg": "RS512", "kid": "rsa-1"}, base, func(in []byte) []byte {
				sum := sha512.Sum512(in)
				sig, err := rsa.SignPKCS1v15(rand.Reader, keys.rsa, crypto.SHA512, sum[:])
				if err != nil {
					t.Fatal(err)
				}
				return sig
			}),
		},
		{"JSON serialization of a valid token", jsonSerialization(t, keys, base, nil)},
		{"JSON envelope with injected claims", jsonSerialization(t, keys, []byte(`"hello"`), map[string]any{"sub": "admin", "exp": now.Add(time.Hour).Unix()})},
		{"missing sub", rs(with(base, "sub", nil))},
		{"empty sub", rs(with(base, "sub", ""))},
		{"facilities is a string", rs(with(base, "facilities", "fac-a"))},
		{"facilities holds a number", rs(with(base, "facilities", []any{"fac-a", 7}))},
		{"facilities is an object", rs(with(base, "facilities", map[string]any{"a": "b"}))},
		{"facilities is null", rs(with(base, "facilities", rawNull{}))},
		{"scope is a number", rs(with(base, "scope", 42))},
		{"scope array holds a number", rs(with(base, "scope", []any{"a", 1}))},
		{"email is a number", rs(with(base, "email", 42))},
		{"client_id is an array", rs(with(base, "client_id", []string{"x"}))},
		{"empty string", ""},
		{"garbage", "not-a-token"},
		{"two segments", "abc.def"},
		{"four segments", "abc.def.ghi.jkl"},
		{"empty segments", ".."},
		{"bad base64", "a*b.c.d"},
		{"valid token with Bearer prefix", "Bearer " + rs(base)},
		{"valid token with trailing space", rs(base) + " "},
		{"base64 of non-JSON", b64([]byte("hello")) + "." + b64([]byte("world")) + ".AAAA"},
		{"tampered payload", func() string {
			parts := strings.Split(rs(base), ".")
			p, _ := json.Marshal(with(base, "sub", "admin"))
			return parts[0] + "." + b64(p) + "." + parts[2]
		}()},
		{"huge token", strings.Repeat("A", maxTokenLen) + ".AAAA.AAAA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tt.token)
			checkRejected(t, tt.token, err)
		})
	}
}

// TestVerifyOptionalChecks shows that iss and aud are only checked when
// configured.
func TestVerifyOptionalChecks(t *testing.T) {
	keys := newTestKeys(t)
	now := time.Now()
	token := sign(t, jwa.RS256, keys.rsa, "rsa-1", with(claims(now), "iss", "https://other.test", "aud", "other"))
	bare := sign(t, jwa.RS256, keys.rsa, "rsa-1", with(claims(now), "iss", nil, "aud", nil))

	tests := []struct {
		name             string
		issuer, audience string
		token            string
		wantOK           bool
	}{
		{"neither configured", "", "", token, true},
		{"neither configured, claims absent", "", "", bare, true},
		{"issuer configured", "https://issuer.test", "", token, false},
		{"audience configured", "", "webhookd", token, false},
		{"matching issuer and audience", "https://other.test", "other", token, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newLocalVerifier(t, keys.set, tt.issuer, tt.audience)
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

// TestVerifyInferredAlgorithm covers keys without "alg": the algorithm is
// inferred from the key type and curve, and mismatches are rejected.
func TestVerifyInferredAlgorithm(t *testing.T) {
	rsaKey := newRSA(t)
	p256 := newEC(t, elliptic.P256())
	p384 := newEC(t, elliptic.P384())
	set := jwk.NewSet()
	addPublic(t, set, &rsaKey.PublicKey, "rsa", "")
	addPublic(t, set, &p256.PublicKey, "p256", "")
	addPublic(t, set, &p384.PublicKey, "p384", "")
	v := newLocalVerifier(t, set, "", "")
	base := claims(time.Now())

	tests := []struct {
		name   string
		token  string
		wantOK bool
	}{
		{"RS256 on RSA", sign(t, jwa.RS256, rsaKey, "rsa", base), true},
		{"PS384 on RSA", sign(t, jwa.PS384, rsaKey, "rsa", base), true},
		{"ES256 on P-256", sign(t, jwa.ES256, p256, "p256", base), true},
		{"ES384 on P-384", sign(t, jwa.ES384, p384, "p384", base), true},
		{"HS256 with RSA modulus", craft(t, map[string]any{"alg": "HS256", "kid": "rsa"}, base, hmacSHA256(rsaKey.PublicKey.N.Bytes())), false},
		{"ES384 header on P-256 key", craft(t, map[string]any{"alg": "ES384", "kid": "p256"}, base, func([]byte) []byte { return make([]byte, 96) }), false},
		{"ES256 header on RSA key", sign(t, jwa.ES256, p256, "rsa", base), false},
		{"none on RSA key", craft(t, map[string]any{"alg": "none", "kid": "rsa"}, base, func([]byte) []byte { return []byte("x") }), false},
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

func TestNewVerifierRejectsBadConfig(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec := newEC(t, elliptic.P256())
	mk := func(add func(jwk.Set)) jwk.Set { s := jwk.NewSet(); add(s); return s }
	sym, err := jwk.FromRaw([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwk.FromRaw(ec)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		cfg  VerifierConfig
	}{
		{"no key source", VerifierConfig{}},
		{"empty local set", VerifierConfig{LocalKeys: jwk.NewSet()}},
		{"symmetric key", VerifierConfig{LocalKeys: mk(func(s jwk.Set) { _ = s.AddKey(sym) })}},
		{"private key", VerifierConfig{LocalKeys: mk(func(s jwk.Set) { _ = s.AddKey(priv) })}},
		{"small RSA key", VerifierConfig{LocalKeys: mk(func(s jwk.Set) { addPublic(t, s, &small.PublicKey, "k", jwa.RS256) })}},
		{"RSA key with HS256 alg", VerifierConfig{LocalKeys: mk(func(s jwk.Set) { addPublic(t, s, &ec.PublicKey, "k", jwa.HS256) })}},
		{"EC key with RS256 alg", VerifierConfig{LocalKeys: mk(func(s jwk.Set) { addPublic(t, s, &ec.PublicKey, "k", jwa.RS256) })}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewVerifier(t.Context(), tt.cfg); err == nil {
				t.Fatal("NewVerifier succeeded")
			}
		})
	}
}

// jsonSerialization signs payload (claims, or raw bytes) with the test RSA
// key in the flattened JWS JSON serialization and adds extra members to
// the envelope.
func jsonSerialization(t *testing.T, keys testKeys, payload any, extra map[string]any) string {
	t.Helper()
	raw, ok := payload.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(payload); err != nil {
			t.Fatal(err)
		}
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, "rsa-1"); err != nil {
		t.Fatal(err)
	}
	out, err := jws.Sign(raw, jws.WithJSON(), jws.WithKey(jwa.RS256, keys.rsa, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(out, &env); err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		env[k] = v
	}
	out, err = json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestJWXPitfalls pins the cases where plain jwt.Parse with
// jwt.WithKeySet (jwx v2 defaults) accepts a token that Verify must
// reject.
func TestJWXPitfalls(t *testing.T) {
	keys := newTestKeys(t)
	v := newLocalVerifier(t, keys.set, "", "")
	now := time.Now()

	tests := []struct {
		name  string
		token string
	}{
		{
			// WithKeySet verifies with the key's "alg" and ignores the
			// header's.
			name:  "RS256 signature under an RS512 header",
			token: craft(t, map[string]any{"alg": "RS512", "kid": "rsa-1"}, claims(now), rsaPKCS1SHA256(t, keys.rsa)),
		},
		{
			// jwt.Parse takes a flattened JSON JWS for a plain JWT: it
			// verifies the signature, then reads the claims from the
			// envelope, where anyone can add members. Any JWS signed by
			// the issuer becomes a token for any subject.
			name:  "claims injected into a JSON envelope",
			token: jsonSerialization(t, keys, []byte(`"hello"`), map[string]any{"sub": "admin", "exp": now.Add(time.Hour).Unix()}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := jwt.Parse([]byte(tt.token), jwt.WithKeySet(keys.set)); err == nil {
				t.Logf("plain jwt.Parse accepts it (sub %q)", tok.Subject())
			} else {
				t.Logf("plain jwt.Parse rejects it: %v", err)
			}
			_, err := v.Verify(t.Context(), tt.token)
			checkRejected(t, tt.token, err)
		})
	}
}
