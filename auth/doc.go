// Package auth verifies bearer JSON Web Tokens for the HTTP server and
// issues development tokens.
//
// A [Verifier] checks a compact JWS-signed JWT against either a remote JWKS
// (fetched once at construction and refreshed in the background) or a
// local public key set. Verification is strict:
//
//   - the signature algorithm is pinned to the key: a key's "alg" must equal
//     the token header's "alg"; a key without "alg" only admits the
//     algorithms its type (and curve) can produce. "none" and symmetric
//     (HMAC) algorithms are never accepted, which rules out the
//     HMAC-with-public-key "algorithm confusion" attack;
//   - "exp" is required and must be in the future (30 s of clock skew);
//     "exp", "nbf" and "iat" must be JSON numbers (not numeric strings) and
//     are checked with that skew; "iss" and "aud" are checked when
//     configured;
//   - a header with "crit" is rejected (RFC 7515 §4.1.11: no extension is
//     understood here);
//   - "sub" must be present and the custom claims must have the expected
//     JSON types.
//
// Every rejection wraps [ErrInvalidToken]; error messages never contain the
// token itself.
//
// For development, [LoadOrCreateDevKey] keeps an ECDSA P-256 signing key on
// disk, [PublicKeySet] turns it into the key set for
// [VerifierConfig.LocalKeys], and [IssueToken] signs tokens with it.
package auth
