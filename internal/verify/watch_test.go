package verify

import (
	"context"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/elbv2/fake"
)

// notifications records the keys a watch called back with.
type notifications struct {
	mu   sync.Mutex
	keys []string
}

func (n *notifications) notify(key string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.keys = append(n.keys, key)
}

func (n *notifications) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.keys)
}

// waitLatest polls Latest until cond holds or 20 s pass.
func waitLatest(t *testing.T, v *Verifier, key string, in Input, what string, cond func(Result) bool) Result {
	t.Helper()
	var res Result
	var ok bool
	// Polling the background check. (Product packages do not import the
	// harness's internal/sim/poll.)
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		res, ok = v.Latest(key, in)
		return ok && cond(res), nil
	})
	if err != nil {
		t.Fatalf("no %s within 20s; last: %v %s %s: %s", what, ok, res.Outcome, res.Reason, res.Message)
	}
	return res
}

func TestSubmitChecksInTheBackground(t *testing.T) {
	x := newFixture(t)
	x.setWeights(0, 100)
	p := elbv2.NewWithAPI(x.f, elbv2.Options{Region: "us-east-1", RateLimit: 1e6, Burst: 1e6, CacheTTL: 50 * time.Millisecond})
	v := New(p, Options{})
	t.Cleanup(v.Close)
	var n notifications
	in := x.input(25, 75)
	in.DesiredAt = time.Now()
	v.Submit("demo/web", in, n.notify)
	v.Submit("demo/web", in, n.notify) // the same input again: the same watch
	if v.Watching() != 1 {
		t.Fatalf("%d watches", v.Watching())
	}
	waitLatest(t, v, "demo/web", in, "pending result", func(r Result) bool { return r.Outcome == Pending && r.Reason == ReasonWeightMismatch })
	if n.count() == 0 {
		t.Fatal("no notification for the first result")
	}
	// Checks go on without anyone calling: the change is seen.
	x.setWeights(25, 75)
	waitLatest(t, v, "demo/web", in, "Verified", func(r Result) bool { return r.Outcome == Verified })
	if _, ok := v.Latest("demo/web", x.input(10, 90)); ok {
		t.Fatal("a result for another input")
	}
	// The watch stops at a final result, which stays readable.
	v.watchMu.Lock()
	done := v.watches["demo/web"].done
	v.watchMu.Unlock()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the watch goes on after Verified")
	}
	if res, ok := v.Latest("demo/web", in); !ok || res.Outcome != Verified {
		t.Fatalf("after the watch ended: %v %+v", ok, res)
	}
	// A new desired state under the same key replaces the watch.
	next := x.input(50, 50)
	next.DesiredAt = time.Now()
	v.Submit("demo/web", next, n.notify)
	if _, ok := v.Latest("demo/web", in); ok {
		t.Fatal("the replaced input still has a result")
	}
	waitLatest(t, v, "demo/web", next, "pending result", func(r Result) bool { return r.Outcome == Pending })
	v.Forget("demo/web")
	if _, ok := v.Latest("demo/web", next); ok || v.Watching() != 0 {
		t.Fatalf("after Forget: result %v, %d watches", ok, v.Watching())
	}
}

// An invalid input is final at once; an AWS error is retried.
func TestSubmitStopsOnlyOnFinalResults(t *testing.T) {
	x := newFixture(t)
	p := elbv2.NewWithAPI(x.f, elbv2.Options{Region: "us-east-1", RateLimit: 1e6, Burst: 1e6, CacheTTL: 50 * time.Millisecond})
	v := New(p, Options{Backoff: Backoff{Initial: 50 * time.Millisecond, Max: 100 * time.Millisecond, Factor: 2}})
	t.Cleanup(v.Close)
	bad := x.input(0, 0)
	v.Submit("demo/bad", bad, nil)
	waitLatest(t, v, "demo/bad", bad, "invalid input", func(r Result) bool { return r.Outcome == Failed && r.Reason == ReasonInvalidInput })
	x.f.FailNext(elbv2.OpDescribeRules, fake.AccessDenied(elbv2.OpDescribeRules, "arn:aws:sts::123456789012:assumed-role/albrollouts/pod"), 2)
	in := x.input(25, 75)
	in.DesiredAt = time.Now()
	v.Submit("demo/web", in, nil)
	waitLatest(t, v, "demo/web", in, "Verified after the error cleared", func(r Result) bool { return r.Outcome == Verified })
}
