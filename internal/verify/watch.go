package verify

import (
	"context"
	"reflect"
	"sync"
	"time"
)

// Watching verifications in the background.
//
// Verify blocks its caller for the ELBv2 reads of one check, and the rate
// limit serves the reads of the checks that are running at that moment. A
// controller with a few workers and many rollouts then has most pending
// verifications waiting in its own work queue, invisible to the provider's
// priorities, and each worker blocked in the rate-limit queue. Submit
// instead hands a verification to the Verifier, which checks it again after
// every NextCheck on its own and calls back when the result changes: every
// pending verification's reads are queued together (served by priority,
// oldest change first), and the controller's workers never wait for AWS.

// watch is one verification checked in the background.
type watch struct {
	in     Input
	notify func(key string)
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	res Result
	ok  bool // res holds a result of in
}

// watchCallTimeout bounds one background check, like the controller's
// per-call timeout bounds Verify.
const watchCallTimeout = 2 * time.Minute

// Submit checks in under key (one key per rollout) in the background: the
// Verifier calls Verify itself, again after each result's NextCheck, until
// the outcome is final (Verified, TimedOut, or Failed for an invalid input),
// and calls notify(key) from its own goroutine each time the outcome,
// reason or message changes. Submitting the same input again keeps the
// running watch; submitting another one under the same key replaces it.
// Read the results with Latest; stop with Forget (or Close).
func (v *Verifier) Submit(key string, in Input, notify func(key string)) {
	v.watchMu.Lock()
	defer v.watchMu.Unlock()
	if v.watches == nil {
		v.watches = map[string]*watch{}
	}
	if w, ok := v.watches[key]; ok {
		if reflect.DeepEqual(w.in, in) {
			return
		}
		w.cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &watch{in: in, notify: notify, cancel: cancel, done: make(chan struct{})}
	v.watches[key] = w
	go v.run(ctx, key, w)
}

// Latest returns the last result of the watch of key, if it is checking
// exactly in and has a result. A final result stays until Forget.
func (v *Verifier) Latest(key string, in Input) (Result, bool) {
	v.watchMu.Lock()
	w, ok := v.watches[key]
	v.watchMu.Unlock()
	if !ok || !reflect.DeepEqual(w.in, in) {
		return Result{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.res, w.ok
}

// Forget stops the watch of key, if any, and drops its result.
func (v *Verifier) Forget(key string) {
	v.watchMu.Lock()
	w, ok := v.watches[key]
	delete(v.watches, key)
	v.watchMu.Unlock()
	if ok {
		w.cancel()
		<-w.done
	}
}

// Close stops every watch.
func (v *Verifier) Close() {
	v.watchMu.Lock()
	ws := v.watches
	v.watches = nil
	v.watchMu.Unlock()
	for _, w := range ws {
		w.cancel()
	}
	for _, w := range ws {
		<-w.done
	}
}

// Watching returns the number of verifications checked in the background.
func (v *Verifier) Watching() int {
	v.watchMu.Lock()
	defer v.watchMu.Unlock()
	return len(v.watches)
}

func (v *Verifier) run(ctx context.Context, key string, w *watch) {
	defer close(w.done)
	for {
		cctx, cancel := context.WithTimeout(ctx, watchCallTimeout)
		res := v.Verify(cctx, w.in)
		cancel()
		if ctx.Err() != nil {
			return // replaced or forgotten: this result is nobody's
		}
		w.mu.Lock()
		changed := !w.ok || res.Outcome != w.res.Outcome || res.Reason != w.res.Reason || res.Message != w.res.Message
		w.res, w.ok = res, true
		w.mu.Unlock()
		if changed && w.notify != nil {
			w.notify(key)
		}
		if final(res) {
			return
		}
		t := time.NewTimer(max(res.NextCheck, MinNextCheck))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// final reports whether checking again cannot change a result.
func final(res Result) bool {
	switch res.Outcome {
	case Verified, TimedOut:
		return true
	case Failed:
		return res.NextCheck <= 0 // invalid input
	}
	return false
}
