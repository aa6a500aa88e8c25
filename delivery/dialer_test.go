package delivery

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseCIDRs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"   ", nil, false},
		{"10.0.0.0/8", []string{"10.0.0.0/8"}, false},
		{" 10.0.0.0/8 , fd00::/8,127.0.0.0/8 ", []string{"10.0.0.0/8", "fd00::/8", "127.0.0.0/8"}, false},
		{"10.1.2.3/8", []string{"10.0.0.0/8"}, false},
		{"192.168.1.5", []string{"192.168.1.5/32"}, false},
		{"::1", []string{"::1/128"}, false},
		{"10.0.0.0/8,,fd00::/8", nil, true},
		{"10.0.0.0/8,", nil, true},
		{"10.0.0.0/33", nil, true},
		{"example.com", nil, true},
		{"fe80::1%eth0", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCIDRs(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseCIDRs(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			var gotS []string
			for _, p := range got {
				gotS = append(gotS, p.String())
			}
			if !reflect.DeepEqual(gotS, tt.want) {
				t.Fatalf("ParseCIDRs(%q) = %v, want %v", tt.in, gotS, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	allowLoopback := TargetPolicy{Allow: []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
	}}
	allowPrivate := TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		addr   string
		policy TargetPolicy
		reason string // "" = allowed
	}{
		// Public.
		{"8.8.8.8", TargetPolicy{}, ""},
		{"1.1.1.1", TargetPolicy{}, ""},
		{"2606:4700::1111", TargetPolicy{}, ""},
		{"2a00:1450:4001:80b::200e", TargetPolicy{}, ""},
		{"172.32.0.1", TargetPolicy{}, ""},
		{"100.128.0.1", TargetPolicy{}, ""},
		{"::ffff:8.8.8.8", TargetPolicy{}, ""},
		{"64:ff9b::808:808", TargetPolicy{}, ""},
		{"2002:808:808::1", TargetPolicy{}, ""},
		// IPv4.
		{"0.0.0.0", TargetPolicy{}, "unspecified"},
		{"0.1.2.3", TargetPolicy{}, "this network"},
		{"127.0.0.1", TargetPolicy{}, "loopback"},
		{"127.255.255.254", TargetPolicy{}, "loopback"},
		{"10.0.0.1", TargetPolicy{}, "private (RFC 1918)"},
		{"172.16.0.1", TargetPolicy{}, "private (RFC 1918)"},
		{"172.31.255.255", TargetPolicy{}, "private (RFC 1918)"},
		{"192.168.1.1", TargetPolicy{}, "private (RFC 1918)"},
		{"169.254.169.254", TargetPolicy{}, "cloud metadata"},
		{"169.254.1.1", TargetPolicy{}, "link-local"},
		{"100.64.0.1", TargetPolicy{}, "carrier-grade NAT"},
		{"100.127.255.255", TargetPolicy{}, "carrier-grade NAT"},
		{"198.18.0.1", TargetPolicy{}, "benchmarking"},
		{"198.19.255.255", TargetPolicy{}, "benchmarking"},
		{"192.0.0.8", TargetPolicy{}, "IETF protocol assignments"},
		{"192.0.2.1", TargetPolicy{}, "documentation"},
		{"198.51.100.1", TargetPolicy{}, "documentation"},
		{"203.0.113.1", TargetPolicy{}, "documentation"},
		{"224.0.0.1", TargetPolicy{}, "multicast"},
		{"239.255.255.250", TargetPolicy{}, "multicast"},
		{"240.0.0.1", TargetPolicy{}, "class E"},
		{"255.255.255.255", TargetPolicy{}, "broadcast"},
		// IPv6.
		{"::", TargetPolicy{}, "unspecified"},
		{"::1", TargetPolicy{}, "loopback"},
		{"fc00::1", TargetPolicy{}, "unique local"},
		{"fd12:3456::1", TargetPolicy{}, "unique local"},
		{"fe80::1", TargetPolicy{}, "link-local"},
		{"fe80::1%eth0", TargetPolicy{}, "link-local"},
		{"ff02::1", TargetPolicy{}, "multicast"},
		{"2001:db8::1", TargetPolicy{}, "documentation"},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", TargetPolicy{}, "Teredo"},
		{"100::1", TargetPolicy{}, "discard"},
		{"4000::1", TargetPolicy{}, "outside global unicast"},
		// IPv4 inside IPv6.
		{"::ffff:127.0.0.1", TargetPolicy{}, "loopback"},
		{"::ffff:10.0.0.1", TargetPolicy{}, "private (RFC 1918)"},
		{"::ffff:169.254.169.254", TargetPolicy{}, "cloud metadata"},
		{"::127.0.0.1", TargetPolicy{}, "IPv4-compatible form of 127.0.0.1, which is loopback"},
		{"64:ff9b::a00:1", TargetPolicy{}, "NAT64 form of 10.0.0.1, which is private (RFC 1918)"},
		{"64:ff9b::7f00:1", TargetPolicy{}, "NAT64 form of 127.0.0.1, which is loopback"},
		{"64:ff9b::a9fe:a9fe", TargetPolicy{}, "cloud metadata"},
		{"2002:a00:1::1", TargetPolicy{}, "6to4 form of 10.0.0.1, which is private (RFC 1918)"},
		{"2002:c0a8:101::", TargetPolicy{}, "6to4 form of 192.168.1.1"},
		// Allowlist.
		{"127.0.0.1", allowLoopback, ""},
		{"127.9.9.9", allowLoopback, ""},
		{"::ffff:127.0.0.1", allowLoopback, ""},
		{"::1", allowLoopback, ""},
		{"10.0.0.1", allowLoopback, "private (RFC 1918)"},
		{"::2", allowLoopback, "IPv4-compatible"},
		{"10.20.30.40", allowPrivate, ""},
		{"64:ff9b::a00:1", allowPrivate, ""},
		{"2002:a00:1::1", allowPrivate, ""},
		{"192.168.0.1", allowPrivate, "private (RFC 1918)"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			err := tt.policy.Check(netip.MustParseAddr(tt.addr))
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Check(%s) = %v, want allowed", tt.addr, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check(%s) = nil, want refused (%s)", tt.addr, tt.reason)
			}
			if !errors.Is(err, ErrTargetRefused) {
				t.Errorf("Check(%s) = %v, does not wrap ErrTargetRefused", tt.addr, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Check(%s) = %q, want it to mention %q", tt.addr, err, tt.reason)
			}
		})
	}
}

func TestCheckMessage(t *testing.T) {
	err := TargetPolicy{}.Check(netip.MustParseAddr("10.0.0.1"))
	if got, want := err.Error(), "target refused: address 10.0.0.1 is private (RFC 1918)"; got != want {
		t.Fatalf("error = %q, want %q", got, want)
	}
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Addr != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("error %v is not a *RefusedError for 10.0.0.1", err)
	}
	if err := (TargetPolicy{}).Check(netip.Addr{}); !errors.Is(err, ErrTargetRefused) {
		t.Fatalf("Check(zero Addr) = %v, want refused", err)
	}
}

func TestControl(t *testing.T) {
	p := TargetPolicy{}
	tests := []struct {
		network, address string
		refused          bool
	}{
		{"tcp4", "127.0.0.1:80", true},
		{"tcp4", "169.254.169.254:80", true},
		{"tcp6", "[::1]:443", true},
		{"tcp6", "[fe80::1%eth0]:443", true},
		{"tcp6", "[::ffff:10.0.0.1]:443", true},
		{"tcp4", "8.8.8.8:443", false},
		{"tcp6", "[2606:4700::1111]:443", false},
		{"tcp", "not-an-address", true},
	}
	for _, tt := range tests {
		err := p.Control(tt.network, tt.address, nil)
		if (err != nil) != tt.refused {
			t.Errorf("Control(%s, %s) = %v, want refused %v", tt.network, tt.address, err, tt.refused)
		}
		if err != nil && !errors.Is(err, ErrTargetRefused) {
			t.Errorf("Control(%s, %s) = %v, does not wrap ErrTargetRefused", tt.network, tt.address, err)
		}
	}
}

// TestNetDialerControl checks the last line of defence: a plain net.Dialer
// with the policy's Control hook cannot connect to a loopback listener.
func TestNetDialerControl(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	_, err := TargetPolicy{}.NetDialer().DialContext(context.Background(), "tcp", addr)
	if !errors.Is(err, ErrTargetRefused) {
		t.Fatalf("dial %s without allowlist: %v, want refused", addr, err)
	}
	allow := TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	conn, err := allow.NetDialer().DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("dial %s with allowlist: %v", addr, err)
	}
	conn.Close()
}

// fakeLookup resolves every host to addrs and counts its calls.
func fakeLookup(calls *int, addrs ...string) func(context.Context, string, string) ([]netip.Addr, error) {
	return func(_ context.Context, _, _ string) ([]netip.Addr, error) {
		*calls++
		var out []netip.Addr
		for _, a := range addrs {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}

func TestDialerResolvedAddresses(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	allowLoopback := TargetPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

	tests := []struct {
		name     string
		policy   TargetPolicy
		resolved []string
		wantErr  string // "" = connects
	}{
		{"private among public", TargetPolicy{}, []string{"8.8.8.8", "10.0.0.1"}, "target refused: host hooks.example: address 10.0.0.1 is private (RFC 1918)"},
		{"loopback first", TargetPolicy{}, []string{"127.0.0.1", "8.8.8.8"}, "address 127.0.0.1 is loopback"},
		{"allowed loopback but also ::1", allowLoopback, []string{"127.0.0.1", "::1"}, "address ::1 is loopback"},
		{"mapped loopback", TargetPolicy{}, []string{"::ffff:127.0.0.1"}, "address 127.0.0.1 is loopback"},
		{"allowed loopback", allowLoopback, []string{"127.0.0.1"}, ""},
		{"allowed mapped loopback", allowLoopback, []string{"::ffff:127.0.0.1"}, ""},
		{"no addresses", allowLoopback, nil, "no such host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			d := &Dialer{Policy: tt.policy, Lookup: fakeLookup(&calls, tt.resolved...)}
			conn, err := d.DialContext(context.Background(), "tcp", net.JoinHostPort("hooks.example", port))
			if calls != 1 {
				t.Errorf("lookup called %d times, want 1", calls)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DialContext: %v", err)
				}
				conn.Close()
				return
			}
			if err == nil {
				conn.Close()
				t.Fatalf("DialContext connected, want error %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("DialContext error = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestDialerLiteralAndNetworks(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	calls := 0
	d := &Dialer{Lookup: fakeLookup(&calls)}

	_, err := d.DialContext(context.Background(), "tcp", addr)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Host != "" {
		t.Fatalf("dial literal %s: %v, want *RefusedError without host", addr, err)
	}
	if calls != 0 {
		t.Errorf("lookup called for an address literal")
	}
	if _, err := d.DialContext(context.Background(), "udp", addr); err == nil {
		t.Errorf("udp dial succeeded, want unsupported network")
	}
	if _, err := d.DialContext(context.Background(), "tcp", "no-port"); err == nil {
		t.Errorf("dial without port succeeded")
	}
}
