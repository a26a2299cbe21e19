package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/controller"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// argoBlueGreenALB has the shape of Argo Rollouts' e2e ALB blue-green
// manifest: an Ingress of class alb (legacy annotation) whose path backend
// is the active Service on port 80, NodePort active and preview Services, a
// Rollout with blueGreen activeService/previewService and nothing else (so
// auto-promotion), the rollouts-demo image.
const argoBlueGreenALB = `
apiVersion: v1
kind: Service
metadata:
  name: alb-bluegreen-desired
spec:
  type: NodePort
  ports:
  - port: 80
    targetPort: http
    protocol: TCP
    name: http
  selector:
    app: alb-bluegreen
---
apiVersion: v1
kind: Service
metadata:
  name: alb-bluegreen-stable
spec:
  type: NodePort
  ports:
  - port: 80
    targetPort: http
    protocol: TCP
    name: http
  selector:
    app: alb-bluegreen
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: alb-bluegreen-ingress
  annotations:
    kubernetes.io/ingress.class: alb
spec:
  rules:
  - http:
      paths:
      - path: /*
        pathType: Prefix
        backend:
          service:
            name: alb-bluegreen-stable
            port:
              number: 80
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: alb-bluegreen
spec:
  replicas: 2
  selector:
    matchLabels:
      app: alb-bluegreen
  template:
    metadata:
      labels:
        app: alb-bluegreen
    spec:
      containers:
      - name: alb-bluegreen
        image: argoproj/rollouts-demo:blue
        ports:
        - name: http
          containerPort: 8080
          protocol: TCP
        resources:
          requests:
            memory: 16Mi
            cpu: 5m
  strategy:
    blueGreen:
      previewService: alb-bluegreen-desired
      activeService: alb-bluegreen-stable
`

// argoExample runs Argo's blue-green manifest blue → green under traffic and
// returns the failed requests, and how long both versions answered.
func argoExample(t *testing.T, prefix string, verifying bool) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, prefix)
	ctl := startController(t, ns, func(o *controller.ManagerOptions) { o.VerifyByDefault = verifying })
	applyManifest(t, ns, argoBlueGreenALB)
	const name = "alb-bluegreen"
	blue := waitRollout(t, ns, name, "healthy on blue", rolloutTimeout, healthy).Status.StableRS
	url := rolloutURL(t, ns, "alb-bluegreen-ingress")
	// The ALB serves blue before the measurement starts.
	poll.Slow.Eventually(t, pollTimeout, "blue answering through the ALB", func() (bool, string) {
		status, version, _, err := hit(url)
		return err == nil && status == 200 && version == "blue", fmt.Sprintf("status %d version %q err %v", status, version, err)
	})
	gen := traffic(t, url)
	probe := startVersionProbe(t, url)
	tl := watchRollout(t, ns, name)
	start := time.Now()
	patch := `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"argoproj/rollouts-demo:green"}]`
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = ns, name
	if err := kc().Patch(ctxT(t), ro, client.RawPatch(types.JSONPatchType, []byte(patch))); err != nil {
		t.Fatal(err)
	}
	ro = waitRollout(t, ns, name, "healthy on green", rolloutTimeout, onNewVersion(blue))
	waitOldScaledDown(t, ns, name, blue)
	rep := gen.Stop()
	mix, mixed := probe.mixed("blue", "green")
	t.Logf("selector mode (verification %t): %d of %d requests failed; both versions answered for %s (%d blue answers after the first green one)",
		verifying, rep.Failed, rep.Total, mix.Round(10*time.Millisecond), mixed)
	scenarioReport(t, prefix, start, rep, ctl, tl)
	if !verifying {
		// Argo Rollouts' switch, for comparison: no assertion on its failures.
		for _, f := range rep.Failures {
			t.Logf("failed: %s", f)
		}
		return
	}
	assertNoFailures(t, "Argo's blue-green manifest, selector mode", rep)
	if rep.ByVersion["green"] == 0 || rep.ByVersion["blue"] == 0 {
		t.Errorf("versions answered: %v", rep.ByVersion)
	}
	if ro.Status.BlueGreen.ActiveSelector != ro.Status.StableRS || ro.Status.BlueGreen.PreviewSelector != ro.Status.StableRS {
		t.Errorf("selectors %+v, stable %s", ro.Status.BlueGreen, ro.Status.StableRS)
	}
	// The switch counted as done only after the green pods were verified
	// healthy in the active target group, and blue kept all its pods until then.
	done := tl.firstIndex(func(s *v1alpha1.RolloutStatus) bool { return s.StableRS != blue })
	if done < 0 {
		t.Fatal("the timeline never saw the switch complete")
	}
	st := tl.statuses()[done]
	if v := st.Verification; v == nil || v.Phase != v1alpha1.VerificationVerified || !strings.Contains(v.Fingerprint, "alb-bluegreen-stable@"+st.StableRS) {
		t.Errorf("the switch completed with verification %+v", st.Verification)
	}
}

// Argo Rollouts' example blue-green manifest, unchanged, verified: the switch
// widens the active selector so that blue stays registered until green is
// healthy in the active target group. Zero failed requests; both versions
// answer while the selector is widened (the trade-off of this mode).
func TestRolloutBlueGreenArgoExample(t *testing.T) { argoExample(t, "bg-argo", true) }

// The same manifest with verification off: the selector moves at once, as
// Argo Rollouts moves it. Measured for comparison only.
func TestRolloutBlueGreenArgoExampleUnverified(t *testing.T) {
	argoExample(t, "bg-argo-unverified", false)
}

// The switch made in the ALB, promoted by hand: preview verified, one flip,
// active re-pointed, weight moved back, all verified; zero failed requests
// and no client ever sees v1 again once v2 answered.
func TestRolloutBlueGreenALBPromote(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "bg-alb-promote")
	ctl := startController(t, ns)
	app := bgApp{name: "web", replicas: 2, version: "v1", manual: true}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	url := rolloutURL(t, ns, "web")
	gen := traffic(t, url)
	probe := startVersionProbe(t, url)
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	ro := waitRollout(t, ns, "web", "paused with the preview verified", rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
		if ok, msg := pausedBlueGreen(ro); !ok {
			return false, msg
		}
		v := ro.Status.Verification
		return v != nil && v.Phase == v1alpha1.VerificationVerified && strings.Contains(v.Fingerprint, "web-preview@"+ro.Status.CurrentPodHash+"=0+healthy"), "preview not verified"
	})
	v2 := ro.Status.CurrentPodHash
	if w := gen.Window(); w.ByVersion["v2"] > 0 {
		t.Errorf("v2 answered %d requests before the promotion", w.ByVersion["v2"])
	}
	promote(t, ns, "web")
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1))
	waitOldScaledDown(t, ns, "web", v1)
	rep := gen.Stop()
	assertNoFailures(t, "blue-green in the ALB, promoted", rep)
	if mix, n := probe.mixed("v1", "v2"); n > 0 {
		t.Errorf("clients saw v1 %d times after v2 first answered (for %s): the flip was not atomic", n, mix)
	}
	if tl.firstIndex(flipped) < 0 {
		t.Error("the timeline never shows the flip to the preview group")
	}
	if sel := serviceSelector(t, ns, "web-active"); sel != v2 {
		t.Errorf("active service selects %s, want %s", sel, v2)
	}
	ing := ingressOf(t, ns, "web")
	if a := ing.Annotations[albannotation.ActionKey("", "web-active")]; !strings.Contains(a, `"ServiceName":"web-active","ServicePort":"80","Weight":100`) {
		t.Errorf("final action %s", a)
	}
	scenarioReport(t, "bg ALB promote", start, rep, ctl, tl)
}

// Abort before promotion: traffic never left v1; the preview goes back to v1
// and v2 scales down; zero failed requests.
func TestRolloutBlueGreenALBAbortBeforePromotion(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "bg-alb-abort")
	ctl := startController(t, ns)
	app := bgApp{name: "web", replicas: 2, version: "v1", manual: true}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	v2 := waitRollout(t, ns, "web", "paused", rolloutTimeout, pausedBlueGreen).Status.CurrentPodHash
	patchRolloutStatus(t, ns, "web", `{"status":{"abort":true}}`)
	ro := waitRollout(t, ns, "web", "aborted with v2 scaled down", rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
		if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded {
			return false, "not Degraded"
		}
		if n := rsReplicas(t, ns, "web", v2); n != 0 {
			return false, fmt.Sprintf("v2 still has %d replicas", n)
		}
		return true, ""
	})
	rep := gen.Stop()
	assertNoFailures(t, "blue-green abort before promotion", rep)
	if rep.ByVersion["v2"] > 0 {
		t.Errorf("v2 answered %d requests", rep.ByVersion["v2"])
	}
	if ro.Status.StableRS != v1 || serviceSelector(t, ns, "web-preview") != v1 || !strings.Contains(ro.Status.Message, "RolloutAborted") {
		t.Errorf("after the abort: stable %s, preview %s, message %q", ro.Status.StableRS, serviceSelector(t, ns, "web-preview"), ro.Status.Message)
	}
	if v := ro.Status.Verification; v == nil || v.Kind != v1alpha1.VerificationAbort || v.Phase != v1alpha1.VerificationVerified {
		t.Errorf("abort verification: %s", verificationText(ro))
	}
	scenarioReport(t, "bg ALB abort before promotion", start, rep, ctl, tl)
}

// v2 is healthy in the preview target group (health check on /) but fails
// the active group's (/healthz): after the flip, the post-switch verification
// of the re-pointed active Service times out; the abort re-points it at v1,
// waits for v1 healthy there and flips back, verified. v2 served in between;
// zero failed requests.
func TestRolloutBlueGreenALBAbortAfterFailedSwitch(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "bg-alb-postswitch")
	ctl := startController(t, ns)
	app := bgApp{name: "web", replicas: 2, version: "v1", timeoutSeconds: 8, previewHCPath: "/"}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setBrokenVersion(t, ns, "web", "v2")
	ro := waitRollout(t, ns, "web", "aborted back on v1", rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
		if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || !ro.Status.Abort {
			return false, "not aborted"
		}
		v := ro.Status.Verification
		if serviceSelector(t, ns, "web-active") != v1 || serviceSelector(t, ns, "web-preview") != v1 || v == nil || v.Phase != v1alpha1.VerificationVerified {
			return false, "traffic not back on v1, verified"
		}
		return true, ""
	})
	rep := gen.Stop()
	assertNoFailures(t, "blue-green abort after a failed post-switch verification", rep)
	if tl.firstIndex(flipped) < 0 {
		t.Error("the flip to the preview group never happened")
	}
	assertHealthCheckTimeout(t, ro)
	if ro.Status.StableRS != v1 {
		t.Errorf("stable %s, want %s", ro.Status.StableRS, v1)
	}
	scenarioReport(t, "bg ALB abort after switch", start, rep, ctl, tl)
}

// A version whose pods pass readiness but fail the ALB health check is never
// switched to: the preview check times out and the rollout aborts; v2 never
// answers, zero failed requests.
func TestRolloutBlueGreenALBBadVersion(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "bg-alb-bad")
	ctl := startController(t, ns)
	app := bgApp{name: "web", replicas: 2, version: "v1", timeoutSeconds: 8}
	app.create(t, ns)
	waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy)
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setBrokenVersion(t, ns, "web", "v2")
	ro := waitRollout(t, ns, "web", "aborted", rolloutTimeout, aborted)
	rep := gen.Stop()
	assertNoFailures(t, "blue-green bad version", rep)
	if rep.ByVersion["v2"] > 0 {
		t.Errorf("the unhealthy v2 answered %d requests", rep.ByVersion["v2"])
	}
	if i := tl.firstIndex(flipped); i >= 0 {
		t.Errorf("traffic was flipped to the bad version (status #%d)", i)
	}
	assertHealthCheckTimeout(t, ro)
	scenarioReport(t, "bg ALB bad version", start, rep, ctl, tl)
}

// The controller is killed right after the flip was written; a new one
// carries the switch through from what it observes. Zero failed requests.
func TestRolloutBlueGreenALBControllerRestart(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "bg-alb-restart")
	ctl := startController(t, ns)
	app := bgApp{name: "web", replicas: 2, version: "v1"}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	url := rolloutURL(t, ns, "web")
	gen := traffic(t, url)
	probe := startVersionProbe(t, url)
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	poll.Slow.Eventually(t, rolloutTimeout, "the flip written", func() (bool, string) {
		ing := ingressOf(t, ns, "web")
		a := ing.Annotations[albannotation.ActionKey("", "web-active")]
		return strings.Contains(a, `"ServiceName":"web-preview","ServicePort":"80","Weight":100`), a
	})
	ctl.restart()
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1))
	waitOldScaledDown(t, ns, "web", v1)
	rep := gen.Stop()
	assertNoFailures(t, "blue-green with a controller restart after the flip", rep)
	if mix, n := probe.mixed("v1", "v2"); n > 0 {
		t.Errorf("clients saw v1 %d times after v2 first answered (for %s)", n, mix)
	}
	scenarioReport(t, "bg ALB controller restart", start, rep, ctl, tl)
}

// AccessDenied on DescribeTargetHealth when the switch is due (it changes
// elbsim for everyone, so the test does not run in parallel): nothing moves,
// nothing aborts, the condition names the IAM action; the switch goes on once
// the permission is back. Zero failed requests.
func TestRolloutBlueGreenALBAccessDenied(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	ns := namespace(t, "bg-alb-denied")
	ctl := startController(t, ns)
	app := bgApp{name: "web", replicas: 2, version: "v1", manual: true, timeoutSeconds: 8}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	waitRollout(t, ns, "web", "paused", rolloutTimeout, pausedBlueGreen)
	env.Elbsim().Faults().DenyAction("DescribeTargetHealth")
	t.Cleanup(func() { env.Elbsim().Faults().AllowAction("DescribeTargetHealth") })
	promote(t, ns, "web")
	waitRollout(t, ns, "web", "TrafficVerified naming the denied action", rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
		c := rolloutCondition(ro, v1alpha1.ConditionTrafficVerified)
		if c == nil || c.Reason != "AccessDenied" || !strings.Contains(c.Message, "elasticloadbalancing:DescribeTargetHealth") {
			return false, fmt.Sprintf("TrafficVerified %+v", c)
		}
		return true, ""
	})
	denied := time.Now()
	poll.Slow.Eventually(t, time.Minute, "20 s of AccessDenied without a move", func() (bool, string) {
		ro := getRollout(t, ns, "web")
		a := ingressOf(t, ns, "web").Annotations[albannotation.ActionKey("", "web-active")]
		if ro.Status.Abort || ro.Status.StableRS != v1 || serviceSelector(t, ns, "web-active") != v1 ||
			!strings.Contains(a, `"ServiceName":"web-active","ServicePort":"80","Weight":100`) || rsReplicas(t, ns, "web", v1) != 2 {
			t.Fatalf("the rollout moved during AccessDenied: abort %t, stable %s, active %s, action %s, message %q",
				ro.Status.Abort, ro.Status.StableRS, serviceSelector(t, ns, "web-active"), a, ro.Status.Message)
		}
		return time.Since(denied) > 20*time.Second, "waiting"
	})
	env.Elbsim().Faults().AllowAction("DescribeTargetHealth")
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1))
	rep := gen.Stop()
	assertNoFailures(t, "blue-green AccessDenied at the switch", rep)
	scenarioReport(t, "bg ALB AccessDenied", start, rep, ctl, tl)
}
