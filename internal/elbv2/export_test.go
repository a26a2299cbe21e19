package elbv2

import "time"

// Test hooks on the rate limit of a Provider.

// StopTokens empties the token bucket and stops its refill: every call
// queues until GrantTokens.
func (p *Provider) StopTokens() {
	l := p.limiter
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket.rate, l.bucket.tokens = 0, 0
}

// GrantTokens hands out n tokens to the most urgent waiters.
func (p *Provider) GrantTokens(n int) {
	l := p.limiter
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket.tokens += float64(n)
	l.dispatchLocked(l.now())
}

// Queued is the number of calls waiting for a token.
func (p *Provider) Queued() int { return p.limiter.queued() }

// QueueHead returns the priority and freshness bound of the call that the
// next token goes to.
func (p *Provider) QueueHead() (Priority, time.Time, bool) {
	l := p.limiter
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 {
		return 0, time.Time{}, false
	}
	return l.queue[0].t.prio, l.queue[0].t.since, true
}
