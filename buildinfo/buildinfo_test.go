package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-11-23T10:00:00Z"}}}, true
	}
	tagged := func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.2.0"}}, true
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	tests := []struct {
		name          string
		v, c, d       string
		read          func() (*debug.BuildInfo, bool)
		want          Info
		wantUserAgent string
	}{
		{"stamped wins", "1.2.3", "deadbee", "2026-11-23T19:00:00Z", vcs,
			Info{"1.2.3", "deadbee", "2026-11-23T19:00:00Z", "go1.26.8"}, "webhookd/1.2.3"},
		{"stamped commit only keeps the base version", "", "deadbee", "", vcs,
			Info{BaseVersion, "deadbee", "2026-11-23T10:00:00Z", "go1.26.8"}, "webhookd/" + BaseVersion},
		{"build info", "", "", "", vcs, Info{BaseVersion, "abc123", "2026-11-23T10:00:00Z", "go1.26.8"}, "webhookd/" + BaseVersion},
		{"module version", "", "", "", tagged, Info{"v0.2.0", "unknown", "unknown", "go1.26.8"}, "webhookd/v0.2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolve(tt.v, tt.c, tt.d, tt.read)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.UserAgent() != tt.wantUserAgent {
				t.Errorf("user agent %q", got.UserAgent())
			}
		})
	}
	if got := resolve("", "", "", none); got.Version != BaseVersion || got.Commit != "unknown" || got.Date != "unknown" || got.GoVersion == "" {
		t.Errorf("no build info: %+v", got)
	}
	if s := (Info{"0.1.0", "abc", "today", "go1.26.8"}).String(); s != "webhookd 0.1.0 (commit abc, built today, go1.26.8)" {
		t.Errorf("String() = %q", s)
	}
}
