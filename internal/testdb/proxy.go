package testdb

import (
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/webhookd/webhookd/store"
)

// Proxy is a TCP proxy between a store and its PostgreSQL server, for tests of database
// outages: Stop cuts every connection and refuses new ones, as a server that went down; Start
// takes connections again on the same address, as the server coming back. Pause holds every
// byte (connections stay open, nothing answers: a hung server) until Resume.
type Proxy struct {
	t      testing.TB
	target string
	addr   string

	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
	paused bool
	resume *sync.Cond // signalled by Resume, on mu
}

// StartProxy starts a proxy to target (host:port) on a loopback port; it stops with the test.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	p := &Proxy{t: t, target: target, conns: map[net.Conn]struct{}{}}
	p.resume = sync.NewCond(&p.mu)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p.addr = ln.Addr().String()
	p.ln = ln
	go p.serve(ln)
	t.Cleanup(p.Stop)
	return p
}

// Addr is the proxy's address (host:port).
func (p *Proxy) Addr() string { return p.addr }

// Pause holds every byte in both directions, and new connections, until Resume.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = true
}

// Resume lets the bytes held by Pause through.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = false
	p.resume.Broadcast()
}

// waitWhilePaused blocks while the proxy is paused.
func (p *Proxy) waitWhilePaused() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.paused {
		p.resume.Wait()
	}
}

// Stop closes the listener and every proxied connection (and resumes a paused proxy).
func (p *Proxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = false
	p.resume.Broadcast()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// Start listens again on the proxy's address.
func (p *Proxy) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	var err error
	for range 50 { // the port may linger a moment after Stop
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.ln = ln
			go p.serve(ln)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
}

func (p *Proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.waitWhilePaused()
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !p.track(c, u) {
			return
		}
		go p.pipe(c, u)
		go p.pipe(u, c)
	}
}

// track records a proxied pair, unless the proxy was stopped meanwhile.
func (p *Proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.waitWhilePaused()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// OpenViaProxy is Open on PostgreSQL through a Proxy, which it returns too.
func OpenViaProxy(t testing.TB, cfg store.Config) (*store.Store, *Proxy) {
	t.Helper()
	base := Config(t, Postgres)
	u, err := url.Parse(base.DatabaseURL)
	if err != nil {
		t.Fatalf("parse database URL: %v", err)
	}
	p := StartProxy(t, u.Host)
	u.Host = p.Addr()
	cfg.DatabaseURL, cfg.SQLitePath = u.String(), ""
	return open(t, cfg), p
}
