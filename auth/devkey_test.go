package auth

import (
	"crypto"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestLoadOrCreateDevKey(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data", "nested")

	first, err := LoadOrCreateDevKey(dataDir)
	if err != nil {
		t.Fatalf("first LoadOrCreateDevKey: %v", err)
	}

	path := filepath.Join(dataDir, "dev-signing-key.jwk")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %v, want 0600", mode)
	}
	di, err := os.Stat(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if mode := di.Mode().Perm(); mode != 0o700 {
		t.Errorf("data dir mode = %v, want 0700", mode)
	}

	ec, ok := first.(jwk.ECDSAPrivateKey)
	if !ok || ec.Crv() != jwa.P256 {
		t.Fatalf("key is %T, want an ECDSA P-256 private key", first)
	}
	if alg := first.Algorithm(); alg != jwa.ES256 {
		t.Errorf("alg = %q, want ES256", alg)
	}
	tp, err := first.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.RawURLEncoding.EncodeToString(tp); first.KeyID() != want {
		t.Errorf("kid = %q, want thumbprint %q", first.KeyID(), want)
	}

	// The stored file is the key, private part included.
	stored, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(stored, &fields); err != nil {
		t.Fatalf("key file is not JSON: %v", err)
	}
	for _, f := range []string{"kty", "crv", "x", "y", "d", "kid", "alg"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("key file lacks %q", f)
		}
	}

	second, err := LoadOrCreateDevKey(dataDir)
	if err != nil {
		t.Fatalf("second LoadOrCreateDevKey: %v", err)
	}
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(second)
	if string(a) != string(b) {
		t.Fatalf("reloaded key differs:\n%s\n%s", a, b)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(stored) {
		t.Fatal("second call rewrote the key file")
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("data dir holds %d entries, want only the key file", len(entries))
	}
}

func TestLoadOrCreateDevKeyRejectsBadFile(t *testing.T) {
	rsaKey, err := jwk.FromRaw(newRSA(t))
	if err != nil {
		t.Fatal(err)
	}
	rsaJSON, err := json.Marshal(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPub, err := jwk.FromRaw(&newEC(t, elliptic.P256()).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubJSON, err := json.Marshal(ecPub)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		content []byte
	}{
		{"garbage", []byte("not json")},
		{"RSA key", rsaJSON},
		{"public key only", pubJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "dev-signing-key.jwk"), tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadOrCreateDevKey(dir); err == nil {
				t.Fatal("LoadOrCreateDevKey accepted the file")
			}
		})
	}
}

func TestPublicKeySet(t *testing.T) {
	priv, err := LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	set, err := PublicKeySet(priv)
	if err != nil {
		t.Fatalf("PublicKeySet: %v", err)
	}
	if set.Len() != 1 {
		t.Fatalf("set has %d keys, want 1", set.Len())
	}
	pub, _ := set.Key(0)
	if _, ok := pub.(jwk.ECDSAPublicKey); !ok {
		t.Fatalf("key is %T, want a public ECDSA key", pub)
	}
	if _, isPrivate := pub.(jwk.ECDSAPrivateKey); isPrivate {
		t.Fatal("set holds the private key")
	}
	if pub.KeyID() != priv.KeyID() || pub.Algorithm() != jwa.ES256 {
		t.Fatalf("public key kid/alg = %q/%q, want %q/ES256", pub.KeyID(), pub.Algorithm(), priv.KeyID())
	}
	raw, _ := json.Marshal(set)
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Keys[0]["d"]; ok {
		t.Fatal(`public set leaks "d"`)
	}

	sym, err := jwk.FromRaw([]byte("secret-secret-secret-secret-1234"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PublicKeySet(sym); err == nil {
		t.Fatal("PublicKeySet accepted a symmetric key")
	}
}
