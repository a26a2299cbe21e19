package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/faults"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// The tests in this file change elbsim for everyone (faults, throttling,
// propagation delay), so they do not run in parallel: Go runs them before
// the parallel rollout scenarios start, and each clears what it set.

// AccessDenied on one Describe action mid-rollout: the condition names the
// IAM action, the rollout neither moves nor aborts (even past its timeout),
// and it resumes once the permission is back.
func TestRolloutCanaryAccessDenied(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	ns := namespace(t, "canary-denied")
	ctl := startController(t, ns)
	// A generous timeout until 20 % is verified (a loaded machine may take
	// a while to get the pods healthy); 8 s once the fault is on, to show
	// that a timeout under AccessDenied neither moves nor aborts.
	app := canaryApp{name: "web", replicas: 2, version: "v1", timeoutSeconds: 120,
		steps: []v1alpha1.CanaryStep{setWeight(20), pauseFor("1s"), setWeight(60), {Pause: &v1alpha1.RolloutPause{}}}}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	waitRollout(t, ns, "web", "20% verified", rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
		return verifiedAt(&ro.Status, 20), "not at 20% verified"
	})
	patchRollout(t, ns, "web", `{"spec":{"strategy":{"canary":{"trafficRouting":{"alb":{"timeoutSeconds":8}}}}}}`)
	env.Elbsim().Faults().DenyAction("DescribeTargetHealth")
	t.Cleanup(func() { env.Elbsim().Faults().AllowAction("DescribeTargetHealth") })
	ro := waitRollout(t, ns, "web", "TrafficVerified naming the denied action", rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
		c := rolloutCondition(ro, v1alpha1.ConditionTrafficVerified)
		if c == nil || c.Reason != "AccessDenied" || !strings.Contains(c.Message, "elasticloadbalancing:DescribeTargetHealth") {
			return false, fmt.Sprintf("TrafficVerified %+v", c)
		}
		return true, ""
	})
	// Well past the 8 s timeout, nothing moved and nothing aborted.
	denied := time.Now()
	poll.Slow.Eventually(t, time.Minute, "20 s of AccessDenied without a move", func() (bool, string) {
		ro = getRollout(t, ns, "web")
		w := ro.Status.Canary.Weights
		if ro.Status.Abort || w == nil || w.Canary.Weight != 20 || ro.Status.StableRS != v1 {
			t.Fatalf("the rollout moved during AccessDenied: abort %t, weights %s, stable %s, message %q", ro.Status.Abort, weightsText(ro), ro.Status.StableRS, ro.Status.Message)
		}
		return time.Since(denied) > 20*time.Second, "waiting"
	})
	env.Elbsim().Faults().AllowAction("DescribeTargetHealth")
	waitRollout(t, ns, "web", "paused at 60% after the fault cleared", rolloutTimeout, pausedAt(3))
	promote(t, ns, "web")
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1))
	rep := gen.Stop()
	assertNoFailures(t, "AccessDenied mid-rollout", rep)
	scenarioReport(t, "AccessDenied", start, rep, ctl, tl)
}

// A throttling storm: Describe* limited to a burst of 10 and 4 calls/s for
// the account (shared with the load balancer controller); the rollout still
// completes, verified, with zero failed requests.
func TestRolloutCanaryThrottlingStorm(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	ns := namespace(t, "canary-throttled")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", timeoutSeconds: 90,
		steps: []v1alpha1.CanaryStep{setWeight(25), pauseFor("1s"), setWeight(50), pauseFor("1s")}}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	f := env.Elbsim().Faults()
	if err := f.SetBucket(faults.ClassDescribe, faults.BucketConfig{Burst: 10, RatePerSecond: 4}); err != nil {
		t.Fatal(err)
	}
	f.SetThrottling(true)
	t.Cleanup(func() {
		f.SetThrottling(false)
		_ = f.SetBucket(faults.ClassDescribe, faults.DefaultBuckets()[faults.ClassDescribe])
	})
	before := env.Elbsim().Stats()
	start := time.Now()
	setImage(t, ns, "web", "v2")
	waitRollout(t, ns, "web", "healthy on v2", 2*rolloutTimeout, onNewVersion(v1))
	after := env.Elbsim().Stats()
	var throttled int64
	for action, a := range after.Actions {
		throttled += a.Throttled - before.Actions[action].Throttled
	}
	t.Logf("throttled ELBv2 calls during the rollout (all clients): %d", throttled)
	rep := gen.Stop()
	assertNoFailures(t, "throttling storm", rep)
	scenarioReport(t, "throttling storm", start, rep, ctl, tl)
}

// ALB rule changes reach the data plane 3 s after Describe* shows them
// (longer than the load balancer controller's 2 s lag): the old stable pods
// keep serving until no traffic can reach them; zero failed requests.
func TestRolloutCanaryPropagationDelay(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	ns := namespace(t, "canary-propagation")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{setWeight(50), pauseFor("1s")}}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	env.Elbsim().SetPropagationDelay(3 * time.Second)
	t.Cleanup(func() { env.Elbsim().SetPropagationDelay(0) })
	start := time.Now()
	setImage(t, ns, "web", "v2")
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1))
	waitOldScaledDown(t, ns, "web", v1)
	rep := gen.Stop()
	assertNoFailures(t, "propagation delay", rep)
	scenarioReport(t, "propagation delay 3s", start, rep, ctl, tl)
}
