package auth

import (
	"context"
	"fmt"
	"math/big"
	"slices"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// minRSABits is the smallest RSA modulus accepted for verification.
const minRSABits = 2048

// rsaAlgorithms returns the algorithms an RSA key without "alg" may verify.
func rsaAlgorithms() []jwa.SignatureAlgorithm {
	return []jwa.SignatureAlgorithm{
		jwa.RS256, jwa.RS384, jwa.RS512,
		jwa.PS256, jwa.PS384, jwa.PS512,
	}
}

// keyAlgorithms returns the signature algorithms key may verify. When the
// key carries "alg", that is the only one, and it must suit the key type;
// otherwise the algorithms are inferred from the key type and curve.
// Symmetric keys, "none" and non-signing keys yield an error.
func keyAlgorithms(key jwk.Key) ([]jwa.SignatureAlgorithm, error) {
	if use := key.KeyUsage(); use != "" && use != jwk.ForSignature.String() {
		return nil, fmt.Errorf(`key use %q is not "sig"`, use)
	}
	if ops := key.KeyOps(); len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return nil, fmt.Errorf(`key_ops does not allow "verify"`)
	}

	var inferred []jwa.SignatureAlgorithm
	switch k := key.(type) {
	case jwk.RSAPrivateKey, jwk.ECDSAPrivateKey, jwk.OKPPrivateKey, jwk.SymmetricKey:
		// Private keys never belong in a verification set, and a shared
		// secret would let anyone holding the "public" set mint tokens
		// (and invites HMAC-with-public-key algorithm confusion).
		return nil, fmt.Errorf(`key type %q (%T) is not a public signature key`, key.KeyType(), key)
	case jwk.RSAPublicKey:
		if bits := new(big.Int).SetBytes(k.N()).BitLen(); bits < minRSABits {
			return nil, fmt.Errorf(`RSA key of %d bits is too small`, bits)
		}
		inferred = rsaAlgorithms()
	case jwk.ECDSAPublicKey:
		switch k.Crv() {
		case jwa.P256:
			inferred = []jwa.SignatureAlgorithm{jwa.ES256}
		case jwa.P384:
			inferred = []jwa.SignatureAlgorithm{jwa.ES384}
		case jwa.P521:
			inferred = []jwa.SignatureAlgorithm{jwa.ES512}
		default:
			return nil, fmt.Errorf(`unsupported EC curve %q`, k.Crv())
		}
	case jwk.OKPPublicKey:
		if k.Crv() != jwa.Ed25519 {
			return nil, fmt.Errorf(`unsupported OKP curve %q`, k.Crv())
		}
		inferred = []jwa.SignatureAlgorithm{jwa.EdDSA}
	default:
		return nil, fmt.Errorf(`key type %q (%T) cannot verify signatures`, key.KeyType(), key)
	}

	alg := key.Algorithm().String()
	if alg == "" {
		return inferred, nil
	}
	for _, a := range inferred {
		if a.String() == alg {
			return []jwa.SignatureAlgorithm{a}, nil
		}
	}
	return nil, fmt.Errorf(`key "alg" %q does not suit key type %q`, alg, key.KeyType())
}

// keyProvider hands jws.Verify the keys of a set whose pinned algorithm
// matches the token header's "alg". Unlike jws.WithKeySet, which verifies
// with the key's "alg" whatever the header says, it rejects a header that
// disagrees with the key.
type keyProvider struct {
	set jwk.Set
}

// FetchKeys implements jws.KeyProvider.
func (kp keyProvider) FetchKeys(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	hdrAlg := sig.ProtectedHeaders().Algorithm()
	if hdrAlg == "" || hdrAlg == jwa.NoSignature {
		return fmt.Errorf(`unsigned token (alg %q)`, hdrAlg)
	}

	candidates, err := kp.candidates(sig.ProtectedHeaders().KeyID())
	if err != nil {
		return err
	}

	var found bool
	var lastErr error
	for _, key := range candidates {
		algs, err := keyAlgorithms(key)
		if err != nil {
			lastErr = err
			continue
		}
		if !slices.Contains(algs, hdrAlg) {
			lastErr = fmt.Errorf(`token alg %q is not allowed for key (allowed: %v)`, hdrAlg, algs)
			continue
		}
		sink.Key(hdrAlg, key)
		found = true
	}
	if !found {
		if lastErr == nil {
			lastErr = fmt.Errorf(`no usable key`)
		}
		return lastErr
	}
	return nil
}

// candidates returns the keys that may have signed a token with the given
// "kid". A token without "kid" is only accepted when the set holds a single
// key.
func (kp keyProvider) candidates(kid string) ([]jwk.Key, error) {
	n := kp.set.Len()
	if kid == "" {
		if n != 1 {
			return nil, fmt.Errorf(`token has no "kid" and the key set holds %d keys`, n)
		}
		key, _ := kp.set.Key(0)
		return []jwk.Key{key}, nil
	}
	var keys []jwk.Key
	for i := range n {
		key, _ := kp.set.Key(i)
		if key.KeyID() == kid {
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf(`no key with kid %q`, kid)
	}
	return keys, nil
}
