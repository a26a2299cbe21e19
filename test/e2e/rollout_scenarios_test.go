package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/sim/loadgen"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// rsReplicas returns spec.replicas of a rollout's ReplicaSet of hash (-1: none).
func rsReplicas(t *testing.T, ns, name, hash string) int32 {
	t.Helper()
	var rs appsv1.ReplicaSet
	if err := kc().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: name + "-" + hash}, &rs); err != nil {
		return -1
	}
	return ptr.Deref(rs.Spec.Replicas, 1)
}

func pausedAt(step int32) func(*v1alpha1.Rollout) (bool, string) {
	return func(ro *v1alpha1.Rollout) (bool, string) {
		if ro.Status.Phase != v1alpha1.RolloutPhasePaused || ptr.Deref(ro.Status.CurrentStepIndex, -1) != step {
			return false, fmt.Sprintf("not paused at step %d", step)
		}
		return true, ""
	}
}

// An abort at 50 %: traffic back on stable, verified, before the canary
// scales down; no failed request; the verification does not spin.
func TestRolloutCanaryAbort(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "canary-abort")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{setWeight(50), {Pause: &v1alpha1.RolloutPause{}}}}
	app.create(t, ns)
	waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy)
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	ro := waitRollout(t, ns, "web", "paused at 50%", rolloutTimeout, pausedAt(1))
	v2 := ro.Status.CurrentPodHash
	callsBefore := ctl.elbv2Calls()
	patchRolloutStatus(t, ns, "web", `{"status":{"abort":true}}`)
	ro = waitRollout(t, ns, "web", "aborted, canary scaled down", rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
		if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded {
			return false, "not Degraded"
		}
		if n := rsReplicas(t, ns, "web", v2); n != 0 {
			return false, fmt.Sprintf("canary ReplicaSet still has %d replicas", n)
		}
		return true, ""
	})
	gen.Window()
	poll.Slow.Eventually(t, 10*time.Second, "requests answered after the abort", func() (bool, string) {
		w := gen.Snapshot()
		return w.Total > 0, "no request yet"
	})
	abortCalls := ctl.elbv2Calls() - callsBefore
	rep := gen.Stop()
	assertNoFailures(t, "abort at 50%", rep)
	if w := gen.Window(); w.ByVersion["v2"] > 0 {
		t.Errorf("after the abort v2 still answered %d requests", w.ByVersion["v2"])
	}
	if v := ro.Status.Verification; v == nil || v.Kind != v1alpha1.VerificationAbort || v.Phase != v1alpha1.VerificationVerified {
		t.Errorf("abort verification: %s", verificationText(ro))
	}
	if !strings.Contains(ro.Status.Message, "RolloutAborted") {
		t.Errorf("message %q", ro.Status.Message)
	}
	// Argo Rollouts spun at 200 calls/s here; a verified abort needs a handful.
	t.Logf("ELBv2 calls from the abort to the canary's scale-down: %.0f", abortCalls)
	if abortCalls > 200 {
		t.Errorf("the abort made %.0f ELBv2 calls", abortCalls)
	}
	scenarioReport(t, "abort at 50%", start, rep, ctl, tl)
}

// A version whose pods pass Kubernetes readiness but fail the ALB health
// check never gets traffic: the health-before-weight check times out, the
// rollout aborts, traffic stays on stable, zero failed requests.
func TestRolloutCanaryBadVersion(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "canary-bad")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", readinessPath: "/", timeoutSeconds: 10,
		steps: []v1alpha1.CanaryStep{setWeight(20), {Pause: &v1alpha1.RolloutPause{}}}}
	app.create(t, ns)
	waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy)
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	// v2 fails /healthz (the ALB health check) but its readiness probe on / passes.
	setBrokenVersion(t, ns, "web", "v2")
	ro := waitRollout(t, ns, "web", "aborted", rolloutTimeout, aborted)
	rep := gen.Stop()
	assertNoFailures(t, "bad version", rep)
	if rep.ByVersion["v2"] > 0 {
		t.Errorf("the unhealthy v2 answered %d requests", rep.ByVersion["v2"])
	}
	for _, st := range tl.statuses() {
		if w := st.Canary.Weights; w != nil && w.Canary.Weight > 0 {
			t.Fatalf("a canary weight of %d was written for a version that fails the ALB health check", w.Canary.Weight)
		}
	}
	assertHealthCheckTimeout(t, ro)
	if c := rolloutCondition(ro, v1alpha1.ConditionTrafficVerified); c == nil || c.Reason != "VerificationTimedOut" {
		t.Errorf("TrafficVerified condition %+v", c)
	}
	scenarioReport(t, "bad version", start, rep, ctl, tl)
}

func rolloutCondition(ro *v1alpha1.Rollout, typ string) *v1alpha1.RolloutCondition {
	for i := range ro.Status.Conditions {
		if ro.Status.Conditions[i].Type == typ {
			return &ro.Status.Conditions[i]
		}
	}
	return nil
}

// dynamicStableScale: the stable side shrinks as traffic leaves it, only
// after each weight is verified; zero failed requests.
func TestRolloutCanaryDynamicStableScale(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "canary-dyn")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 4, version: "v1", dynamicStableScale: true,
		steps: []v1alpha1.CanaryStep{setWeight(25), pauseFor("1s"), setWeight(75), {Pause: &v1alpha1.RolloutPause{}}}}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	waitRollout(t, ns, "web", "paused at 75%", rolloutTimeout, pausedAt(3))
	poll.Slow.Eventually(t, pollTimeout, "stable scaled to 1 of 4 at 75% canary", func() (bool, string) {
		n := rsReplicas(t, ns, "web", v1)
		return n == 1, fmt.Sprintf("stable has %d replicas", n)
	})
	promote(t, ns, "web")
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1))
	waitOldScaledDown(t, ns, "web", v1)
	rep := gen.Stop()
	assertNoFailures(t, "dynamicStableScale", rep)
	scenarioReport(t, "dynamicStableScale", start, rep, ctl, tl)
}

// setCanaryScale: the canary runs the asked number of pods whatever its
// weight; matchTrafficWeight returns to scaling with the weight.
func TestRolloutCanarySetCanaryScale(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "canary-scale")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 4, version: "v1", steps: []v1alpha1.CanaryStep{
		{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: ptr.To(int32(3))}},
		{Pause: &v1alpha1.RolloutPause{}},
		setWeight(25),
		{SetCanaryScale: &v1alpha1.SetCanaryScale{MatchTrafficWeight: true}},
		{Pause: &v1alpha1.RolloutPause{}},
	}}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	ro := waitRollout(t, ns, "web", "paused after setCanaryScale", rolloutTimeout, pausedAt(1))
	v2 := ro.Status.CurrentPodHash
	if n := rsReplicas(t, ns, "web", v2); n != 3 {
		t.Errorf("setCanaryScale replicas 3: canary has %d", n)
	}
	if w := ro.Status.Canary.Weights; w == nil || w.Canary.Weight != 0 {
		t.Errorf("setCanaryScale changed the weight: %s", weightsText(ro))
	}
	promote(t, ns, "web")
	waitRollout(t, ns, "web", "paused after matchTrafficWeight", rolloutTimeout, pausedAt(4))
	poll.Slow.Eventually(t, pollTimeout, "canary back to its weight's scale (25% of 4 = 1)", func() (bool, string) {
		n := rsReplicas(t, ns, "web", v2)
		return n == 1, fmt.Sprintf("canary has %d replicas", n)
	})
	promote(t, ns, "web")
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1))
	rep := gen.Stop()
	assertNoFailures(t, "setCanaryScale", rep)
	scenarioReport(t, "setCanaryScale", start, rep, ctl, tl)
}

// The controller killed mid-step and restarted resumes without sending
// traffic to unverified targets or scaling down anything that serves.
func TestRolloutCanaryControllerRestart(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "canary-restart")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{setWeight(30), pauseFor("2s"), setWeight(70), pauseFor("2s")}}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	// Kill the controller at several points: while a weight is pending
	// verification, during a pause, during the promotion.
	for _, at := range []struct {
		what string
		cond func(*v1alpha1.Rollout) (bool, string)
	}{
		{"30% written, not yet verified", func(ro *v1alpha1.Rollout) (bool, string) {
			w := ro.Status.Canary.Weights
			return w != nil && w.Canary.Weight == 30 && (w.Verified == nil || !*w.Verified), "not at 30% unverified"
		}},
		{"in the second pause", func(ro *v1alpha1.Rollout) (bool, string) { return pausedAt(3)(ro) }},
		{"promoting", func(ro *v1alpha1.Rollout) (bool, string) {
			w := ro.Status.Canary.Weights
			return ptr.Deref(ro.Status.CurrentStepIndex, 0) == 4 && w != nil && w.Canary.Weight == 100, "not promoting"
		}},
	} {
		waitRollout(t, ns, "web", at.what, rolloutTimeout, at.cond)
		ctl.restart()
		t.Logf("controller restarted: %s", at.what)
	}
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1))
	waitOldScaledDown(t, ns, "web", v1)
	rep := gen.Stop()
	assertNoFailures(t, "controller restarted mid-step", rep)
	scenarioReport(t, "controller restarted", start, rep, ctl, tl)
}

// Two Ingresses (two ALBs): both carry the weights, both are verified.
func TestRolloutCanaryTwoIngresses(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "canary-two")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", ingresses: 2, steps: []v1alpha1.CanaryStep{setWeight(40), {Pause: &v1alpha1.RolloutPause{}}}}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen1 := traffic(t, rolloutURL(t, ns, "web"))
	gen2 := traffic(t, rolloutURL(t, ns, "web-2"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	ro := waitRollout(t, ns, "web", "paused at 40%", rolloutTimeout, pausedAt(1))
	if len(ro.Status.ALBs) != 2 || ro.Status.ALBs[0].Ingress == ro.Status.ALBs[1].Ingress || ro.Status.ALB == nil {
		t.Errorf("status.albs %+v", ro.Status.ALBs)
	}
	for _, ing := range []string{"web", "web-2"} {
		a := ingressOf(t, ns, ing).Annotations[albannotation.ActionKey("", "web-root")]
		if !strings.Contains(a, `"ServiceName":"web-canary","ServicePort":"80","Weight":40`) {
			t.Errorf("ingress %s action %s", ing, a)
		}
	}
	promote(t, ns, "web")
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1))
	rep1, rep2 := gen1.Stop(), gen2.Stop()
	assertNoFailures(t, "two ingresses, first ALB", rep1)
	assertNoFailures(t, "two ingresses, second ALB", rep2)
	if rep1.ByVersion["v2"] == 0 || rep2.ByVersion["v2"] == 0 {
		t.Errorf("v2 answered on only one ALB: %v / %v", rep1.ByVersion, rep2.ByVersion)
	}
	rep1.Total += rep2.Total
	rep1.Failed += rep2.Failed
	scenarioReport(t, "two ingresses", start, rep1, ctl, tl)
}

// Ping-pong: the two services swap the stable and canary roles at each
// promotion; no Service selector moves under traffic.
func TestRolloutCanaryPingPong(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "canary-pingpong")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", pingPong: true, steps: []v1alpha1.CanaryStep{setWeight(50), pauseFor("1s")}}
	app.create(t, ns)
	ro := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy)
	first := ro.Status.Canary.StablePingPong
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	for i, v := range []string{"v2", "v3"} {
		prev := getRollout(t, ns, "web").Status.StableRS
		setImage(t, ns, "web", v)
		ro = waitRollout(t, ns, "web", "healthy on "+v, rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
			if ro.Status.StableRS == prev {
				return false, "not promoted"
			}
			return healthy(ro)
		})
		t.Logf("after update %d the stable service is %q (was %q)", i+1, ro.Status.Canary.StablePingPong, first)
	}
	if ro.Status.Canary.StablePingPong != first && first != "" {
		t.Errorf("after two updates stablePingPong is %q, want %q again", ro.Status.Canary.StablePingPong, first)
	}
	rep := gen.Stop()
	assertNoFailures(t, "ping-pong", rep)
	scenarioReport(t, "ping-pong", start, rep, ctl, tl)
}

// setHeaderRoute: requests with the header go to the canary (healthy in its
// group first), the others by weight; the route is removed at promotion.
func TestRolloutCanaryHeaderRoute(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "canary-header")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", managedRoutes: []string{"canary-header"}, steps: []v1alpha1.CanaryStep{
		{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: ptr.To(int32(1))}},
		{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "canary-header", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Canary", HeaderValue: &v1alpha1.StringMatch{Exact: "yes"}}}}},
		{Pause: &v1alpha1.RolloutPause{}},
		{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "canary-header"}},
		setWeight(50),
		pauseFor("1s"),
	}}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	url := rolloutURL(t, ns, "web")
	gen := traffic(t, url)
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	waitRollout(t, ns, "web", "paused with the header route", rolloutTimeout, pausedAt(2))
	// The route was verified before the step completed: every request with
	// the header goes to v2 from the first one.
	gen.Window()
	hdr := loadgen.Start(loadgen.Options{URL: url + "/", Rate: 20, Header: http.Header{"X-Canary": {"yes"}}})
	poll.Slow.Eventually(t, pollTimeout, "40 requests with the header", func() (bool, string) {
		n := hdr.Snapshot().Total
		return n >= 40, fmt.Sprintf("%d so far", n)
	})
	hrep := hdr.Stop()
	assertNoFailures(t, "header route (with header)", hrep)
	if hrep.ByVersion["v2"] != hrep.Total-hrep.Failed {
		t.Errorf("requests with the header answered by %v, want v2 only", hrep.ByVersion)
	}
	if w := gen.Window(); w.ByVersion["v2"] > 0 {
		t.Errorf("with weight 0, requests without the header reached v2: %v", w.ByVersion)
	}
	ing := ingressOf(t, ns, "web")
	if !albannotation.HasBackend(ing, "canary-header") || ing.Annotations[albannotation.ConditionsKey("", "canary-header")] == "" {
		t.Errorf("header route not written: %v", ing.Annotations)
	}
	promote(t, ns, "web")
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1))
	rep := gen.Stop()
	assertNoFailures(t, "header route (no header)", rep)
	if ing := ingressOf(t, ns, "web"); albannotation.HasBackend(ing, "canary-header") {
		t.Errorf("the header route's path is still on the ingress after it was removed")
	}
	scenarioReport(t, "header route", start, rep, ctl, tl)
}

// A template change mid-rollout: the new revision restarts the steps, the
// intermediate one leaves traffic (verified) before it scales down.
func TestRolloutCanaryTemplateChange(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "canary-change")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{setWeight(50), {Pause: &v1alpha1.RolloutPause{}}}}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	v2 := waitRollout(t, ns, "web", "paused at 50% on v2", rolloutTimeout, pausedAt(1)).Status.CurrentPodHash
	setImage(t, ns, "web", "v3")
	ro := waitRollout(t, ns, "web", "paused at 50% on v3", rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
		if ro.Status.CurrentPodHash == v2 {
			return false, "still on v2"
		}
		return pausedAt(1)(ro)
	})
	if ro.Status.StableRS != v1 {
		t.Errorf("stable changed to %s", ro.Status.StableRS)
	}
	poll.Slow.Eventually(t, rolloutTimeout, "the intermediate v2 scaled down", func() (bool, string) {
		n := rsReplicas(t, ns, "web", v2)
		return n == 0, fmt.Sprintf("v2 has %d replicas", n)
	})
	gen.Window()
	promote(t, ns, "web")
	waitRollout(t, ns, "web", "healthy on v3", rolloutTimeout, onNewVersion(v1))
	rep := gen.Stop()
	assertNoFailures(t, "template change mid-rollout", rep)
	if rep.ByVersion["v3"] == 0 {
		t.Errorf("v3 never answered: %v", rep.ByVersion)
	}
	scenarioReport(t, "template change", start, rep, ctl, tl)
}

// Argo Rollouts' getting-started ALB canary, written as its documentation
// has it (image argoproj/rollouts-demo, NodePort Services, the legacy
// ingress class annotation, no readiness probe, no albrollouts field), and
// updated from blue to yellow.
func TestRolloutArgoGettingStartedALB(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "argo-example")
	ctl := startController(t, ns)
	applyManifest(t, ns, argoGettingStartedALB)
	v1 := waitRollout(t, ns, "rollouts-demo", "healthy on blue", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "rollouts-demo-ingress"))
	tl := watchRollout(t, ns, "rollouts-demo")
	start := time.Now()
	patch := `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"argoproj/rollouts-demo:yellow"}]`
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = ns, "rollouts-demo"
	if err := kc().Patch(ctxT(t), ro, client.RawPatch("application/json-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
	waitRollout(t, ns, "rollouts-demo", "paused at 5%", rolloutTimeout, pausedAt(1))
	promote(t, ns, "rollouts-demo")
	waitRollout(t, ns, "rollouts-demo", "healthy on yellow", rolloutTimeout, onNewVersion(v1))
	rep := gen.Stop()
	assertNoFailures(t, "Argo getting-started ALB canary", rep)
	if rep.ByVersion["yellow"] == 0 || rep.ByVersion["blue"] == 0 {
		t.Errorf("versions answered: %v", rep.ByVersion)
	}
	scenarioReport(t, "Argo getting-started", start, rep, ctl, tl)
}

// argoGettingStartedALB is Argo Rollouts' getting-started ALB canary as its
// documentation describes it: a Rollout with canaryService, stableService and
// trafficRouting.alb (ingress, servicePort, rootService), setWeight 5 and an
// indefinite pause, NodePort Services, an Ingress with the legacy class
// annotation whose backend is the root service's use-annotation port.
const argoGettingStartedALB = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: rollouts-demo
spec:
  replicas: 1
  strategy:
    canary:
      canaryService: rollouts-demo-canary
      stableService: rollouts-demo-stable
      trafficRouting:
        alb:
          ingress: rollouts-demo-ingress
          servicePort: 80
          rootService: rollouts-demo-root
      steps:
      - setWeight: 5
      - pause: {}
  revisionHistoryLimit: 2
  selector:
    matchLabels:
      app: rollouts-demo
  template:
    metadata:
      labels:
        app: rollouts-demo
    spec:
      containers:
      - name: rollouts-demo
        image: argoproj/rollouts-demo:blue
        ports:
        - name: http
          containerPort: 8080
          protocol: TCP
        resources:
          requests:
            memory: 32Mi
            cpu: 5m
---
apiVersion: v1
kind: Service
metadata:
  name: rollouts-demo-root
spec:
  type: NodePort
  ports:
  - port: 80
    targetPort: http
    protocol: TCP
    name: http
  selector:
    app: rollouts-demo
---
apiVersion: v1
kind: Service
metadata:
  name: rollouts-demo-canary
spec:
  type: NodePort
  ports:
  - port: 80
    targetPort: http
    protocol: TCP
    name: http
  selector:
    app: rollouts-demo
---
apiVersion: v1
kind: Service
metadata:
  name: rollouts-demo-stable
spec:
  type: NodePort
  ports:
  - port: 80
    targetPort: http
    protocol: TCP
    name: http
  selector:
    app: rollouts-demo
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: rollouts-demo-ingress
  annotations:
    kubernetes.io/ingress.class: alb
spec:
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: rollouts-demo-root
            port:
              name: use-annotation
`

// applyManifest creates every object of a multi-document YAML manifest in
// ns, labelling Rollouts with the test's instance id as Argo Rollouts' own
// e2e fixtures do.
func applyManifest(t *testing.T, ns, manifest string) {
	t.Helper()
	for _, doc := range bytes.Split([]byte(manifest), []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		obj, err := decodeObject(doc)
		if err != nil {
			t.Fatalf("manifest: %v", err)
		}
		obj.SetNamespace(ns)
		if obj.GetObjectKind().GroupVersionKind().Kind == "Rollout" {
			l := obj.GetLabels()
			if l == nil {
				l = map[string]string{}
			}
			l[replicaset.InstanceIDLabel] = ns
			obj.SetLabels(l)
		}
		createAll(t, obj)
	}
}

// decodeObject decodes one YAML document into a typed object.
func decodeObject(doc []byte) (client.Object, error) {
	obj, _, err := serializer.NewCodecFactory(kc().Scheme()).UniversalDeserializer().Decode(doc, nil, nil)
	if err != nil {
		return nil, err
	}
	co, ok := obj.(client.Object)
	if !ok {
		return nil, fmt.Errorf("%T is not an object", obj)
	}
	return co, nil
}
