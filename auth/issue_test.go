package auth

import (
	"slices"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

func TestIssueTokenRoundTrip(t *testing.T) {
	priv, err := LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	set, err := PublicKeySet(priv)
	if err != nil {
		t.Fatal(err)
	}
	v := newLocalVerifier(t, set, "https://dev.test", "webhookd")
	now := time.Now()

	tests := []struct {
		name string
		req  TokenRequest
		want Principal
	}{
		{
			name: "all fields",
			req: TokenRequest{
				Subject: "user-1", Email: "u@example.test", Name: "User One", ClientID: "cli",
				Facilities: []string{"f1", "f2"}, Scope: "webhooks:read webhooks:write",
				Issuer: "https://dev.test", Audience: "webhookd", TTL: time.Hour,
			},
			want: Principal{
				Subject: "user-1", Email: "u@example.test", Name: "User One", ClientID: "cli",
				Facilities: []string{"f1", "f2"}, Scopes: []string{"webhooks:read", "webhooks:write"},
			},
		},
		{
			name: "minimal",
			req:  TokenRequest{Subject: "user-2", Issuer: "https://dev.test", Audience: "webhookd", TTL: time.Minute},
			want: Principal{Subject: "user-2", ClientID: "user-2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := IssueToken(priv, tt.req, now)
			if err != nil {
				t.Fatalf("IssueToken: %v", err)
			}
			got, err := v.Verify(t.Context(), token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !principalEqual(got, tt.want) {
				t.Fatalf("Principal = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestIssueTokenClaims(t *testing.T) {
	priv, err := LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)

	t.Run("header and times", func(t *testing.T) {
		token, err := IssueToken(priv, TokenRequest{Subject: "s", Scope: "a b", TTL: 15 * time.Minute}, now)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := jws.Parse([]byte(token))
		if err != nil {
			t.Fatal(err)
		}
		hdr := msg.Signatures()[0].ProtectedHeaders()
		if hdr.Algorithm() != jwa.ES256 || hdr.KeyID() != priv.KeyID() {
			t.Errorf("header alg/kid = %q/%q, want ES256/%q", hdr.Algorithm(), hdr.KeyID(), priv.KeyID())
		}
		tok, err := jwt.ParseInsecure([]byte(token))
		if err != nil {
			t.Fatal(err)
		}
		if !tok.IssuedAt().Equal(now) || !tok.Expiration().Equal(now.Add(15*time.Minute)) {
			t.Errorf("iat/exp = %v/%v", tok.IssuedAt(), tok.Expiration())
		}
		if scope, _ := tok.Get("scope"); scope != "a b" {
			t.Errorf("scope = %v, want %q", scope, "a b")
		}
	})

	t.Run("empty fields are omitted", func(t *testing.T) {
		token, err := IssueToken(priv, TokenRequest{Subject: "s", TTL: time.Minute}, now)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.ParseInsecure([]byte(token))
		if err != nil {
			t.Fatal(err)
		}
		m, err := tok.AsMap(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for k := range m {
			names = append(names, k)
		}
		slices.Sort(names)
		if want := []string{"exp", "iat", "sub"}; !slices.Equal(names, want) {
			t.Fatalf("claims = %v, want %v", names, want)
		}
	})

	t.Run("expired once TTL has passed", func(t *testing.T) {
		set, err := PublicKeySet(priv)
		if err != nil {
			t.Fatal(err)
		}
		v := newLocalVerifier(t, set, "", "")
		token, err := IssueToken(priv, TokenRequest{Subject: "s", TTL: time.Minute}, time.Now().Add(-2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Verify(t.Context(), token)
		checkRejected(t, token, err)
	})
}

func TestIssueTokenErrors(t *testing.T) {
	priv, err := LoadOrCreateDevKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	noAlg, err := priv.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if err := noAlg.Remove("alg"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	tests := []struct {
		name string
		key  jwk.Key
		req  TokenRequest
	}{
		{"missing subject", priv, TokenRequest{TTL: time.Minute}},
		{"zero TTL", priv, TokenRequest{Subject: "s"}},
		{"negative TTL", priv, TokenRequest{Subject: "s", TTL: -time.Minute}},
		{"key without alg", noAlg, TokenRequest{Subject: "s", TTL: time.Minute}},
		{"nil key", nil, TokenRequest{Subject: "s", TTL: time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := IssueToken(tt.key, tt.req, now); err == nil {
				t.Fatal("IssueToken succeeded")
			}
		})
	}
}
