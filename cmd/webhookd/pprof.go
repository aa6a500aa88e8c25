//go:build pprof

package main

import (
	"net/http"
	_ "net/http/pprof" // the profiling handlers, on their own listener
	"os"
)

// A binary built with -tags pprof (bench/profile.sh) serves Go's profiles on
// WEBHOOKD_PPROF_ADDR; the shipped binary has no such endpoint.
func init() {
	if addr := os.Getenv("WEBHOOKD_PPROF_ADDR"); addr != "" {
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
}
