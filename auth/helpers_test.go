package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// testKeys are the keys shared by the verification tests. Generating RSA
// keys is slow, so each test builds them once.
type testKeys struct {
	rsa      *rsa.PrivateKey // kid "rsa-1", alg RS256
	ec       *ecdsa.PrivateKey
	otherRSA *rsa.PrivateKey // not in any set
	set      jwk.Set         // public halves of rsa and ec
}

func newTestKeys(t *testing.T) testKeys {
	t.Helper()
	k := testKeys{
		rsa:      newRSA(t),
		ec:       newEC(t, elliptic.P256()),
		otherRSA: newRSA(t),
	}
	k.set = jwk.NewSet()
	addPublic(t, k.set, &k.rsa.PublicKey, "rsa-1", jwa.RS256)
	addPublic(t, k.set, &k.ec.PublicKey, "ec-1", jwa.ES256)
	return k
}

func newRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newEC(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// publicJWK wraps a raw public key as a JWK with the given kid and alg
// (alg may be empty).
func publicJWK(t *testing.T, raw any, kid string, alg jwa.SignatureAlgorithm) jwk.Key {
	t.Helper()
	key, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	if alg != "" {
		if err := key.Set(jwk.AlgorithmKey, alg); err != nil {
			t.Fatal(err)
		}
	}
	return key
}

func addPublic(t *testing.T, set jwk.Set, raw any, kid string, alg jwa.SignatureAlgorithm) {
	t.Helper()
	if err := set.AddKey(publicJWK(t, raw, kid, alg)); err != nil {
		t.Fatal(err)
	}
}

// claims returns a valid claim set for "user-1", valid for an hour.
func claims(now time.Time) map[string]any {
	return map[string]any{
		"sub": "user-1",
		"iss": "https://issuer.test",
		"aud": "webhookd",
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// with returns a copy of c with the given claims set (nil value deletes).
func with(c map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(c))
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		name := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, name)
			continue
		}
		out[name] = kv[i+1]
	}
	return out
}

// rawNull marks a claim that must be serialized as JSON null.
type rawNull struct{}

func (rawNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// sign produces a compact JWS of c with jwx, using a raw key and an
// explicit kid header (empty: none).
func sign(t *testing.T, alg jwa.SignatureAlgorithm, key any, kid string, c map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	hdr := jws.NewHeaders()
	if kid != "" {
		if err := hdr.Set(jws.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		t.Fatal(err)
	}
	out, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// craft assembles a compact token by hand, so that the header may lie
// about the algorithm; signer gets the signing input.
func craft(t *testing.T, header, c map[string]any, signer func(input []byte) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(h) + "." + b64(p)
	return input + "." + b64(signer([]byte(input)))
}

func hmacSHA256(secret []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(input)
		return m.Sum(nil)
	}
}

func rsaPKCS1SHA256(t *testing.T, k *rsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		sum := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

// checkRejected asserts err wraps ErrInvalidToken and does not leak the
// token or any of its segments.
func checkRejected(t *testing.T, token string, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("Verify accepted the token")
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("error %q does not wrap ErrInvalidToken", err)
	}
	msg := err.Error()
	t.Logf("rejected: %s", msg)
	for _, part := range append([]string{token}, strings.Split(token, ".")...) {
		if len(part) >= 8 && strings.Contains(msg, part) {
			t.Fatalf("error %q leaks token material %q", msg, part)
		}
	}
}
