package reach

import (
	"net/netip"
	"testing"
)

func TestRanges(t *testing.T) {
	pods, err := Parse([]string{"198.18.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		r    Ranges
		addr string
		want bool
	}{
		{nil, "127.0.0.1", true},
		{nil, "127.1.2.3", true},
		{nil, "::1", true},
		{nil, "::ffff:127.0.0.1", true},
		{nil, "198.18.0.7", false},
		{nil, "10.0.0.1", false},
		{pods, "198.18.0.7", true},
		{pods, "198.19.0.7", false},
		{pods, "127.0.0.1", true},
		{pods, "192.168.1.1", false},
	} {
		if got := tc.r.Allows(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("%v.Allows(%s) = %v, want %v", tc.r, tc.addr, got, tc.want)
		}
	}
	if pods.AllowsIP("not-an-ip") || pods.AllowsHostPort("198.18.0.7") || !pods.AllowsHostPort("198.18.0.7:8080") {
		t.Error("text forms")
	}
	if _, err := Parse([]string{"198.18.0.0"}); err == nil {
		t.Error("Parse accepted an address without a prefix length")
	}
	if got := pods.String(); got != "127.0.0.0/8, ::1, 198.18.0.0/16" {
		t.Errorf("String() = %q", got)
	}
}
