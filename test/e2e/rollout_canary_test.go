package e2e

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func setWeight(w int32) v1alpha1.CanaryStep { return v1alpha1.CanaryStep{SetWeight: ptr.To(w)} }

func pauseFor(d string) v1alpha1.CanaryStep {
	return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intstr.FromString(d))}}
}

// A healthy canary update 10 → 25 → 50 → 100 under steady traffic: every
// step verified before the next, zero failed requests, all traffic on v2 at
// the end, the old ReplicaSet scaled down only after the promotion verified.
func TestRolloutCanaryFull(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := namespace(t, "canary-full")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{
		setWeight(10), pauseFor("1s"), setWeight(25), pauseFor("1s"), setWeight(50), pauseFor("1s"),
	}}
	app.create(t, ns)
	ro := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy)
	v1Hash := ro.Status.StableRS
	url := rolloutURL(t, ns, "web")
	gen := traffic(t, url)
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	ro = waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1Hash))
	// All traffic on v2 now.
	gen.Window()
	waitOldScaledDown(t, ns, "web", v1Hash)
	rep := gen.Stop()
	assertNoFailures(t, "canary 10→25→50→100", rep)
	scenarioReport(t, "full canary 10-25-50-100", start, rep, ctl, tl)
	if w := gen.Window(); w.ByVersion["v1"] > 0 {
		t.Errorf("after promotion, v1 still answered %d of %d requests", w.ByVersion["v1"], w.Total)
	}
	// Every step's weight was verified before the rollout moved past it.
	steps := app.steps
	for i, st := range steps {
		if st.SetWeight == nil {
			continue
		}
		w := *st.SetWeight
		verified := tl.firstIndex(func(s *v1alpha1.RolloutStatus) bool { return verifiedAt(s, w) && s.CurrentPodHash != v1Hash })
		moved := tl.firstIndex(func(s *v1alpha1.RolloutStatus) bool {
			return s.CurrentPodHash != v1Hash && s.CurrentStepIndex != nil && int(*s.CurrentStepIndex) > i
		})
		if verified < 0 || moved < 0 || verified > moved {
			t.Errorf("step %d (setWeight %d): verified at status #%d, moved past at #%d", i, w, verified, moved)
		}
	}
	if i := tl.firstIndex(func(s *v1alpha1.RolloutStatus) bool { return verifiedAt(s, 100) }); i < 0 {
		t.Errorf("100%% to the canary was never verified before the promotion")
	}
	if ro.Status.Verification == nil || ro.Status.Verification.Phase != v1alpha1.VerificationVerified {
		t.Errorf("final verification: %s", verificationText(ro))
	}
}
