package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrTargetRefused is wrapped by every error that refuses a delivery target
// because of its address (see TargetPolicy.Check).
var ErrTargetRefused = errors.New("target refused")

// RefusedError reports a target address that TargetPolicy refuses. It wraps
// ErrTargetRefused.
type RefusedError struct {
	// Host is the host name that resolved to Addr; empty when the target
	// was an address literal or the check happened at connect time.
	Host string
	// Addr is the refused address.
	Addr netip.Addr
	// Reason says what kind of address it is, e.g. "loopback".
	Reason string
}

// Error returns e.g. "target refused: address 127.0.0.1 is loopback".
func (e *RefusedError) Error() string {
	if e.Host != "" {
		return fmt.Sprintf("%s: host %s: address %s is %s", ErrTargetRefused, e.Host, e.Addr, e.Reason)
	}
	return fmt.Sprintf("%s: address %s is %s", ErrTargetRefused, e.Addr, e.Reason)
}

// Unwrap returns ErrTargetRefused.
func (e *RefusedError) Unwrap() error { return ErrTargetRefused }

// TargetPolicy decides which addresses deliveries may connect to: public
// unicast addresses, plus whatever Allow lists. The zero value allows public
// addresses only.
type TargetPolicy struct {
	// Allow lists networks that are allowed even though they are not
	// public, for deployments that must reach internal receivers
	// (e.g. 10.0.0.0/8 or 127.0.0.0/8 in tests).
	Allow []netip.Prefix
}

// ParseCIDRs parses a comma-separated list of networks such as
// "10.0.0.0/8, fd00::/8" (spaces around entries are trimmed). A bare address
// stands for itself alone (/32 or /128). An empty or blank string yields no
// networks; an empty entry between commas is an error.
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("parse CIDR list: entry %d is empty", i+1)
		}
		if !strings.Contains(entry, "/") {
			addr, err := netip.ParseAddr(entry)
			if err != nil {
				return nil, fmt.Errorf("parse CIDR list: %q: %w", entry, err)
			}
			if addr.Zone() != "" {
				return nil, fmt.Errorf("parse CIDR list: %q: zones are not allowed", entry)
			}
			out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return nil, fmt.Errorf("parse CIDR list: %w", err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Check returns nil when addr may be connected to, and otherwise a
// *RefusedError (wrapping ErrTargetRefused) naming what kind of address it is,
// e.g. "target refused: address 10.0.0.1 is private (RFC 1918)".
//
// Refused unless inside Allow: unspecified, loopback, private (RFC 1918),
// link-local (including the 169.254.169.254 cloud metadata address), carrier-
// grade NAT, benchmarking, IETF protocol assignment, documentation, multicast,
// class E and broadcast IPv4 addresses; IPv6 unique-local, link-local,
// site-local, multicast, documentation, discard, benchmarking and Teredo
// addresses and anything outside global unicast 2000::/3. IPv4-mapped and
// IPv4-compatible addresses are judged by their IPv4 address, and NAT64
// (64:ff9b::/96) and 6to4 (2002::/16) addresses by the IPv4 address they
// embed. An IPv6 zone is ignored.
func (p TargetPolicy) Check(addr netip.Addr) error {
	if reason, refused := p.refusalOf(addr); refused {
		return &RefusedError{Addr: addr.WithZone("").Unmap(), Reason: reason}
	}
	return nil
}

// allowed reports whether addr is inside one of the Allow networks.
func (p TargetPolicy) allowed(addr netip.Addr) bool {
	for _, n := range p.Allow {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// refusal returns why addr (zone-less, unmapped) is refused, if it is.
func (p TargetPolicy) refusal(addr netip.Addr) (string, bool) {
	if p.allowed(addr) {
		return "", false
	}
	if addr.Is4() {
		for _, r := range ipv4Ranges() {
			if r.prefix.Contains(addr) {
				return r.reason, true
			}
		}
		return "", false
	}
	a := addr.As16()
	embedded := netip.AddrFrom4([4]byte(a[12:16]))
	switch {
	case addr.IsUnspecified():
		return "unspecified", true
	case addr.IsLoopback():
		return "loopback", true
	case netip.MustParsePrefix("::/96").Contains(addr):
		if reason, refused := p.refusal(embedded); refused {
			return fmt.Sprintf("IPv4-compatible form of %s, which is %s", embedded, reason), true
		}
		return "", false
	case netip.MustParsePrefix("64:ff9b::/96").Contains(addr):
		if reason, refused := p.refusal(embedded); refused {
			return fmt.Sprintf("NAT64 form of %s, which is %s", embedded, reason), true
		}
		return "", false
	case netip.MustParsePrefix("2002::/16").Contains(addr):
		v4 := netip.AddrFrom4([4]byte(a[2:6]))
		if reason, refused := p.refusal(v4); refused {
			return fmt.Sprintf("6to4 form of %s, which is %s", v4, reason), true
		}
		return "", false
	}
	for _, r := range ipv6Ranges() {
		if r.prefix.Contains(addr) {
			return r.reason, true
		}
	}
	if !netip.MustParsePrefix("2000::/3").Contains(addr) {
		return "reserved (outside global unicast 2000::/3)", true
	}
	return "", false
}

// addrRange names a refused network.
type addrRange struct {
	prefix netip.Prefix
	reason string
}

// ipv4Ranges returns the refused IPv4 networks, most specific first.
func ipv4Ranges() []addrRange {
	return []addrRange{
		{netip.MustParsePrefix("0.0.0.0/32"), "unspecified"},
		{netip.MustParsePrefix("0.0.0.0/8"), "in 0.0.0.0/8 (this network)"},
		{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
		{netip.MustParsePrefix("10.0.0.0/8"), "private (RFC 1918)"},
		{netip.MustParsePrefix("172.16.0.0/12"), "private (RFC 1918)"},
		{netip.MustParsePrefix("192.168.0.0/16"), "private (RFC 1918)"},
		{netip.MustParsePrefix("169.254.169.254/32"), "the cloud metadata service (link-local)"},
		{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
		{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT (RFC 6598)"},
		{netip.MustParsePrefix("192.0.0.0/24"), "reserved for IETF protocol assignments"},
		{netip.MustParsePrefix("192.0.2.0/24"), "for documentation (RFC 5737)"},
		{netip.MustParsePrefix("198.51.100.0/24"), "for documentation (RFC 5737)"},
		{netip.MustParsePrefix("203.0.113.0/24"), "for documentation (RFC 5737)"},
		{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast (deprecated)"},
		{netip.MustParsePrefix("198.18.0.0/15"), "for benchmarking (RFC 2544)"},
		{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
		{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
		{netip.MustParsePrefix("240.0.0.0/4"), "reserved (class E)"},
	}
}

// ipv6Ranges returns the refused IPv6 networks that are checked after the
// special forms (unspecified, loopback, IPv4-compatible, NAT64, 6to4).
func ipv6Ranges() []addrRange {
	return []addrRange{
		{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64 (RFC 8215)"},
		{netip.MustParsePrefix("100::/64"), "discard-only (RFC 6666)"},
		{netip.MustParsePrefix("2001::/32"), "Teredo (2001::/32)"},
		{netip.MustParsePrefix("2001:2::/48"), "for benchmarking (RFC 5180)"},
		{netip.MustParsePrefix("2001:db8::/32"), "for documentation (2001:db8::/32)"},
		{netip.MustParsePrefix("3fff::/20"), "for documentation (3fff::/20)"},
		{netip.MustParsePrefix("fc00::/7"), "unique local (fc00::/7)"},
		{netip.MustParsePrefix("fe80::/10"), "link-local"},
		{netip.MustParsePrefix("fec0::/10"), "site-local (deprecated)"},
		{netip.MustParsePrefix("ff00::/8"), "multicast"},
	}
}

// Control is a net.Dialer Control hook: it applies Check to the address the
// socket is about to connect to, after any name resolution, so a DNS answer
// that changed since an earlier check (rebinding) cannot slip through.
func (p TargetPolicy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot check address %q on %s: %w", ErrTargetRefused, address, network, err)
	}
	return p.Check(ap.Addr())
}

// NetDialer returns a net.Dialer whose Control hook applies the policy to
// every address it connects to. Dialer builds on it and also checks every
// resolved address before connecting.
func (p TargetPolicy) NetDialer() *net.Dialer {
	return &net.Dialer{KeepAlive: 30 * time.Second, Control: p.Control}
}

// Dialer connects to delivery targets under a TargetPolicy. It resolves the
// host itself and refuses the whole target when any resolved address is
// refused, before connecting to any of them; it then connects to the
// resolved addresses in order (no second lookup), each connection passing
// through the policy's Control hook as a last line of defence. The zero value
// allows public addresses only and uses net.DefaultResolver.
type Dialer struct {
	// Policy decides which addresses may be connected to.
	Policy TargetPolicy
	// Lookup resolves a host name for network "ip", "ip4" or "ip6"; nil
	// means net.DefaultResolver.LookupNetIP. Tests replace it.
	Lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// DialContext connects to address ("host:port") on network "tcp", "tcp4" or
// "tcp6". It has the signature http.Transport.DialContext expects. A refused
// target yields a *net.OpError wrapping a *RefusedError.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var ipNetwork string
	switch network {
	case "tcp":
		ipNetwork = "ip"
	case "tcp4":
		ipNetwork = "ip4"
	case "tcp6":
		ipNetwork = "ip6"
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: network, Err: err} }

	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, opErr(err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, opErr(fmt.Errorf("invalid port %q", portText))
	}

	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
		host = ""
	} else {
		lookup := d.Lookup
		if lookup == nil {
			lookup = net.DefaultResolver.LookupNetIP
		}
		addrs, err = lookup(ctx, ipNetwork, host)
		if err != nil {
			return nil, opErr(err)
		}
		if len(addrs) == 0 {
			return nil, opErr(&net.DNSError{Err: "no such host", Name: host, IsNotFound: true})
		}
	}
	for _, ip := range addrs {
		if reason, refused := d.Policy.refusalOf(ip); refused {
			return nil, opErr(&RefusedError{Host: host, Addr: ip.WithZone("").Unmap(), Reason: reason})
		}
	}

	nd := d.Policy.NetDialer()
	var firstErr error
	for i, ip := range addrs {
		if err := ctx.Err(); err != nil {
			if firstErr == nil {
				firstErr = opErr(err)
			}
			break
		}
		dctx, cancel := partialDeadline(ctx, len(addrs)-i)
		conn, err := nd.DialContext(dctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String())
		cancel()
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

// refusalOf is Check's verdict without building an error.
func (p TargetPolicy) refusalOf(addr netip.Addr) (string, bool) {
	if !addr.IsValid() {
		return "not a valid address", true
	}
	return p.refusal(addr.WithZone("").Unmap())
}

// partialDeadline gives one of several remaining connection attempts a share
// of the time left before ctx's deadline (at least 2 s when there is that
// much), so one unresponsive address does not use up the whole budget.
func partialDeadline(ctx context.Context, remaining int) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok || remaining <= 1 {
		return ctx, func() {}
	}
	left := time.Until(deadline)
	share := left / time.Duration(remaining)
	if floor := 2 * time.Second; share < floor {
		share = min(floor, left)
	}
	return context.WithTimeout(ctx, share)
}
