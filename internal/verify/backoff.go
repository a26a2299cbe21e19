package verify

import (
	"hash/fnv"
	"math"
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
// pure function of its inputs and differs between rollouts. It takes
// constant time whatever the factor (1 included) and elapsed time.
func (b Backoff) Delay(elapsed time.Duration, key string) time.Duration {
	b = b.withDefaults()
	d, attempt := b.step(max(elapsed, 0))
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	_, _ = h.Write([]byte{byte(attempt), byte(attempt >> 8)})
	u := float64(h.Sum64()%10000) / 10000
	return d - time.Duration(float64(d)*b.Jitter*u)
}

// step returns the un-jittered delay due after elapsed and its attempt
// number. Delay k is Initial*Factor^k, capped at Max; attempt k starts when
// the first k delays, whose sum is Initial*(Factor^k-1)/(Factor-1)
// (k*Initial for factor 1), have passed. Once the cap is reached, attempts
// keep counting in steps of Max so that the jitter keeps changing.
func (b Backoff) step(elapsed time.Duration) (time.Duration, int) {
	initial, maxD, e := float64(b.Initial), float64(b.Max), float64(elapsed)
	// uncapped: how many delays come before the first one at the cap.
	uncapped := math.Inf(1)
	if b.Factor > 1 {
		uncapped = math.Max(0, math.Ceil(math.Log(maxD/initial)/math.Log(b.Factor)-1e-9))
	} else if b.Max == b.Initial {
		uncapped = 0
	}
	sum := func(k float64) float64 { // time taken by the first k uncapped delays
		if b.Factor == 1 {
			return k * initial
		}
		return initial * (math.Pow(b.Factor, k) - 1) / (b.Factor - 1)
	}
	var k float64 // attempts whose delay fits into elapsed, among the uncapped ones
	if b.Factor == 1 {
		k = math.Floor(e/initial + 1e-9)
	} else {
		k = math.Floor(math.Log(1+e*(b.Factor-1)/initial)/math.Log(b.Factor) + 1e-9)
	}
	if k < uncapped {
		return time.Duration(math.Min(initial*math.Pow(b.Factor, k), maxD)), clampAttempt(k)
	}
	k = uncapped
	extra := math.Floor((e - sum(k)) / maxD)
	return b.Max, clampAttempt(k + math.Max(extra, 0))
}

// clampAttempt turns an attempt count into an int; only its low bits feed the
// jitter, so a cap loses nothing.
func clampAttempt(k float64) int {
	if k > 1<<30 {
		return 1 << 30
	}
	return int(k)
}
