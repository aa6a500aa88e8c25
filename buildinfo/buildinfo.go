// Package buildinfo tells which build of webhookd is running: the version, commit and build
// date stamped at link time by the Makefile and the Dockerfile, else read from the build
// information the Go toolchain embeds.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// BaseVersion is the version of an unstamped build.
const BaseVersion = "0.1.0"

// Stamped at link time:
//
//	go build -ldflags "-X github.com/webhookd/webhookd/buildinfo.commit=$(git rev-parse --short HEAD)
//	  -X github.com/webhookd/webhookd/buildinfo.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
//
// (version too, to override BaseVersion). They are never written at run time.
var (
	version string
	commit  string
	date    string
)

// Info describes a build.
type Info struct {
	// Version is the release, e.g. "0.1.0".
	Version string
	// Commit is the source revision, or "unknown".
	Commit string
	// Date is when the binary was built (or, unstamped, the commit's time), or "unknown".
	Date string
	// GoVersion is the toolchain that built it.
	GoVersion string
}

// Get returns the running build's information.
func Get() Info {
	return resolve(version, commit, date, debug.ReadBuildInfo)
}

// resolve prefers the stamped values and falls back on the embedded build information.
func resolve(v, c, d string, read func() (*debug.BuildInfo, bool)) Info {
	info := Info{Version: v, Commit: c, Date: d, GoVersion: runtime.Version()}
	if bi, ok := read(); ok {
		info.GoVersion = bi.GoVersion
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && info.Commit == "":
				info.Commit = s.Value
			case s.Key == "vcs.time" && info.Date == "":
				info.Date = s.Value
			}
		}
	}
	if info.Version == "" {
		info.Version = BaseVersion
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	if info.Date == "" {
		info.Date = "unknown"
	}
	return info
}

// String is what `webhookd version` prints.
func (i Info) String() string {
	return fmt.Sprintf("webhookd %s (commit %s, built %s, %s)", i.Version, i.Commit, i.Date, i.GoVersion)
}

// UserAgent is sent with every webhook request, e.g. "webhookd/0.1.0".
func (i Info) UserAgent() string { return "webhookd/" + i.Version }
