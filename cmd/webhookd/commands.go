package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/webhookd/webhookd/auth"
)

// defineToken declares the flags of `webhookd token`, which prints a development token.
func defineToken(fs *flag.FlagSet) func(context.Context, env) error {
	sub := fs.String("sub", "", "the user (sub claim), required")
	email := fs.String("email", "", "email claim")
	name := fs.String("name", "", "name claim")
	clientID := fs.String("client-id", "", "client_id claim: the calling application (facility API)")
	facilities := fs.String("facilities", "", "facilities claim, comma-separated (e.g. P-1,P-2)")
	scope := fs.String("scope", "", "scope claim, space-separated (e.g. webhooks:publish)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	return func(_ context.Context, e env) error {
		if *sub == "" {
			return errors.New("--sub is required")
		}
		if e.cfg.JWKSURL != "" {
			return errors.New("WEBHOOKD_JWKS_URL is set, so the server does not accept development tokens")
		}
		key, err := loadDevKey(e.cfg.DataDir, e.stderr)
		if err != nil {
			return err
		}
		var facs []string
		for _, f := range strings.Split(*facilities, ",") {
			if f = strings.TrimSpace(f); f != "" {
				facs = append(facs, f)
			}
		}
		tok, err := auth.IssueToken(key, auth.TokenRequest{Subject: *sub, Email: *email, Name: *name, ClientID: *clientID,
			Facilities: facs, Scope: *scope, Issuer: e.cfg.JWTIssuer, Audience: e.cfg.JWTAudience, TTL: *ttl}, time.Now())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(e.stdout, tok)
		return err
	}
}

// loadDevKey loads the development key of dataDir, saying on notice when it had to create one:
// tokens signed with a new key are rejected by a server running on another data directory.
func loadDevKey(dataDir string, notice io.Writer) (jwk.Key, error) {
	if err := checkDataDir(dataDir); err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, auth.DevKeyFile)
	_, statErr := os.Stat(path)
	key, err := auth.LoadOrCreateDevKey(dataDir)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		abs, _ := filepath.Abs(path)
		fmt.Fprintf(notice, "webhookd: created a new development signing key at %s; only a server whose "+
			"WEBHOOKD_DATA_DIR holds this key accepts the tokens it signs\n", abs)
	}
	return key, nil
}

// checkDataDir makes sure the data directory exists and is writable, with a message naming
// it (SQLite's own is "unable to open database file: out of memory (14)").
func checkDataDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("WEBHOOKD_DATA_DIR %s cannot be created: %w", abs, err)
	}
	f, err := os.CreateTemp(dir, ".webhookd-write-check-*")
	if err != nil {
		return fmt.Errorf("WEBHOOKD_DATA_DIR %s is not writable (it holds the SQLite database and the development key): %w", abs, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// defineHealthcheck declares the flags of `webhookd healthcheck`, which asks the running
// server's /readyz and succeeds on 200.
func defineHealthcheck(fs *flag.FlagSet) func(context.Context, env) error {
	url := fs.String("url", "", "the readiness URL (default: /readyz on WEBHOOKD_ADDR, on 127.0.0.1 when the host is empty)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	return func(ctx context.Context, e env) error {
		target := *url
		if target == "" {
			target = readyzURL(e.cfg.Addr)
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return fmt.Errorf("bad url: %w", err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("not ready: %w", err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("not ready: %s answered %d %s", target, res.StatusCode, strings.TrimSpace(string(body)))
		}
		_, err = fmt.Fprintf(e.stdout, "ready: %s\n", strings.TrimSpace(string(body)))
		return err
	}
}

// readyzURL is the local readiness URL of a server listening on addr.
func readyzURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = "", "8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}
