package elbv2

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// ttlCache coalesces concurrent reads of the same key into one call
// (singleflight) and keeps successful answers, so that N verifications
// behind one load balancer cost one call per key per round. A failed read
// is answered again for failureTTL to callers with a freshness bound it
// meets (verifications), so that a denied or throttled action is not asked
// again by every check of every rollout in between; callers without a
// bound (doctor) always read.
//
// An answer is stamped with the moment its first request was sent, after
// the rate-limit wait, not when the read was asked for: a read that queued
// for seconds behind other calls shows the load balancer as it was when it
// left the queue, so it serves every verification whose change was written
// before that.
type ttlCache[V any] struct {
	op  string        // the ELBv2 operation that fills it, for errors
	ttl time.Duration // default maximum age of a reused answer
	// retain: how long answers are kept at all, for callers that accept any
	// age (WithMaxAge(ctx, AnyAge)).
	retain time.Duration
	now    func() time.Time
	lim    *limiter
	// callTimeout bounds a shared call: it runs detached from the context of
	// whichever caller started it, so that one caller giving up does not fail
	// the others waiting on the same key.
	callTimeout time.Duration

	mu       sync.Mutex
	entries  map[string]cacheEntry[V]
	failures map[string]failure // the last read of a key, when it failed
	// tickets holds, per key, the rate-limit ticket of the read in flight
	// (or about to start): callers that join raise it to their priority.
	tickets map[string]*ticket
	flight  singleflight.Group
}

type cacheEntry[V any] struct {
	value   V
	fetched time.Time // when the read's first request was sent
}

// failure is a read that failed.
type failure struct {
	err  error
	sent time.Time
}

// failureTTL is how long a failed read is answered again instead of
// repeated.
const failureTTL = time.Second

// defaultRetain is how long answers are kept for callers that accept any age.
const defaultRetain = 15 * time.Minute

func newTTLCache[V any](op string, ttl, callTimeout time.Duration, now func() time.Time, lim *limiter) *ttlCache[V] {
	return &ttlCache[V]{op: op, ttl: ttl, retain: max(defaultRetain, ttl), callTimeout: callTimeout, now: now, lim: lim,
		entries: map[string]cacheEntry[V]{}, failures: map[string]failure{}, tickets: map[string]*ticket{}}
}

// get returns the cached value of key or calls fetch once for all
// concurrent callers, with the time the answer was read.
//
// With a freshness bound in ctx (WithNotBefore), only an answer whose first
// request was sent at or after that time is accepted: a verification never
// decides on data read before its change was written. A bound later than
// the call itself is taken as the call's start, since no answer can be
// newer. With WithMaxAge the caller says how old an answer may be (default:
// the cache's TTL). prio is the queue priority of a read this call starts,
// unless ctx names one (WithPriority).
func (c *ttlCache[V]) get(ctx context.Context, key string, prio Priority, fetch func(ctx context.Context) (V, error)) (V, time.Time, error) {
	notBefore := notBeforeOf(ctx)
	if now := c.now(); notBefore.After(now) {
		notBefore = now
	}
	maxAge := maxAgeOf(ctx, c.ttl)
	mine := c.lim.newTicket(ctx, prio)
	for {
		if e, ok := c.peek(key, notBefore, maxAge); ok {
			return e.value, e.fetched, nil
		}
		if err := c.recentFailure(key, notBefore); err != nil {
			var zero V
			return zero, time.Time{}, err
		}
		c.mu.Lock()
		tk, joined := c.tickets[key]
		if !joined {
			tk = mine
			c.tickets[key] = tk
		}
		c.mu.Unlock()
		if joined {
			c.lim.raise(tk, mine.prio, mine.since)
		}
		ch := c.flight.DoChan(key, func() (any, error) {
			// A flight that finished between our peek and this call has
			// already stored a fresh answer: use it instead of calling AWS.
			if e, ok := c.peek(key, notBefore, maxAge); ok {
				return e, nil
			}
			c.mu.Lock()
			tk := c.tickets[key]
			if tk == nil {
				tk = mine
				c.tickets[key] = tk
			}
			c.mu.Unlock()
			defer func() {
				c.mu.Lock()
				if c.tickets[key] == tk {
					delete(c.tickets, key)
				}
				c.mu.Unlock()
			}()
			rc := &receipt{}
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.callTimeout)
			defer cancel()
			start := c.now()
			v, err := fetch(withTicket(withReceipt(fctx, rc), tk))
			if err != nil {
				c.fail(key, failure{err: err, sent: rc.at(start)})
				return nil, err
			}
			e := cacheEntry[V]{value: v, fetched: rc.at(start)}
			c.put(key, e)
			return e, nil
		})
		var r singleflight.Result
		select {
		case r = <-ch:
		case <-ctx.Done():
			var zero V
			return zero, time.Time{}, c.gaveUp(ctx, key, tk)
		}
		if r.Err != nil {
			var zero V
			return zero, time.Time{}, r.Err
		}
		// A read that was queued or sent before our bound does not count;
		// the next one starts after this call did, so it will.
		if e := r.Val.(cacheEntry[V]); !e.fetched.Before(notBefore) {
			return e.value, e.fetched, nil
		}
	}
}

// gaveUp is the error of a caller whose context ended while it waited for a
// read: a Throttled error when the read is still queued for the client-side
// rate limit (more reads are asked for than the limit lets through before
// the caller's deadline), else the context's error. The read goes on; its
// answer is cached for the next check.
func (c *ttlCache[V]) gaveUp(ctx context.Context, key string, tk *ticket) error {
	queued, ahead := c.lim.waiting(tk)
	if !queued {
		return ctx.Err()
	}
	return &Error{Kind: KindThrottled, Operation: c.op, Resource: key, Err: ctx.Err(), Detail: fmt.Sprintf(
		"%s %s: still queued for the client-side ELBv2 rate limit when the check's deadline came (%d calls waiting); the read goes on and the next check uses its answer",
		c.op, key, ahead)}
}

// peek returns the entry of key if it was read at or after notBefore and is
// younger than maxAge.
func (c *ttlCache[V]) peek(key string, notBefore time.Time, maxAge time.Duration) (cacheEntry[V], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || e.fetched.Before(notBefore) || c.now().Sub(e.fetched) >= maxAge {
		return cacheEntry[V]{}, false
	}
	return e, true
}

// recentFailure returns the error of the last read of key if it failed less
// than failureTTL ago and was sent at or after notBefore (which must be set).
func (c *ttlCache[V]) recentFailure(key string, notBefore time.Time) error {
	if notBefore.IsZero() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.failures[key]
	if !ok || f.sent.Before(notBefore) || c.now().Sub(f.sent) >= failureTTL {
		return nil
	}
	return f.err
}

func (c *ttlCache[V]) fail(key string, f failure) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failures[key] = f
	if len(c.failures)%256 == 0 {
		now := c.now()
		for k, x := range c.failures {
			if now.Sub(x.sent) >= failureTTL {
				delete(c.failures, k)
			}
		}
	}
}

// last returns the most recent answer of key, of any age (kept up to the
// cache's retain time), without reading.
func (c *ttlCache[V]) last(key string) (cacheEntry[V], bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e, ok
}

// readSince reports whether key has an answer read at or after t, of any age.
func (c *ttlCache[V]) readSince(key string, t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return ok && !e.fetched.Before(t)
}

func (c *ttlCache[V]) put(key string, e cacheEntry[V]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[key]; ok && old.fetched.After(e.fetched) {
		return // a later read finished first
	}
	c.entries[key] = e
	if f, ok := c.failures[key]; ok && !f.sent.After(e.fetched) {
		delete(c.failures, key)
	}
	// Drop old entries now and then so that the map does not grow with
	// every target group the process ever saw.
	if len(c.entries)%256 == 0 {
		now := c.now()
		for k, x := range c.entries {
			if now.Sub(x.fetched) > c.retain {
				delete(c.entries, k)
			}
		}
	}
}

// forget removes key, e.g. after the resource was reported deleted.
func (c *ttlCache[V]) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
	delete(c.failures, key)
}

// forgetIfOlder removes key if its entry was read more than age ago, and
// reports whether it did (or there was no entry).
func (c *ttlCache[V]) forgetIfOlder(key string, age time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return true
	}
	if c.now().Sub(e.fetched) <= age {
		return false
	}
	delete(c.entries, key)
	return true
}

type notBeforeKey struct{}

// WithNotBefore returns a context under which the provider answers rules,
// target health and listeners only from reads sent at or after t (cached
// answers that are older are re-read; target-group lists are exempt). The
// verifier passes the time the desired state was written. The bound also
// orders the rate-limit queue within a priority: the oldest change first.
func WithNotBefore(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, notBeforeKey{}, t)
}

func notBeforeOf(ctx context.Context) time.Time {
	t, _ := ctx.Value(notBeforeKey{}).(time.Time)
	return t
}

type maxAgeKey struct{}

// AnyAge, as WithMaxAge's argument, accepts a cached answer however old it
// is (still subject to WithNotBefore).
const AnyAge = time.Duration(math.MaxInt64)

// WithMaxAge returns a context under which cached rules, target health and
// listeners are reused while younger than d, instead of the provider's
// TTLs. The verifier uses AnyAge to look at what it already read after a
// change (enough to say "not yet"), and short ages before it says Verified.
func WithMaxAge(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, maxAgeKey{}, d)
}

func maxAgeOf(ctx context.Context, def time.Duration) time.Duration {
	if d, ok := ctx.Value(maxAgeKey{}).(time.Duration); ok && d > 0 {
		return d
	}
	return def
}

// receipt records when a read's first request was sent.
type receipt struct {
	mu   sync.Mutex
	sent time.Time
}

func (r *receipt) stamp(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent.IsZero() {
		r.sent = t
	}
}

// at returns the send time, or def when nothing was sent.
func (r *receipt) at(def time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent.IsZero() {
		return def
	}
	return r.sent
}

type receiptKey struct{}

func withReceipt(ctx context.Context, r *receipt) context.Context {
	return context.WithValue(ctx, receiptKey{}, r)
}

func stampSent(ctx context.Context, t time.Time) {
	if r, ok := ctx.Value(receiptKey{}).(*receipt); ok {
		r.stamp(t)
	}
}

type ticketKey struct{}

func withTicket(ctx context.Context, t *ticket) context.Context {
	return context.WithValue(ctx, ticketKey{}, t)
}

func ticketOf(ctx context.Context) *ticket {
	t, _ := ctx.Value(ticketKey{}).(*ticket)
	return t
}
