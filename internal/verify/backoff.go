package verify

import (
	"hash/fnv"
	"time"
)

// Backoff schedules the next check: Initial, doubling (Factor) up to Max,
// each delay shortened by up to Jitter (a fraction) so that rollouts that
// changed at the same moment do not poll in lockstep.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Factor  float64
	Jitter  float64
}

// DefaultBackoff: 1 s doubling to 10 s, up to 20 % jitter.
var DefaultBackoff = Backoff{Initial: time.Second, Max: 10 * time.Second, Factor: 2, Jitter: 0.2}

// withDefaults fills unset fields; the zero Backoff is DefaultBackoff, and
// Jitter 0 in an otherwise set Backoff means no jitter.
func (b Backoff) withDefaults() Backoff {
	if b == (Backoff{}) {
		return DefaultBackoff
	}
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max < b.Initial {
		b.Max = max(DefaultBackoff.Max, b.Initial)
	}
	if b.Factor < 1 {
		b.Factor = DefaultBackoff.Factor
	}
	if b.Jitter < 0 || b.Jitter >= 1 {
		b.Jitter = DefaultBackoff.Jitter
	}
	return b
}

// Delay returns the delay before the next check when elapsed time has
// passed since the desired state was written. The attempt number is derived
// from elapsed (how many un-jittered delays fit into it), so the caller keeps
// no counter; the jitter is a hash of key and attempt, so the result is a
// pure function of its inputs and differs between rollouts.
func (b Backoff) Delay(elapsed time.Duration, key string) time.Duration {
	b = b.withDefaults()
	d, sum, attempt := b.Initial, time.Duration(0), 0
	for sum+d <= elapsed && d < b.Max {
		sum += d
		attempt++
		d = min(time.Duration(float64(d)*b.Factor), b.Max)
	}
	if d == b.Max && elapsed > sum {
		// Keep counting attempts at the cap so that the jitter keeps changing.
		attempt += int((elapsed - sum) / b.Max)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	_, _ = h.Write([]byte{byte(attempt), byte(attempt >> 8)})
	u := float64(h.Sum64()%10000) / 10000
	return d - time.Duration(float64(d)*b.Jitter*u)
}
