package elbv2

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// queueTest drives a limiter on a fake clock: waiters are started in
// goroutines, tokens are handed out one at a time by moving the clock, and
// the order in which waiters were served is recorded.
type queueTest struct {
	t      *testing.T
	clk    *fakeClock
	l      *limiter
	served chan string
	wg     sync.WaitGroup
}

// newQueueTest returns a limiter of 1 call/s whose one token is taken, so
// that every waiter queues.
func newQueueTest(t *testing.T) *queueTest {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(1, 1, clk.now)
	if !l.bucket.take(clk.now()) {
		t.Fatal("no initial token")
	}
	q := &queueTest{t: t, clk: clk, l: l, served: make(chan string, 100)}
	t.Cleanup(func() {
		// Serve whatever is left so that no goroutine outlives the test.
		for l.queued() > 0 {
			clk.add(time.Second)
			l.dispatch()
		}
		q.wg.Wait()
	})
	return q
}

// enqueue starts a waiter named name with ticket tk and waits until it is queued.
func (q *queueTest) enqueue(name string, tk *ticket) {
	q.t.Helper()
	n := q.l.queued()
	q.wg.Add(1)
	go func() {
		defer q.wg.Done()
		if _, err := q.l.wait(context.Background(), tk); err == nil {
			q.served <- name
		}
	}()
	q.waitQueued(n + 1)
}

func (q *queueTest) waitQueued(n int) {
	q.t.Helper()
	// Polling for a goroutine to block, not for state.
	err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return q.l.queued() == n, nil
	})
	if err != nil {
		q.t.Fatalf("%d waiters queued, want %d", q.l.queued(), n)
	}
}

// next hands out one token (one second at 1/s) and returns who got it.
func (q *queueTest) next() string {
	q.t.Helper()
	q.clk.add(time.Second)
	q.l.dispatch()
	select {
	case name := <-q.served:
		return name
	case <-time.After(10 * time.Second):
		q.t.Fatal("nobody was served")
		return ""
	}
}

func (q *queueTest) ticket(p Priority, since time.Time) *ticket {
	ctx := context.Background()
	if !since.IsZero() {
		ctx = WithNotBefore(ctx, since)
	}
	return q.l.newTicket(ctx, p)
}

func TestQueueServesByPriorityThenOldestChange(t *testing.T) {
	q := newQueueTest(t)
	t0 := q.clk.now()
	q.enqueue("poll of an old change", q.ticket(PriorityPoll, t0.Add(-time.Minute)))
	q.enqueue("first read of a new change", q.ticket(PriorityFirst, t0.Add(-time.Second)))
	q.enqueue("first read of an older change", q.ticket(PriorityFirst, t0.Add(-2*time.Second)))
	q.enqueue("health of a matching rollout", q.ticket(PriorityFinish, t0))
	q.enqueue("structure read (no bound)", q.ticket(PriorityFirst, time.Time{}))
	q.enqueue("diagnosis", q.ticket(PriorityLow, t0.Add(-time.Hour)))
	q.enqueue("second first read of the new change", q.ticket(PriorityFirst, t0.Add(-time.Second)))
	for i, want := range []string{
		"health of a matching rollout",
		"structure read (no bound)",
		"first read of an older change",
		"first read of a new change",
		"second first read of the new change", // same bound: in the order they asked
		"poll of an old change",
		"diagnosis",
	} {
		if got := q.next(); got != want {
			t.Fatalf("token %d went to %q, want %q", i+1, got, want)
		}
	}
}

func TestJoinerRaisesAQueuedRead(t *testing.T) {
	q := newQueueTest(t)
	t0 := q.clk.now()
	poll := q.ticket(PriorityPoll, t0.Add(-time.Minute))
	q.enqueue("listener re-read", poll)
	q.enqueue("other first read", q.ticket(PriorityFirst, t0.Add(-time.Second)))
	// A verification of a change written just now joins the queued re-read
	// of the same listener: it is now that change's first read.
	q.l.raise(poll, PriorityFirst, t0.Add(-2*time.Second))
	if got := q.next(); got != "listener re-read" {
		t.Fatalf("first token went to %q", got)
	}
	// Raising never lowers.
	first := q.ticket(PriorityFirst, t0)
	q.enqueue("first", first)
	q.enqueue("finish", q.ticket(PriorityFinish, t0))
	q.l.raise(first, PriorityLow, t0.Add(-time.Hour))
	if got := q.next(); got != "finish" {
		t.Fatalf("token went to %q, want finish", got)
	}
}

func TestLongWaitersArePromoted(t *testing.T) {
	q := newQueueTest(t)
	t0 := q.clk.now()
	q.enqueue("diagnosis", q.ticket(PriorityLow, t0))
	// Time passes without tokens (the bucket refills only in next()).
	q.clk.add(promoteAfter)
	q.l.mu.Lock()
	q.l.bucket.last = q.clk.now() // no token for the waiting time
	q.l.mu.Unlock()
	q.enqueue("new first read", q.ticket(PriorityFirst, t0.Add(promoteAfter)))
	q.enqueue("new finish read", q.ticket(PriorityFinish, t0.Add(promoteAfter)))
	// The diagnosis read waited promoteAfter: it is served as a finishing
	// read, and its change is the oldest.
	if got := q.next(); got != "diagnosis" {
		t.Fatalf("first token went to %q, want the promoted diagnosis read", got)
	}
	if got := q.next(); got != "new finish read" {
		t.Fatalf("second token went to %q", got)
	}
}

func TestCancelledWaiterLeavesTheQueue(t *testing.T) {
	q := newQueueTest(t)
	t0 := q.clk.now()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := q.l.wait(ctx, q.ticket(PriorityFinish, t0))
		errc <- err
	}()
	q.waitQueued(1)
	q.enqueue("poll", q.ticket(PriorityPoll, t0))
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("a cancelled wait succeeded")
	}
	q.waitQueued(1)
	if got := q.next(); got != "poll" {
		t.Fatalf("token went to %q", got)
	}
}

func TestBucket(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	b := newBucket(8, 30)
	for i := range 30 {
		if !b.take(t0) {
			t.Fatalf("burst token %d missing", i)
		}
	}
	if b.take(t0) {
		t.Fatal("a 31st token at once")
	}
	if d := b.until(t0); d < 124*time.Millisecond || d > 126*time.Millisecond {
		t.Fatalf("next token in %v, want 125ms at 8/s", d)
	}
	if !b.take(t0.Add(125 * time.Millisecond)) {
		t.Fatal("no token after 125ms")
	}
	// Refill never exceeds the burst.
	b.refill(t0.Add(time.Hour))
	if b.tokens != 30 {
		t.Fatalf("tokens after an hour = %v, want 30", b.tokens)
	}
	b.giveBack()
	if b.tokens != 30 {
		t.Fatalf("tokens after giving one back to a full bucket = %v", b.tokens)
	}
}

func TestPollInterval(t *testing.T) {
	lo, hi := 2*time.Second, 10*time.Second
	for _, tc := range []struct {
		n    int
		rate float64
		want time.Duration
	}{
		{0, 8, lo},                       // nothing polled: the cache TTL
		{8, 8, lo},                       // 8 resources at half of 8/s: 2 s
		{20, 8, 5 * time.Second},         // the bench's 20 listeners
		{1000, 8, hi},                    // never slower than the structure TTL
		{20, 20, lo},                     // a faster budget polls more often
		{12, 8, 3 * time.Second},         // in between
		{3, 0.5, hi},                     // a slow budget
		{5, 8, lo},                       // below the floor
		{40, 16, 5 * time.Second},        // twice the budget, twice the resources
		{1, 1e6, lo},                     // test providers without a real limit
		{100, 1e6, lo},                   // ditto
		{17, 8, 4250 * time.Millisecond}, // exact
	} {
		if got := pollInterval(tc.n, tc.rate, lo, hi); got != tc.want {
			t.Errorf("pollInterval(%d, %v) = %v, want %v", tc.n, tc.rate, got, tc.want)
		}
	}
}

func ExamplePriority() {
	for p := PriorityFinish; p <= PriorityLow; p++ {
		fmt.Println(p)
	}
	// Output:
	// finish
	// first
	// poll
	// low
}
