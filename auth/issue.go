package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// TokenRequest describes a token for IssueToken. Empty optional fields are
// left out of the token.
type TokenRequest struct {
	// Subject becomes "sub"; it is required.
	Subject string
	// Email becomes "email" when not empty.
	Email string
	// Name becomes "name" when not empty.
	Name string
	// ClientID becomes "client_id" when not empty.
	ClientID string
	// Facilities becomes the "facilities" array when not empty.
	Facilities []string
	// Scope becomes "scope" (space-separated scopes) when not empty.
	Scope string
	// Issuer becomes "iss" when not empty.
	Issuer string
	// Audience becomes "aud" when not empty.
	Audience string
	// TTL is the lifetime: "exp" is now+TTL. It must be positive.
	TTL time.Duration
}

// IssueToken signs a compact JWT for req with priv, using the key's "alg"
// (and "kid" in the header). "iat" is now and "exp" now+TTL.
func IssueToken(priv jwk.Key, req TokenRequest, now time.Time) (string, error) {
	if priv == nil {
		return "", errors.New("auth: issuing token: nil key")
	}
	if req.Subject == "" {
		return "", errors.New("auth: issuing token: subject is required")
	}
	if req.TTL <= 0 {
		return "", fmt.Errorf("auth: issuing token: TTL must be positive, got %s", req.TTL)
	}
	var alg jwa.SignatureAlgorithm
	if err := alg.Accept(priv.Algorithm().String()); err != nil || alg == "" {
		return "", fmt.Errorf("auth: issuing token: key has no usable signature alg %q", priv.Algorithm())
	}
	if alg == jwa.NoSignature {
		return "", errors.New(`auth: issuing token: alg "none" is not allowed`)
	}

	b := jwt.NewBuilder().
		Subject(req.Subject).
		IssuedAt(now).
		Expiration(now.Add(req.TTL))
	if req.Issuer != "" {
		b = b.Issuer(req.Issuer)
	}
	if req.Audience != "" {
		b = b.Audience([]string{req.Audience})
	}
	if req.Email != "" {
		b = b.Claim(claimEmail, req.Email)
	}
	if req.Name != "" {
		b = b.Claim(claimName, req.Name)
	}
	if req.ClientID != "" {
		b = b.Claim(claimClientID, req.ClientID)
	}
	if len(req.Facilities) > 0 {
		b = b.Claim(claimFacilities, append([]string(nil), req.Facilities...))
	}
	if req.Scope != "" {
		b = b.Claim(claimScope, req.Scope)
	}
	tok, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("auth: building token: %w", err)
	}

	signed, err := jwt.Sign(tok, jwt.WithKey(alg, priv))
	if err != nil {
		return "", fmt.Errorf("auth: signing token: %w", err)
	}
	return string(signed), nil
}
