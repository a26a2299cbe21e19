package controller

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// Verifying without blocking a worker.
//
// A Verifier that can also watch (AsyncVerifier: *verify.Verifier) checks a
// rollout's inputs in the background: callVerifier returns the watch's
// latest result when it has one for exactly this input, and otherwise
// submits the input and returns a result that says the ALB is being
// checked (Pending, ReasonChecking), without waiting. The watch calls back
// when its result changes; the callback enqueues the rollout (a
// controller-runtime channel source), and each pending result's NextCheck
// requeues it too (the fallback when a callback is lost).
//
// Nothing here is state: a watch is a cache of reads. Every decision still
// comes from status.verification (its fingerprint and its freshness bound,
// which are part of the input a watch is keyed on, so a result read for
// another input or before another bound is never returned for this one).
// A restarted controller has no watches: its first pass submits again.
//
// A rollout has one watch per purpose (the traffic's own verification, the
// restart gate's probe, the status.alb lookup) and input (without its
// freshness bound: a new bound replaces the watch of the same input). A
// watch a pass does not use is forgotten at the end of the pass, and every watch of a rollout that is
// gone or no longer ours is forgotten when it is seen so.

// AsyncVerifier is a Verifier that also checks inputs in the background
// (*verify.Verifier implements it).
type AsyncVerifier interface {
	Verifier
	// Submit checks in under key in the background, calling notify(key)
	// when the result changes; the same input again keeps the watch, another
	// one replaces it.
	Submit(key string, in verify.Input, notify func(key string))
	// Latest is the watch's last result, if it checks exactly in.
	Latest(key string, in verify.Input) (verify.Result, bool)
	// Forget stops the watch of key and drops its result.
	Forget(key string)
}

// ReasonChecking is the reason of the result callVerifier returns while the
// ALB is being checked in the background and no result is in yet.
const ReasonChecking = "Checking"

// The purposes of a check, one watch each per rollout.
const (
	purposeTraffic = "traffic" // status.verification's own check
	purposeProbe   = "probe"   // the restart gate's health probe
	purposeALB     = "alb"     // the status.alb lookup
)

// checkingFallback is how soon a rollout whose check was just submitted is
// looked at again if the watch's callback does not come first.
const checkingFallback = 5 * time.Second

// probeReuse is how much older than the pass a probe's freshness bound may
// be when its watch is reused: a probe reads health "from now on", and
// taking now at every pass would submit a new input each time, so a watch
// submitted within this time of the pass counts (its reads are after its
// own bound). albLookupReuse is the same for the status.alb lookup, which
// only reads names.
const (
	probeReuse     = 5 * time.Second
	albLookupReuse = 5 * time.Minute
)

// asyncWatches is the reconciler's view of its watches: per rollout, the
// key of each purpose with the input last submitted and the result last
// recorded from it.
type asyncWatches struct {
	mu        sync.Mutex
	byRollout map[types.NamespacedName]map[string]*asyncWatch
	// events receive a GenericEvent per changed result: the channel source
	// of the controller (nil: no manager, enqueue instead).
	events chan event.GenericEvent
	// enqueue, when set, is called instead (the simulator's queue).
	enqueue func(types.NamespacedName)
}

type asyncWatch struct {
	in verify.Input
	// recorded sums up the last result recorded from this watch (see
	// resultSignature), at recordedAt: the same result seen again is no
	// news.
	recorded   string
	recordedAt time.Time
}

// asyncEventBuffer bounds the callbacks waiting for the work queue; one
// that does not fit is dropped (the NextCheck requeue comes anyway).
const asyncEventBuffer = 1024

func watchKey(nn types.NamespacedName, purpose string) string {
	return nn.Namespace + "/" + nn.Name + "#" + purpose
}

// rolloutOfKey is the rollout a watch key belongs to.
func rolloutOfKey(key string) (types.NamespacedName, bool) {
	key, _, ok := strings.Cut(key, "#")
	if !ok {
		return types.NamespacedName{}, false
	}
	ns, name, ok := strings.Cut(key, "/")
	return types.NamespacedName{Namespace: ns, Name: name}, ok
}

// notify is the watches' callback: the rollout is reconciled again.
func (r *Reconciler) notify(key string) {
	nn, ok := rolloutOfKey(key)
	if !ok {
		return
	}
	w := &r.watches
	if w.enqueue != nil {
		w.enqueue(nn)
		return
	}
	if w.events == nil {
		return
	}
	ev := event.GenericEvent{Object: &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: nn.Namespace, Name: nn.Name}}}
	select {
	case w.events <- ev:
	default: // full: the rollout's NextCheck requeue comes anyway
	}
}

// watch returns the watch of key, creating it.
func (w *asyncWatches) watch(nn types.NamespacedName, key string) *asyncWatch {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byRollout == nil {
		w.byRollout = map[types.NamespacedName]map[string]*asyncWatch{}
	}
	m := w.byRollout[nn]
	if m == nil {
		m = map[string]*asyncWatch{}
		w.byRollout[nn] = m
	}
	if m[key] == nil {
		m[key] = &asyncWatch{}
	}
	return m[key]
}

// inputKey is the key of a rollout's check of in for purpose: the purpose
// and a digest of the input without its freshness bound (a pass may check
// several inputs for one purpose, the restart gate one per group; each has
// its watch, and a new bound replaces the watch of the same input).
func inputKey(nn types.NamespacedName, purpose string, in verify.Input) string {
	in.DesiredAt = time.Time{}
	b, err := json.Marshal(in)
	if err != nil {
		b = []byte(fmt.Sprintf("%+v", in))
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return watchKey(nn, fmt.Sprintf("%s:%016x", purpose, h.Sum64()))
}

// forget stops the rollout's watches whose purpose keep does not hold
// (nil: all of them).
func (r *Reconciler) forgetWatches(nn types.NamespacedName, keep map[string]bool) {
	if r.async == nil {
		return
	}
	w := &r.watches
	w.mu.Lock()
	var gone []string
	for key := range w.byRollout[nn] {
		if !keep[key] {
			gone = append(gone, key)
			delete(w.byRollout[nn], key)
		}
	}
	if len(w.byRollout[nn]) == 0 {
		delete(w.byRollout, nn)
	}
	w.mu.Unlock()
	for _, key := range gone {
		r.async.Forget(key)
	}
}

// forgetWatch stops the watch of the pass's last check.
func (c *rolloutContext) forgetWatch() {
	if c.r.async == nil || c.asyncKey == "" {
		return
	}
	nn := types.NamespacedName{Namespace: c.ro.Namespace, Name: c.ro.Name}
	w := &c.r.watches
	w.mu.Lock()
	delete(w.byRollout[nn], c.asyncKey)
	w.mu.Unlock()
	delete(c.watched, c.asyncKey)
	c.r.async.Forget(c.asyncKey)
}

// endPass forgets the watches the pass did not use.
func (c *rolloutContext) endPass() {
	c.r.forgetWatches(types.NamespacedName{Namespace: c.ro.Namespace, Name: c.ro.Name}, c.watched)
}

// normalized is in as a pass builds it again from the status (times
// without a monotonic reading, in UTC, to the microsecond the API server
// keeps): the input of one verification is the same in every pass.
func normalized(in verify.Input) verify.Input {
	in.DesiredAt = in.DesiredAt.Truncate(time.Microsecond).UTC()
	return in
}

// sameButBound reports whether a and b differ at most in DesiredAt, a's
// being at most reuse before b's (and not after it).
func sameButBound(a, b verify.Input, reuse time.Duration) bool {
	if reuse <= 0 || a.DesiredAt.After(b.DesiredAt) || b.DesiredAt.Sub(a.DesiredAt) > reuse {
		return false
	}
	a.DesiredAt = b.DesiredAt
	return reflect.DeepEqual(a, b)
}

// checkAsync returns the watch's result for in, or submits in and returns
// a Checking result. reuse lets a watch submitted with an earlier freshness
// bound (at most reuse earlier) answer for in (see probeReuse).
func (c *rolloutContext) checkAsync(purpose string, in verify.Input, reuse time.Duration) verify.Result {
	nn := types.NamespacedName{Namespace: c.ro.Namespace, Name: c.ro.Name}
	in = normalized(in)
	key := inputKey(nn, purpose, in)
	if c.watched == nil {
		c.watched = map[string]bool{}
	}
	c.watched[key] = true
	c.asyncKey = key
	w := c.r.watches.watch(nn, key)
	c.r.watches.mu.Lock()
	if sameButBound(w.in, in, reuse) {
		in = w.in
	}
	if !reflect.DeepEqual(w.in, in) {
		w.in, w.recorded = in, ""
	}
	c.r.watches.mu.Unlock()
	if res, ok := c.r.async.Latest(key, in); ok {
		return res
	}
	c.r.async.Submit(key, in, c.r.notify)
	return verify.Result{Outcome: verify.Pending, Reason: ReasonChecking, Message: "checking the load balancer", NextCheck: checkingFallback}
}

// checking reports whether res is the placeholder of a check under way.
func checking(res verify.Result) bool {
	return res.Outcome == verify.Pending && res.Reason == ReasonChecking
}

// resultSignature sums up what a result says (what a watch notifies on).
func resultSignature(res verify.Result) string {
	return string(res.Outcome) + "\x00" + res.Reason + "\x00" + res.Cause + "\x00" + res.Message
}

// seenBefore reports whether res, of the pass's last watch, was recorded
// already in v (a pass that finds the same result again records nothing
// new: no attempt, no event, no status write): the same result as the last
// one recorded from this watch, whose record v still holds (its
// lastCheckedAt; a record whose write was lost is made again). Otherwise
// it notes res as recorded at now. Always false without watches: each
// synchronous call is a read.
func (c *rolloutContext) seenBefore(res verify.Result, v *v1alpha1.VerificationStatus, now time.Time) bool {
	if c.r.async == nil || c.asyncKey == "" {
		return false
	}
	w := c.r.watches.watch(types.NamespacedName{Namespace: c.ro.Namespace, Name: c.ro.Name}, c.asyncKey)
	sig := resultSignature(res)
	c.r.watches.mu.Lock()
	defer c.r.watches.mu.Unlock()
	if w.recorded == sig && v.LastCheckedAt != nil && v.LastCheckedAt.Truncate(time.Second).Equal(w.recordedAt.Truncate(time.Second)) {
		return true
	}
	w.recorded, w.recordedAt = sig, now
	return false
}

// watching is the number of watches the reconciler holds (tests).
func (r *Reconciler) watching() int {
	r.watches.mu.Lock()
	defer r.watches.mu.Unlock()
	n := 0
	for _, m := range r.watches.byRollout {
		n += len(m)
	}
	return n
}
