package config

import (
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
			},
		},
		{
			name: "every bad value reported",
			env: map[string]string{
				"WEBHOOKD_DELIVERY_TIMEOUT":      "soon",
				"WEBHOOKD_ALLOW_TARGET_CIDRS":    "localhost",
				"DATABASE_URL":                   "mysql://x",
				"WEBHOOKD_FACILITY_RETRY_DELAYS": "5m,,1h",
			},
			wantErr: []string{"WEBHOOKD_DELIVERY_TIMEOUT", "WEBHOOKD_ALLOW_TARGET_CIDRS", "DATABASE_URL", "WEBHOOKD_FACILITY_RETRY_DELAYS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(func(k string) string { return tt.env[k] })
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("want an error")
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
