package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDefaultHTTPLimits pins the limits `webhookd serve` runs with: every one is set, and none
// lets a client hold a connection for more than a minute.
func TestDefaultHTTPLimits(t *testing.T) {
	l := defaultHTTPLimits()
	srv := httpServer(":0", http.NotFoundHandler(), l)
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout": srv.ReadTimeout, "WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout} {
		if d <= 0 || d > time.Minute {
			t.Errorf("%s = %v, want in (0, 1m]", name, d)
		}
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d", srv.MaxHeaderBytes)
	}
}

// TestHTTPLimitsCloseSlowClients reproduces issue 7's slow clients (50 connections trickling a
// body at a byte a second, 50 idle keep-alive connections, and trickled headers) against a
// server with short limits, and checks that the server closes every one of them in time.
func TestHTTPLimitsCloseSlowClients(t *testing.T) {
	l := httpLimits{ReadHeader: 500 * time.Millisecond, Read: time.Second, Write: 2 * time.Second,
		Idle: time.Second, MaxHeaderBytes: 4 << 10}
	srv := httpServer("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}), l)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := ln.Addr().String()

	// Each slow client returns how long the server kept its connection.
	trickleBody := func(c net.Conn) {
		_, _ = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
		for range 1000 {
			if _, err := c.Write([]byte("a")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	trickleHeaders := func(c net.Conn) {
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\n")
		for range 1000 {
			if _, err := io.WriteString(c, "X: y\r\n"); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	idle := func(c net.Conn) {
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		// The answer is read by held, which then waits for the close.
	}
	const limit = 4 * time.Second // the longest limit above plus margin
	type result struct {
		kind string
		held time.Duration
	}
	results := make(chan result, 110)
	var wg sync.WaitGroup
	run := func(kind string, n int, client func(net.Conn)) {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				start := time.Now()
				go client(c)
				_ = c.SetReadDeadline(start.Add(limit + 5*time.Second))
				// Read until the server closes the connection (EOF or reset).
				_, _ = io.Copy(io.Discard, c)
				results <- result{kind, time.Since(start)}
			}()
		}
	}
	run("trickled body", 50, trickleBody)
	run("idle keep-alive", 50, idle)
	run("trickled headers", 10, trickleHeaders)
	wg.Wait()
	close(results)
	worst := map[string]time.Duration{}
	count := map[string]int{}
	for r := range results {
		count[r.kind]++
		worst[r.kind] = max(worst[r.kind], r.held)
	}
	for kind, n := range map[string]int{"trickled body": 50, "idle keep-alive": 50, "trickled headers": 10} {
		if count[kind] != n {
			t.Errorf("%s: %d connections ended, want %d", kind, count[kind], n)
		}
		if worst[kind] > limit {
			t.Errorf("%s: a connection was held %v, want at most %v", kind, worst[kind], limit)
		}
		t.Logf("%s: %d connections, closed by the server after at most %v", kind, count[kind], worst[kind].Round(time.Millisecond))
	}

	// A request over MaxHeaderBytes is refused with 431.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 8<<10)+"\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized headers: %d, want 431", res.StatusCode)
	}
}
