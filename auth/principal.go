package auth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Claim names read from verified tokens, beyond the registered ones.
const (
	claimEmail      = "email"
	claimName       = "name"
	claimClientID   = "client_id"
	claimAZP        = "azp"
	claimFacilities = "facilities"
	claimScope      = "scope"
)

// Principal is the authenticated caller described by a verified token.
type Principal struct {
	// Subject is the "sub" claim; it is never empty.
	Subject string
	// Email is the "email" claim, if any.
	Email string
	// Name is the "name" claim, if any.
	Name string
	// ClientID is the "client_id" claim, else "azp", else the subject.
	ClientID string
	// Facilities is the "facilities" claim (a JSON array of strings).
	Facilities []string
	// Scopes is the "scope" claim, split on spaces (or a JSON array of
	// strings).
	Scopes []string
}

// HasScope reports whether the principal was granted scope s.
func (p Principal) HasScope(s string) bool {
	return slices.Contains(p.Scopes, s)
}

// principalFromToken builds a Principal from the claims of an already
// verified token. A claim of an unexpected JSON type is an error.
func principalFromToken(tok jwt.Token) (Principal, error) {
	p := Principal{Subject: tok.Subject()}
	if p.Subject == "" {
		return Principal{}, fmt.Errorf(`missing "sub" claim`)
	}

	var err error
	if p.Email, err = stringClaim(tok, claimEmail); err != nil {
		return Principal{}, err
	}
	if p.Name, err = stringClaim(tok, claimName); err != nil {
		return Principal{}, err
	}
	if p.ClientID, err = stringClaim(tok, claimClientID); err != nil {
		return Principal{}, err
	}
	azp, err := stringClaim(tok, claimAZP)
	if err != nil {
		return Principal{}, err
	}
	if p.ClientID == "" {
		p.ClientID = azp
	}
	if p.ClientID == "" {
		p.ClientID = p.Subject
	}

	if v, ok := tok.Get(claimFacilities); ok {
		if p.Facilities, err = stringArray(v); err != nil {
			return Principal{}, fmt.Errorf(`claim %q: %w`, claimFacilities, err)
		}
	}

	if v, ok := tok.Get(claimScope); ok {
		switch v := v.(type) {
		case string:
			p.Scopes = strings.Fields(v)
		default:
			if p.Scopes, err = stringArray(v); err != nil {
				return Principal{}, fmt.Errorf(`claim %q: must be a string or an array of strings: %w`, claimScope, err)
			}
		}
	}
	return p, nil
}

// stringClaim returns the string claim name, or "" when it is absent.
func stringClaim(tok jwt.Token, name string) (string, error) {
	v, ok := tok.Get(name)
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf(`claim %q must be a string, got %s`, name, jsonType(v))
	}
	return s, nil
}

// stringArray converts a decoded JSON value that must be an array of
// strings.
func stringArray(v any) ([]string, error) {
	switch v := v.(type) {
	case []string:
		return slices.Clone(v), nil
	case []any:
		out := make([]string, 0, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf(`element %d must be a string, got %s`, i, jsonType(e))
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf(`must be an array of strings, got %s`, jsonType(v))
	}
}

// jsonType names the JSON type of a decoded value, for error messages that
// must not echo claim values.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any, []string:
		return "array"
	case map[string]any:
		return "object"
	default:
		return "number"
	}
}
