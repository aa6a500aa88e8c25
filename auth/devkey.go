package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// DevKeyFile is the name of the development signing key inside the data
// directory.
const DevKeyFile = "dev-signing-key.jwk"

// LoadOrCreateDevKey returns the development signing key kept at
// <dataDir>/dev-signing-key.jwk: an ECDSA P-256 private JWK with alg ES256
// and its RFC 7638 thumbprint as kid. When the file is missing, a new key
// is generated and written with mode 0600 (creating dataDir with mode 0700
// if needed); otherwise the stored key is loaded.
func LoadOrCreateDevKey(dataDir string) (jwk.Key, error) {
	path := filepath.Join(dataDir, DevKeyFile)

	key, err := loadDevKey(path)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: creating data directory: %w", err)
	}
	key, err = newDevKey()
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(key)
	if err != nil {
		return nil, fmt.Errorf("auth: encoding development key: %w", err)
	}
	created, err := writeNewFile(path, data)
	if err != nil {
		return nil, fmt.Errorf("auth: writing development key: %w", err)
	}
	if !created {
		// Another process created the key first: use that one.
		return loadDevKey(path)
	}
	return key, nil
}

// loadDevKey reads and checks a stored development key. A missing file
// yields an error wrapping fs.ErrNotExist.
func loadDevKey(path string) (jwk.Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("auth: reading development key: %w", err)
	}
	key, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("auth: parsing development key %s: %w", path, err)
	}
	ec, ok := key.(jwk.ECDSAPrivateKey)
	if !ok || ec.Crv() != jwa.P256 {
		return nil, fmt.Errorf("auth: development key %s is not an ECDSA P-256 private key", path)
	}
	if alg := key.Algorithm().String(); alg != "" && alg != jwa.ES256.String() {
		return nil, fmt.Errorf("auth: development key %s has alg %q, want ES256", path, alg)
	}
	if err := setDevKeyHeaders(key); err != nil {
		return nil, err
	}
	return key, nil
}

// newDevKey generates a fresh development key.
func newDevKey() (jwk.Key, error) {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generating development key: %w", err)
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, fmt.Errorf("auth: converting development key: %w", err)
	}
	if err := setDevKeyHeaders(key); err != nil {
		return nil, err
	}
	return key, nil
}

// setDevKeyHeaders sets alg ES256, use "sig" and the thumbprint kid when
// they are missing.
func setDevKeyHeaders(key jwk.Key) error {
	if key.Algorithm().String() == "" {
		if err := key.Set(jwk.AlgorithmKey, jwa.ES256); err != nil {
			return fmt.Errorf("auth: setting key alg: %w", err)
		}
	}
	if key.KeyUsage() == "" {
		if err := key.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
			return fmt.Errorf("auth: setting key use: %w", err)
		}
	}
	// AssignKeyID keeps an existing kid and otherwise uses the SHA-256
	// thumbprint, which only depends on the public key.
	if err := jwk.AssignKeyID(key); err != nil {
		return fmt.Errorf("auth: setting key id: %w", err)
	}
	return nil
}

// writeNewFile writes data to path with mode 0600 unless path already
// exists, in which case it reports created == false. The content appears
// atomically: a crash never leaves a partial key behind.
func writeNewFile(path string, data []byte) (created bool, err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)

	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}

	// A hard link never replaces an existing file.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// PublicKeySet returns the set holding the public half of priv (keeping its
// kid, alg and use), for VerifierConfig.LocalKeys.
func PublicKeySet(priv jwk.Key) (jwk.Set, error) {
	if priv == nil {
		return nil, errors.New("auth: nil key")
	}
	if priv.KeyType() == jwa.OctetSeq {
		return nil, errors.New("auth: a symmetric key has no public half")
	}
	pub, err := priv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("auth: deriving public key: %w", err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, fmt.Errorf("auth: building key set: %w", err)
	}
	return set, nil
}
