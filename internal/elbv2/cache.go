package elbv2

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// ttlCache coalesces concurrent reads of the same key into one call
// (singleflight) and keeps successful answers for ttl, so that N
// verifications behind one load balancer cost one call per key per ttl.
// Errors are not cached.
type ttlCache[V any] struct {
	ttl time.Duration
	now func() time.Time
	// callTimeout bounds a shared call: it runs detached from the context of
	// whichever caller started it, so that one caller giving up does not fail
	// the others waiting on the same key.
	callTimeout time.Duration

	mu      sync.Mutex
	entries map[string]cacheEntry[V]
	started map[string]time.Time // start of the call in flight per key
	flight  singleflight.Group
}

type cacheEntry[V any] struct {
	value   V
	fetched time.Time // when the call that produced value started
	expires time.Time
}

func newTTLCache[V any](ttl, callTimeout time.Duration, now func() time.Time) *ttlCache[V] {
	return &ttlCache[V]{ttl: ttl, callTimeout: callTimeout, now: now, entries: map[string]cacheEntry[V]{}, started: map[string]time.Time{}}
}

// get returns the cached value of key or calls fetch once for all
// concurrent callers. With a freshness bound in ctx (WithNotBefore), only an
// answer whose fetch started at or after that time is accepted: a
// verification never decides on data read before its change was written.
func (c *ttlCache[V]) get(ctx context.Context, key string, fetch func(ctx context.Context) (V, error)) (V, error) {
	notBefore := notBeforeOf(ctx)
	for attempt := 0; ; attempt++ {
		if v, ok := c.peek(key, notBefore); ok {
			return v, nil
		}
		c.mu.Lock()
		started, inFlight := c.started[key]
		c.mu.Unlock()
		ch := c.flight.DoChan(key, func() (any, error) {
			// A flight that finished between our peek and this call has
			// already stored a fresh answer: use it instead of calling AWS.
			if v, ok := c.peek(key, notBefore); ok {
				return v, nil
			}
			start := c.now()
			c.mu.Lock()
			c.started[key] = start
			c.mu.Unlock()
			defer func() {
				c.mu.Lock()
				delete(c.started, key)
				c.mu.Unlock()
			}()
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.callTimeout)
			defer cancel()
			v, err := fetch(fctx)
			if err == nil {
				c.put(key, v, start)
			}
			return v, err
		})
		var r singleflight.Result
		select {
		case r = <-ch:
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
		if r.Err != nil {
			var zero V
			return zero, r.Err
		}
		// A call that was already running when we joined may have started
		// before our bound; then wait for a fresh one (at most twice).
		if inFlight && started.Before(notBefore) && attempt < 2 {
			continue
		}
		return r.Val.(V), nil
	}
}

func (c *ttlCache[V]) peek(key string, notBefore time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.now().Before(e.expires) || e.fetched.Before(notBefore) {
		var zero V
		return zero, false
	}
	return e.value, true
}

func (c *ttlCache[V]) put(key string, v V, fetched time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.entries[key] = cacheEntry[V]{value: v, fetched: fetched, expires: now.Add(c.ttl)}
	// Drop expired entries now and then so that the map does not grow with
	// every target group the process ever saw.
	if len(c.entries)%256 == 0 {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
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
}

// forgetIfOlder removes key if its entry was stored more than age ago, and
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
// target health and listeners only from calls started at or after t (cached
// answers that are older are re-read; target-group lists are exempt). The
// verifier passes the time the desired state was written.
func WithNotBefore(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, notBeforeKey{}, t)
}

func notBeforeOf(ctx context.Context) time.Time {
	t, _ := ctx.Value(notBeforeKey{}).(time.Time)
	return t
}
