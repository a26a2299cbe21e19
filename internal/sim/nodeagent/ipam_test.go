package nodeagent

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestIPAllocatorRejectsNonLoopbackRanges(t *testing.T) {
	for _, cidr := range []string{"10.0.0.0/24", "127.0.0.0/7", "::1/128", "127.1.0.1/32", "nonsense"} {
		if _, err := NewIPAllocator(cidr); err == nil {
			t.Errorf("NewIPAllocator(%q): want an error", cidr)
		}
	}
}

func TestIPAllocatorUniqueRoundRobinAndExhaustion(t *testing.T) {
	a, err := NewIPAllocator("127.1.0.0/29") // 8 addresses; network and last skipped => 6 usable
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]bool{}
	for i := range 6 {
		ip, err := a.Allocate(string(rune('a' + i)))
		if err != nil {
			t.Fatal(err)
		}
		if seen[ip] {
			t.Fatalf("address %s handed out twice", ip)
		}
		if ip == netip.MustParseAddr("127.1.0.0") || ip == netip.MustParseAddr("127.1.0.7") {
			t.Fatalf("handed out the reserved address %s", ip)
		}
		seen[ip] = true
	}
	if _, err := a.Allocate("g"); err == nil {
		t.Fatal("want an error when the range is exhausted")
	}
	// The same owner gets its address back.
	again, err := a.Allocate("a")
	if err != nil || again != netip.MustParseAddr("127.1.0.1") {
		t.Fatalf("Allocate(a) again = %s, %v", again, err)
	}
	a.Release("b") // frees 127.1.0.2
	ip, err := a.Allocate("h")
	if err != nil || ip != netip.MustParseAddr("127.1.0.2") {
		t.Fatalf("after release got %s, %v", ip, err)
	}
	if a.InUse() != 6 {
		t.Fatalf("InUse = %d", a.InUse())
	}
}

func TestIPAllocatorDoesNotReuseAFreedAddressAtOnce(t *testing.T) {
	a, err := NewIPAllocator(DefaultPodCIDR)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := a.Allocate("p1")
	a.Release("p1")
	second, _ := a.Allocate("p2")
	if first == second {
		t.Fatalf("freed address %s reused immediately", first)
	}
}

func TestIPAllocatorReserve(t *testing.T) {
	a, err := NewIPAllocator("127.2.0.0/24")
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("127.2.0.9")
	if err := a.Reserve(ip, "p1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Reserve(ip, "p2"); err == nil {
		t.Fatal("reserved an address held by another pod")
	}
	if err := a.Reserve(netip.MustParseAddr("127.3.0.1"), "p3"); err == nil {
		t.Fatal("reserved an address outside the range")
	}
	if got, _ := a.Allocate("p1"); got != ip {
		t.Fatalf("Allocate for the reserving owner = %s, want %s", got, ip)
	}
	for i := range 300 {
		got, err := a.Allocate(fmt.Sprint("other-", i))
		if err != nil {
			break // range exhausted
		}
		if got == ip {
			t.Fatal("reserved address handed out again")
		}
	}
}
