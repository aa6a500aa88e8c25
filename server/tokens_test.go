package server_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/internal/apitest"
	"github.com/webhookd/webhookd/internal/testdb"
	"github.com/webhookd/webhookd/internal/testlog"
)

// TestRejectedTokens checks that the tokens issue 7 found accepted are 401 in both families,
// and that each rejection is logged with its reason and without the token.
func TestRejectedTokens(t *testing.T) {
	testdb.Each(t, func(t *testing.T, kind testdb.Kind) {
		var logs testlog.Buffer
		env := apitest.New(t, kind, apitest.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		req := auth.TokenRequest{Subject: "mallory", ClientID: "app", Facilities: []string{"P-1"}, TTL: time.Second}
		tokens := []struct{ name, token, reason string }{
			// exp = 0: issued one second before the epoch, valid one second.
			{"exp 0", env.TokenIssuedAt(req, time.Unix(-1, 0)), `claim \"exp\": the token has expired`},
			{"expired a minute ago", env.TokenIssuedAt(req, time.Now().Add(-time.Minute)), `claim \"exp\": the token has expired`},
			{"garbage", "not-a-token", "malformed token"},
		}
		for _, tc := range tokens {
			for _, path := range []string{"/albums/x", facilityPath} {
				t.Run(tc.name+" "+path, func(t *testing.T) {
					res, body := env.Do(http.MethodGet, path, tc.token, "", "")
					if res.StatusCode != http.StatusUnauthorized {
						t.Fatalf("%d %s, want 401", res.StatusCode, body)
					}
				})
			}
			if !strings.Contains(logs.String(), tc.reason) {
				t.Errorf("%s: no log line with the reason %q in:\n%s", tc.name, tc.reason, logs.String())
			}
			if strings.Contains(logs.String(), tc.token) {
				t.Errorf("%s: the logs hold the token", tc.name)
			}
		}
		if n := strings.Count(logs.String(), `"msg":"token rejected"`); n != 2*len(tokens) {
			t.Errorf("%d rejections logged, want %d", n, 2*len(tokens))
		}
	})
}
