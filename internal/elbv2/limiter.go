package elbv2

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Priority says how urgently a call is needed when calls queue for the
// client-side rate limit. A lower value is served first; within one
// priority, the call whose freshness bound (WithNotBefore, the time the
// change it verifies was written) is oldest goes first, then the one that
// asked first. Calls without a bound count as oldest: they are structure
// reads every verification behind them waits for.
type Priority int8

// The priorities, most urgent first.
const (
	// PriorityFinish is a read that can complete a verification whose rules
	// already match: target health, the listener list read after the change,
	// and whatever a check about to say Verified or TimedOut reads again
	// (the rules included).
	PriorityFinish Priority = iota
	// PriorityFirst is the first read of a resource after a change was
	// written, and every read of the structure (load balancers, target
	// groups, tags). It is the default.
	PriorityFirst
	// PriorityPoll is a re-read while waiting for the load balancer
	// controller to apply a change that an earlier read (after the change
	// was written) showed not applied yet.
	PriorityPoll
	// PriorityLow is a read only a diagnosis needs (health of groups whose
	// rules do not match yet).
	PriorityLow
)

func (p Priority) String() string {
	switch p {
	case PriorityFinish:
		return "finish"
	case PriorityFirst:
		return "first"
	case PriorityPoll:
		return "poll"
	case PriorityLow:
		return "low"
	}
	return "unknown"
}

type priorityKey struct{}

// WithPriority returns a context whose ELBv2 calls queue at priority p for
// the client-side rate limit. Without it, a call is PriorityFirst, except
// that a rules read whose listener was already read after the freshness
// bound is PriorityPoll.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

func priorityOf(ctx context.Context) (Priority, bool) {
	p, ok := ctx.Value(priorityKey{}).(Priority)
	return p, ok
}

// ticket is the place of one logical read in the rate-limit queue. A
// coalesced read has one ticket for all its callers: each caller that joins
// raises it to its own priority and bound, so that a read queued as a
// re-read is served as soon as a caller needs it as a first read. Every page
// of a paginated read waits with the same ticket. Its fields are guarded by
// the limiter's mutex.
type ticket struct {
	prio  Priority
	since time.Time // freshness bound of the most urgent caller; zero = none
	seq   uint64    // arrival order, for ties
	w     *waiter   // the waiter queued with this ticket, if any
}

// before reports whether a is served before b.
func (a *ticket) before(b *ticket) bool {
	if a.prio != b.prio {
		return a.prio < b.prio
	}
	if !a.since.Equal(b.since) {
		return a.since.Before(b.since)
	}
	return a.seq < b.seq
}

// better reports whether (p, since) would move a ticket forward.
func (a *ticket) better(p Priority, since time.Time) bool {
	return p < a.prio || (p == a.prio && since.Before(a.since))
}

// waiter is one call waiting for a token.
type waiter struct {
	t       *ticket
	ready   chan struct{}
	index   int       // position in the queue; -1 once granted or removed
	queued  time.Time // when it joined the queue
	granted Priority  // the ticket's priority when it was granted
}

// waitQueue is a heap of waiters, most urgent first.
type waitQueue []*waiter

func (q waitQueue) Len() int           { return len(q) }
func (q waitQueue) Less(i, j int) bool { return q[i].t.before(q[j].t) }
func (q waitQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *waitQueue) Push(x any) {
	w := x.(*waiter)
	w.index = len(*q)
	*q = append(*q, w)
}
func (q *waitQueue) Pop() any {
	old := *q
	w := old[len(old)-1]
	old[len(old)-1] = nil
	w.index = -1
	*q = old[:len(old)-1]
	return w
}

// bucket is a token bucket: up to burst tokens, refilled at rate per
// second, one token per call. It is a pure value: the caller passes the time.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func newBucket(rate float64, burst int) bucket {
	return bucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (b *bucket) refill(now time.Time) {
	if b.last.IsZero() {
		b.last = now
		return
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.burst, b.tokens+el.Seconds()*b.rate)
		b.last = now
	}
}

// take takes a token if one is there.
func (b *bucket) take(now time.Time) bool {
	b.refill(now)
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}

// giveBack returns a token that was taken but not used.
func (b *bucket) giveBack() { b.tokens = min(b.burst, b.tokens+1) }

// until is how long after now the next token is there.
func (b *bucket) until(now time.Time) time.Duration {
	b.refill(now)
	if b.tokens >= 1 {
		return 0
	}
	if b.rate <= 0 {
		return time.Hour
	}
	return time.Duration((1-b.tokens)/b.rate*float64(time.Second)) + time.Microsecond
}

// promoteAfter is how long a call may wait below PriorityFinish before it
// is served as PriorityFinish: under a load the rate limit cannot keep up
// with, re-reads and diagnosis reads still get through, oldest change first,
// instead of waiting until their verification times out.
const promoteAfter = 10 * time.Second

// limiter is the client-side rate limit in front of every ELBv2 request:
// a token bucket whose queue is served by priority instead of first come,
// first served (see Priority), with waits bounded by promoteAfter.
type limiter struct {
	mu     sync.Mutex
	bucket bucket
	now    func() time.Time
	queue  waitQueue
	// arrivals holds the queued waiters in the order they came, to promote
	// those waiting longer than promoteAfter; granted or removed ones are
	// skipped lazily.
	arrivals []*waiter
	seq      uint64
	timer    *time.Timer
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return &limiter{bucket: newBucket(rate, burst), now: now}
}

// newTicket makes the queue place of a read that ctx asks for, at
// priority p unless ctx names one.
func (l *limiter) newTicket(ctx context.Context, p Priority) *ticket {
	if cp, ok := priorityOf(ctx); ok {
		p = cp
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	return &ticket{prio: p, since: notBeforeOf(ctx), seq: l.seq}
}

// raise moves t forward to priority p and bound since, if that is more
// urgent than where it is.
func (l *limiter) raise(t *ticket, p Priority, since time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !t.better(p, since) {
		return
	}
	t.prio, t.since = p, since
	if t.w != nil && t.w.index >= 0 {
		heap.Fix(&l.queue, t.w.index)
	}
}

// wait blocks until t may send one request, or ctx ends. It returns the
// ticket's priority when it was served.
func (l *limiter) wait(ctx context.Context, t *ticket) (Priority, error) {
	l.mu.Lock()
	now := l.now()
	if len(l.queue) == 0 && l.bucket.take(now) {
		p := t.prio
		l.mu.Unlock()
		return p, nil
	}
	w := &waiter{t: t, ready: make(chan struct{}), queued: now}
	t.w = w
	heap.Push(&l.queue, w)
	l.arrivals = append(l.arrivals, w)
	l.dispatchLocked(now)
	l.mu.Unlock()
	select {
	case <-w.ready:
		return w.granted, nil
	case <-ctx.Done():
		l.mu.Lock()
		if w.index < 0 {
			// Granted just now: the token goes to the next waiter.
			l.bucket.giveBack()
		} else {
			heap.Remove(&l.queue, w.index)
		}
		if t.w == w {
			t.w = nil
		}
		l.dispatchLocked(l.now())
		l.mu.Unlock()
		return 0, ctx.Err()
	}
}

// dispatch grants tokens to the most urgent waiters; exposed for tests
// that drive the clock.
func (l *limiter) dispatch() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dispatchLocked(l.now())
}

func (l *limiter) dispatchLocked(now time.Time) {
	l.promoteLocked(now)
	for len(l.queue) > 0 && l.bucket.take(now) {
		w := heap.Pop(&l.queue).(*waiter)
		if w.t.w == w {
			w.t.w = nil
		}
		w.granted = w.t.prio
		close(w.ready)
	}
	if len(l.queue) == 0 {
		return
	}
	d := l.bucket.until(now)
	if len(l.arrivals) > 0 {
		// Wake up in time to promote the longest waiter, too.
		for _, w := range l.arrivals {
			if w.index >= 0 {
				if p := w.queued.Add(promoteAfter).Sub(now); p > 0 && p < d {
					d = p
				}
				break
			}
		}
	}
	if l.timer == nil {
		l.timer = time.AfterFunc(d, l.dispatch)
		return
	}
	l.timer.Reset(d)
}

// promoteLocked serves waiters that waited longer than promoteAfter as
// PriorityFinish.
func (l *limiter) promoteLocked(now time.Time) {
	i := 0
	for ; i < len(l.arrivals); i++ {
		w := l.arrivals[i]
		if w.index < 0 {
			continue // granted or gone
		}
		if now.Sub(w.queued) < promoteAfter {
			break
		}
		if w.t.prio > PriorityFinish {
			w.t.prio = PriorityFinish
			heap.Fix(&l.queue, w.index)
		}
	}
	if i > 0 {
		l.arrivals = append(l.arrivals[:0], l.arrivals[i:]...)
	}
}

// waiting reports whether t is queued, and how many calls are.
func (l *limiter) waiting(t *ticket) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return t.w != nil && t.w.index >= 0, len(l.queue)
}

// queued returns the number of waiters.
func (l *limiter) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.queue)
}
