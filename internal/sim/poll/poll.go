// Package poll is the test harness's one helper for waiting until a condition
// holds: another goroutine, process or server makes it true, and a test waits
// for it with a deadline, failing with what it saw last.
//
// It is built on k8s.io/apimachinery/pkg/util/wait. Product packages may not
// import internal/sim (see .golangci.yml); their tests use wait directly.
package poll

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Interval is how often Eventually and Until check their condition.
const Interval = 10 * time.Millisecond

// Every polls at its interval: poll.Every(100*time.Millisecond).Eventually(…)
// for a condition that is costly to check, such as a call to an API server.
type Every time.Duration

// Slow polls every 100 ms, for a condition that calls an API server.
const Slow = Every(100 * time.Millisecond)

// Eventually checks cond at once and then every Interval until it returns true
// or timeout passes; then it fails t with what and the last message cond
// returned.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	Every(Interval).Eventually(t, timeout, what, cond)
}

// Until is Eventually for a condition with nothing to say when it fails.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Every(Interval).Until(t, timeout, what, cond)
}

// Eventually is the package's Eventually, polling every e.
func (e Every) Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), time.Duration(e), timeout, true, func(context.Context) (bool, error) {
		var ok bool
		ok, last = cond()
		return ok, nil
	})
	if err == nil {
		return
	}
	if last == "" {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
		return
	}
	t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, last)
}

// Until is the package's Until, polling every e.
func (e Every) Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	e.Eventually(t, timeout, what, func() (bool, string) { return cond(), "" })
}
