package verify

// Integration tests: the verifier against elbsim over HTTP with the real
// aws-sdk-go-v2 client, ALBs built through the API with the tags the AWS Load
// Balancer Controller sets, targets that are real HTTP servers on 127.0.0.1
// health-checked by elbsim (TimeScale 0.01: a 5 s interval lasts 50 ms).

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awselbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/faults"
)

// poll deadlines are generous: the machine is shared.
const within = 45 * time.Second

func TestSimWeights(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	a := s.createALB("k8s-demo-web", 80, 443)
	r := s.createRollout(a, "web", 10, backends(t, 2), backends(t, 2))
	v, _ := s.newVerifier(elbv2.Options{})

	t.Run("match on every listener", func(t *testing.T) {
		s.setWeights(r, 25, 75)
		res := pollVerify(t, v, r.input(25, 75, time.Now()), within, outcomeIs(Verified, ReasonWeightsVerified))
		for _, want := range []string{":80 rule 10", ":443 rule 10", "canary 2/2", "stable 2/2"} {
			if !strings.Contains(res.Message, want) {
				t.Errorf("message lacks %q: %s", want, res.Message)
			}
		}
	})
	t.Run("mismatch on one listener of two", func(t *testing.T) {
		s.modifyRule(r.rules[443], elbv2.WeightedTargetGroup{ARN: r.canary, Weight: 0}, elbv2.WeightedTargetGroup{ARN: r.stable, Weight: 100})
		res := pollVerify(t, v, r.input(25, 75, time.Now()), within, pendingWith("listener :443 rule 10: canary k8s-web-canary weight 0, want 25"))
		if res.Reason != ReasonWeightMismatch || strings.Contains(res.Message, ":80") {
			t.Fatalf("%s: %s", res.Reason, res.Message)
		}
	})
	t.Run("stable wrong", func(t *testing.T) {
		s.setWeights(r, 25, 100)
		// The canary's raw weight is right but its share (25 of 125) is not.
		pollVerify(t, v, r.input(25, 75, time.Now()), within, pendingWith(
			"listener :80 rule 10: canary k8s-web-canary weight 25 of 125 (20.0%), want 25.0%, stable k8s-web-stable weight 100 of 125 (80.0%), want 75.0%",
			"listener :443 rule 10:"))
	})
	t.Run("additional destinations", func(t *testing.T) {
		extra := s.createTG("k8s-web-extra", ResourceTagValue("demo", "web", "web-extra", "80"))
		extraTargets := backends(t, 1)
		s.register(extra, extraTargets...)
		in := r.input(20, 70, time.Now())
		in.Destinations = append(in.Destinations, Destination{Role: RoleAdditional, Service: "web-extra", Weight: 10, Targets: extraTargets})
		for _, rule := range r.rules {
			s.modifyRule(rule, elbv2.WeightedTargetGroup{ARN: r.canary, Weight: 20}, elbv2.WeightedTargetGroup{ARN: r.stable, Weight: 80}, elbv2.WeightedTargetGroup{ARN: extra, Weight: 0})
		}
		pollVerify(t, v, in, within, pendingWith("listener :80 rule 10: stable k8s-web-stable weight 80, want 70, additional k8s-web-extra weight 0, want 10"))
		for _, rule := range r.rules {
			s.modifyRule(rule, elbv2.WeightedTargetGroup{ARN: r.canary, Weight: 20}, elbv2.WeightedTargetGroup{ARN: r.stable, Weight: 70}, elbv2.WeightedTargetGroup{ARN: extra, Weight: 10})
		}
		res := pollVerify(t, v, in, within, outcomeIs(Verified, ReasonWeightsVerified))
		if !strings.Contains(res.Message, "additional 1/1") {
			t.Fatalf("message: %s", res.Message)
		}
	})
}

func TestSimTargets(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	a := s.createALB("k8s-demo-web", 80)
	canary := []*backend{newBackend(t), newBackend(t), newBackend(t)}
	var canaryTargets []Target
	for _, b := range canary {
		canaryTargets = append(canaryTargets, b.target)
	}
	r := s.createRollout(a, "web", 1, canaryTargets[:2], backends(t, 2))
	v, _ := s.newVerifier(elbv2.Options{})
	s.setWeights(r, 50, 50)
	pollVerify(t, v, r.input(50, 50, time.Now()), within, outcomeIs(Verified, ""))

	t.Run("initial", func(t *testing.T) {
		// A new pod: expected at once, registered now, healthy only after
		// two passing checks. Stop its checks from passing so that the
		// initial state is certain to be seen.
		canary[2].healthy.Store(false)
		r.canaryTargets = canaryTargets
		s.register(r.canary, canaryTargets[2])
		res := pollVerify(t, v, r.input(50, 50, time.Now()), within, outcomeIs(Pending, ReasonTargetsNotHealthy))
		if !strings.Contains(res.Message, "canary k8s-web-canary targets 2/3 healthy ("+canaryTargets[2].String()) {
			t.Fatalf("message: %s", res.Message)
		}
	})
	t.Run("unhealthy", func(t *testing.T) {
		res := pollVerify(t, v, r.input(50, 50, time.Now()), within, func(res Result) bool {
			return res.Outcome == Pending && strings.Contains(res.Message, canaryTargets[2].String()+" unhealthy Target.ResponseCodeMismatch")
		})
		if !strings.Contains(res.Message, "health check HTTP /healthz on port traffic-port expects 200") {
			t.Fatalf("no health-check hint: %s", res.Message)
		}
		canary[2].healthy.Store(true)
		pollVerify(t, v, r.input(50, 50, time.Now()), within, outcomeIs(Verified, ""))
	})
	t.Run("draining", func(t *testing.T) {
		s.deregister(r.canary, canaryTargets[2])
		pollVerify(t, v, r.input(50, 50, time.Now()), within, func(res Result) bool {
			return res.Outcome == Pending && strings.Contains(res.Message, canaryTargets[2].String()+" draining Target.DeregistrationInProgress")
		})
	})
	t.Run("missing", func(t *testing.T) {
		r.canaryTargets = append(canaryTargets[:2:2], Target{ID: "127.0.0.1", Port: 1})
		pollVerify(t, v, r.input(50, 50, time.Now()), within, func(res Result) bool {
			return res.Outcome == Pending && strings.Contains(res.Message, "targets 2/3 healthy (127.0.0.1:1 not registered)")
		})
	})
	t.Run("extra", func(t *testing.T) {
		// Expect only one of the two registered canary pods: the other is an
		// unexpected healthy target, reported but not fatal.
		r.canaryTargets = canaryTargets[:1]
		res := pollVerify(t, v, r.input(50, 50, time.Now()), within, outcomeIs(Verified, ""))
		if !strings.Contains(res.Message, "1 healthy target(s) not expected: "+canaryTargets[1].String()) {
			t.Fatalf("message: %s", res.Message)
		}
		var g *TargetGroupObservation
		for i := range res.TargetGroups {
			if res.TargetGroups[i].Role == RoleCanary {
				g = &res.TargetGroups[i]
			}
		}
		if g == nil || len(g.Unexpected) != 1 || g.Healthy != 1 {
			t.Fatalf("canary observation %+v", g)
		}
	})
	t.Run("weight zero group may hold anything", func(t *testing.T) {
		r.canaryTargets = []Target{{ID: "127.0.0.1", Port: 1}}
		s.setWeights(r, 0, 100)
		pollVerify(t, v, r.input(0, 100, time.Now()), within, outcomeIs(Verified, ""))
	})
}

func TestSimPropagationDelay(t *testing.T) {
	for _, tc := range []struct {
		name    string
		delay   time.Duration
		timeout time.Duration
		want    Outcome
	}{
		{"shorter than the timeout", 500 * time.Millisecond, 30 * time.Second, Verified},
		{"longer than the timeout", 4 * time.Second, time.Second, TimedOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSim(t, elbsim.Options{DescribeDelay: tc.delay, PropagationDelay: tc.delay})
			a := s.createALB("k8s-demo-web", 80)
			r := s.createRollout(a, "web", 1, backends(t, 1), backends(t, 1))
			v, _ := s.newVerifier(elbv2.Options{})
			pollVerify(t, v, r.input(0, 100, time.Now()), within, outcomeIs(Verified, ""))

			desiredAt := time.Now()
			s.setWeights(r, 30, 70)
			in := r.input(30, 70, desiredAt)
			in.Timeout = tc.timeout
			res := pollVerify(t, v, in, within, func(res Result) bool { return res.Outcome == Verified || res.Outcome == TimedOut })
			if res.Outcome != tc.want {
				t.Fatalf("got %s: %s", res.Outcome, res.Message)
			}
			if tc.want == TimedOut && (res.Cause != ReasonWeightMismatch || !strings.Contains(res.Message, "weight 0, want 30")) {
				t.Fatalf("timeout diagnosis: cause %s: %s", res.Cause, res.Message)
			}
			if tc.want == Verified && time.Since(desiredAt) < tc.delay {
				t.Fatalf("verified before the change was visible")
			}
		})
	}
}

func TestSimThrottlingStorm(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	const n = 12
	var rollouts []*rollout
	albs := []alb{s.createALB("k8s-demo-a", 80), s.createALB("k8s-demo-b", 80)}
	stable := backends(t, 1)
	for i := range n {
		rollouts = append(rollouts, s.createRollout(albs[i%2], fmt.Sprintf("web%d", i), int32(i+1), backends(t, 1), stable))
		s.setWeights(rollouts[i], 10, 90)
	}
	// A tiny Describe bucket (burst 5, 2/s) and a client that does not
	// limit itself: most calls are throttled at first.
	s.srv.Faults().SetThrottling(true)
	if err := s.srv.Faults().SetBucket(faults.ClassDescribe, faults.BucketConfig{Burst: 5, RatePerSecond: 2}); err != nil {
		t.Fatal(err)
	}
	v, _ := s.newVerifier(elbv2.Options{RateLimit: 1000, Burst: 1000, CacheTTL: elbv2.DefaultCacheTTL})
	var wg sync.WaitGroup
	desiredAt := time.Now()
	for _, r := range rollouts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := r.input(10, 90, desiredAt)
			in.Timeout = 5 * time.Minute
			// The full backoff between checks, as the controller does.
			if _, err := poll(v, in, 4*time.Minute, 0, outcomeIs(Verified, "")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	st := s.srv.Stats().Actions
	var throttled int64
	for _, a := range st {
		throttled += a.Throttled
	}
	if throttled == 0 {
		t.Fatal("the storm throttled nothing; the test does not test anything")
	}
	t.Logf("throttled %d calls; all %d rollouts verified", throttled, n)

	// With the default client-side limit (8/s, burst 30) under AWS's
	// Describe limit (10/s, burst 40) the same work is never throttled.
	if err := s.srv.Faults().SetBucket(faults.ClassDescribe, faults.BucketConfig{Burst: 40, RatePerSecond: 10}); err != nil {
		t.Fatal(err)
	}
	before := throttled
	v2, _ := s.newVerifier(elbv2.Options{})
	for _, r := range rollouts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := poll(v2, r.input(10, 90, time.Now()), within, 0, outcomeIs(Verified, "")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	throttled = 0
	for _, a := range s.srv.Stats().Actions {
		throttled += a.Throttled
	}
	if throttled != before {
		t.Fatalf("default rate limit was throttled %d times", throttled-before)
	}
}

func TestSimAccessDeniedOnEachAction(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	a := s.createALB("k8s-demo-web", 80)
	r := s.createRollout(a, "web", 1, backends(t, 1), backends(t, 1))
	s.setWeights(r, 25, 75)
	principal := "arn:aws:sts::123456789012:assumed-role/albrollouts-controller/i-0123"
	s.srv.Faults().SetPrincipal(principal)
	for _, op := range elbv2.Operations {
		t.Run(op, func(t *testing.T) {
			// A fresh provider: nothing cached, every action is called.
			v, _ := s.newVerifier(elbv2.Options{})
			s.srv.Faults().DenyAction(op)
			res := pollVerify(t, v, r.input(25, 75, time.Now()), within, outcomeIs(Failed, "AccessDenied"))
			for _, want := range []string{"elasticloadbalancing:" + op, principal, "config/iam-policy.json"} {
				if !strings.Contains(res.Message, want) {
					t.Errorf("message lacks %q: %s", want, res.Message)
				}
			}
			if res.NextCheck <= 0 {
				t.Fatal("not retried")
			}
			// The operator fixes IAM; the next checks succeed.
			s.srv.Faults().AllowAction(op)
			pollVerify(t, v, r.input(25, 75, time.Now()), within, outcomeIs(Verified, ""))
		})
	}
}

func TestSimRegionMismatch(t *testing.T) {
	s := startSim(t, elbsim.Options{Region: "us-east-1"})
	a := s.createALB("k8s-demo-web", 80)
	r := s.createRollout(a, "web", 1, backends(t, 1), backends(t, 1))
	// The controller's client is configured for another region than the ALB's.
	api := elbsimtest.Client(s.srv, "eu-west-1", "")
	p := elbv2.NewWithAPI(api, elbv2.Options{Region: "eu-west-1"})
	v := New(p, Options{})
	before := s.actionCalls()[elbv2.OpDescribeLoadBalancers]
	res := v.Verify(context.Background(), r.input(0, 100, time.Now()))
	wantResult(t, res, Failed, "RegionMismatch", "is in region us-east-1 but the ELBv2 client uses region eu-west-1", "--aws-region us-east-1", "--region us-east-1")
	if got := s.actionCalls()[elbv2.OpDescribeLoadBalancers]; got != before {
		t.Fatal("called AWS although the region is known to be wrong")
	}
}

func TestSimLoadBalancerDeletedMidVerification(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	a := s.createALB("k8s-demo-web", 80)
	r := s.createRollout(a, "web", 1, backends(t, 1), backends(t, 1))
	v, _ := s.newVerifier(elbv2.Options{})
	in := r.input(25, 75, time.Now())
	pollVerify(t, v, in, within, outcomeIs(Pending, ReasonWeightMismatch))
	if _, err := s.api.DeleteLoadBalancer(context.Background(), &awselbv2.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(a.arn)}); err != nil {
		t.Fatal(err)
	}
	res := pollVerify(t, v, in, within, outcomeIs(Failed, "LoadBalancerNotFound"))
	if !strings.Contains(res.Message, a.dns) {
		t.Fatalf("message: %s", res.Message)
	}
}

func TestSimIngressWithoutHostname(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	v, _ := s.newVerifier(elbv2.Options{})
	in := Input{Namespace: "demo", Ingresses: []Ingress{{Name: "web"}}, ActionName: "web-stable", ServicePort: "80",
		Destinations: []Destination{{Role: RoleCanary, Service: "web-canary", Weight: 10}, {Role: RoleStable, Service: "web-stable", Weight: 90}},
		DesiredAt:    time.Now()}
	res := v.Verify(context.Background(), in)
	wantResult(t, res, Pending, ReasonLoadBalancerNotProvisioned, "ingress demo/web has no load balancer hostname")
	if len(s.actionCalls()) != 0 {
		t.Fatalf("calls made: %v", s.actionCalls())
	}
}

func TestSimMoreThan400LoadBalancers(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	for i := range 449 {
		s.createALB(fmt.Sprintf("k8s-other-%03d", i))
	}
	a := s.createALB("k8s-demo-web", 80)
	r := s.createRollout(a, "web", 1, backends(t, 1), backends(t, 1))
	v, _ := s.newVerifier(elbv2.Options{})
	pollVerify(t, v, r.input(0, 100, time.Now()), within, outcomeIs(Verified, ""))
	if got := s.actionCalls()[elbv2.OpDescribeLoadBalancers]; got != 2 {
		t.Fatalf("DescribeLoadBalancers calls = %d (%+v), want 2 pages of 400 for 450 load balancers, then the cache", got, s.srv.Stats().Actions[elbv2.OpDescribeLoadBalancers])
	}
}

func TestSimMoreThan20TargetGroups(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	a := s.createALB("k8s-demo-web", 80)
	// 23 other ingresses' groups on the same ALB, then ours: 25 groups.
	for i := range 23 {
		tg := s.createTG(fmt.Sprintf("k8s-other-%02d", i), ResourceTagValue("demo", fmt.Sprintf("other%d", i), "svc", "80"))
		s.createRule(a.listeners[80], int32(100+i), elbv2.WeightedTargetGroup{ARN: tg, Weight: 1})
	}
	r := s.createRollout(a, "web", 1, backends(t, 1), backends(t, 1))
	s.setWeights(r, 40, 60)
	v, _ := s.newVerifier(elbv2.Options{})
	pollVerify(t, v, r.input(40, 60, time.Now()), within, outcomeIs(Verified, ""))
	if got := s.actionCalls()[elbv2.OpDescribeTags]; got != 2 {
		t.Fatalf("DescribeTags calls = %d, want 2 batches (20 + 5)", got)
	}
}

func TestSimTwoIngresses(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	r1 := s.createRollout(s.createALB("k8s-demo-web", 80), "web", 1, backends(t, 1), backends(t, 1))
	r2 := s.createRollout(s.createALB("k8s-demo-web-internal", 80), "web-internal", 1, r1.canaryTargets, r1.stableTargets)
	v, _ := s.newVerifier(elbv2.Options{})
	both := func(canary, stable int32) Input {
		in := r1.input(canary, stable, time.Now())
		in.Ingresses = append(in.Ingresses, Ingress{Name: r2.ingress, Hostname: r2.alb.dns})
		return in
	}
	pollVerify(t, v, both(0, 100), within, outcomeIs(Verified, ""))
	s.setWeights(r1, 30, 70)
	in := both(30, 70)
	// Once the first ingress's ALB has the change, only the second is reported.
	pollVerify(t, v, in, within, func(res Result) bool {
		return pendingWith("ingress web-internal: listener :80 rule 1: canary k8s-web-internal-canary weight 0, want 30")(res) &&
			!strings.Contains(res.Message, "ingress web:")
	})
	s.setWeights(r2, 30, 70)
	res := pollVerify(t, v, in, within, outcomeIs(Verified, ""))
	if len(res.TargetGroups) != 4 {
		t.Fatalf("%d observations, want 4", len(res.TargetGroups))
	}
}

func TestSimCoalescing(t *testing.T) {
	// 50 rollouts behind one ALB verified concurrently: rules and listeners
	// are read once per round for all of them.
	s := startSim(t, elbsim.Options{})
	a := s.createALB("k8s-demo-web", 80)
	stable := backends(t, 1)
	var rollouts []*rollout
	for i := range 50 {
		r := s.createRollout(a, fmt.Sprintf("web%d", i), int32(i+1), nil, stable)
		rollouts = append(rollouts, r)
	}
	// Wait until every target is healthy, so that one round suffices.
	warm, _ := s.newVerifier(elbv2.Options{})
	for _, r := range rollouts {
		pollVerify(t, warm, r.input(0, 100, time.Now()), within, outcomeIs(Verified, ""))
	}
	v, _ := s.newVerifier(elbv2.Options{CacheTTL: time.Minute})
	before := s.actionCalls()
	var wg sync.WaitGroup
	for _, r := range rollouts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := poll(v, r.input(0, 100, time.Now()), within, 0, outcomeIs(Verified, "")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	after := s.actionCalls()
	for op, want := range map[string]int64{elbv2.OpDescribeLoadBalancers: 1, elbv2.OpDescribeListeners: 1, elbv2.OpDescribeRules: 1, elbv2.OpDescribeTargetGroups: 1} {
		if got := after[op] - before[op]; got != want {
			t.Errorf("%s: %d calls for 50 rollouts, want %d", op, got, want)
		}
	}
	if got := after[elbv2.OpDescribeTargetHealth] - before[elbv2.OpDescribeTargetHealth]; got != 50 {
		t.Errorf("DescribeTargetHealth: %d calls, want one per stable group (50)", got)
	}
}
