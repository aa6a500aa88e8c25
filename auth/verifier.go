package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// ErrInvalidToken is wrapped by every error Verify returns for a token
// that is malformed, wrongly signed, expired or otherwise unacceptable.
var ErrInvalidToken = errors.New("auth: invalid token")

const (
	// clockSkew is the leeway allowed when checking "exp", "nbf" and "iat".
	clockSkew = 30 * time.Second
	// defaultRefreshInterval is the minimum interval between background
	// JWKS refreshes when VerifierConfig.RefreshInterval is zero.
	defaultRefreshInterval = 15 * time.Minute
	// defaultHTTPTimeout bounds JWKS requests when no client is configured.
	defaultHTTPTimeout = 10 * time.Second
	// maxTokenLen bounds the size of a token accepted for parsing.
	maxTokenLen = 16 << 10
)

// VerifierConfig configures a Verifier. Exactly one key source is used:
// JWKSURL when it is set, LocalKeys otherwise.
type VerifierConfig struct {
	// JWKSURL is the address of a remote JSON Web Key Set. Its keys are
	// fetched by NewVerifier and refreshed in the background.
	JWKSURL string
	// Issuer, when not empty, must equal the token's "iss" claim.
	Issuer string
	// Audience, when not empty, must be one of the token's "aud" values.
	Audience string
	// LocalKeys are the public keys to verify against when JWKSURL is
	// empty (see PublicKeySet).
	LocalKeys jwk.Set
	// HTTPClient fetches the JWKS; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// RefreshInterval is the minimum time between background JWKS
	// refreshes (a longer Cache-Control max-age wins); zero means 15
	// minutes.
	RefreshInterval time.Duration
}

// Verifier verifies bearer tokens. Create it with NewVerifier; it is safe
// for concurrent use.
type Verifier struct {
	issuer   string
	audience string

	// local holds LocalKeys; when nil, remote holds the latest key set
	// fetched from the JWKS URL.
	local  jwk.Set
	remote atomic.Pointer[keySet]

	// cache remembers verified tokens for a short while (see tokenCache).
	cache *tokenCache
}

// keySet boxes a jwk.Set for atomic.Pointer.
type keySet struct {
	set jwk.Set
}

// NewVerifier returns a Verifier for cfg. With a JWKSURL it fetches the key
// set once, failing if that fetch fails, and keeps refreshing it in the
// background for as long as ctx lives.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	v := &Verifier{issuer: cfg.Issuer, audience: cfg.Audience, cache: newTokenCache(tokenCacheTTL, tokenCacheSize)}

	if cfg.JWKSURL == "" {
		if cfg.LocalKeys == nil || cfg.LocalKeys.Len() == 0 {
			return nil, errors.New("auth: verifier needs a JWKS URL or local keys")
		}
		for i := range cfg.LocalKeys.Len() {
			key, _ := cfg.LocalKeys.Key(i)
			if _, err := keyAlgorithms(key); err != nil {
				return nil, fmt.Errorf("auth: local key %d (kid %q): %w", i, key.KeyID(), err)
			}
		}
		set, err := cfg.LocalKeys.Clone()
		if err != nil {
			return nil, fmt.Errorf("auth: copying local keys: %w", err)
		}
		v.local = set
		return v, nil
	}

	interval := cfg.RefreshInterval
	if interval <= 0 {
		interval = defaultRefreshInterval
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultHTTPTimeout}
	}

	// The cache's goroutines stop when cacheCtx ends: with ctx, or at once
	// if the first fetch fails.
	cacheCtx, cancel := context.WithCancel(ctx)
	// The refresh window is how often the cache looks for due refreshes;
	// jwx silently replaces anything under one second with 15 minutes.
	cache := jwk.NewCache(cacheCtx, jwk.WithRefreshWindow(refreshWindow(interval)))
	// Verify reads the latest set from v.remote rather than from the cache:
	// the cache holds its entry lock for the whole HTTP request of a
	// refresh, so reading through it would stall every request while the
	// JWKS endpoint is slow. A failed refresh never reaches the post-fetch
	// hook, so the previous keys stay in use.
	storeSet := jwk.PostFetchFunc(func(_ string, set jwk.Set) (jwk.Set, error) {
		v.remote.Store(&keySet{set: set})
		return set, nil
	})
	if err := cache.Register(cfg.JWKSURL,
		jwk.WithMinRefreshInterval(interval),
		jwk.WithHTTPClient(client),
		jwk.WithPostFetcher(storeSet),
	); err != nil {
		cancel()
		return nil, fmt.Errorf("auth: registering JWKS URL: %w", err)
	}
	if _, err := cache.Refresh(ctx, cfg.JWKSURL); err != nil {
		cancel()
		return nil, fmt.Errorf("auth: fetching JWKS: %w", err)
	}
	context.AfterFunc(ctx, cancel)
	return v, nil
}

// refreshWindow picks how often the JWKS cache checks for due refreshes:
// a quarter of the refresh interval, between 1 s and 15 min.
func refreshWindow(interval time.Duration) time.Duration {
	return min(max(interval/4, time.Second), defaultRefreshInterval)
}

// Verify checks token (a compact JWS, without the "Bearer " prefix) and
// returns the principal it describes. Every error wraps ErrInvalidToken.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if err := checkCompact(token); err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	set := v.local
	var source *keySet // the remote key set the token is checked against; nil for local keys
	if set == nil {
		source = v.remote.Load()
		if source == nil {
			return Principal{}, fmt.Errorf("%w: verifier has no keys (use NewVerifier)", ErrInvalidToken)
		}
		set = source.set
	}
	now := time.Now()
	if v.cache != nil {
		if p, ok := v.cache.get(token, source, now); ok {
			return p, nil
		}
	}
	if err := precheck(token, now); err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}

	opts := []jwt.ParseOption{
		jwt.WithKeyProvider(keyProvider{set: set}),
		jwt.WithValidate(true),
		jwt.WithContext(ctx),
		jwt.WithAcceptableSkew(clockSkew),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
	}
	if v.issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.issuer))
	}
	if v.audience != "" {
		opts = append(opts, jwt.WithAudience(v.audience))
	}

	tok, err := jwt.Parse([]byte(token), opts...)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	p, err := principalFromToken(tok)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if v.cache != nil {
		v.cache.put(token, source, p, now, tok.Expiration())
	}
	return p, nil
}

// checkCompact accepts only the JWS compact serialization: three non-empty
// base64url segments. jwx would otherwise also take the JSON serialization
// (with several signatures) and unsigned payloads.
func checkCompact(token string) error {
	if len(token) > maxTokenLen {
		return fmt.Errorf("token longer than %d bytes", maxTokenLen)
	}
	segments, empty := 1, true
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			if empty {
				return errors.New("malformed token: empty segment")
			}
			segments++
			empty = true
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			empty = false
		default:
			return errors.New("malformed token: not base64url")
		}
	}
	if empty || segments != 3 {
		return errors.New("malformed token: want three dot-separated segments")
	}
	return nil
}
