package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// precheck reads the header and the claims of a compact token (checkCompact has passed) and
// rejects what jwx v2 would let through:
//
//   - a "crit" header: RFC 7515 §4.1.11 says a recipient must reject a JWS whose "crit" lists
//     an extension it does not understand, and this service understands none (jwx v2 ignores
//     "crit");
//   - "exp", "nbf" or "iat" that is not a JSON number (jwx v2 also takes numeric strings such
//     as "99999999999"), or not a finite number of seconds within int64;
//   - an "exp" that is not in the future beyond the leeway: jwx v2 treats exp 0 as absent and
//     accepts the token.
//
// It runs before the signature is verified, so its errors say what is wrong without any value
// of the token. jwx then verifies the signature and checks every claim again.
func precheck(token string, now time.Time) error {
	header, payload, _ := strings.Cut(token, ".")
	payload, _, _ = strings.Cut(payload, ".")

	var h map[string]json.RawMessage
	if err := decodeSegment(header, &h); err != nil {
		return fmt.Errorf("malformed token header: %w", err)
	}
	if _, ok := h["crit"]; ok {
		return errors.New(`the header's "crit" lists extensions this service does not understand`)
	}

	var c map[string]json.RawMessage
	if err := decodeSegment(payload, &c); err != nil {
		return fmt.Errorf("malformed token claims: %w", err)
	}
	times := map[string]float64{}
	for _, name := range []string{"exp", "nbf", "iat"} {
		raw, ok := c[name]
		if !ok {
			continue
		}
		v, err := numericDate(raw)
		if err != nil {
			return fmt.Errorf("claim %q: %w", name, err)
		}
		times[name] = v
	}
	exp, ok := times["exp"]
	if !ok {
		return errors.New(`claim "exp" is required`)
	}
	if exp <= float64(now.Add(-clockSkew).Unix()) {
		return fmt.Errorf(`claim "exp": the token has expired (more than %v ago)`, clockSkew)
	}
	return nil
}

// decodeSegment decodes a base64url segment holding one JSON object.
func decodeSegment(seg string, into *map[string]json.RawMessage) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return errors.New("not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(into); err != nil || *into == nil {
		return errors.New("not a JSON object")
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

// numericDate reads a NumericDate (RFC 7519 §2): a JSON number of seconds, finite and within
// int64.
func numericDate(raw json.RawMessage) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, errors.New("must be a JSON number")
	}
	var v float64
	if err := json.Unmarshal(raw, &v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) ||
		v < math.MinInt64 || v > math.MaxInt64 {
		return 0, errors.New("must be a number of seconds within int64")
	}
	return v, nil
}
