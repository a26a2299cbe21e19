// Package reach says which target addresses elbsim may contact. elbsim
// health-checks and proxies to its targets for real, so it must never reach
// beyond this machine: loopback addresses (127.0.0.0/8, ::1) always, and other
// ranges only when the caller names them, for example a pod range that a
// private network namespace routes to its own loopback interface.
package reach

import (
	"fmt"
	"net/netip"
	"strings"
)

// Ranges are the address ranges allowed besides loopback. The zero value
// allows loopback only.
type Ranges []netip.Prefix

// Parse reads CIDR blocks such as "198.18.0.0/16".
func Parse(cidrs []string) (Ranges, error) {
	out := make(Ranges, 0, len(cidrs))
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return nil, fmt.Errorf("target range %q is not a CIDR block such as 198.18.0.0/16: %w", c, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Allows reports whether elbsim may contact a.
func (r Ranges) Allows(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() {
		return true
	}
	for _, p := range r {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// AllowsIP is Allows for an address in text form; a malformed one is not allowed.
func (r Ranges) AllowsIP(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && r.Allows(a)
}

// AllowsHostPort is Allows for "ip:port".
func (r Ranges) AllowsHostPort(hostport string) bool {
	ap, err := netip.ParseAddrPort(hostport)
	return err == nil && r.Allows(ap.Addr())
}

// String lists what is allowed, for error messages.
func (r Ranges) String() string {
	parts := []string{"127.0.0.0/8", "::1"}
	for _, p := range r {
		parts = append(parts, p.String())
	}
	return strings.Join(parts, ", ")
}
