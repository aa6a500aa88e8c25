package config

import (
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr []string
	}{
		{
			name: "defaults",
			env:  nil,
			check: func(t *testing.T, c Config) {
				if c.Addr != ":8080" || c.DataDir != "./data" || c.PublicURL != "http://localhost:8080" {
					t.Errorf("defaults: %+v", c)
				}
				if c.DeliveryTimeout != 15*time.Second || c.NewSeriesDelay != 30*time.Second {
					t.Errorf("durations: %v %v", c.DeliveryTimeout, c.NewSeriesDelay)
				}
				if len(c.KheopsRetryDelays) != 4 || c.KheopsRetryDelays[3] != 10*time.Minute {
					t.Errorf("kheops delays: %v", c.KheopsRetryDelays)
				}
				if len(c.FacilityRetryDelays) != 3 || c.FacilityRetryDelays[2] != time.Hour {
					t.Errorf("facility delays: %v", c.FacilityRetryDelays)
				}
				if c.Workers != 400 || c.PollInterval != 500*time.Millisecond || c.FetchCooldown != 10*time.Millisecond || c.DBMaxConns != 0 || c.DirectQueue != 10000 {
					t.Errorf("engine: %d workers, poll %v, cooldown %v, %d connections", c.Workers, c.PollInterval, c.FetchCooldown, c.DBMaxConns)
				}
				if c.SQLitePath() != "data/webhookd.db" {
					t.Errorf("sqlite path %q", c.SQLitePath())
				}
			},
		},
		{
			name: "overrides",
			env: map[string]string{
				"WEBHOOKD_ALLOW_TARGET_CIDRS":  "127.0.0.1/8, ::1/128",
				"WEBHOOKD_PUBLIC_URL":          "https://hooks.example.org/",
				"DATABASE_URL":                 "postgres://u@h/db",
				"WEBHOOKD_KHEOPS_RETRY_DELAYS": "1s,2s",
				"WEBHOOKD_WORKERS":             "7",
				"WEBHOOKD_POLL_INTERVAL":       "2s",
				"WEBHOOKD_FETCH_COOLDOWN":      "50ms",
				"WEBHOOKD_DB_MAX_CONNS":        "12",
				"WEBHOOKD_DIRECT_QUEUE":        "0",
			},
			check: func(t *testing.T, c Config) {
				want := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
				if len(c.AllowTargetCIDRs) != 2 || c.AllowTargetCIDRs[0] != want[0] || c.AllowTargetCIDRs[1] != want[1] {
					t.Errorf("cidrs %v", c.AllowTargetCIDRs)
				}
				if c.PublicURL != "https://hooks.example.org" {
					t.Errorf("public url %q", c.PublicURL)
				}
				if len(c.KheopsRetryDelays) != 2 {
					t.Errorf("delays %v", c.KheopsRetryDelays)
				}
				if c.Workers != 7 || c.PollInterval != 2*time.Second || c.FetchCooldown != 50*time.Millisecond || c.DBMaxConns != 12 || c.DirectQueue != 0 {
					t.Errorf("engine: %d workers, poll %v, cooldown %v, %d connections", c.Workers, c.PollInterval, c.FetchCooldown, c.DBMaxConns)
				}
			},
		},
		{
			name: "every bad value reported",
			env: map[string]string{
				"WEBHOOKD_DELIVERY_TIMEOUT":      "soon",
				"WEBHOOKD_ALLOW_TARGET_CIDRS":    "localhost",
				"DATABASE_URL":                   "mysql://x",
				"WEBHOOKD_FACILITY_RETRY_DELAYS": "5m,,1h",
				"WEBHOOKD_WORKERS":               "0",
				"WEBHOOKD_DB_MAX_CONNS":          "many",
				"WEBHOOKD_POLL_INTERVAL":         "-1s",
			},
			wantErr: []string{"WEBHOOKD_DELIVERY_TIMEOUT", "WEBHOOKD_ALLOW_TARGET_CIDRS", "DATABASE_URL", "WEBHOOKD_FACILITY_RETRY_DELAYS",
				"WEBHOOKD_WORKERS", "WEBHOOKD_DB_MAX_CONNS", "WEBHOOKD_POLL_INTERVAL"},
		},
		{
			name:    "negative direct queue",
			env:     map[string]string{"WEBHOOKD_DIRECT_QUEUE": "-1"},
			wantErr: []string{"WEBHOOKD_DIRECT_QUEUE"},
		},
		{
			// Its room is set aside at start: a billion would be 328 GB.
			name:    "direct queue too large",
			env:     map[string]string{"WEBHOOKD_DIRECT_QUEUE": "1000000000"},
			wantErr: []string{"WEBHOOKD_DIRECT_QUEUE: want at most 100000"},
		},
		{
			name:    "cooldown longer than the poll interval",
			env:     map[string]string{"WEBHOOKD_POLL_INTERVAL": "100ms", "WEBHOOKD_FETCH_COOLDOWN": "1s"},
			wantErr: []string{"WEBHOOKD_FETCH_COOLDOWN"},
		},
		{
			name: "logging and operations",
			env: map[string]string{"WEBHOOKD_LOG_FORMAT": "JSON", "WEBHOOKD_LOG_LEVEL": "debug",
				"WEBHOOKD_METRICS_ADDR": "127.0.0.1:9090", "WEBHOOKD_ADMIN_PASSWORD": " pw "},
			check: func(t *testing.T, c Config) {
				if c.LogFormat != "json" || c.LogLevel != slog.LevelDebug || c.MetricsAddr != "127.0.0.1:9090" || c.AdminPassword != " pw " {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "logging defaults",
			check: func(t *testing.T, c Config) {
				if c.LogFormat != "text" || c.LogLevel != slog.LevelInfo || c.MetricsAddr != "" || c.AdminPassword != "" {
					t.Errorf("got %+v", c)
				}
			},
		},
		{
			name: "traces on with an endpoint",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			check: func(t *testing.T, c Config) {
				if !c.Traces {
					t.Error("traces off")
				}
			},
		},
		{
			name: "endpoint health",
			env:  map[string]string{"WEBHOOKD_DISABLE_AFTER": "2d", "WEBHOOKD_WEBHOOK_CONCURRENCY": "3", "WEBHOOKD_FAST_WEBHOOK_CONCURRENCY": "12"},
			check: func(t *testing.T, c Config) {
				if c.DisableAfter != 48*time.Hour || c.WebhookConcurrency != 3 || c.FastWebhookConcurrency != 12 {
					t.Errorf("got %v %d %d", c.DisableAfter, c.WebhookConcurrency, c.FastWebhookConcurrency)
				}
			},
		},
		{
			name: "traces off: no endpoint, or turned off",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			check: func(t *testing.T, c Config) {
				if c.Traces {
					t.Error("traces on without an endpoint")
				}
				for _, off := range []map[string]string{
					{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces", "OTEL_SDK_DISABLED": "true"},
					{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"},
				} {
					if c, err := Parse(func(k string) string { return off[k] }); err != nil || c.Traces {
						t.Errorf("%v: traces %v, %v", off, c.Traces, err)
					}
				}
			},
		},
		{name: "grpc is not supported", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			wantErr: []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"}},
		{
			name: "endpoint health defaults and a Go duration",
			env:  map[string]string{"WEBHOOKD_DISABLE_AFTER": "36h"},
			check: func(t *testing.T, c Config) {
				if c.DisableAfter != 36*time.Hour || c.WebhookConcurrency != 10 || c.FastWebhookConcurrency != 40 {
					t.Errorf("got %v %d %d", c.DisableAfter, c.WebhookConcurrency, c.FastWebhookConcurrency)
				}
				if d, _ := Parse(func(string) string { return "" }); d.DisableAfter != 5*24*time.Hour {
					t.Errorf("default disable after %v", d.DisableAfter)
				}
			},
		},
		{name: "bad endpoint health", env: map[string]string{"WEBHOOKD_DISABLE_AFTER": "0d", "WEBHOOKD_WEBHOOK_CONCURRENCY": "0", "WEBHOOKD_FAST_WEBHOOK_CONCURRENCY": "-1"},
			wantErr: []string{"WEBHOOKD_DISABLE_AFTER", "WEBHOOKD_WEBHOOK_CONCURRENCY", "WEBHOOKD_FAST_WEBHOOK_CONCURRENCY"}},
		{name: "bad log format", env: map[string]string{"WEBHOOKD_LOG_FORMAT": "xml"}, wantErr: []string{"WEBHOOKD_LOG_FORMAT"}},
		{name: "bad log level", env: map[string]string{"WEBHOOKD_LOG_LEVEL": "loud"}, wantErr: []string{"WEBHOOKD_LOG_LEVEL"}},
		{name: "public url not a url", env: map[string]string{"WEBHOOKD_PUBLIC_URL": "not a url"}, wantErr: []string{"WEBHOOKD_PUBLIC_URL", "absolute http"}},
		{name: "public url without scheme", env: map[string]string{"WEBHOOKD_PUBLIC_URL": "hooks.example.org"}, wantErr: []string{"WEBHOOKD_PUBLIC_URL"}},
		{name: "public url ftp", env: map[string]string{"WEBHOOKD_PUBLIC_URL": "ftp://hooks.example.org"}, wantErr: []string{"WEBHOOKD_PUBLIC_URL"}},
		{name: "public url with query", env: map[string]string{"WEBHOOKD_PUBLIC_URL": "https://h.example.org/?a=1"}, wantErr: []string{"WEBHOOKD_PUBLIC_URL"}},
		{name: "database url without host", env: map[string]string{"DATABASE_URL": "postgres:///webhookd"}, wantErr: []string{"DATABASE_URL: no host"}},
		{name: "database url unparsable", env: map[string]string{"DATABASE_URL": "postgres://u:p@h:port/db"}, wantErr: []string{"DATABASE_URL: not a URL"}},
		{
			name:    "database url password never echoed",
			env:     map[string]string{"DATABASE_URL": "mysql://user:hunter2@h/db"},
			wantErr: []string{"DATABASE_URL"},
			check:   func(t *testing.T, c Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(func(k string) string { return tt.env[k] })
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("want an error")
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error %q repeats the password", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}
