package auth

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// rawJSON is a claim value written as given (a number jwx would not produce, a float...).
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// TestVerifyStrictTimes holds the tokens of issue 7 that jwx v2 accepted (exp 0, exp as a
// numeric string, an unknown "crit") and the neighbours of each, properly signed: the rejected
// ones fail only on the rule under test, the accepted ones show where the line is.
func TestVerifyStrictTimes(t *testing.T) {
	keys := newTestKeys(t)
	v := newLocalVerifier(t, keys.set, "https://issuer.test", "webhookd")
	now := time.Now()
	base := claims(now)
	rs := func(c map[string]any) string { return sign(t, jwa.RS256, keys.rsa, "rsa-1", c) }
	withHeader := func(extra map[string]any) string {
		h := map[string]any{"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}
		for k, v := range extra {
			h[k] = v
		}
		return craft(t, h, base, rsaPKCS1SHA256(t, keys.rsa))
	}
	future := now.Add(time.Hour).Unix()
	rejected := []struct{ name, token, reason string }{
		{"exp 0", rs(with(base, "exp", 0)), `"exp": the token has expired`},
		{"exp negative", rs(with(base, "exp", -1)), `"exp": the token has expired`},
		{"exp a numeric string", rs(with(base, "exp", "99999999999")), `"exp": must be a JSON number`},
		{"exp null", rs(with(base, "exp", rawNull{})), `"exp": must be a JSON number`},
		{"exp true", rs(with(base, "exp", true)), `"exp": must be a JSON number`},
		{"exp an array", rs(with(base, "exp", []int64{future})), `"exp": must be a JSON number`},
		{"exp beyond float64", rs(with(base, "exp", rawJSON("1e400"))), `"exp": must be a number of seconds within int64`},
		{"exp beyond int64", rs(with(base, "exp", rawJSON("1e19"))), `"exp": must be a number of seconds within int64`},
		{"exp 31 s ago (beyond the leeway)", rs(with(base, "exp", now.Add(-31*time.Second).Unix())), `"exp": the token has expired`},
		{"nbf a numeric string", rs(with(base, "nbf", "0")), `"nbf": must be a JSON number`},
		{"iat a numeric string", rs(with(base, "iat", "1700000000")), `"iat": must be a JSON number`},
		{"iat a date string", rs(with(base, "iat", now.Format(time.RFC3339))), `"iat": must be a JSON number`},
		{"crit with an unknown extension", withHeader(map[string]any{"crit": []string{"x-unknown"}, "x-unknown": 1}), `"crit"`},
		{"crit with a registered name", withHeader(map[string]any{"crit": []string{"exp"}}), `"crit"`},
		{"crit empty", withHeader(map[string]any{"crit": []string{}}), `"crit"`},
		{"crit null", withHeader(map[string]any{"crit": rawNull{}}), `"crit"`},
		{"header not an object", b64([]byte(`[1]`)) + "." + strings.Split(rs(base), ".")[1] + ".AAAA", "malformed token header"},
		{"claims not an object", strings.Split(rs(base), ".")[0] + "." + b64([]byte(`"x"`)) + ".AAAA", "malformed token claims"},
		{"claims followed by data", strings.Split(rs(base), ".")[0] + "." + b64(append(mustJSON(t, base), "{}"...)) + ".AAAA", "malformed token claims"},
	}
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tt.token)
			checkRejected(t, tt.token, err)
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q, want the reason %q", err, tt.reason)
			}
		})
	}
	accepted := []struct{ name, token string }{
		{"exp 10 s ago (within the leeway)", rs(with(base, "exp", now.Add(-10*time.Second).Unix()))},
		{"exp with a fraction", rs(with(base, "exp", rawJSON(strconv.FormatInt(future, 10)+".5")))},
		{"exp in exponent form", rs(with(base, "exp", rawJSON("1e11")))},
		{"no nbf, no iat", rs(with(base, "nbf", nil, "iat", nil))},
		{"a header without crit", withHeader(map[string]any{"cty": "JWT"})},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(t.Context(), tt.token); err != nil {
				t.Errorf("rejected: %v", err)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
