// Command webhookd runs the webhook registry and delivery service.
//
//	webhookd serve     start the HTTP server and the delivery engine
//	webhookd migrate   apply the database migrations and exit
//	webhookd token     print a JWT signed with the development key
//
// Configuration comes from the environment; see package config and the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/config"
)

const usage = `usage: webhookd <command> [flags]

commands:
  serve     start the HTTP server and the delivery engine
  migrate   apply the database migrations and exit
  token     print a JWT signed with the development key (see -h)
`

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), os.Args[1:], os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "webhookd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command")
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	switch args[0] {
	case "serve":
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return serve(ctx, cfg, log)
	case "migrate":
		return migrate(ctx, cfg, log)
	case "token":
		return token(cfg, args[1:], stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// token prints a development token.
func token(cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	sub := fs.String("sub", "", "the user (sub claim), required")
	email := fs.String("email", "", "email claim")
	name := fs.String("name", "", "name claim")
	clientID := fs.String("client-id", "", "client_id claim: the calling application (facility API)")
	facilities := fs.String("facilities", "", "facilities claim, comma-separated (e.g. P-1,P-2)")
	scope := fs.String("scope", "", "scope claim, space-separated (e.g. webhooks:publish)")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sub == "" {
		return errors.New("token: --sub is required")
	}
	if cfg.JWKSURL != "" {
		return errors.New("token: WEBHOOKD_JWKS_URL is set, so the server does not accept development tokens")
	}
	key, err := auth.LoadOrCreateDevKey(cfg.DataDir)
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
		Facilities: facs, Scope: *scope, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: *ttl}, time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
