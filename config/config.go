// Package config reads webhookd's configuration from the environment, once, into a struct.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// maxDirectQueue bounds WEBHOOKD_DIRECT_QUEUE (delivery.MaxDirectQueue; config does not import
// the engine).
const maxDirectQueue = 100000

// Config is the whole configuration of the service.
type Config struct {
	// Addr is the listen address (WEBHOOKD_ADDR, default ":8080").
	Addr string
	// DataDir holds the SQLite database and the development signing key (WEBHOOKD_DATA_DIR,
	// default "./data").
	DataDir string
	// DatabaseURL selects PostgreSQL when it is a postgres:// URL (DATABASE_URL); empty selects
	// SQLite at DataDir/webhookd.db.
	DatabaseURL string

	// JWKSURL is the remote key set tokens are verified against (WEBHOOKD_JWKS_URL); empty means
	// the development key in DataDir.
	JWKSURL string
	// JWTIssuer and JWTAudience are checked when set (WEBHOOKD_JWT_ISSUER, WEBHOOKD_JWT_AUDIENCE).
	JWTIssuer   string
	JWTAudience string

	// PublicURL is the base URL receivers see as `host` (WEBHOOKD_PUBLIC_URL, default
	// "http://localhost:8080").
	PublicURL string
	// DeliveryTimeout bounds one webhook request (WEBHOOKD_DELIVERY_TIMEOUT, default 15s).
	DeliveryTimeout time.Duration
	// KheopsRetryDelays are the waits between attempts of album webhooks
	// (WEBHOOKD_KHEOPS_RETRY_DELAYS, default "5s,30s,2m,10m").
	KheopsRetryDelays []time.Duration
	// FacilityRetryDelays are those of facility and user webhooks
	// (WEBHOOKD_FACILITY_RETRY_DELAYS, default "5m,30m,60m").
	FacilityRetryDelays []time.Duration
	// AllowTargetCIDRs are non-public networks webhooks may nevertheless target
	// (WEBHOOKD_ALLOW_TARGET_CIDRS, comma-separated, default none).
	AllowTargetCIDRs []netip.Prefix
	// NewSeriesDelay is how long a study must be quiet before new_series fires
	// (WEBHOOKD_NEW_SERIES_DELAY, default 30s).
	NewSeriesDelay time.Duration

	// DisableAfter is how long every attempt of a webhook may fail (with at least 10 failed
	// deliveries) before it is disabled (WEBHOOKD_DISABLE_AFTER, default 5d; a Go duration, or
	// a number of days such as 5d).
	DisableAfter time.Duration
	// WebhookConcurrency bounds the attempts in flight per webhook and process
	// (WEBHOOKD_WEBHOOK_CONCURRENCY, default 10).
	WebhookConcurrency int
	// FastWebhookConcurrency bounds them while the webhook's attempts take under 100 ms on
	// average (WEBHOOKD_FAST_WEBHOOK_CONCURRENCY, default 40; never below WebhookConcurrency).
	FastWebhookConcurrency int

	// LogFormat is "text" or "json" (WEBHOOKD_LOG_FORMAT, default "text").
	LogFormat string
	// LogLevel is the lowest level logged (WEBHOOKD_LOG_LEVEL: debug, info, warn or error;
	// default info).
	LogLevel slog.Level
	// MetricsAddr, when set, serves /metrics on a listener of its own (WEBHOOKD_METRICS_ADDR);
	// empty serves it on Addr with the API.
	MetricsAddr string
	// AdminPassword, when set, mounts the River UI at /riverui behind HTTP basic auth as user
	// "admin" (WEBHOOKD_ADMIN_PASSWORD); empty leaves it off.
	AdminPassword string
	// Traces is true when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and neither OTEL_SDK_DISABLED=true nor
	// OTEL_TRACES_EXPORTER=none turns tracing off. The exporter reads the other OTEL_*
	// variables itself; only the http/protobuf protocol is supported.
	Traces bool

	// Workers is how many webhook requests one process makes at once through River
	// (WEBHOOKD_WORKERS, default 400), and as many again by direct dispatch on PostgreSQL.
	Workers int
	// PollInterval is how often the engine looks for attempts that came due without a
	// notification, retries above all (WEBHOOKD_POLL_INTERVAL, default 500ms): a retry starts
	// within about this long after its time.
	PollInterval time.Duration
	// FetchCooldown is the shortest time between two fetches of due attempts
	// (WEBHOOKD_FETCH_COOLDOWN, default 10ms).
	FetchCooldown time.Duration
	// DirectQueue bounds the first attempts that the process publishing them makes itself,
	// without the queue's fetch, on PostgreSQL (WEBHOOKD_DIRECT_QUEUE, default 10000, at most
	// 100000; 0 turns this direct dispatch off). See the README's "How delivery works".
	DirectQueue int
	// DBMaxConns bounds the database connection pool (WEBHOOKD_DB_MAX_CONNS, default 25 on
	// PostgreSQL, 4 on SQLite); idle connections are kept, up to the same number (on
	// PostgreSQL for 5 minutes of idleness).
	DBMaxConns int
}

// SQLitePath is where the embedded database lives.
func (c Config) SQLitePath() string { return filepath.Join(c.DataDir, "webhookd.db") }

// FromEnv reads the configuration from the process environment.
func FromEnv() (Config, error) { return Parse(os.Getenv) }

// Parse reads the configuration through getenv, reporting every bad value at once.
func Parse(getenv func(string) string) (Config, error) {
	get := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	duration := func(key, def string) time.Duration {
		d, err := time.ParseDuration(get(key, def))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: want a positive Go duration such as 15s, got %q", key, get(key, def)))
		}
		return d
	}
	count := func(key, def string) int {
		n, err := strconv.Atoi(get(key, def))
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("%s: want a positive integer, got %q", key, get(key, def)))
		}
		return n
	}
	durations := func(key, def string) []time.Duration {
		var out []time.Duration
		for _, part := range strings.Split(get(key, def), ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s: want comma-separated positive Go durations such as 5s,30s, got %q", key, get(key, def)))
				return nil
			}
			out = append(out, d)
		}
		return out
	}
	days := func(key, def string) time.Duration {
		v := get(key, def)
		if n, ok := strings.CutSuffix(v, "d"); ok {
			if d, err := strconv.Atoi(n); err == nil && d > 0 {
				return time.Duration(d) * 24 * time.Hour
			}
		} else if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
		errs = append(errs, fmt.Errorf("%s: want a number of days such as 5d or a positive Go duration such as 36h, got %q", key, v))
		return 0
	}
	atLeast := func(key, def string, least int) int {
		n, err := strconv.Atoi(get(key, def))
		if err != nil || n < least {
			errs = append(errs, fmt.Errorf("%s: want an integer >= %d, got %q", key, least, get(key, def)))
		}
		return n
	}
	positive := func(key, def string) int { return atLeast(key, def, 1) }
	c := Config{
		Addr:                   get("WEBHOOKD_ADDR", ":8080"),
		DataDir:                get("WEBHOOKD_DATA_DIR", "./data"),
		DatabaseURL:            get("DATABASE_URL", ""),
		JWKSURL:                get("WEBHOOKD_JWKS_URL", ""),
		JWTIssuer:              get("WEBHOOKD_JWT_ISSUER", ""),
		JWTAudience:            get("WEBHOOKD_JWT_AUDIENCE", ""),
		PublicURL:              strings.TrimRight(get("WEBHOOKD_PUBLIC_URL", "http://localhost:8080"), "/"),
		DeliveryTimeout:        duration("WEBHOOKD_DELIVERY_TIMEOUT", "15s"),
		KheopsRetryDelays:      durations("WEBHOOKD_KHEOPS_RETRY_DELAYS", "5s,30s,2m,10m"),
		FacilityRetryDelays:    durations("WEBHOOKD_FACILITY_RETRY_DELAYS", "5m,30m,60m"),
		NewSeriesDelay:         duration("WEBHOOKD_NEW_SERIES_DELAY", "30s"),
		DisableAfter:           days("WEBHOOKD_DISABLE_AFTER", "5d"),
		WebhookConcurrency:     positive("WEBHOOKD_WEBHOOK_CONCURRENCY", "10"),
		FastWebhookConcurrency: positive("WEBHOOKD_FAST_WEBHOOK_CONCURRENCY", "40"),
		LogFormat:              strings.ToLower(get("WEBHOOKD_LOG_FORMAT", "text")),
		MetricsAddr:            get("WEBHOOKD_METRICS_ADDR", ""),
		AdminPassword:          getenv("WEBHOOKD_ADMIN_PASSWORD"),
		Workers:                count("WEBHOOKD_WORKERS", "400"),
		PollInterval:           duration("WEBHOOKD_POLL_INTERVAL", "500ms"),
		FetchCooldown:          duration("WEBHOOKD_FETCH_COOLDOWN", "10ms"),
		DirectQueue:            atLeast("WEBHOOKD_DIRECT_QUEUE", "10000", 0),
	}
	if get("WEBHOOKD_DB_MAX_CONNS", "") != "" {
		c.DBMaxConns = count("WEBHOOKD_DB_MAX_CONNS", "")
	}
	// The engine sets the direct queue's room aside at start (328 bytes a slot): 100,000 is 33 MB.
	if c.DirectQueue > maxDirectQueue {
		errs = append(errs, fmt.Errorf("WEBHOOKD_DIRECT_QUEUE: want at most %d, got %d", maxDirectQueue, c.DirectQueue))
	}
	if c.FetchCooldown > c.PollInterval {
		errs = append(errs, errors.New("WEBHOOKD_FETCH_COOLDOWN: may not exceed WEBHOOKD_POLL_INTERVAL"))
	}
	c.Traces = (getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "") &&
		getenv("OTEL_SDK_DISABLED") != "true" && getenv("OTEL_TRACES_EXPORTER") != "none"
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := get(k, ""); c.Traces && v != "" && v != "http/protobuf" {
			errs = append(errs, fmt.Errorf("%s: webhookd exports traces over http/protobuf only, got %q", k, v))
		}
	}
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		errs = append(errs, err)
	}
	if err := checkPublicURL(c.PublicURL); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("WEBHOOKD_LOG_FORMAT: want text or json, got %q", c.LogFormat))
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("WEBHOOKD_LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("WEBHOOKD_LOG_LEVEL: want debug, info, warn or error, got %q", get("WEBHOOKD_LOG_LEVEL", "info")))
	}
	if cidrs := get("WEBHOOKD_ALLOW_TARGET_CIDRS", ""); cidrs != "" {
		for _, part := range strings.Split(cidrs, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(part))
			if err != nil {
				errs = append(errs, fmt.Errorf("WEBHOOKD_ALLOW_TARGET_CIDRS: %q is not a CIDR such as 127.0.0.0/8", part))
				continue
			}
			c.AllowTargetCIDRs = append(c.AllowTargetCIDRs, p.Masked())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// checkDatabaseURL accepts nothing (SQLite) or a postgres:// URL naming a host.
// The message never repeats the URL, which may hold a password.
func checkDatabaseURL(s string) error {
	if s == "" {
		return nil
	}
	const want = "want postgres://user[:password]@host[:port]/database[?sslmode=...], or nothing for the embedded SQLite"
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: not a URL (%s)", want)
	}
	switch {
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
		return fmt.Errorf("DATABASE_URL: scheme %q is not postgres (%s)", u.Scheme, want)
	case u.Host == "":
		return fmt.Errorf("DATABASE_URL: no host (%s)", want)
	}
	return nil
}

// checkPublicURL accepts an absolute http(s) URL with a host and no query or fragment: it is
// the base receivers see as `host`.
func checkPublicURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("WEBHOOKD_PUBLIC_URL: want an absolute http:// or https:// URL such as https://hooks.example.org, got %q", s)
	}
	return nil
}
