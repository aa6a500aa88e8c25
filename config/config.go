// Package config reads webhookd's configuration from the environment, once, into a struct.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

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
	c := Config{
		Addr:                get("WEBHOOKD_ADDR", ":8080"),
		DataDir:             get("WEBHOOKD_DATA_DIR", "./data"),
		DatabaseURL:         get("DATABASE_URL", ""),
		JWKSURL:             get("WEBHOOKD_JWKS_URL", ""),
		JWTIssuer:           get("WEBHOOKD_JWT_ISSUER", ""),
		JWTAudience:         get("WEBHOOKD_JWT_AUDIENCE", ""),
		PublicURL:           strings.TrimRight(get("WEBHOOKD_PUBLIC_URL", "http://localhost:8080"), "/"),
		DeliveryTimeout:     duration("WEBHOOKD_DELIVERY_TIMEOUT", "15s"),
		KheopsRetryDelays:   durations("WEBHOOKD_KHEOPS_RETRY_DELAYS", "5s,30s,2m,10m"),
		FacilityRetryDelays: durations("WEBHOOKD_FACILITY_RETRY_DELAYS", "5m,30m,60m"),
		NewSeriesDelay:      duration("WEBHOOKD_NEW_SERIES_DELAY", "30s"),
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		errs = append(errs, errors.New("DATABASE_URL: want a postgres:// URL, or nothing for the embedded SQLite"))
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
