package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/sim/localalb"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// The verification engine, pointed at the local environment, checks what the
// local ALB controller built from an Ingress: the target-group tags the
// controller writes are the ones the verifier matches on, a weight change stays
// Pending until the ALB applies it, and a change the ALB never applies times out.
func TestVerifierChecksTheLocalALB(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := namespace(t, "verify")
	createWeightedApp(t, ns, 2, 1, 80, 20)
	lb := albOf(t, ns, "web")
	stable, canary := podTargets(waitReadyPods(t, ns, "stable", 2)), podTargets(waitReadyPods(t, ns, "canary", 1))
	v := newVerifier(t)
	input := func(stableWeight, canaryWeight int32, desiredAt time.Time, timeout time.Duration) verify.Input {
		return actionInput(ns, aws.ToString(lb.DNSName), stableWeight, canaryWeight, stable, canary, desiredAt, timeout)
	}

	res := verifyUntil(t, v, "80/20 verified", input(80, 20, time.Now(), time.Minute), isVerified)
	if res.Reason != verify.ReasonWeightsVerified {
		t.Errorf("reason %s, want %s", res.Reason, verify.ReasonWeightsVerified)
	}
	t.Logf("80/20: %s", res.Message)

	// Shift to 50/50. The local ALB controller applies Ingress changes only
	// after lbLag, so a check made before then must not verify.
	changed := time.Now()
	setAnnotation(t, ns, "web", localalb.AnnotationActionsPrefix+"web", actionJSON(50, 50))
	early := v.Verify(ctxT(t), input(50, 50, changed, time.Minute))
	if time.Since(changed) < lbLag {
		if early.Outcome != verify.Pending || early.Reason != verify.ReasonWeightMismatch {
			t.Fatalf("check before the ALB applied the change: %s %s: %s; want Pending WeightMismatch", early.Outcome, early.Reason, early.Message)
		}
		if early.NextCheck <= 0 {
			t.Errorf("a Pending result must schedule the next check, got NextCheck %s", early.NextCheck)
		}
	} else {
		t.Logf("the first check took longer than the controller lag (%s); not asserting on it", lbLag)
	}
	verifyUntil(t, v, "50/50 verified", input(50, 50, changed, time.Minute), isVerified)

	// A desired state the ALB never reaches (nobody writes 0/100) times out,
	// and the result says what was still wrong.
	res = verifyUntil(t, v, "0/100 to time out", input(0, 100, time.Now(), 3*time.Second), func(r verify.Result) bool {
		return r.Outcome == verify.TimedOut
	})
	if res.Reason != verify.ReasonVerificationTimedOut || res.Cause != verify.ReasonWeightMismatch {
		t.Fatalf("timed out with reason %s cause %s, want %s caused by %s: %s",
			res.Reason, res.Cause, verify.ReasonVerificationTimedOut, verify.ReasonWeightMismatch, res.Message)
	}
}

// createWeightedApp creates the stable (v1) and canary (v2) Deployments, their
// Services and the Ingress "web" whose actions.web annotation splits traffic.
func createWeightedApp(t *testing.T, ns string, stableReplicas, canaryReplicas int32, stableWeight, canaryWeight int) {
	t.Helper()
	create(t,
		deployment(ns, deploymentSpec{name: "stable", version: "v1", replicas: stableReplicas}),
		deployment(ns, deploymentSpec{name: "canary", version: "v2", replicas: canaryReplicas}),
		service(ns, "stable", "stable"),
		service(ns, "canary", "canary"),
		ingress(ns, "web", "web", localalb.UseAnnotationPortName, map[string]string{
			localalb.AnnotationActionsPrefix + "web": actionJSON(stableWeight, canaryWeight)}),
	)
}

// newVerifier is the engine as the controller builds it, against elbsim.
func newVerifier(t *testing.T) *verify.Verifier {
	t.Helper()
	p, err := elbv2.New(ctxT(t), elbv2.Options{
		Region:      "us-east-1",
		EndpointURL: env.ELBV2Endpoint(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIALOCALE2E", "local-e2e-secret", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return verify.New(p, verify.Options{})
}

// actionInput is what a rollout expects of the Ingress "web" made by createWeightedApp.
func actionInput(ns, hostname string, stableWeight, canaryWeight int32, stable, canary []verify.Target,
	desiredAt time.Time, timeout time.Duration) verify.Input {
	return verify.Input{
		Namespace:   ns,
		Ingresses:   []verify.Ingress{{Name: "web", Hostname: hostname}},
		ActionName:  "web",
		ServicePort: "80",
		Destinations: []verify.Destination{
			{Role: verify.RoleStable, Service: "stable", Weight: stableWeight, Targets: stable},
			{Role: verify.RoleCanary, Service: "canary", Weight: canaryWeight, Targets: canary},
		},
		DesiredAt: desiredAt,
		Timeout:   timeout,
	}
}

// verifyUntil runs checks until done accepts a result, as a controller would
// (it requeues after each result's NextCheck; here the poll interval does).
func verifyUntil(t *testing.T, v *verify.Verifier, what string, in verify.Input, done func(verify.Result) bool) verify.Result {
	t.Helper()
	var res verify.Result
	poll.Slow.Eventually(t, pollTimeout, what, func() (bool, string) {
		res = v.Verify(ctxT(t), in)
		return done(res), fmt.Sprintf("%s %s: %s", res.Outcome, res.Reason, res.Message)
	})
	return res
}

func isVerified(r verify.Result) bool { return r.Outcome == verify.Verified }

// podTargets turns ready pod IPs into the targets the demo app serves on.
func podTargets(ips map[string]string) []verify.Target {
	ts := make([]verify.Target, 0, len(ips))
	for ip := range ips {
		ts = append(ts, verify.Target{ID: ip, Port: 8080})
	}
	return ts
}
