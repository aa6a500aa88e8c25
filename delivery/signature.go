package delivery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names used on delivery requests.
const (
	// HeaderKheopsEvent carries the Kheops event name, e.g. "new_series".
	HeaderKheopsEvent = "X-Kheops-Event"
	// HeaderKheopsAttempt carries "<attempt>/<max attempts>", e.g. "2/5".
	HeaderKheopsAttempt = "X-Kheops-Attempt"
	// HeaderKheopsDelivery carries the Kheops trigger (delivery) id.
	HeaderKheopsDelivery = "X-Kheops-Delivery"
	// HeaderKheopsSignature carries KheopsSignature; sent only when the webhook has a secret.
	HeaderKheopsSignature = "X-Kheops-Signature"
	// HeaderNursaSignature carries NursaSignature.
	HeaderNursaSignature = "Nursa-Signature"
	// HeaderWebhookID carries the Standard Webhooks message id, stable across attempts.
	HeaderWebhookID = "webhook-id"
	// HeaderWebhookTimestamp carries the Standard Webhooks timestamp in unix seconds.
	HeaderWebhookTimestamp = "webhook-timestamp"
	// HeaderWebhookSignature carries StandardSignature.
	HeaderWebhookSignature = "webhook-signature"
)

// DefaultTolerance is the clock skew receivers usually accept between a
// signature's timestamp and their own clock.
const DefaultTolerance = 5 * time.Minute

// Errors returned by the verification helpers, always wrapped with detail.
var (
	// ErrMalformedSignature means the signature header or timestamp could not be parsed.
	ErrMalformedSignature = errors.New("malformed signature")
	// ErrSignatureMismatch means no signature in the header matches the secret and body.
	ErrSignatureMismatch = errors.New("signature mismatch")
	// ErrTimestampOutOfTolerance means the signed timestamp is too far from the receiver's clock.
	ErrTimestampOutOfTolerance = errors.New("timestamp outside tolerance")
)

// hmacSHA256 returns HMAC-SHA256 of the concatenated parts, keyed with key.
func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// KheopsSignature returns the value of the X-Kheops-Signature header: the
// lowercase hex of HMAC-SHA256 keyed with the secret's bytes over the exact
// body bytes.
func KheopsSignature(secret string, body []byte) string {
	return hex.EncodeToString(hmacSHA256([]byte(secret), body))
}

// NursaSignature returns the value of the Nursa-Signature header:
// "t=<unix seconds>, v1=<hex>" with one ", v1=<hex>" entry per secret, in
// order, each the lowercase hex of HMAC-SHA256(secret, "<t>.<body>"). Two
// secrets let a receiver holding either one verify during a rotation. With no
// secrets the value carries only the timestamp; callers should then omit the
// header.
func NursaSignature(t time.Time, body []byte, secrets []string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, s := range secrets {
		b.WriteString(", v1=")
		b.WriteString(hex.EncodeToString(hmacSHA256([]byte(s), []byte(ts), []byte("."), body)))
	}
	return b.String()
}

// StandardWebhooksPrefix starts the secrets of the Standard Webhooks
// specification: "whsec_" followed by the base64 of the key bytes.
const StandardWebhooksPrefix = "whsec_"

// StandardKey returns the HMAC key of a secret for the webhook-signature
// header. A secret of the Standard Webhooks form, "whsec_" followed by
// standard base64 (padded) of at least one byte, keys with the decoded bytes,
// as the specification and its libraries do (`new Webhook(secret)`). Any other
// secret keys with its own bytes, as before (a receiver passes them to the
// libraries as a raw key).
func StandardKey(secret string) []byte {
	if rest, ok := strings.CutPrefix(secret, StandardWebhooksPrefix); ok {
		if key, err := base64.StdEncoding.DecodeString(rest); err == nil && len(key) > 0 {
			return key
		}
	}
	return []byte(secret)
}

// StandardSignature returns the value of the Standard Webhooks (v1)
// webhook-signature header: for each secret, in order, "v1,<base64>" where
// base64 is the standard encoding of HMAC-SHA256 over
// "<msgID>.<unix seconds of t>.<body>", keyed with StandardKey(secret);
// entries are space-separated.
func StandardSignature(msgID string, t time.Time, body []byte, secrets []string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		mac := hmacSHA256(StandardKey(s), []byte(msgID), []byte("."), []byte(ts), []byte("."), body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac))
	}
	return strings.Join(sigs, " ")
}

// VerifyKheops reports whether header (an X-Kheops-Signature value) is the
// signature of body under secret. The comparison is constant-time.
func VerifyKheops(secret string, body []byte, header string) bool {
	got, err := hex.DecodeString(strings.TrimSpace(header))
	if err != nil {
		return false
	}
	return hmac.Equal(got, hmacSHA256([]byte(secret), body))
}

// VerifyNursa checks header (a Nursa-Signature value) against secret and body
// as a receiver would: the timestamp must be within tolerance of now (a
// tolerance <= 0 skips that check) and at least one v1 entry must match,
// compared in constant time. The error wraps ErrMalformedSignature,
// ErrTimestampOutOfTolerance or ErrSignatureMismatch.
func VerifyNursa(secret string, body []byte, header string, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: entry %q is not key=value", ErrMalformedSignature, strings.TrimSpace(part))
		}
		switch key {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: more than one timestamp", ErrMalformedSignature)
			}
			ts = value
		case "v1":
			sigs = append(sigs, value)
		}
	}
	if ts == "" {
		return fmt.Errorf("%w: no timestamp (t=)", ErrMalformedSignature)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1 signature", ErrMalformedSignature)
	}
	if err := checkTimestamp(ts, now, tolerance); err != nil {
		return err
	}
	want := hmacSHA256([]byte(secret), []byte(ts), []byte("."), body)
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: none of %d v1 signatures matches", ErrSignatureMismatch, len(sigs))
}

// VerifyStandard checks a Standard Webhooks (v1) delivery as a receiver
// would: msgID and timestamp are the webhook-id and webhook-timestamp header
// values and header is the webhook-signature value. The timestamp must be
// within tolerance of now (a tolerance <= 0 skips that check) and at least one
// "v1,<base64>" entry must match, compared in constant time; entries of other
// versions are ignored. The key is StandardKey(secret), as in
// StandardSignature. The error wraps ErrMalformedSignature,
// ErrTimestampOutOfTolerance or ErrSignatureMismatch.
func VerifyStandard(secret, msgID, timestamp string, body []byte, header string, now time.Time, tolerance time.Duration) error {
	if err := checkTimestamp(timestamp, now, tolerance); err != nil {
		return err
	}
	want := hmacSHA256(StandardKey(secret), []byte(msgID), []byte("."), []byte(timestamp), []byte("."), body)
	n := 0
	for _, entry := range strings.Fields(header) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		n++
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: no v1 signature", ErrMalformedSignature)
	}
	return fmt.Errorf("%w: none of %d v1 signatures matches", ErrSignatureMismatch, n)
}

// checkTimestamp parses ts (unix seconds) and checks it is within tolerance of now.
func checkTimestamp(ts string, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", ErrMalformedSignature, ts)
	}
	if tolerance <= 0 {
		return nil
	}
	skew := now.Sub(time.Unix(sec, 0))
	if skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: timestamp %d is %s away from now (tolerance %s)", ErrTimestampOutOfTolerance, sec, skew.Abs().Truncate(time.Second), tolerance)
	}
	return nil
}
