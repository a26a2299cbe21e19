package nodeagent

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// DefaultPodCIDR is the loopback range pod IPs come from. Linux routes all of
// 127.0.0.0/8 to the loopback interface, so every address in it can be bound
// without configuring anything.
const DefaultPodCIDR = "127.1.0.0/16"

// IPAllocator hands out unique IPv4 addresses from a local range (see NewIPAllocator).
//
// It allocates round-robin rather than lowest-free: an address freed by a deleted pod
// may still be draining in the load balancer, and handing it straight to a new pod
// would mix the two pods' traffic and health.
type IPAllocator struct {
	mu     sync.Mutex
	prefix netip.Prefix
	first  netip.Addr            // first usable address (the network address is skipped)
	size   int                   // number of usable addresses
	next   int                   // offset to try next
	inUse  map[netip.Addr]string // address -> owner
	owned  map[string]netip.Addr // owner -> address
}

// NewIPAllocator returns an allocator for cidr, an IPv4 range of at least two
// addresses inside 127.0.0.0/8 or, for a range outside it, one the kernel
// already treats as local (e.g. `ip route add local 198.18.0.0/16 dev lo` in a
// private network namespace), so that pod traffic never leaves the machine.
func NewIPAllocator(cidr string) (*IPAllocator, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("pod IP range %q: %w", cidr, err)
	}
	p = p.Masked()
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	if !p.Addr().Is4() || p.Bits() < 8 || (p.Bits() < 16 && !loopback.Contains(p.Addr())) {
		return nil, fmt.Errorf("pod IP range %q: must be an IPv4 range inside 127.0.0.0/8 (e.g. %s), or a /16 or smaller range local to this machine", cidr, DefaultPodCIDR)
	}
	if !loopback.Contains(p.Addr()) {
		if err := checkLocal(p.Addr().Next()); err != nil {
			return nil, fmt.Errorf("pod IP range %q is not local to this machine (%v): pods must never be reached over a network; "+
				"use a range inside 127.0.0.0/8, or route it to the loopback interface of a private network namespace "+
				"(ip route add local %s dev lo)", cidr, err, p)
		}
	}
	hostBits := 32 - p.Bits()
	if hostBits < 1 {
		return nil, fmt.Errorf("pod IP range %q: too small, want at least a /31", cidr)
	}
	size := (1 << hostBits) - 1 // every address but the network address
	if hostBits > 1 {
		size-- // and not the broadcast-like last address either
	}
	return &IPAllocator{
		prefix: p,
		first:  p.Addr().Next(),
		size:   size,
		inUse:  map[netip.Addr]string{},
		owned:  map[string]netip.Addr{},
	}, nil
}

// Allocate returns a free address and records owner (a pod key) as its holder.
// If owner already holds an address, that address is returned again.
func (a *IPAllocator) Allocate(owner string) (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip, ok := a.owned[owner]; ok {
		return ip, nil
	}
	for i := 0; i < a.size; i++ {
		off := (a.next + i) % a.size
		ip := a.addrAt(off)
		if _, taken := a.inUse[ip]; !taken {
			a.inUse[ip] = owner
			a.owned[owner] = ip
			a.next = (off + 1) % a.size
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("pod IP range %s is exhausted (%d addresses in use): delete pods or configure a larger range", a.prefix, len(a.inUse))
}

// Reserve records owner as the holder of ip, for an address a pod already had (an
// agent restart). It fails if ip is outside the range or held by someone else.
func (a *IPAllocator) Reserve(ip netip.Addr, owner string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.usable(ip) {
		return fmt.Errorf("address %s is not in the pod IP range %s", ip, a.prefix)
	}
	if o, taken := a.inUse[ip]; taken && o != owner {
		return fmt.Errorf("address %s is already held by %s", ip, o)
	}
	if old, ok := a.owned[owner]; ok && old != ip {
		delete(a.inUse, old)
	}
	a.inUse[ip] = owner
	a.owned[owner] = ip
	return nil
}

// Release frees the address held by owner, if any.
func (a *IPAllocator) Release(owner string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip, ok := a.owned[owner]; ok {
		delete(a.inUse, ip)
		delete(a.owned, owner)
	}
}

// InUse returns how many addresses are allocated.
func (a *IPAllocator) InUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.inUse)
}

func (a *IPAllocator) addrAt(off int) netip.Addr {
	b := a.first.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(off)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func (a *IPAllocator) usable(ip netip.Addr) bool {
	if !ip.Is4() || !a.prefix.Contains(ip) {
		return false
	}
	first, last := a.addrAt(0), a.addrAt(a.size-1)
	return ip.Compare(first) >= 0 && ip.Compare(last) <= 0
}

// checkLocal reports whether a can be bound, that is, whether the kernel
// routes it to this machine.
func checkLocal(a netip.Addr) error {
	l, err := net.Listen("tcp", netip.AddrPortFrom(a, 0).String())
	if err != nil {
		return err
	}
	return l.Close()
}
