package delivery

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	facilityBody = []byte(`{"data":{"shiftId":"s1"},"eventType":"shift.created"}`)
	signedAt     = time.Unix(1700000000, 0)
)

func TestKheopsSignature(t *testing.T) {
	body := []byte(`{"host":"https://kheops.example","album_id":"AbCdE12345"}`)
	// Computed independently here.
	m := hmac.New(sha256.New, []byte("s3cr3t"))
	m.Write(body)
	independent := hex.EncodeToString(m.Sum(nil))

	tests := []struct {
		name, secret string
		body         []byte
		want         string
	}{
		// RFC 4231 test case 2.
		{"RFC 4231 case 2", "Jefe", []byte("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		// Fixed literal, computed once with Python's hmac module.
		{"fixed literal", "s3cr3t", body, "743e9980c34063df2ab8fd19efefa7393c0720e0fab7428fd9323663175d20a2"},
		{"crypto/hmac", "s3cr3t", body, independent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := KheopsSignature(tt.secret, tt.body)
			if got != tt.want {
				t.Fatalf("KheopsSignature = %s, want %s", got, tt.want)
			}
			if !VerifyKheops(tt.secret, tt.body, got) {
				t.Fatal("VerifyKheops rejects its own signature")
			}
		})
	}
}

func TestVerifyKheops(t *testing.T) {
	body := []byte(`{"a":1}`)
	sig := KheopsSignature("right", body)
	tests := []struct {
		name, secret, header string
		body                 []byte
		want                 bool
	}{
		{"valid", "right", sig, body, true},
		{"surrounding spaces", "right", " " + sig + " ", body, true},
		{"wrong secret", "wrong", sig, body, false},
		{"tampered body", "right", sig, []byte(`{"a":2}`), false},
		{"truncated", "right", sig[:len(sig)-2], body, false},
		{"not hex", "right", "zz" + sig[2:], body, false},
		{"empty", "right", "", body, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := VerifyKheops(tt.secret, tt.body, tt.header); got != tt.want {
				t.Fatalf("VerifyKheops = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNursaSignature(t *testing.T) {
	m := hmac.New(sha256.New, []byte("secretA"))
	m.Write([]byte("1700000000." + string(facilityBody)))
	independentA := hex.EncodeToString(m.Sum(nil))
	const fixedA = "e7ea917ed9ad0a9f866a895ca577ebf653fafa8cc863b9705877c65d8c86926e"
	const fixedB = "ab1825890353363cd4db4c45bcb3f2633feaa55edb4e8c4d6896e919f5bdf781"
	if independentA != fixedA {
		t.Fatalf("test vectors disagree: %s vs %s", independentA, fixedA)
	}
	tests := []struct {
		name    string
		secrets []string
		want    string
	}{
		{"one secret", []string{"secretA"}, "t=1700000000, v1=" + independentA},
		{"two secrets in order", []string{"secretA", "secretB"}, "t=1700000000, v1=" + fixedA + ", v1=" + fixedB},
		{"order kept", []string{"secretB", "secretA"}, "t=1700000000, v1=" + fixedB + ", v1=" + fixedA},
		{"no secrets", nil, "t=1700000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NursaSignature(signedAt, facilityBody, tt.secrets); got != tt.want {
				t.Fatalf("NursaSignature =\n %s\nwant\n %s", got, tt.want)
			}
		})
	}
}

func TestVerifyNursa(t *testing.T) {
	rotating := NursaSignature(signedAt, facilityBody, []string{"old", "new"})
	single := NursaSignature(signedAt, facilityBody, []string{"new"})
	now := signedAt.Add(time.Minute)
	tests := []struct {
		name      string
		secret    string
		body      []byte
		header    string
		now       time.Time
		tolerance time.Duration
		wantErr   error
	}{
		{"single secret", "new", facilityBody, single, now, DefaultTolerance, nil},
		{"rotation: old secret", "old", facilityBody, rotating, now, DefaultTolerance, nil},
		{"rotation: new secret", "new", facilityBody, rotating, now, DefaultTolerance, nil},
		{"no spaces after commas", "new", facilityBody, strings.ReplaceAll(rotating, ", ", ","), now, DefaultTolerance, nil},
		{"unknown entries ignored", "new", facilityBody, single + ", v0=abc", now, DefaultTolerance, nil},
		{"wrong secret", "other", facilityBody, rotating, now, DefaultTolerance, ErrSignatureMismatch},
		{"tampered body", "new", []byte(`{}`), rotating, now, DefaultTolerance, ErrSignatureMismatch},
		{"timestamp changed", "new", facilityBody, strings.Replace(single, "t=1700000000", "t=1700000001", 1), now, DefaultTolerance, ErrSignatureMismatch},
		{"at the tolerance edge", "new", facilityBody, single, signedAt.Add(5 * time.Minute), DefaultTolerance, nil},
		{"too old", "new", facilityBody, single, signedAt.Add(5*time.Minute + time.Second), DefaultTolerance, ErrTimestampOutOfTolerance},
		{"from the future", "new", facilityBody, single, signedAt.Add(-6 * time.Minute), DefaultTolerance, ErrTimestampOutOfTolerance},
		{"tolerance disabled", "new", facilityBody, single, signedAt.Add(48 * time.Hour), 0, nil},
		{"no timestamp", "new", facilityBody, "v1=" + strings.Repeat("0", 64), now, DefaultTolerance, ErrMalformedSignature},
		{"no v1", "new", facilityBody, "t=1700000000", now, DefaultTolerance, ErrMalformedSignature},
		{"garbage timestamp", "new", facilityBody, "t=soon, v1=00", now, DefaultTolerance, ErrMalformedSignature},
		{"not key=value", "new", facilityBody, "t=1700000000, junk", now, DefaultTolerance, ErrMalformedSignature},
		{"empty", "new", facilityBody, "", now, DefaultTolerance, ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyNursa(tt.secret, tt.body, tt.header, tt.now, tt.tolerance)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("VerifyNursa = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestStandardSignature(t *testing.T) {
	// Independent computation: "whsec_abc" is not whsec_ + base64 ("abc" is not padded base64),
	// so the key is the secret's raw bytes, whsec_ included.
	m := hmac.New(sha256.New, []byte("whsec_abc"))
	m.Write([]byte("msg_1.1700000000." + string(facilityBody)))
	independent := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	const fixedABC = "v1,0kdAFc8IxuNS3PlQpMYXC3AjVp4X43w1yEcyy/1tIWU="
	const fixedDEF = "v1,A9MbM7KhjVl0MBiLFkqJ5coao6cmKx881Vwb94hZYBk="
	tests := []struct {
		name    string
		secrets []string
		want    string
	}{
		{"crypto/hmac", []string{"whsec_abc"}, independent},
		{"fixed literal", []string{"whsec_abc"}, fixedABC},
		{"two secrets space-separated", []string{"whsec_abc", "whsec_def"}, fixedABC + " " + fixedDEF},
		{"no secrets", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StandardSignature("msg_1", signedAt, facilityBody, tt.secrets); got != tt.want {
				t.Fatalf("StandardSignature = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestStandardSignatureOfTheSpecification: a whsec_<base64> secret keys with its decoded bytes,
// as the Standard Webhooks specification and its libraries do. The first vector is the
// specification's own; the others were computed with the npm standardwebhooks library
// (`new Webhook(secret).sign(...)`, and `new Webhook(bytes, {format: "raw"})` for the raw key).
func TestStandardSignatureOfTheSpecification(t *testing.T) {
	tests := []struct {
		name, secret, msgID string
		unix                int64
		body, want          string
	}{
		{"specification's vector", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
			`{"test": 2432232314}`, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
		{"a secret that is not whsec_ keys with its bytes", "k1-secret", "msg_1", 1700000000, "{}",
			"v1,LB63Mgr23fsWYUhC4XchNkj6sujrNsleyRRzD9StUMA="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := time.Unix(tt.unix, 0)
			if got := StandardSignature(tt.msgID, at, []byte(tt.body), []string{tt.secret}); got != tt.want {
				t.Fatalf("StandardSignature = %q, want %q", got, tt.want)
			}
			if err := VerifyStandard(tt.secret, tt.msgID, strconv.FormatInt(tt.unix, 10), []byte(tt.body), tt.want, at, DefaultTolerance); err != nil {
				t.Errorf("VerifyStandard: %v", err)
			}
		})
	}
}

func TestStandardKey(t *testing.T) {
	tests := []struct {
		secret string
		want   []byte
	}{
		{"whsec_AQID", []byte{1, 2, 3}},
		{"whsec_aGk=", []byte("hi")},
		{"whsec_aGk", []byte("whsec_aGk")},   // not padded: not base64, the bytes as they are
		{"whsec_", []byte("whsec_")},         // nothing to decode
		{"whsec_!!!!", []byte("whsec_!!!!")}, // not base64
		{"AQID", []byte("AQID")},             // base64 without the prefix: the bytes
		{"s3cr3t", []byte("s3cr3t")},
	}
	for _, tt := range tests {
		t.Run(tt.secret, func(t *testing.T) {
			if got := StandardKey(tt.secret); !bytes.Equal(got, tt.want) {
				t.Fatalf("StandardKey(%q) = %q, want %q", tt.secret, got, tt.want)
			}
		})
	}
}

func TestVerifyStandard(t *testing.T) {
	rotating := StandardSignature("msg_1", signedAt, facilityBody, []string{"whsec_old", "whsec_new"})
	now := signedAt.Add(30 * time.Second)
	tests := []struct {
		name, secret, msgID, ts, header string
		body                            []byte
		now                             time.Time
		wantErr                         error
	}{
		{"rotation: old secret", "whsec_old", "msg_1", "1700000000", rotating, facilityBody, now, nil},
		{"rotation: new secret", "whsec_new", "msg_1", "1700000000", rotating, facilityBody, now, nil},
		{"other versions ignored", "whsec_new", "msg_1", "1700000000", "v1a,abcd " + rotating, facilityBody, now, nil},
		{"wrong secret", "whsec_x", "msg_1", "1700000000", rotating, facilityBody, now, ErrSignatureMismatch},
		{"other message id", "whsec_new", "msg_2", "1700000000", rotating, facilityBody, now, ErrSignatureMismatch},
		{"other timestamp", "whsec_new", "msg_1", "1700000001", rotating, facilityBody, now, ErrSignatureMismatch},
		{"tampered body", "whsec_new", "msg_1", "1700000000", rotating, []byte("x"), now, ErrSignatureMismatch},
		{"not base64", "whsec_new", "msg_1", "1700000000", "v1,***", facilityBody, now, ErrSignatureMismatch},
		{"too old", "whsec_new", "msg_1", "1700000000", rotating, facilityBody, signedAt.Add(10 * time.Minute), ErrTimestampOutOfTolerance},
		{"from the future", "whsec_new", "msg_1", "1700000000", rotating, facilityBody, signedAt.Add(-10 * time.Minute), ErrTimestampOutOfTolerance},
		{"garbage timestamp", "whsec_new", "msg_1", "yesterday", rotating, facilityBody, now, ErrMalformedSignature},
		{"no v1 entry", "whsec_new", "msg_1", "1700000000", "v2,abc", facilityBody, now, ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyStandard(tt.secret, tt.msgID, tt.ts, tt.body, tt.header, tt.now, DefaultTolerance)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("VerifyStandard = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
