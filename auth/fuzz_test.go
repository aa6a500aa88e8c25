package auth

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzTokenPrecheck runs the checks made on a token before its signature (checkCompact and
// precheck) on any text. Nothing panics, errors never quote the token, and a token that passes
// has a "exp" claim that is a JSON number in the future beyond the leeway and no "crit" header.
// `make test` runs the seeds (issue 7's tokens among them); `make fuzz` fuzzes.
func FuzzTokenPrecheck(f *testing.F) {
	now := time.Now()
	seg := func(v any) string {
		b, _ := json.Marshal(v)
		return b64(b)
	}
	header := seg(map[string]any{"alg": "ES256", "typ": "JWT"})
	future := now.Add(time.Hour).Unix()
	for _, c := range []map[string]any{
		{"sub": "mallory", "exp": 0},
		{"sub": "mallory", "exp": "99999999999"},
		{"sub": "mallory", "exp": future, "nbf": "0"},
		{"sub": "mallory", "exp": future, "iat": now.Format(time.RFC3339)},
		{"sub": "mallory", "exp": future},
		{"sub": "mallory", "exp": 1e300},
		{"sub": "mallory"},
	} {
		f.Add(header + "." + seg(c) + ".AAAA")
	}
	f.Add(seg(map[string]any{"alg": "ES256", "crit": []string{"x-unknown"}}) + "." + seg(map[string]any{"exp": future}) + ".AAAA")
	f.Add(b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{"exp":1e400}`)) + ".")
	f.Add(b64([]byte(`[]`)) + "." + b64([]byte(`{"exp":`+strings.Repeat("9", 400)+`}`)) + ".x")
	f.Add("a.b.c")
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		if checkCompact(token) != nil {
			return
		}
		err := precheck(token, now)
		if err != nil {
			for _, part := range strings.Split(token, ".") {
				if len(part) >= 8 && strings.Contains(err.Error(), part) {
					t.Fatalf("error %q quotes the token", err)
				}
			}
			return
		}
		parts := strings.Split(token, ".")
		var h, c map[string]json.RawMessage
		if decodeSegment(parts[0], &h) != nil || decodeSegment(parts[1], &c) != nil {
			t.Fatal("precheck accepted segments that do not decode")
		}
		if _, ok := h["crit"]; ok {
			t.Fatal("precheck accepted a crit header")
		}
		exp, err := numericDate(c["exp"])
		if err != nil || exp <= float64(now.Add(-clockSkew).Unix()) {
			t.Fatalf("precheck accepted exp %s", c["exp"])
		}
	})
}
