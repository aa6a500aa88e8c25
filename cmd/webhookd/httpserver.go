package main

import (
	"net/http"
	"time"
)

// httpLimits bound what one client can hold of the HTTP server (README, "Limits on requests").
type httpLimits struct {
	// ReadHeader bounds the reading of a request's headers.
	ReadHeader time.Duration
	// Read bounds the reading of a whole request, body included, from its first byte: a
	// client trickling a body is cut off then (1 MiB in 20 s is about 52 KB/s at least).
	Read time.Duration
	// Write bounds the time from the end of the request's headers to the end of the response.
	Write time.Duration
	// Idle bounds how long a keep-alive connection may wait for its next request.
	Idle time.Duration
	// MaxHeaderBytes bounds the size of the request line and headers (431 beyond).
	MaxHeaderBytes int
}

// defaultHTTPLimits are the limits of `webhookd serve`.
func defaultHTTPLimits() httpLimits {
	return httpLimits{
		ReadHeader:     5 * time.Second,
		Read:           20 * time.Second,
		Write:          30 * time.Second,
		Idle:           30 * time.Second,
		MaxHeaderBytes: 64 << 10,
	}
}

// httpServer returns the HTTP server of h under the given limits.
func httpServer(addr string, h http.Handler, l httpLimits) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}
