package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/buildinfo"
	"github.com/webhookd/webhookd/config"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
)

// openStore opens the database and migrates it, the queue tables included, and builds the
// delivery engine on it (not started).
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.Store, *delivery.Engine, error) {
	if cfg.DatabaseURL == "" {
		if err := checkDataDir(cfg.DataDir); err != nil {
			return nil, nil, err
		}
	}
	st, err := store.Open(ctx, store.Config{
		DatabaseURL:         cfg.DatabaseURL,
		SQLitePath:          cfg.SQLitePath(),
		PublicURL:           cfg.PublicURL,
		KheopsMaxAttempts:   len(cfg.KheopsRetryDelays) + 1,
		FacilityMaxAttempts: len(cfg.FacilityRetryDelays) + 1,
		NewSeriesDelay:      cfg.NewSeriesDelay,
		MaxConns:            cfg.DBMaxConns,
	})
	if err != nil {
		return nil, nil, explainOpenError(cfg, err)
	}
	engine, err := delivery.NewEngine(st, delivery.EngineConfig{
		UserAgent:     buildinfo.Get().UserAgent(),
		Timeout:       cfg.DeliveryTimeout,
		Policy:        delivery.TargetPolicy{Allow: cfg.AllowTargetCIDRs},
		Kheops:        delivery.RetryPolicy{Delays: cfg.KheopsRetryDelays, Jitter: 0.1},
		Facility:      delivery.RetryPolicy{Delays: cfg.FacilityRetryDelays, Jitter: 0.1},
		Workers:       cfg.Workers,
		PollInterval:  cfg.PollInterval,
		FetchCooldown: cfg.FetchCooldown,
		Logger:        log,
	})
	if err == nil {
		err = st.Migrate(ctx)
	}
	if err == nil {
		err = engine.Migrate(ctx)
	}
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	st.SetEnqueuer(engine)
	return st, engine, nil
}

// explainOpenError says which setting to look at when the database cannot be opened. The
// DATABASE_URL is shown without its password.
func explainOpenError(cfg config.Config, err error) error {
	if cfg.DatabaseURL == "" {
		return fmt.Errorf("open the SQLite database %s (WEBHOOKD_DATA_DIR): %w", cfg.SQLitePath(), err)
	}
	shown := "DATABASE_URL"
	if u, perr := url.Parse(cfg.DatabaseURL); perr == nil {
		shown = fmt.Sprintf("DATABASE_URL %s", u.Redacted())
	}
	hint := ""
	if msg := err.Error(); strings.Contains(msg, "does not exist") && strings.Contains(msg, "database") {
		hint = " (create the database first, e.g. createdb, or CREATE DATABASE in psql)"
	}
	return fmt.Errorf("cannot connect to PostgreSQL at %s%s: %w", shown, hint, err)
}

func migrate(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	st, _, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	log.Info("database migrated", "dialect", st.Dialect(), "schema_version", v)
	return nil
}

// verifier builds the token verifier: the remote JWKS, or the development key.
func verifier(ctx context.Context, cfg config.Config, log *slog.Logger) (*auth.Verifier, error) {
	vc := auth.VerifierConfig{JWKSURL: cfg.JWKSURL, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience}
	if cfg.JWKSURL == "" {
		key, err := loadDevKey(cfg.DataDir, io.Discard) // the warning below names the key
		if err != nil {
			return nil, err
		}
		if vc.LocalKeys, err = auth.PublicKeySet(key); err != nil {
			return nil, err
		}
		log.Warn("running on a DEVELOPMENT signing key: set WEBHOOKD_JWKS_URL in production",
			"key_file", cfg.DataDir+"/"+auth.DevKeyFile)
	}
	return auth.NewVerifier(ctx, vc)
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	st, engine, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := verifier(ctx, cfg, log)
	if err != nil {
		return err
	}
	h, err := server.New(server.Options{Store: st, Verifier: v, Logger: log}).Handler()
	if err != nil {
		return err
	}
	srv := httpServer(cfg.Addr, h, defaultHTTPLimits())
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// The engine runs until shutdown, not bound to the signal context: Stop drains it.
	if err := engine.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	log.Info("webhookd listening", "addr", ln.Addr().String(), "database", st.Dialect())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopping the delivery engine: finishing running attempts")
	if err := engine.Stop(shutdownCtx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
