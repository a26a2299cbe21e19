package controller

import (
	"context"
	"flag"
	"maps"
	"reflect"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/albrollouts/albrollouts/internal/verify"
)

var simAsyncFlag = flag.Bool("sim.async", false, "TestSimulation: the controller checks in the background (Submit/Latest), through a deterministic double of the verifier's watches")

// simAsyncVerifier plays verify.Verifier's watches deterministically: a
// submitted input is checked (by the real engine's decision, simVerifier)
// at the world's next tick, then again once its NextCheck has passed, until
// its result is final; notify is called when the outcome, reason or message
// changes, as the real watch does.
type simAsyncVerifier struct {
	*simVerifier
	watches          map[string]*simWatch
	submits, forgets int
	// changes counts the results that differed from their watch's last.
	changes int
}

type simWatch struct {
	in     verify.Input
	notify func(string)
	res    verify.Result
	ok     bool
	final  bool
	due    time.Time // zero: at the next tick
}

func (a *simAsyncVerifier) Submit(key string, in verify.Input, notify func(string)) {
	if w, ok := a.watches[key]; ok && reflect.DeepEqual(w.in, in) {
		return
	}
	a.submits++
	a.watches[key] = &simWatch{in: in, notify: notify}
}

func (a *simAsyncVerifier) Latest(key string, in verify.Input) (verify.Result, bool) {
	w, ok := a.watches[key]
	if !ok || !reflect.DeepEqual(w.in, in) || !w.ok {
		return verify.Result{}, false
	}
	return w.res, true
}

func (a *simAsyncVerifier) Forget(key string) {
	if _, ok := a.watches[key]; ok {
		a.forgets++
		delete(a.watches, key)
	}
}

// running is the number of watches still checking (the real Verifier's
// goroutines).
func (a *simAsyncVerifier) running() int {
	n := 0
	for _, w := range a.watches {
		if !w.final {
			n++
		}
	}
	return n
}

// tick checks every watch that is due, in key order.
func (a *simAsyncVerifier) tick(now time.Time) {
	for _, key := range slices.Sorted(maps.Keys(a.watches)) {
		w := a.watches[key]
		if w.final || (!w.due.IsZero() && now.Before(w.due)) {
			continue
		}
		res := a.Verify(context.Background(), w.in)
		changed := !w.ok || res.Outcome != w.res.Outcome || res.Reason != w.res.Reason || res.Message != w.res.Message
		w.res, w.ok = res, true
		switch res.Outcome {
		case verify.Verified, verify.TimedOut:
			w.final = true
		case verify.Failed:
			w.final = res.NextCheck <= 0
		}
		w.due = now.Add(max(res.NextCheck, verify.MinNextCheck))
		if changed {
			a.changes++
			if w.notify != nil {
				w.notify(key)
			}
		}
	}
}

// restart drops every watch, as a controller process that starts again
// has none.
func (a *simAsyncVerifier) restart(r *Reconciler) {
	clear(a.watches)
	r.watches.mu.Lock()
	r.watches.byRollout = nil
	r.watches.mu.Unlock()
	r.albLookupsMu.Lock()
	clear(r.albLookups)
	r.albLookupsMu.Unlock()
}

// goAsync makes the sim's controller check in the background through the
// double; enqueue is the rollout's callback.
func (s *sim) goAsync(enqueue func(types.NamespacedName)) *simAsyncVerifier {
	a := &simAsyncVerifier{simVerifier: s.v, watches: map[string]*simWatch{}}
	s.async = a
	s.r.verifier, s.r.async = a, a
	s.r.watches.enqueue = enqueue
	return a
}
