package checks

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"syscall"
)

// Reach is the destination policy of an agent's run: public addresses only, besides
// the networks the operator allows. Probes enforce it when they dial (Control, as a
// net.Dialer's Control function), after DNS resolution, so a host name that resolves
// to a refused address, a redirect to one and DNS rebinding are all caught. A run
// whose context carries no Reach is the operator's and may dial anything.
type Reach struct {
	// Allow are the networks agents' runs may dial although they are not public. A
	// cloud metadata address is allowed only by a prefix that names it alone
	// (169.254.169.254/32): allowing 169.254.0.0/16 does not hand out its credentials.
	Allow []netip.Prefix
	// Source is the configuration file Allow was read from, for messages.
	Source string
}

// DestinationError is a dial that Reach refused. Probes report it as an error (the
// run could not evaluate), never as a finding about the target.
type DestinationError struct {
	Addr netip.AddrPort
	// Class says why: "loopback", "private", "cloud metadata", ...
	Class  string
	Source string
}

func (e *DestinationError) Error() string {
	host := e.Addr.Addr().WithZone("")
	return fmt.Sprintf("refused to dial %s for an agent: it is a %s address, and agents' runs may reach only public addresses unless the operator allows more; to allow it, add %s to %s in %s",
		e.Addr, e.Class, netip.PrefixFrom(host, host.BitLen()), DestinationsSetting, sourceOr(e.Source))
}

type reachKey struct{}

// WithReach returns a context whose probes dial only where r allows.
func WithReach(ctx context.Context, r *Reach) context.Context {
	return context.WithValue(ctx, reachKey{}, r)
}

// ReachFrom returns the destination policy in ctx, or nil for an operator's run.
func ReachFrom(ctx context.Context) *Reach {
	r, _ := ctx.Value(reachKey{}).(*Reach)
	return r
}

// Control refuses to connect to an address the policy does not allow; it has the
// signature of net.Dialer.Control, which sees the resolved address of every attempt.
func (r *Reach) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused to dial %s %s for an agent: not an IP address and port", network, address)
	}
	return r.Check(ap)
}

// Check returns a *DestinationError when the policy does not allow dialing ap.
func (r *Reach) Check(ap netip.AddrPort) error {
	a := reachedAddr(ap.Addr())
	class, metadata := classify(a)
	if class == "" {
		return nil
	}
	for _, p := range r.Allow {
		if p.Contains(a) && (!metadata || p.IsSingleIP()) {
			return nil
		}
	}
	return &DestinationError{Addr: netip.AddrPortFrom(a, ap.Port()), Class: class, Source: r.Source}
}

var (
	// metadataAddrs are the instance metadata services of clouds: AWS, GCP, Azure and
	// others (IPv4 and AWS's IPv6), and Alibaba's.
	metadataAddrs = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"),
		netip.MustParseAddr("fd00:ec2::254"),
		netip.MustParseAddr("100.100.100.200"),
	}
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	sharedCGNAT = netip.MustParsePrefix("100.64.0.0/10")
	reserved    = netip.MustParsePrefix("240.0.0.0/4") // and the broadcast address
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
)

// reachedAddr is the address a connection to a really reaches: IPv4-mapped IPv6
// addresses (::ffff:127.0.0.1) and NAT64 ones (64:ff9b::7f00:1) are their IPv4
// address; the zone is dropped.
func reachedAddr(a netip.Addr) netip.Addr {
	a = a.WithZone("").Unmap()
	if nat64.Contains(a) {
		b := a.As16()
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return a
}

// classify says what kind of non-public address a is, and "" for a public one.
func classify(a netip.Addr) (class string, metadata bool) {
	switch {
	case !a.IsValid():
		return "invalid", false
	case slices.Contains(metadataAddrs, a):
		return "cloud metadata", true
	case a.IsUnspecified() || thisNetwork.Contains(a):
		return "unspecified", false
	case a.IsLoopback():
		return "loopback", false
	case a.IsLinkLocalUnicast():
		return "link-local", false
	case a.IsMulticast():
		return "multicast", false
	case a.IsPrivate():
		return "private", false
	case sharedCGNAT.Contains(a):
		return "shared (CGNAT)", false
	case reserved.Contains(a):
		return "reserved", false
	}
	return "", false
}
