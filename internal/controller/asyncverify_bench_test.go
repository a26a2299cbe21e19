package controller

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// slowELBv2 is how long one check takes against a slow (throttled) ELBv2
// API in BenchmarkReconcilePendingVerification.
const slowELBv2 = 20 * time.Millisecond

// slowVerifier makes every check take slowELBv2 (wall time).
type slowVerifier struct {
	*simVerifier
	calls *int
}

func (v slowVerifier) Verify(ctx context.Context, in verify.Input) verify.Result {
	*v.calls++
	time.Sleep(slowELBv2)
	return v.simVerifier.Verify(ctx, in)
}

// BenchmarkReconcilePendingVerification measures a worker's reconcile of a
// rollout whose verification is pending while each ELBv2 check takes
// slowELBv2: synchronously every pass waits for a check; in the background
// a pass reads the watch's latest result (the checks run in the watches,
// here at each tick, outside the measured time).
func BenchmarkReconcilePendingVerification(b *testing.B) {
	for _, mode := range []string{"sync", "async"} {
		b.Run(mode, func(b *testing.B) {
			t := &testing.T{}
			s := newSim(t)
			var a *simAsyncVerifier
			if mode == "async" {
				a = s.goAsync(func(types.NamespacedName) {})
			}
			s.canaryRollout(2, weightStep(50), pauseStep(""))
			s.run(100, "healthy on v1", isHealthy)
			s.lbLag = 1 << 30
			setImage(s, "v2")
			s.run(40, "pending", func(ro *v1alpha1.Rollout) bool {
				v := ro.Status.Verification
				return v != nil && v.Phase == v1alpha1.VerificationPending && v.LastCheckedAt != nil
			})
			workerCalls := 0
			slow := slowVerifier{s.v, &workerCalls}
			s.r.verifier = slow
			if a != nil {
				s.r.verifier = a // the watches check at the ticks, off the worker (not timed)
			}
			workerCalls = 0
			b.ResetTimer()
			var blocked time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := s.reconcile("web"); err != nil {
					b.Fatal(err)
				}
				blocked += time.Since(t0)
				if a != nil && i%10 == 9 {
					b.StopTimer()
					for _, w := range a.watches {
						w.due = time.Time{}
					}
					a.tick(s.now)
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(workerCalls)/float64(b.N), "worker-checks/reconcile")
			b.ReportMetric(float64(b.N)/blocked.Seconds(), "reconciles/s")
			b.ReportMetric(float64(blocked.Microseconds())/float64(b.N), "µs-worker/reconcile")
		})
	}
}
