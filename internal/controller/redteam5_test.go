package controller

// Red-team tests, fifth round: each demonstrates a violation of the safety
// rules (controller.go, "The safety rules") on the current code, with the
// real engine (verify.Decide) judging the model ALBs of the simulator. They
// failed on the code they were written against; each is fixed and kept,
// except the two skipped with the reason they are still open.

import (
	"context"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/analysis"
)

// rt5ForeignAction points the first path of Ingress ing at an action of its
// own (port use-annotation) that forwards 100 % to service:80 — a user's
// hand-written forward action, which the rollout does not write.
func (s *sim) rt5ForeignAction(ing, action, service string) {
	s.t.Helper()
	ctx := context.Background()
	fwd, err := albannotation.Forward([]albannotation.Destination{{Service: service, Port: "80", Weight: 100}}, nil)
	s.must(err)
	var in networkingv1.Ingress
	s.must(s.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: ing}, &in))
	in.Spec.Rules[0].HTTP.Paths[0].Backend.Service = &networkingv1.IngressServiceBackend{Name: action, Port: networkingv1.ServiceBackendPort{Name: albannotation.UseAnnotation}}
	if in.Annotations == nil {
		in.Annotations = map[string]string{}
	}
	in.Annotations[albannotation.ActionKey("", action)] = fwd
	s.must(s.c.Update(ctx, &in))
}

// RULE 1 and RULE 2: a Service the rollout no longer names, which an ALB
// Ingress reaches through a forward action of the user's own (not a path
// naming the Service), is released: its selector is widened to every pod of
// the rollout and its old pods are then scaled down under it, before the
// new ones are healthy in that Ingress's target group.
//
// Round four's fix keeps a released Service an ALB Ingress routes to
// (observe.go: obs.kept, releaseServices, keptSelects, the guard's
// guardedServices), but "routes to" is obs.ingressNamed, filled from
// ingressBackends only: the Services named in paths and default backends.
// The same fix counts foreign actions as traffic (foreignForwards), but
// only for rolloutServices (`slices.Contains(mine, f.service)`), so a
// released Service that a hand-written action forwards to is neither kept
// nor guarded: releaseServices removes its hash (the new pods join the
// group unchecked) and the basic canary scales the old pods to 0 at
// promotion.
//
// Sequence: blue-green selector mode, 2 replicas; v1 healthy; the Ingress
// web's path is changed to an action "legacy" forwarding 100 % to
// web-active:80 (a weighted/conditional route written by hand); the load
// balancer of web finds new targets healthy only after 40 passes; the
// strategy is changed to a basic canary (setWeight 50, pause) together
// with v2; promote at the pause.
func TestRedTeam5ReleasedServiceReachedByAForeignActionIsNotKept(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{})
	s.run(60, "healthy on v1", isHealthy)
	s.rt5ForeignAction("web", "legacy", "web-active")
	s.steps(50) // the action's rule is applied, and v1 long healthy in its group
	s.albHealthLag["web"] = 40
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.BlueGreen = nil
		ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{weightStep(50), pauseStep("")}}
		ro.Spec.Template.Spec.Containers[0].Image = "demo:v2"
	})
	s.run(120, "paused at 50%", paused)
	promoteCLI(s)
	// checkInvariants fails the test when web's action reaches a group
	// with no healthy target. The round-four behaviour for a path (keep
	// web-active and its pods, or stop saying why) is accepted.
	s.run(150, "healthy on v2, or stopped to keep web-active's pods", func(ro *v1alpha1.Rollout) bool {
		return isHealthy(ro) || (strings.Contains(ro.Status.Message, "refused to scale") && strings.Contains(ro.Status.Message, "service ns/web-active"))
	})
	s.steps(60)
}

// RULE 1 and RULE 2: ephemeral metadata relabels pods into the target group
// of a Service that selects on the ephemeral label and that an ALB Ingress
// reaches through a forward action of the user's own, and the pods that
// served that group are scaled down before the relabelled ones are healthy
// in it.
//
// Round four made such a Service an invalid spec when an Ingress path
// names it (metadata.go: `!c.obs.ingressNamed[svc.Name]`), but
// ingressNamed holds only Services named by paths and default backends
// (ingressBackends), not those an action forwards to; and foreignForwards
// records only forwards to the rollout's own Services. So the spec is
// accepted, at promotion the v2 pods get role=stable and join the group,
// and the v1 pods are scaled down after the 30 s delay (scaleDownOld's
// "selected" and the guard's guardedServices do not know web-by-role).
//
// Sequence: canary, 2 replicas, setWeight 50, pause, with canaryMetadata
// role=canary and stableMetadata role=stable; a Service web-by-role
// selecting app=web, role=stable; v1 healthy; an ALB Ingress web-by-role
// whose path names action by-role, forwarding 100 % to web-by-role:80; its
// load balancer finds targets healthy after 60 passes; v2 paused at 50 %;
// promote.
func TestRedTeam5EphemeralLabelMovesPodsIntoAForeignActionsService(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	svc := s.service("web-stable").DeepCopy()
	svc.ObjectMeta = metav1.ObjectMeta{Namespace: s.ns, Name: "web-by-role"}
	svc.Spec.Selector = map[string]string{"app": "web", "role": "stable"}
	s.must(s.c.Create(context.Background(), svc))
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.CanaryMetadata = &runtime.RawExtension{Raw: []byte(`{"labels":{"role":"canary"}}`)}
		cs.StableMetadata = &runtime.RawExtension{Raw: []byte(`{"labels":{"role":"stable"}}`)}
	})
	s.run(60, "healthy on v1", isHealthy)
	s.steps(70) // v1's pods relabelled role=stable long ago
	s.albHealthLag["web-by-role"] = 60
	s.ingress("web-by-role", networkingv1.IngressServiceBackend{Name: "web-by-role", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.rt5ForeignAction("web-by-role", "by-role", "web-by-role")
	s.steps(3)
	setImage(s, "v2")
	s.run(100, "paused at 50%, or the spec refused", func(ro *v1alpha1.Rollout) bool {
		return paused(ro) || strings.Contains(ro.Status.Message, "service ns/web-by-role selects on ephemeral label role")
	})
	promoteCLI(s)
	// checkInvariants fails the test when web-by-role's group has no
	// healthy target.
	s.steps(120)
}

// rt5Restart sets spec.restartAt to the next second.
func (s *sim) rt5Restart() metav1.Time {
	s.t.Helper()
	at := metav1.NewTime(s.now.Add(time.Second).Truncate(time.Second))
	s.now = s.now.Add(time.Second)
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.RestartAt = &at })
	return at
}

func restartedAt(at metav1.Time) func(*v1alpha1.Rollout) bool {
	return func(ro *v1alpha1.Rollout) bool {
		return ro.Status.RestartedAt != nil && !ro.Status.RestartedAt.Before(&at)
	}
}

// RULE 2 (and RULE 1): spec.restartAt on a canary with ALB traffic routing
// evicts the last old pod of the stable Service while the replacements
// are not yet healthy in the target group of another ALB Ingress whose path
// names the stable Service directly: that path's group is left with no
// healthy target.
//
// restartPods evicts the next batch once every ReplicaSet is available and
// restartGate confirms the replacements healthy; but restartGate
// (canary.go) builds its check from canarySpec only, the groups of the
// rollout's own action on its own Ingresses. Plain paths (obs.plainBackends,
// plainGroups) and foreign actions to the same Service, which every
// Service move is checked against since round four (movePlain), are not
// part of it, and pickEvictions/vetEviction count ready pods, not pods
// healthy in each group. Each load balancer health-checks its groups on
// its own schedule, so the action's group being healthy says nothing of
// the path's.
//
// Sequence: canary, 2 replicas, steps setWeight 50, pause; an ALB Ingress
// web-stable-direct naming web-stable:80; v1 healthy; the load balancer of
// web-stable-direct finds targets healthy 10 passes after registration;
// restartAt now.
func TestRedTeam5RestartGateIgnoresPlainPathsOfACanary(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.ingress("web-stable-direct", networkingv1.IngressServiceBackend{Name: "web-stable", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.run(60, "healthy on v1", isHealthy)
	s.steps(20) // v1 long healthy in both groups
	s.albHealthLag["web-stable-direct"] = 10
	at := s.rt5Restart()
	// checkInvariants fails the test when web-stable-direct's group has no
	// healthy target.
	s.run(200, "restarted", restartedAt(at))
	s.steps(20)
}

// RULE 2 (and RULE 1): spec.restartAt on a basic canary (no
// trafficRouting) whose stable Service an ALB Ingress path names directly
// evicts the old pods one after another with no health check at all: the
// replacements are ready but not yet healthy in the path's target group
// when the last old pod goes.
//
// canaryBasic calls restartPods(ctx, nil): no gate and no served groups,
// although round four made the basic canary move its Services with a plain
// path widen-verify-narrow (basicServices, movePlain) because such a
// path's group is production traffic. vetEviction only refuses the last
// ready pod of a Service.
//
// Sequence: basic canary naming web-canary and web-stable, 2 replicas,
// steps setWeight 50, pause; an ALB Ingress web-stable-direct naming
// web-stable:80; v1 healthy; targets take 3 passes to pass the health
// check; restartAt now.
func TestRedTeam5BasicCanaryRestartIgnoresPlainPath(t *testing.T) {
	s := newSim(t)
	s.rt4Basic(2, weightStep(50), pauseStep(""))
	s.ingress("web-stable-direct", networkingv1.IngressServiceBackend{Name: "web-stable", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.run(60, "healthy on v1", isHealthy)
	s.steps(10)
	s.healthLag = 3
	at := s.rt5Restart()
	s.run(200, "restarted", restartedAt(at))
	s.steps(20)
}

// RULE 2 (and RULE 1): spec.restartAt on a blue-green rollout in ALB mode
// whose active Service another ALB Ingress names directly: the restart
// gate (blueGreenRestartGate) checks only the action's groups (bgSpec) when
// t.alb, never the plain path's group, so the last old active pod is
// evicted before the replacements are healthy on the second load balancer.
//
// Sequence: blue-green ALB mode, 2 replicas; an ALB Ingress
// web-active-direct naming web-active:80; v1 healthy; the load balancer of
// web-active-direct finds targets healthy 10 passes after registration;
// restartAt now.
func TestRedTeam5BlueGreenALBRestartGateIgnoresPlainPath(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{alb: true})
	s.ingress("web-active-direct", networkingv1.IngressServiceBackend{Name: "web-active", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.atomic = false
	s.run(80, "healthy on v1", isHealthy)
	s.steps(20)
	s.albHealthLag["web-active-direct"] = 10
	at := s.rt5Restart()
	s.run(200, "restarted", restartedAt(at))
	s.steps(20)
}

// RULE 2 (and RULE 1): spec.restartAt on a blue-green rollout in selector
// mode checks only the first group of the active Service's plain paths:
// the last old active pod is evicted while the replacements are not yet
// healthy in the group of a second ALB Ingress that reaches the active
// Service through a forward action of its own.
//
// blueGreenRestartGate verifies plainSpec(t.activeIngs, t.activePort, ...),
// and t.activeIngs/t.activePort come from plainIngresses, which returns
// only groups[0] of plainGroups ("those naming the first port found are
// verified (movePlain checks every port's groups)"). The groups of other
// Service ports and the healthOnly groups of foreign actions
// (observe.go: obs.forwards) are left out of the restart's check.
//
// Sequence: blue-green selector mode, 2 replicas (Ingress web names
// web-active:80); v1 healthy; an ALB Ingress web-legacy whose path names
// action legacy forwarding 100 % to web-active:80, its load balancer
// finding targets healthy 10 passes after registration; restartAt now.
func TestRedTeam5BlueGreenSelectorRestartGateChecksTheFirstGroupOnly(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{})
	s.run(80, "healthy on v1", isHealthy)
	s.ingress("web-legacy", networkingv1.IngressServiceBackend{Name: "web-active", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.rt5ForeignAction("web-legacy", "legacy", "web-active")
	s.steps(20)
	s.albHealthLag["web-legacy"] = 10
	at := s.rt5Restart()
	s.run(200, "restarted", restartedAt(at))
	s.steps(20)
}

// RULE 1: a blue-green rollout in selector mode narrows its widened active
// Service to the new pods once they are healthy in the first group of its
// plain paths only: a second ALB Ingress that names the active Service on
// another Service port, or reaches it through a forward action of its own,
// loses the old targets while the new ones are still in their initial
// health check on its load balancer.
//
// Round four made movePlain check every group plainGroups returns (every
// Service port, and the healthOnly groups of foreign actions), but
// driveBlueGreenSelector does not use movePlain: it verifies
// plainSpec(t.activeIngs, t.activePort, ...) before switchService, and
// t.activeIngs/t.activePort come from plainIngresses, which returns
// groups[0] only. (The same first-group-only spec is the pinned check and
// the restart gate.)
//
// Sequence: blue-green selector mode, 2 replicas, auto-promotion (Ingress
// web names web-active:80); a second ALB Ingress web-b naming web-active
// by port name http ("port") or through an action forwarding 100 % to
// web-active:80 ("action"); v1 healthy; targets take 2 passes to pass the
// health check, and web-b's load balancer 4 more; v2.
func TestRedTeam5BlueGreenSelectorNarrowsOnTheFirstGroupOnly(t *testing.T) {
	for _, kind := range []string{"port", "action"} {
		t.Run(kind, func(t *testing.T) {
			s := newSim(t)
			s.blueGreenRollout(2, bgOptions{})
			s.ingress("web-b", networkingv1.IngressServiceBackend{Name: "web-active", Port: networkingv1.ServiceBackendPort{Name: "http"}})
			s.run(80, "healthy on v1", isHealthy)
			if kind == "action" {
				s.rt5ForeignAction("web-b", "legacy", "web-active")
			}
			s.steps(10)
			s.healthLag = 2
			s.albHealthLag["web-b"] = 4
			setImage(s, "v2")
			// checkInvariants fails the test when web-b's group has no
			// healthy target.
			s.run(200, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && s.serviceImage("web-active") == "demo:v2" })
			s.steps(10)
		})
	}
}

// RULE 2: a basic canary (no trafficRouting, no canary or stable Service)
// behind an ALB Ingress whose Service selects every pod of the rollout
// (the plain Kubernetes shape: Service web, selector app=web) scales the
// old pods to 0 as soon as the new ones are ready, before any of them has
// passed the ALB health check: the path's group is left with no healthy
// target.
//
// The controller verifies (VerifyByDefault), lists every ALB Ingress of
// the namespace (obs.ingressNamed has web) and since round four keeps the
// pods of a released Service an ALB Ingress routes to (obs.kept) and
// refuses ephemeral labels such a Service selects on: it knows the path
// and that the Service selects the rollout's pods. But canaryBasic sizes
// the stable side on pod availability only ("No ALB is involved, so
// nothing is verified"), and the guard's vetScale looks only at
// guardedServices (the spec's, former and kept Services), so nothing holds
// the old pods until the new ones are healthy in the group.
//
// Sequence: basic canary without Services, 1 replica, no steps; a Service
// web selecting app=web and an ALB Ingress web naming it; v1 healthy;
// targets take 2 passes to pass the health check; v2.
func TestRedTeam5BasicCanaryScalesDownUnderAnIngressRoutedService(t *testing.T) {
	s := newSim(t)
	s.rt4Basic(1)
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.CanaryService, cs.StableService = "", ""
	})
	svc := s.service("web-stable").DeepCopy()
	svc.ObjectMeta = metav1.ObjectMeta{Namespace: s.ns, Name: "web"}
	s.must(s.c.Create(context.Background(), svc))
	s.ingress("web", networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.run(60, "healthy on v1", isHealthy)
	s.steps(5)
	s.healthLag = 2
	setImage(s, "v2")
	// checkInvariants fails the test when web's group has no healthy target.
	s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool {
		return isHealthy(ro) && ro.Status.StableRS != "" && s.replicasOf(ro.Status.StableRS) == 1
	})
	s.steps(10)
}

// RULE 2: the old stable pods are scaled down after scaleDownDelaySeconds
// while an ALB Ingress path names the rootService directly (it selects
// every pod of the rollout) and the new pods are not yet healthy in that
// path's target group: the group is left with no healthy target.
//
// The root Service is one of the rollout's Services (rolloutServices) and
// the path makes it "plain" exposure, but scaleCanaryALB's scaleDownOld
// counts as "selected" only the canary and stable Services, and the guard
// (vetScale) lets the old ReplicaSet go because the root Service keeps
// "have" pods: it counts replicaset.Available of the other ReplicaSets it
// selects — pods that are ready, not pods healthy in the path's group. No
// check of that group is made before the old pods go; only the delay
// stands between them and an empty group, and a load balancer whose health
// check takes longer than it (an interval of 30 s and a healthy threshold
// of 3, say, against the 30 s default delay) gets there.
//
// Sequence: canary, 2 replicas, steps setWeight 50, pause (rootService
// web-root); an ALB Ingress root-direct naming web-root:80; v1 healthy;
// root-direct's load balancer finds targets healthy 150 passes after
// registration; v2; promote at the pause.
func TestRedTeam5OldPodsScaledDownUnderARootServicePath(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.ingress("root-direct", networkingv1.IngressServiceBackend{Name: "web-root", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.run(60, "healthy on v1", isHealthy)
	s.steps(200) // v1 long healthy in root-direct's group
	s.albHealthLag["root-direct"] = 150
	setImage(s, "v2")
	s.run(100, "paused at 50%", paused)
	promoteCLI(s)
	s.run(150, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && s.stableImage() == "demo:v2" })
	// checkInvariants fails the test when root-direct's group has no
	// healthy target.
	s.steps(150)
}

// RULE 4: a blue-green rollout in selector mode that is retried while its
// abort has the active Service widened (over the stable and the aborted
// pods, on its way back to stable) switches the aborted version back into
// production with no pre-promotion analysis and no pause: the retried
// update's gates, reset by the retry and unevaluable, never stop it.
//
// On retry (status.abort cleared, AbortedAt set) the update starts again:
// resetGates, pause conditions cleared. blueGreenPromotion then asks
// switchStarted, which counts an active Service that is not pinned as a
// switch under way unless staleWidening finds a third version; the abort's
// widening selects only stable and new pods, so it passes for "a switch
// already under way (a restart, a retry mid-switch)": no pre-promotion
// gate, no BlueGreenPause, and the active Service is narrowed to the new
// pods. Round four's fix of the same shortcut covered only a widening a
// new template made stale. (Argo Rollouts runs the pre-promotion analysis
// and the pause again on retry.)
//
// Sequence: blue-green selector mode, 2 replicas, autoPromotionEnabled
// false, pre- and post-promotion analysis; v1 healthy; v2 promoted through
// its pre-promotion gate and its pause; paused at the post-promotion gate
// with the active Service on v2; targets take 3 passes to pass the health
// check; abort; once the active Service is widened for the way back,
// retry (status.abort false).
func TestRedTeam5BlueGreenRetryDuringTheAbortsWideningSkipsTheGates(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{mutate: func(bg *v1alpha1.BlueGreenStrategy) {
		bg.AutoPromotionEnabled = ptr.To(false)
		bg.PrePromotionAnalysis = analysisRaw()
		bg.PostPromotionAnalysis = analysisRaw()
	}})
	s.run(80, "healthy on v1", isHealthy)
	s.steps(3)
	s.runPhase[analysis.KindPrePromotion] = v1alpha1.AnalysisPhaseSuccessful
	s.runPhase[analysis.KindPostPromotion] = v1alpha1.AnalysisPhaseInconclusive
	setImage(s, "v2")
	ro := s.run(300, "active on v2, paused at the post-promotion gate", func(ro *v1alpha1.Rollout) bool {
		onV2 := s.serviceImage("web-active") == "demo:v2"
		if paused(ro) && !onV2 {
			promoteCLI(s)
		}
		return paused(ro) && onV2
	})
	v2 := ro.Status.CurrentPodHash
	s.healthLag = 3
	s.runPhase[analysis.KindPrePromotion] = "" // the retried update's pre-promotion analysis measures on
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	s.run(100, "active widened on its way back to v1", func(*v1alpha1.Rollout) bool { return s.selectorOf("web-active") == "*" })
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = false })
	for i := 0; i < 100; i++ {
		s.step()
		if s.selectorOf("web-active") == v2 {
			ro := s.rollout()
			t.Fatalf("pass %d: the retried update switched v2 back into production (active service %s, phase %s %q) without its pre-promotion analysis or the pause autoPromotionEnabled false asks for; pause conditions %+v\nhistory:\n%s",
				s.passes, v2, ro.Status.Phase, ro.Status.Message, ro.Status.PauseConditions, strings.Join(s.history, "\n"))
		}
	}
	// The abort's way back ends on v1, and the retried update waits at
	// its pre-promotion gate: a new run measures.
	s.run(100, "at the pre-promotion gate, active on v1", func(ro *v1alpha1.Rollout) bool {
		r := ro.Status.BlueGreen.PrePromotionAnalysisRunStatus
		return r != nil && r.Status == string(v1alpha1.AnalysisPhaseRunning) && s.selectorOf("web-active") == ro.Status.StableRS && s.serviceImage("web-active") == "demo:v1"
	})
}

// RULE 1 and RULE 2: an ALB Ingress that is being deleted (its
// DeletionTimestamp set, the AWS Load Balancer Controller's finalizer
// ingress.k8s.aws/resources still on it) is ignored, although its load
// balancer keeps routing by its rules until that controller has removed
// them: a path naming the stable Service still sends it all of its
// traffic, and the stable Service is re-pointed from the old pods to the
// new ones in one write at promotion.
//
// observe.go (and plainGroups) skip every Ingress with a DeletionTimestamp
// (`ing.DeletionTimestamp != nil || !isALBIngress(...)`), so its paths and
// actions are neither exposure (plainBackends) nor checked. The load
// balancer controller removes an Ingress's rules and then its finalizer;
// until it does (it is down for an upgrade, rate-limited, or stuck on an
// error of the IngressGroup, a common "Ingress stuck terminating") the
// rules stay on the load balancer.
//
// Sequence: canary, 2 replicas, steps setWeight 50, pause; an ALB Ingress
// web-stable-direct naming web-stable:80, with the load balancer
// controller's finalizer; v1 healthy; web-stable-direct deleted (the
// finalizer not yet removed); targets take 2 passes to pass the health
// check; v2; promote at the pause.
func TestRedTeam5TerminatingIngressStillRoutesButIsIgnored(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.ingress("web-stable-direct", networkingv1.IngressServiceBackend{Name: "web-stable", Port: networkingv1.ServiceBackendPort{Number: 80}})
	ctx := context.Background()
	var ing networkingv1.Ingress
	s.must(s.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "web-stable-direct"}, &ing))
	ing.Finalizers = []string{"ingress.k8s.aws/resources"}
	s.must(s.c.Update(ctx, &ing))
	s.run(60, "healthy on v1", isHealthy)
	s.steps(3)
	s.must(s.c.Delete(ctx, &ing))
	s.must(s.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "web-stable-direct"}, &ing))
	if ing.DeletionTimestamp == nil {
		t.Fatal("the Ingress is not terminating")
	}
	s.steps(3)
	s.healthLag = 2
	setImage(s, "v2")
	s.run(100, "paused at 50%", paused)
	promoteCLI(s)
	// checkInvariants fails the test when web-stable-direct's group (its
	// rules still on the load balancer) has no healthy target.
	s.run(150, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && s.stableImage() == "demo:v2" })
	s.steps(5)
}
