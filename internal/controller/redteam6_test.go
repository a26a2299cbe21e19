package controller

// Red-team tests, sixth round: each demonstrates a violation of the safety
// rules (controller.go, "The safety rules") on the current code, with the
// real engine (verify.Decide) judging the model ALBs of the simulator. Each
// fails on the code it was written against.

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// rt6Slow is a model of target groups that health-check on their own,
// slower schedule: a target group whose ingress.k8s.aws/resource tag ends
// in ":<port>" (the Service port an Ingress names) finds a target healthy
// only lag passes later than the simulator's other groups (another health
// check path, interval or threshold on that Service port). The verifier
// sees the same model the invariant check judges.
type rt6Slow struct {
	s    *sim
	lag  map[string]int // Service port as the tag spells it → extra passes
	base Verifier
}

func (m *rt6Slow) extra(arn string) int {
	t := m.s.tgs[arn]
	if t == nil {
		return 0
	}
	tag := t.tg.Tags[verify.ResourceTag]
	for port, lag := range m.lag {
		if strings.HasSuffix(tag, ":"+port) {
			return lag
		}
	}
	return 0
}

// healthy reports whether ip passes the health check of group arn in the
// model with the slow ports.
func (m *rt6Slow) healthy(arn, ip string) bool {
	s := m.s
	if !s.healthyInGroup(arn, ip) {
		return false
	}
	return s.passes-s.regAt[s.tgs[arn].service][ip] >= s.healthLag+s.albHealthLag[s.tgs[arn].ingress]+m.extra(arn)
}

func (m *rt6Slow) Verify(_ context.Context, in verify.Input) verify.Result {
	s := m.s
	s.v.calls++
	s.v.inputs = append(s.v.inputs, in)
	obs := s.observe(in)
	for i := range obs.Ingresses {
		st := &obs.Ingresses[i]
		for arn, hs := range st.Health {
			if m.extra(arn) == 0 {
				continue
			}
			for k := range hs {
				if hs[k].State == elbv2.StateHealthy && !m.healthy(arn, hs[k].ID) {
					hs[k].State, hs[k].Reason = elbv2.StateInitial, "Elb.InitialHealthChecking"
				}
			}
		}
	}
	res := verify.Decide(in, obs, s.now, verify.DefaultBackoff)
	if res.Reason == verify.ReasonInvalidInput {
		s.t.Fatalf("pass %d: the engine rejects the controller's input: %s", s.passes, res.Message)
	}
	return res
}

// check fails the test when a rule of a model ALB sends traffic to a slow
// group that has no healthy target in this model (it had one before: a
// plain path routes as soon as it exists).
func (m *rt6Slow) check(served map[string]bool) {
	s := m.s
	s.t.Helper()
	for _, tr := range s.trafficRules() {
		for _, g := range tr.rule.rule.Forward {
			if g.Weight == 0 || m.extra(g.ARN) == 0 {
				continue
			}
			n := 0
			for ip := range s.registered[s.tgs[g.ARN].service] {
				if m.healthy(g.ARN, ip) {
					n++
				}
			}
			if n > 0 {
				served[g.ARN] = true
				continue
			}
			if served[g.ARN] {
				s.t.Fatalf("pass %d: %s sends weight %d to %s (%s), which has no healthy target on its own health check (registered %v)\nhistory:\n%s",
					s.passes, tr, g.Weight, s.tgs[g.ARN].tg.Name, s.tgs[g.ARN].service, s.registered[s.tgs[g.ARN].service], strings.Join(s.history, "\n"))
			}
		}
	}
}

// rt6SlowPorts installs the slow-port model as the controller's verifier.
func (s *sim) rt6SlowPorts(lag map[string]int) *rt6Slow {
	m := &rt6Slow{s: s, lag: lag, base: s.r.verifier}
	s.r.verifier = m
	return m
}

// runSlow steps until cond holds, checking the slow groups after every pass.
func (m *rt6Slow) run(n int, what string, served map[string]bool, cond func(*v1alpha1.Rollout) bool) {
	s := m.s
	s.t.Helper()
	for i := 0; i < n; i++ {
		s.step()
		m.check(served)
		if cond(s.rollout()) {
			return
		}
	}
	ro := s.rollout()
	s.t.Fatalf("after %d passes, not %s: phase %s %q\nhistory:\n%s", n, what, ro.Status.Phase, ro.Status.Message, strings.Join(s.history, "\n"))
}

// rt6AddPort gives a Service a second port, legacy 8081, to the same
// target port (http) as its port 80.
func (s *sim) rt6AddPort(name string) {
	s.t.Helper()
	svc := s.service(name)
	svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: "legacy", Port: 8081, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")})
	s.must(s.c.Update(context.Background(), svc))
}

// rt6AddPath adds to Ingress ing a path /legacy naming service:port directly.
func (s *sim) rt6AddPath(ing, service string, port int32) {
	s.t.Helper()
	ctx := context.Background()
	var in networkingv1.Ingress
	s.must(s.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: ing}, &in))
	paths := &in.Spec.Rules[0].HTTP.Paths
	*paths = append(*paths, networkingv1.HTTPIngressPath{Path: "/legacy", PathType: ptr.To(networkingv1.PathTypePrefix),
		Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: service, Port: networkingv1.ServiceBackendPort{Number: port}}}})
	s.must(s.c.Update(ctx, &in))
}

// RULE 1 (and RULE 2): a blue-green rollout in selector mode whose active
// Service one ALB Ingress names on two Service ports (path / on port 80,
// path /legacy on port 8081, both to the container port http) narrows the
// active Service to the new pods once they are healthy in the port-80
// target group only: the port-8081 group, health-checked on its own
// schedule, loses the old pods while the new ones are still in their
// initial health check there, and /legacy serves with no healthy target.
//
// Round five made the selector mode check every group plainGroups returns
// (verifyPlainGroups), one per Service port. But each group's check is a
// plainSpec whose fingerprint (verification.go: verifySpec.fingerprint)
// holds the Ingresses, the Service, its hash, its weight and the digest of
// its targets, and neither servicePort nor portName. Two groups of the same
// Service on the same Ingress, whose ports resolve to the same target port,
// have the same fingerprint: once the first group's check is Verified,
// runVerification finds status.verification Verified with that
// fingerprint for the second and returns outcomeVerified without reading
// it. The same shortcut serves every caller of verifyPlainGroups (a
// canary's movePlain, the restart gate, the old ReplicaSet's scale-down).
//
// Sequence: blue-green selector mode, 2 replicas (Ingress web names
// web-active:80); web-active gets a port legacy 8081 (targetPort http) and
// web a path /legacy to web-active:8081; v1 healthy; targets take 2 passes
// to pass the health check, 6 more in the port-8081 groups; v2 ("switch"),
// or restartAt now ("restart").
func TestRedTeam6PlainGroupsOfTwoPortsShareOneVerification(t *testing.T) {
	for _, kind := range []string{"switch", "restart"} {
		t.Run(kind, func(t *testing.T) {
			s := newSim(t)
			s.blueGreenRollout(2, bgOptions{})
			s.rt6AddPort("web-active")
			s.rt6AddPath("web", "web-active", 8081)
			m := s.rt6SlowPorts(map[string]int{"8081": 6})
			served := map[string]bool{}
			m.run(80, "healthy on v1", served, isHealthy)
			for range 20 {
				s.step()
				m.check(served)
			}
			if len(served) == 0 {
				t.Fatal("the port-8081 group never served")
			}
			s.healthLag = 2
			if kind == "restart" {
				// The restart gate (blueGreenRestartGate) checks the
				// replacements through verifyPlainGroups too.
				at := s.rt5Restart()
				m.run(200, "restarted", served, restartedAt(at))
			} else {
				setImage(s, "v2")
				m.run(200, "healthy on v2", served, func(ro *v1alpha1.Rollout) bool {
					return isHealthy(ro) && s.serviceImage("web-active") == "demo:v2"
				})
			}
			for range 10 {
				s.step()
				m.check(served)
			}
		})
	}
}

// RULE 5 (an abort always ends with all traffic verified on stable): a
// canary whose trafficRouting.alb.servicePort is changed mid-update (80 to
// 8081, a port every Service of the rollout has) and then aborted never
// moves traffic off the aborted version: the load balancer keeps sending
// it 50 % for ever, through the port-80 target groups of the action the
// controller wrote before the change.
//
// The controller never rewrites an action whose weights are right but
// whose servicePort is not the spec's: parseWeights and observeAction
// (canary_traffic.go) compare only the services and weights of the
// annotation, so t.written stays true with port 80; and the fingerprint of
// a verification (verification.go: verifySpec.fingerprint) leaves the port
// out, so the record verified on port 80 still counts after the change.
// Every move is then checked on the groups of port 8081 (verify.Input's
// ServicePort), which no rule references: the abort's moveWeight(0) runs
// its health-only check of the stable group (beforeRaise), finds no rule
// of the action (RulesNotFound), and checkedHealthy cannot stand in for it
// (no group of the stable Service observed); the abort waits for ever and
// the canary keeps its pods and its 50 %. The same holds after a promote
// (its raise times out, the rollout aborts, and stays there).
//
// Sequence: canary, 2 replicas, steps setWeight 50, pause; the Services
// web-canary, web-stable and web-root get a second port legacy 8081
// (targetPort http); v1 healthy; v2 paused at 50 %; servicePort changed to
// 8081; abort.
func TestRedTeam6ServicePortChangedMidUpdateAbortNeverLeavesTheCanary(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	for _, n := range []string{"web-canary", "web-stable", "web-root"} {
		s.rt6AddPort(n)
	}
	s.run(60, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(100, "paused at 50%", paused)
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Strategy.Canary.TrafficRouting.ALB.ServicePort = 8081 })
	s.steps(5)
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	s.run(300, "abort verified with all traffic on stable", func(ro *v1alpha1.Rollout) bool {
		v := ro.Status.Verification
		return s.albWeights["web-canary"] == 0 && v != nil && v.Kind == v1alpha1.VerificationAbort && v.Phase == v1alpha1.VerificationVerified
	})
	// The traffic stayed on port 80's groups, and the rollout says why.
	if c := findCondition(s.rollout(), v1alpha1.ConditionServicePortPending); c == nil || !strings.Contains(c.Message, "port 80") {
		t.Fatalf("no ServicePortPending condition naming the written port 80: %+v", c)
	}
}

// RULE 1 and RULE 2: a canary switched to blue-green (selector mode)
// mid-update, its canary Service becoming the preview Service (and its
// stable Service the active one, as one migrates a rollout in place),
// re-points the preview Service to the new version's pods in one write,
// while the canary's action, still on the Ingress, sends it 50 % of the
// production traffic: that group loses its healthy targets and serves
// with none until the new pods pass the health check.
//
// Blue-green selector mode writes no action, so the canary's action
// annotation (actions.web-root: web-canary 50, web-stable 50) stays on the
// Ingress as an action the rollout does not write. observe.go counts its
// forwards (foreignForwards) as exposure of the rollout's Services
// (plainBackends), but exposure() (guard.go) skips the preview Service
// among plainBackends ("preview traffic is not production"), and
// driveBlueGreenSelector switches the preview Service at once ("the
// preview Service gets no production traffic and follows its goal at
// once"): neither the state machine nor the guard (vetSelector) asks
// whether some ALB rule forwards production weight to it.
//
// Sequence: canary, 2 replicas, steps setWeight 50, pause; v1 healthy; v2
// paused at 50 %; targets take 3 passes to pass the health check; the
// strategy changed to blue-green (activeService web-stable,
// previewService web-canary, no alb) together with the template v3.
func TestRedTeam6CanaryToBlueGreenSwitchesAPreviewServiceUnderTraffic(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.run(60, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(100, "paused at 50%", paused)
	s.healthLag = 3
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary = nil
		ro.Spec.Strategy.BlueGreen = &v1alpha1.BlueGreenStrategy{ActiveService: "web-stable", PreviewService: "web-canary", ScaleDownDelaySeconds: ptr.To(int32(30))}
		ro.Spec.Template.Spec.Containers[0].Image = "demo:v3"
	})
	// checkInvariants fails the test when web-canary's group, which the
	// canary's action still sends 50 %, has no healthy target.
	s.run(300, "healthy on v3", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && s.serviceImage("web-stable") == "demo:v3" })
	s.steps(20)
}
