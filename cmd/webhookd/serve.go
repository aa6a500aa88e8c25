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

	"go.opentelemetry.io/otel/trace"

	"github.com/webhookd/webhookd/auth"
	"github.com/webhookd/webhookd/buildinfo"
	"github.com/webhookd/webhookd/config"
	"github.com/webhookd/webhookd/delivery"
	"github.com/webhookd/webhookd/metrics"
	"github.com/webhookd/webhookd/queueui"
	"github.com/webhookd/webhookd/server"
	"github.com/webhookd/webhookd/store"
	"github.com/webhookd/webhookd/telemetry"
)

// openStore opens the database and migrates it, the queue tables included, and builds the
// delivery engine on it (not started). m, when not nil, counts deliveries and attempts; tp,
// when not nil, traces attempts.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger, m *metrics.Metrics, tp trace.TracerProvider) (*store.Store, *delivery.Engine, error) {
	if cfg.DatabaseURL == "" {
		if err := checkDataDir(cfg.DataDir); err != nil {
			return nil, nil, err
		}
	}
	scfg := store.Config{
		DatabaseURL:         cfg.DatabaseURL,
		SQLitePath:          cfg.SQLitePath(),
		PublicURL:           cfg.PublicURL,
		KheopsMaxAttempts:   len(cfg.KheopsRetryDelays) + 1,
		FacilityMaxAttempts: len(cfg.FacilityRetryDelays) + 1,
		NewSeriesDelay:      cfg.NewSeriesDelay,
		MaxConns:            cfg.DBMaxConns,
	}
	var observer delivery.Observer
	if m != nil {
		scfg.DeliveriesCreated, observer = m.DeliveryCreated, m
	}
	st, err := store.Open(ctx, scfg)
	if err != nil {
		return nil, nil, explainOpenError(cfg, err)
	}
	engine, err := delivery.NewEngine(st, delivery.EngineConfig{
		UserAgent:              buildinfo.Get().UserAgent(),
		Timeout:                cfg.DeliveryTimeout,
		Policy:                 delivery.TargetPolicy{Allow: cfg.AllowTargetCIDRs},
		Kheops:                 delivery.RetryPolicy{Delays: cfg.KheopsRetryDelays, Jitter: 0.1},
		Facility:               delivery.RetryPolicy{Delays: cfg.FacilityRetryDelays, Jitter: 0.1},
		Workers:                cfg.Workers,
		PollInterval:           cfg.PollInterval,
		FetchCooldown:          cfg.FetchCooldown,
		DirectQueue:            directQueue(cfg.DirectQueue),
		WebhookConcurrency:     cfg.WebhookConcurrency,
		FastWebhookConcurrency: cfg.FastWebhookConcurrency,
		DisableAfter:           cfg.DisableAfter,
		Logger:                 log,
		Observer:               observer,
		Tracer:                 tp,
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
	st, _, err := openStore(ctx, cfg, log, nil, nil)
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

// serveMetrics serves GET /metrics alone on a listener of its own (WEBHOOKD_METRICS_ADDR),
// until stop is called.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics (WEBHOOKD_METRICS_ADDR): %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener failed", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	m := metrics.New(buildinfo.Get())
	var tp trace.TracerProvider
	if cfg.Traces {
		tracing, err := telemetry.New(ctx, buildinfo.Get())
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tracing.Shutdown(sctx); err != nil {
				log.Warn("flushing traces", "err", err)
			}
		}()
		tp = tracing.Provider()
		log.Info("exporting traces over OTLP/HTTP")
	}
	st, engine, err := openStore(ctx, cfg, log, m, tp)
	if err != nil {
		return err
	}
	defer st.Close()
	m.WatchQueue(engine, 5*time.Second, log)
	v, err := verifier(ctx, cfg, log)
	if err != nil {
		return err
	}
	opts := server.Options{Store: st, Verifier: v, Logger: log, Engine: engine, Observer: m, Tracer: tp}
	if cfg.MetricsAddr == "" {
		opts.Metrics = m.Handler()
	} else {
		stop, err := serveMetrics(cfg.MetricsAddr, m.Handler(), log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if cfg.AdminPassword != "" {
		ui, err := queueui.New(engine.Client(), cfg.AdminPassword, log)
		if err != nil {
			return err
		}
		if err := ui.Start(ctx); err != nil {
			return err
		}
		opts.QueueUI = ui
		log.Info("River UI at " + queueui.Prefix + " (basic auth, user " + queueui.User + ")")
	}
	h, err := server.New(opts).Handler()
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

// directQueue is the engine's DirectQueue of WEBHOOKD_DIRECT_QUEUE, where 0 turns direct
// dispatch off.
func directQueue(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
