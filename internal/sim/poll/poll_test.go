package poll

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB that records a failure instead of ending the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	r := &recorder{TB: t}
	Eventually(r, 10*time.Second, "three calls", func() (bool, string) { return n.Add(1) == 3, "" })
	if r.failed != "" {
		t.Fatal(r.failed)
	}
	if got := n.Load(); got != 3 {
		t.Fatalf("cond called %d times, want 3", got)
	}
}

func TestEventuallyFailsWithTheLastMessage(t *testing.T) {
	var n atomic.Int32
	r := &recorder{TB: t}
	Every(time.Millisecond).Eventually(r, 50*time.Millisecond, "never", func() (bool, string) {
		return false, "seen " + strconv.Itoa(int(n.Add(1)))
	})
	if !strings.HasPrefix(r.failed, "timed out after 50ms waiting for never: seen ") {
		t.Fatalf("failure %q", r.failed)
	}
	if !strings.HasSuffix(r.failed, " "+strconv.Itoa(int(n.Load()))) {
		t.Fatalf("failure %q does not end with the last message (%d calls)", r.failed, n.Load())
	}
}

func TestUntilFailsWithWhat(t *testing.T) {
	r := &recorder{TB: t}
	Every(time.Millisecond).Until(r, 20*time.Millisecond, "nothing", func() bool { return false })
	if r.failed != "timed out after 20ms waiting for nothing" {
		t.Fatalf("failure %q", r.failed)
	}
}
