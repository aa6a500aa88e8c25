package auth

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"
)

const (
	// tokenCacheTTL is the longest a verified token is remembered: a key removed from the JWKS
	// stops accepting its tokens at most this late.
	tokenCacheTTL = time.Minute
	// tokenCacheSize bounds the tokens remembered.
	tokenCacheSize = 10000
)

// tokenCache remembers the principals of verified tokens, keyed by the SHA-256 of the token,
// until min(the token's exp, tokenCacheTTL after verification), so that a client sending the
// same token again skips the signature check. An entry holds only while the key set it was
// verified with is the current one (a JWKS refresh forgets it). Failures are never cached. It is bounded: when
// full, expired entries are dropped, and if none was, everything is.
type tokenCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedPrincipal
	ttl     time.Duration
	size    int
}

type cachedPrincipal struct {
	p       Principal
	source  *keySet
	expires time.Time
}

func newTokenCache(ttl time.Duration, size int) *tokenCache {
	return &tokenCache{entries: make(map[[sha256.Size]byte]cachedPrincipal), ttl: ttl, size: size}
}

// get returns the principal of token if it was verified with source (the remote key set, nil
// for local keys) and has not expired at now.
func (c *tokenCache) get(token string, source *keySet, now time.Time) (Principal, bool) {
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return Principal{}, false
	}
	if !now.Before(e.expires) || e.source != source {
		delete(c.entries, key)
		return Principal{}, false
	}
	return clonePrincipal(e.p), true
}

// put remembers p for token, verified with source at now and valid until exp.
func (c *tokenCache) put(token string, source *keySet, p Principal, now, exp time.Time) {
	expires := now.Add(c.ttl)
	if exp.Before(expires) {
		expires = exp
	}
	if !now.Before(expires) {
		return
	}
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.size {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.size {
			clear(c.entries)
		}
	}
	c.entries[key] = cachedPrincipal{p: clonePrincipal(p), source: source, expires: expires}
}

// clonePrincipal copies p's lists, so that no caller shares them with the cache.
func clonePrincipal(p Principal) Principal {
	p.Facilities = slices.Clone(p.Facilities)
	p.Scopes = slices.Clone(p.Scopes)
	return p
}
