package demo

import (
	"io"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// testRollout is the demo's canary Rollout with a status to fill in.
func testRollout() *v1alpha1.Rollout {
	objs := canaryObjects(appSpec{version: "v1"}, time.Second, 15*time.Second)
	ro := objs[len(objs)-1].(*v1alpha1.Rollout)
	ro.Generation = 2
	ro.Status.ObservedGeneration = "2"
	return ro
}

func testBlueGreen() *v1alpha1.Rollout {
	objs := blueGreenObjects(appSpec{version: "blue"}, 15*time.Second)
	ro := objs[len(objs)-1].(*v1alpha1.Rollout)
	ro.Generation = 2
	ro.Status.ObservedGeneration = "2"
	return ro
}

// weights sets status.canary.weights: canary weight w on hash ch, the rest
// on stable hash sh.
func weights(ro *v1alpha1.Rollout, w int32, ch, sh string, verified *bool) {
	ro.Status.Canary.Weights = &v1alpha1.TrafficWeights{
		Canary:   v1alpha1.WeightDestination{Weight: w, ServiceName: "demo-canary", PodTemplateHash: ch},
		Stable:   v1alpha1.WeightDestination{Weight: 100 - w, ServiceName: "demo-stable", PodTemplateHash: sh},
		Verified: verified,
	}
}

func verification(kind v1alpha1.VerificationKind, phase v1alpha1.VerificationPhase, fp string, canary, stable int32, started time.Time) *v1alpha1.VerificationStatus {
	v := &v1alpha1.VerificationStatus{
		Kind: kind, Phase: phase, Fingerprint: fp, Reason: "R", Message: "m",
		DesiredWeights: &v1alpha1.VerificationWeights{Canary: canary, Stable: stable},
		StartedAt:      &metav1.Time{Time: started}, Attempts: 1,
		TargetGroups: []v1alpha1.TargetGroupObservation{
			{ARN: "arn:c", Role: "canary", ExpectedTargets: 1, HealthyTargets: 1, Listener: "l1"},
			{ARN: "arn:c", Role: "canary", ExpectedTargets: 1, HealthyTargets: 1, Listener: "l2"},
			{ARN: "arn:s", Role: "stable", ExpectedTargets: 2, HealthyTargets: 2},
		},
	}
	if phase != v1alpha1.VerificationPending {
		v.FinishedAt = &metav1.Time{Time: started.Add(1500 * time.Millisecond)}
	}
	return v
}

// fakeTracker is a tracker without a cluster: statuses are fed to observe.
type fakeTracker struct {
	*tracker
	rv     int
	events []Event
}

func newFakeTracker(t *testing.T) *fakeTracker {
	t.Helper()
	r := &run{opts: Options{SampleInterval: 500 * time.Millisecond}, start: time.Now().Add(-time.Minute), addrs: map[string]bool{}, res: &Result{}}
	r.ui = newTerminal(io.Discard, false, false, 100, r.start)
	f := &fakeTracker{}
	r.opts.OnEvent = func(e Event) { f.events = append(f.events, e) }
	sc := &ScenarioResult{Name: ScenarioCanary, From: "v1", To: "v2", ByVersion: map[string]int{}, AfterEnd: map[string]int{}}
	f.tracker = &tracker{r: r, sc: sc, name: CanaryApp, changed: make(chan struct{}, 1), sampled: make(chan struct{}, 1),
		known: map[string]bool{}, stepIndex: map[string]int{}}
	return f
}

// feed observes ro as the next status (a new resourceVersion).
func (f *fakeTracker) feed(ro *v1alpha1.Rollout) {
	f.rv++
	c := ro.DeepCopy()
	c.ResourceVersion = strconv.Itoa(f.rv)
	f.observe(c)
}

func ptrTrue() *bool  { return ptr.To(true) }
func ptrFalse() *bool { return ptr.To(false) }
