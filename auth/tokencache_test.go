package auth

import (
	"testing"
	"time"
)

// TestTokenCache: a token is remembered until the earlier of its exp and the TTL, never past
// either, and the cache never holds more than its size.
func TestTokenCache(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	alice := Principal{Subject: "alice", Scopes: []string{"a"}}
	tests := []struct {
		name   string
		exp    time.Duration // after t0
		at     time.Duration // lookup after t0
		cached bool
	}{
		{"fresh", time.Hour, 10 * time.Second, true},
		{"TTL passed", time.Hour, time.Minute, false},
		{"exp before TTL, before exp", 20 * time.Second, 19 * time.Second, true},
		{"exp before TTL, at exp", 20 * time.Second, 20 * time.Second, false},
		{"already expired", -time.Second, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTokenCache(time.Minute, 10)
			c.put("tok", nil, alice, t0, t0.Add(tt.exp))
			p, ok := c.get("tok", nil, t0.Add(tt.at))
			if ok != tt.cached || ok && p.Subject != "alice" {
				t.Fatalf("get: %+v %v, want cached %v", p, ok, tt.cached)
			}
			if _, ok := c.get("other", nil, t0); ok {
				t.Fatal("an unknown token was found")
			}
		})
	}
	rotated := &keySet{}
	c := newTokenCache(time.Minute, 3)
	c.put("k", nil, alice, t0, t0.Add(time.Hour))
	if _, ok := c.get("k", rotated, t0); ok {
		t.Fatal("a token was found after the key set changed")
	}
	c = newTokenCache(time.Minute, 3)
	for i, tok := range []string{"a", "b", "c", "d", "e"} {
		c.put(tok, nil, alice, t0.Add(time.Duration(i)*time.Second), t0.Add(time.Hour))
		if len(c.entries) > 3 {
			t.Fatalf("%d entries, bound 3", len(c.entries))
		}
	}
	if _, ok := c.get("e", nil, t0.Add(5*time.Second)); !ok {
		t.Fatal("the latest token was dropped")
	}
	p, _ := c.get("e", nil, t0.Add(5*time.Second))
	p.Scopes[0] = "changed"
	if q, _ := c.get("e", nil, t0.Add(5*time.Second)); q.Scopes[0] != "a" {
		t.Fatal("a caller changed the cached principal")
	}
}
