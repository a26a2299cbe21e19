package controller

import (
	"context"
	"fmt"
	"k8s.io/apimachinery/pkg/api/equality"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// ManagedByAnnotation marks a Service whose selector a rollout manages (Argo
// Rollouts' annotation).
const ManagedByAnnotation = "argo-rollouts.argoproj.io/managed-by-rollouts"

// WideningAnnotation on a Service whose selector the rollout widened (to
// every pod of the rollout) names the pods it is on its way to: the cluster
// alone cannot tell a widening toward the new pods (a switch) from one back
// toward stable (an abort), and a retry in between must not take the one
// for the other.
const WideningAnnotation = "albrollouts.io/widening-toward"

// trafficState is what the ALB side of a canary looks like from Kubernetes:
// which pods the canary and stable Services select, and which weights the
// action annotation of every Ingress carries.
type trafficState struct {
	canaryName, stableName string
	canarySvc, stableSvc   *corev1.Service
	// canarySel and stableSel are the pod-template hashes the Services select
	// ("" when a selector has no hash yet).
	canarySel, stableSel string
	ingresses            []*networkingv1.Ingress
	actionName           string
	// written is true when every Ingress carries a valid forward action naming
	// exactly the canary and stable services with the same weights.
	written          bool
	canaryW, stableW int32
	// routes are the header routes present on every Ingress (annotation and
	// path), with their conditions value.
	routes map[string]string
	// routed: some Ingress still carries a header route of the rollout (its
	// action, conditions or path), on every Ingress or not: the ALB may
	// forward matching requests to the canary group.
	routed bool
	// disagree: every Ingress carries an action of the controller's, not
	// all with the same weights (a crash between the patches of two
	// Ingresses, an edit of one); written is false then.
	disagree bool
	// foreign lists the Ingresses whose action the controller did not write
	// (a hand edit: weights that do not add up to maxTrafficWeight, another
	// service), with what their action forwards; written is false then.
	foreign []string
}

// trafficGoal is where traffic should be: what each Service selects, the
// canary's weight (the stable service gets the rest) and the header routes
// (name → conditions annotation value).
type trafficGoal struct {
	canaryHash, stableHash string
	weight                 int32
	routes                 map[string]string
	// kind names the verification of this goal.
	kind v1alpha1.VerificationKind
}

// canaryServiceNames returns the canary and stable Services, ping-pong aware
// (an empty stablePingPong means pong is stable, as in Argo Rollouts).
func (c *rolloutContext) canaryServiceNames() (canary, stable string) {
	cs := c.ro.Spec.Strategy.Canary
	if pp := cs.PingPong; pp != nil {
		if c.status.Canary.StablePingPong == "ping" {
			return pp.PongService, pp.PingService
		}
		return pp.PingService, pp.PongService
	}
	return cs.CanaryService, cs.StableService
}

func (c *rolloutContext) albSpec() *v1alpha1.ALBTrafficRouting {
	return c.ro.Spec.Strategy.Canary.TrafficRouting.ALB
}

func (c *rolloutContext) maxWeight() int32 { return c.ro.Spec.Strategy.Canary.MaxWeight() }

// observeTraffic reads the traffic state; false when the spec names objects
// that do not exist (recorded as spec errors).
func (c *rolloutContext) observeTraffic() (*trafficState, bool) {
	alb := c.albSpec()
	t := &trafficState{routes: map[string]string{}}
	t.canaryName, t.stableName = c.canaryServiceNames()
	t.actionName = c.ro.Spec.Strategy.Canary.ActionService()
	ok := true
	for _, s := range []struct {
		name string
		dst  **corev1.Service
	}{{t.canaryName, &t.canarySvc}, {t.stableName, &t.stableSvc}} {
		svc := c.obs.services[s.name]
		if svc == nil {
			c.specError("service %s/%s does not exist: create it (it must select the rollout's pods and expose port %d)", c.ro.Namespace, s.name, alb.ServicePort)
			ok = false
			continue
		}
		if !hasPort(svc, alb.ServicePort) {
			c.specError("service %s/%s has no port %d (trafficRouting.alb.servicePort)", c.ro.Namespace, s.name, alb.ServicePort)
			ok = false
		}
		*s.dst = svc
	}
	if t.canarySvc != nil {
		t.canarySel = t.canarySvc.Spec.Selector[replicaset.HashLabel]
	}
	if t.stableSvc != nil {
		t.stableSel = t.stableSvc.Spec.Selector[replicaset.HashLabel]
	}
	act := c.observeAction(c.ingressNames(alb.IngressNames()), alb.AnnotationPrefix, t.actionName, t.canaryName, t.stableName, "trafficRouting.alb", "weights")
	ok = ok && act.ok
	t.ingresses, t.written, t.canaryW, t.stableW = act.ingresses, act.written, act.first, act.second
	// The controller owns the whole action: every weight, not only the
	// canary's, must be one it writes.
	key := albannotation.ActionKey(alb.AnnotationPrefix, t.actionName)
	for _, ing := range t.ingresses {
		value := ing.Annotations[key]
		if value == "" {
			continue
		}
		if cw, sw, valid := parseWeights(value, t.canaryName, t.stableName); !valid || cw+sw != c.maxWeight() {
			t.foreign = append(t.foreign, fmt.Sprintf("ingress %s/%s forwards %s", ing.Namespace, ing.Name, describeForward(value)))
			t.written = false
		}
	}
	t.disagree = !t.written && len(t.foreign) == 0 && len(t.ingresses) > 0 && !slices.ContainsFunc(t.ingresses, func(ing *networkingv1.Ingress) bool {
		return ing.Annotations[key] == ""
	})
	// Header routes: present when every Ingress has the action, the
	// conditions and the path.
	if len(t.ingresses) > 0 {
		for _, name := range c.routeNames() {
			cond, present := "", true
			for i, ing := range t.ingresses {
				v, okA := ing.Annotations[albannotation.ActionKey(alb.AnnotationPrefix, name)]
				cv, okC := ing.Annotations[albannotation.ConditionsKey(alb.AnnotationPrefix, name)]
				if !okA || !okC || v == "" || !albannotation.HasBackend(ing, name) {
					present = false
					break
				}
				if i == 0 {
					cond = cv
				} else if cv != cond {
					present = false
				}
			}
			if present {
				t.routes[name] = cond
			}
		}
		for _, name := range c.routeNames() {
			for _, ing := range t.ingresses {
				_, okA := ing.Annotations[albannotation.ActionKey(alb.AnnotationPrefix, name)]
				_, okC := ing.Annotations[albannotation.ConditionsKey(alb.AnnotationPrefix, name)]
				if okA || okC || albannotation.HasBackend(ing, name) {
					t.routed = true
				}
			}
		}
	}
	return t, ok
}

func hasPort(svc *corev1.Service, port int32) bool {
	return slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == port })
}

// actionState is the action annotation as the Ingresses of a rollout carry it.
type actionState struct {
	ingresses []*networkingv1.Ingress // the named Ingresses that exist
	// written: every named Ingress exists and carries the same valid
	// action, which gives first and second their weights.
	written       bool
	first, second int32
	// ok is false when an Ingress is missing or has no path to the action
	// (a spec error has been reported).
	ok bool
}

// observeAction reads the action annotation (prefix, action) of the named
// Ingresses with the weights of services first and second. field names the
// rollout's spec field and change what the action carries, in errors.
func (c *rolloutContext) observeAction(names []string, prefix, action, first, second, field, change string) actionState {
	st := actionState{written: true, ok: true}
	key := albannotation.ActionKey(prefix, action)
	for i, name := range names {
		ing := c.obs.ingresses[name]
		if ing == nil {
			c.specError("ingress %s/%s does not exist (%s)", c.ro.Namespace, name, field)
			st.ok, st.written = false, false
			continue
		}
		if !albannotation.HasBackend(ing, action) {
			c.specError("ingress %s/%s has no path whose backend is service %s with port name %s: the load balancer controller would not apply the rollout's %s",
				c.ro.Namespace, name, action, albannotation.UseAnnotation, change)
			st.ok = false
		}
		st.ingresses = append(st.ingresses, ing)
		fw, sw, valid := parseWeights(ing.Annotations[key], first, second)
		switch {
		case !valid:
			st.written = false
		case i == 0:
			st.first, st.second = fw, sw
		case fw != st.first || sw != st.second:
			st.written = false
		}
	}
	return st
}

// parseWeights reads the canary and stable weights of an action annotation;
// valid only when it is a forward to exactly those two services.
func parseWeights(value, canary, stable string) (cw, sw int32, valid bool) {
	if value == "" {
		return 0, 0, false
	}
	a, err := albannotation.ParseAction(value)
	if err != nil {
		return 0, 0, false
	}
	w, ok := a.Weights()
	if !ok {
		return 0, 0, false
	}
	c, okC := w[canary]
	s, okS := w[stable]
	if !okC || !okS || len(w) != 2 {
		return 0, 0, false
	}
	return int32(c), int32(s), true
}

// driveTraffic moves traffic one safe step toward goal and reports whether it
// is there, verified. It makes at most one change per call: a Service
// selector moves only while its target group gets no traffic, a weight is
// raised only after the pods that will serve it are healthy in their group,
// and every change is verified before the next.
func (c *rolloutContext) driveTraffic(ctx context.Context, t *trafficState, goal trafficGoal) (bool, error) {
	max := c.maxWeight()
	if !t.written {
		if len(t.foreign) > 0 {
			// An action the controller did not write: rewrite it to the
			// weights the controller last verified, and say so.
			return false, c.correctWeights(ctx, t, goal)
		}
		// No valid action yet (first deploy), or the Ingresses disagree: write
		// all traffic to the stable service first.
		return false, c.moveWeight(ctx, t, 0, goal)
	}
	// Going back (an abort, a rollback) after the stable Service moved to
	// the new pods at promotion: its group has no traffic, so it goes back
	// to the pods it should select first; weight then moves back to it once
	// they are healthy there (moveWeight). Insisting on moving weight to the
	// new pods in the stable group would wait forever when they fail its
	// health check.
	// The same holds while progressing when the stable Service was moved
	// off the stable pods by hand (ping-pong included): an idle group is
	// re-pointed before any weight can go back to it.
	back := c.mode != modeProgress && c.ro.Spec.Strategy.Canary.PingPong == nil
	strayed := c.mode == modeProgress && goal.stableHash == c.status.StableRS && replicaset.FindByHash(c.obs.rss, goal.stableHash) != nil
	if (back || strayed) && t.stableSel != goal.stableHash && t.stableSel != "" && t.stableW == 0 && t.canaryW > 0 {
		if ok, err := c.stableIdle(ctx, t, goal); !ok || err != nil {
			return false, err
		}
		if !c.canSwitchTo(goal.stableHash, t.stableSvc, false) {
			return false, nil
		}
		if c.verifying() && c.obs.plainBackends[t.stableName] && !c.scaledToZero() {
			// A path sends all of its traffic to the stable group: widened
			// first (the stable check above stands for the action's
			// weights), narrowed once the stable pods are healthy there.
			return false, c.widenPlainStable(ctx, t, goal)
		}
		return false, c.switchService(ctx, t.stableSvc, goal.stableHash, "stable")
	}
	// A widened stable Service (a hand edit) narrows back to the stable pods
	// before anything else: a narrowing only removes targets, and until it
	// is done every move of traffic to the stable group would be judged on
	// the health of pods of other versions it should not select.
	if t.stableSel == "" && goal.stableHash != "" && c.subsetOf(t.stableSvc, goal.stableHash) {
		return false, c.narrowStable(ctx, t, goal)
	}
	// The canary Service selects the pods the canary group should hold.
	if t.canarySel != goal.canaryHash {
		narrowing := t.canarySel == "" && c.subsetOf(t.canarySvc, goal.canaryHash)
		if t.canaryW != 0 && !narrowing {
			if c.mode == modeAbort && c.stableStrayedUnderTraffic(t, goal) && c.replicas() > 0 {
				// Going back with the stable Service pointed at other pods
				// by hand: its group gets the stable pods first. Moving the
				// canary's weight onto the pods it selects now would wait
				// for ever when they fail its health check.
				return false, c.widenStrayedStable(ctx, t, goal)
			}
			return false, c.moveWeight(ctx, t, 0, goal)
		}
		if t.routed && !narrowing {
			// A header route is traffic to the canary group too: the routes
			// go first; verifyCurrent below verifies them removed.
			noRoutes := goal
			noRoutes.routes = map[string]string{}
			return false, c.moveRoutes(ctx, t, noRoutes)
		}
		if !c.canSwitchTo(goal.canaryHash, t.canarySvc, t.canaryW != 0) {
			return false, nil
		}
		if c.verifying() && c.obs.plainBackends[t.canaryName] && !c.scaledToZero() {
			return false, c.movePlainCanary(ctx, t, goal, narrowing)
		}
		if narrowing && t.canaryW != 0 && !c.fullyAvailable(goal.canaryHash, "narrowing service "+t.canarySvc.Name+" to it") {
			// The group under traffic keeps the pods it has until every pod
			// it narrows to is up (and then checked healthy in it).
			return false, nil
		}
		ok, err := c.verifyCurrent(ctx, t, interim(goal.kind), t.canaryName, t.canaryW != 0, goal.canaryHash)
		if err != nil {
			return false, err
		}
		if !ok && !c.canaryIdleGoingBack(t, narrowing) {
			return false, nil
		}
		return false, c.switchService(ctx, t.canarySvc, goal.canaryHash, "canary")
	}
	// The stable Service moves only at promotion (all traffic on the canary
	// group), or narrows to the stable pods at the first deploy.
	if t.stableSel != goal.stableHash {
		narrowing := t.stableSel == "" && c.subsetOf(t.stableSvc, goal.stableHash)
		// Asked for no pods (spec.replicas 0), nothing is to be served: a
		// widened stable Service goes back to the stable hash even though
		// pods of another version it selected are still up.
		idle := c.replicas() == 0
		// (Going back, the canary Service is on the stable pods by now:
		// all weight goes to it, below, and this Service moves idle.)
		if c.mode == modeProgress && c.stableStrayedUnderTraffic(t, goal) && !idle {
			return false, c.widenStrayedStable(ctx, t, goal)
		}
		if !narrowing && !idle && t.canaryW != max {
			return false, c.moveWeight(ctx, t, max, goal)
		}
		if !c.canSwitchTo(goal.stableHash, t.stableSvc, t.stableW != 0 && !idle) {
			return false, nil
		}
		if c.verifying() && c.obs.plainBackends[t.stableName] && !idle && c.ro.Spec.Strategy.Canary.PingPong == nil {
			return false, c.movePlainStable(ctx, t, goal, narrowing)
		}
		if narrowing && t.stableW != 0 && !idle && !c.fullyAvailable(goal.stableHash, "narrowing service "+t.stableSvc.Name+" to it") {
			return false, nil
		}
		if ok, err := c.verifyCurrent(ctx, t, interim(goal.kind), t.stableName, narrowing && t.stableW != 0, goal.stableHash); !ok || err != nil {
			return false, err
		}
		if c.ro.Spec.Strategy.Canary.PingPong != nil && !narrowing {
			// Ping-pong: no Service moves; the two swap roles.
			c.flipPingPong()
			if c.mode == modeProgress && goal.stableHash == c.newHash && c.newHash != c.status.StableRS {
				// At promotion the swap and the stable record are one
				// status write, as in Argo Rollouts: all traffic is on the
				// new version's Service, verified just above. Apart, an
				// abort or a new template between the two found the
				// stable Service on a version that status does not call
				// stable, and moved traffic onto it.
				c.promote("Completed all %d canary steps", len(c.ro.Spec.Strategy.Canary.Steps))
			}
			return false, nil
		}
		return false, c.switchService(ctx, t.stableSvc, goal.stableHash, "stable")
	}
	if t.canaryW != goal.weight {
		return false, c.moveWeight(ctx, t, goal.weight, goal)
	}
	if !maps.Equal(t.routes, goal.routes) {
		return false, c.moveRoutes(ctx, t, goal)
	}
	ok, err := c.verifyCurrent(ctx, t, goal.kind, "", false, "")
	return ok, err
}

// movePlainCanary re-points a canary Service that an Ingress path names
// directly (a tester's way to the canary, as in many Argo Rollouts set-ups):
// that path sends all of its traffic to the canary group whatever the
// action's weight, so the Service moves as blue-green's active Service does
// (movePlain).
func (c *rolloutContext) movePlainCanary(ctx context.Context, t *trafficState, goal trafficGoal, narrowing bool) error {
	return c.movePlain(ctx, plainMove{svc: t.canarySvc, role: "canary", sel: t.canarySel, goal: goal.canaryHash, narrowing: narrowing,
		current: func() (bool, error) { return c.verifyCurrent(ctx, t, interim(goal.kind), "", false, "") },
		gaining: func() (bool, error) {
			if t.canaryW == 0 {
				return true, nil
			}
			return c.verifyCurrent(ctx, t, interim(goal.kind), t.canaryName, true, goal.canaryHash)
		}})
}

// movePlainStable re-points a stable Service that an Ingress path names
// directly (stable.example.com beside the weighted host), at promotion or
// back to the stable pods after an abort, the same way (movePlain).
func (c *rolloutContext) movePlainStable(ctx context.Context, t *trafficState, goal trafficGoal, narrowing bool) error {
	return c.movePlain(ctx, plainMove{svc: t.stableSvc, role: "stable", sel: t.stableSel, goal: goal.stableHash, narrowing: narrowing,
		current: func() (bool, error) { return c.verifyCurrent(ctx, t, interim(goal.kind), "", false, "") },
		gaining: func() (bool, error) {
			if t.stableW == 0 {
				return true, nil
			}
			return c.verifyCurrent(ctx, t, interim(goal.kind), t.stableName, true, goal.stableHash)
		}})
}

// widenPlainStable widens a stable Service with a direct path on its way
// back to the stable pods (an abort after the promotion moved it), the
// action's weights having been checked by stableIdle.
func (c *rolloutContext) widenPlainStable(ctx context.Context, t *trafficState, goal trafficGoal) error {
	return c.movePlain(ctx, plainMove{svc: t.stableSvc, role: "stable", sel: t.stableSel, goal: goal.stableHash,
		current: func() (bool, error) { return true, nil },
		gaining: func() (bool, error) { return true, nil }})
}

// plainMove is a Service an Ingress path names directly, on its way from
// the pods it selects (sel; "" once widened) to those of goal.
type plainMove struct {
	svc       *corev1.Service
	role      string
	sel, goal string
	narrowing bool
	// current verifies the action's weights as they are, before the
	// Service's group gets pods of another version.
	current func() (bool, error)
	// gaining verifies, when the action gives the Service weight too, the
	// goal's pods healthy in the action's group before the narrowing.
	gaining func() (bool, error)
}

// movePlain moves a Service with a direct Ingress path: the path sends all
// of its traffic to the Service's group whatever the action's weights, so
// the selector is widened first (the old pods stay registered and healthy
// while the new ones register and pass the health check), and narrowed to
// the goal's pods once every one of them is healthy in the path's target
// group (and, with weight in the action, in the action's).
func (c *rolloutContext) movePlain(ctx context.Context, m plainMove) error {
	groups, err := c.plainGroups(ctx, m.svc)
	if err != nil {
		return err
	}
	if !c.fullyAvailable(m.goal, "pointing service "+m.svc.Name+" at it") {
		return nil
	}
	if !m.narrowing {
		// Widened, the Service selects the pods of every version: those of
		// a third one (neither stable nor the goal nor what it selects now)
		// go first.
		keep := append([]string{m.sel, m.goal, c.status.StableRS}, c.servingVersions(m.svc)...)
		if c.waitForOtherVersions(m.svc, m.role, keep...) || m.sel == "" {
			return nil
		}
		if ok, err := m.current(); !ok || err != nil {
			return err
		}
		return c.widenService(ctx, m.svc, m.goal, m.role)
	}
	if ok, err := m.gaining(); !ok || err != nil {
		return err
	}
	// Every Service port a path names has target groups of its own, each
	// health-checked on its own schedule: each is checked in turn.
	if ok, err := c.verifyPlainGroups(ctx, groups, roleOf(m.role), m.svc, m.goal, c.obs.podsOf(m.goal), v1alpha1.VerificationTargetHealth, false); !ok || err != nil {
		return err
	}
	return c.switchService(ctx, m.svc, m.goal, m.role)
}

// servingVersions are the pod-template hashes that the rollout's other
// Services select while they may receive traffic: their pods serve
// production already, so widening a Service over them makes no version
// serve that did not. Without this, an abort whose stable Service a hand
// edit pointed at the aborted pods, with a direct path to a canary Service
// on an older version, waits for ever: each Service's widening waits for the
// pods the other one depends on to scale down.
func (c *rolloutContext) servingVersions(except *corev1.Service) []string {
	e := c.exposure()
	var out []string
	for _, name := range rolloutServices(c.ro) {
		svc := c.obs.services[name]
		if svc == nil || svc == except || name == except.Name || !e.serves(name) {
			continue
		}
		for _, p := range livePods(c.obs.podsSelectedBy(svc)) {
			if h := p.Labels[replicaset.HashLabel]; h != "" && !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// roleOf is the verification role of a Service role.
func roleOf(role string) verify.Role {
	switch role {
	case "stable":
		return verify.RoleStable
	case "active":
		return verify.RoleActive
	case "preview":
		return verify.RolePreview
	}
	return verify.RoleCanary
}

// interim is the kind of a check made on the way to a goal of kind k: an
// abort's own kind is kept for the check of its end state (traffic all on
// the stable pods), so that status never records an abort verified while
// another version still serves.
func interim(k v1alpha1.VerificationKind) v1alpha1.VerificationKind {
	if k == v1alpha1.VerificationAbort {
		return v1alpha1.VerificationTargetHealth
	}
	return k
}

// narrowStable points a widened stable Service (it selects every pod of the
// rollout, the stable ones among them) at the stable pods only, once every
// one of them is up and, when its group gets traffic, registered and healthy
// in it (checked now, health only: the narrowing changes no weight).
func (c *rolloutContext) narrowStable(ctx context.Context, t *trafficState, goal trafficGoal) error {
	underTraffic := t.stableW != 0 && !c.scaledToZero()
	if !c.canSwitchTo(goal.stableHash, t.stableSvc, underTraffic) {
		return nil
	}
	if c.verifying() && c.obs.plainBackends[t.stableName] && !c.scaledToZero() {
		// A path sends all of its traffic to the stable group: the goal's
		// pods are checked healthy there too.
		return c.movePlainStable(ctx, t, goal, true)
	}
	if underTraffic && c.verifying() {
		if !c.fullyAvailable(goal.stableHash, "narrowing service "+t.stableSvc.Name+" to it") {
			return nil
		}
		spec := c.canarySpec(t, t.canaryW, t.stableW, t.routes)
		spec.beforeRaise(t.stableName, c.obs.podsOf(goal.stableHash))
		if out, err := c.runVerification(ctx, v1alpha1.VerificationTargetHealth, spec); out != outcomeVerified || err != nil {
			return err
		}
	}
	return c.switchService(ctx, t.stableSvc, goal.stableHash, "stable")
}

// stableIdle reports whether the stable group gets no traffic, as written:
// the written weights are verified, or, when they cannot be (the group with
// all the weight is the broken version the rollout goes back from), this
// pass's check found the stable group at weight 0 in every rule of the
// action it read.
func (c *rolloutContext) stableIdle(ctx context.Context, t *trafficState, goal trafficGoal) (bool, error) {
	if !c.verifying() {
		return true, nil
	}
	ok, err := c.verifyCurrent(ctx, t, interim(goal.kind), "", false, "")
	if ok || err != nil {
		return ok, err
	}
	if c.checked == nil || c.checked.Outcome == verify.Failed || c.checked.Outcome == verify.TimedOut {
		// Nothing read, or an AWS error: what was read may be partial (a
		// load balancer not read lists no rule at all).
		return false, nil
	}
	rules := 0
	for _, g := range c.checked.TargetGroups {
		if g.Service != t.stableName || g.Route != "" {
			continue
		}
		for _, r := range g.Rules {
			if r.Weight != 0 {
				return false, nil
			}
			rules++
		}
	}
	return rules > 0, nil
}

// readyPods counts ready, non-terminating pods.
func readyPods(pods []corev1.Pod) int32 {
	var n int32
	for i := range pods {
		if podReady(&pods[i]) && pods[i].DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// subsetOf reports whether pinning svc to hash only narrows what it selects:
// every pod of hash is already selected, so the target group keeps them.
func (c *rolloutContext) subsetOf(svc *corev1.Service, hash string) bool {
	if svc == nil || hash == "" {
		return false
	}
	selected := c.obs.podsSelectedBy(svc)
	pods := c.obs.podsOf(hash)
	if len(pods) == 0 {
		return false
	}
	for _, p := range pods {
		if !slices.ContainsFunc(selected, func(q corev1.Pod) bool { return q.Name == p.Name }) {
			return false
		}
	}
	return true
}

// verifyCurrent verifies the traffic state as it is. With healthySvc set, that
// service's new selection (hash) must also be healthy in its group: before a
// selector narrows under traffic.
func (c *rolloutContext) verifyCurrent(ctx context.Context, t *trafficState, kind v1alpha1.VerificationKind, healthySvc string, require bool, hash string) (bool, error) {
	if !c.verifying() || c.replicas() == 0 {
		// Scaled to zero (or asked to be), nothing is to be served: the
		// pods still up are on their way out.
		return true, nil
	}
	spec := c.canarySpec(t, t.canaryW, t.stableW, t.routes)
	// Back to stable, no rule outside the action may send traffic to a
	// group at weight 0 before its Service moves or its pods go.
	spec.outsideCheck = c.mode == modeAbort
	if require && healthySvc != "" {
		spec.requireHealthy(healthySvc, c.obs.podsOf(hash))
		kind = v1alpha1.VerificationTargetHealth
	}
	out, err := c.runVerification(ctx, kind, spec)
	return out == outcomeVerified, err
}

// moveWeight writes the canary weight w (the stable service gets the rest),
// once the group that gains traffic is ready: its ReplicaSet fully available,
// and, when verifying, its pods registered and healthy in its target group.
func (c *rolloutContext) moveWeight(ctx context.Context, t *trafficState, w int32, goal trafficGoal) error {
	w = min(max(w, 0), c.maxWeight())
	// The group that gains traffic, and the ReplicaSet whose pods serve it.
	raisingName, hash := t.stableName, t.stableSel
	if hash == "" {
		hash = goal.stableHash
	}
	if (t.written && w > t.canaryW) || (!t.written && w == c.maxWeight()) {
		// (Over an action the controller did not write, all to the canary
		// group raises the canary group.)
		raisingName, hash = t.canaryName, t.canarySel
		if hash == "" {
			hash = goal.canaryHash
		}
	}
	if c.scaledToZero() {
		// Scaled to zero: no group has a pod to wait for or to check; the
		// steps go on as in Argo Rollouts (the write is verified, weights
		// only).
		return c.writeWeights(ctx, t, w, goal)
	}
	rs := replicaset.FindByHash(c.obs.rss, hash)
	if step, ok := c.dynamicStep(t, w, rs, raisingName); ok {
		// dynamicStableScale going back: the stable group takes the share
		// its ready pods can serve now, as in Argo Rollouts, not all of it
		// once every pod is up.
		w = step
	} else if rs == nil || !replicaset.Settled(rs) || replicaset.Replicas(rs) == 0 || replicaset.Available(rs) < replicaset.Replicas(rs) ||
		readyPods(c.obs.podsOf(hash)) < replicaset.Replicas(rs) {
		name := c.ro.Name + "-" + hash
		if rs != nil {
			name = fmt.Sprintf("%s (%d/%d available)", rs.Name, replicaset.Available(rs), replicaset.Replicas(rs))
		}
		c.wait(0, "waiting for ReplicaSet %s to be available before sending it more traffic", name)
		return nil
	}
	// Health before weight: the pods that will serve the raised group are
	// healthy in it (the ALB health-checks a group at weight 0 too), read
	// now. Only that is checked (beforeRaise): the weights in place were
	// verified when written, the group that loses traffic needs nothing, and
	// the write that follows is verified in full. When nothing valid is
	// written yet no traffic flows through the action, and the first write
	// is verified like any other.
	//
	// Moving traffic back to the stable service (an abort, a rollback) goes
	// ahead once the stable pods were seen healthy in the groups the rules
	// reference, even when the check is not Verified otherwise: the written
	// weights may be ones the load balancer controller never applied (a rule
	// that lacks the stable group). The canary that loses the traffic, maybe
	// the broken version the move runs from, is not judged at all.
	if c.verifying() && (t.written || t.disagree || len(t.foreign) > 0) {
		// Ingresses that disagree, or an action the controller did not
		// write, carry traffic too: moving it (back to stable) is checked
		// like any raise. (A health-only check judges no weight.)
		cw, sw := t.canaryW, t.stableW
		if !t.written {
			cw, sw = 0, c.maxWeight()
		}
		spec := c.canarySpec(t, cw, sw, t.routes)
		spec.beforeRaise(raisingName, nil)
		c.readAgainIfOld(spec)
		out, err := c.runVerification(ctx, v1alpha1.VerificationTargetHealth, spec)
		toStable := raisingName == t.stableName && w < t.canaryW
		if out != outcomeVerified && (!toStable || !c.checkedHealthy(spec, t.stableName)) {
			return err
		}
	}
	return c.writeWeights(ctx, t, w, goal)
}

// dynamicStep is, for a dynamicStableScale rollout moving weight back to a
// stable ReplicaSet that is still scaling up, the canary weight the ready
// stable pods allow now: the stable group takes the share of its ready
// pods (of spec.replicas), never less than w. ok is false when no step is
// possible or none is needed (the ReplicaSet is fully available: the move
// is whole).
func (c *rolloutContext) dynamicStep(t *trafficState, w int32, rs *appsv1.ReplicaSet, raising string) (int32, bool) {
	cs := c.ro.Spec.Strategy.Canary
	if !cs.DynamicStableScale || rs == nil || raising != t.stableName || !t.written || w >= t.canaryW || c.replicas() <= 0 {
		return 0, false
	}
	ready := readyPods(c.obs.podsOf(replicaset.HashOf(rs)))
	if ready >= replicaset.Replicas(rs) && replicaset.Available(rs) >= replicaset.Replicas(rs) && replicaset.Settled(rs) {
		return 0, false
	}
	share := int32(int64(ready) * int64(c.maxWeight()) / int64(c.replicas()))
	step := max(w, c.maxWeight()-share)
	if ready == 0 || step >= t.canaryW {
		return 0, false
	}
	return step, true
}

// correctWeights rewrites an action the controller did not write (see
// trafficState.foreign) to the weights status records as last verified
// (all traffic to stable when there are none, or when the canary's pods are
// not all available), reporting the correction. The rewrite is verified in
// full like any other write.
func (c *rolloutContext) correctWeights(ctx context.Context, t *trafficState, goal trafficGoal) error {
	w := int32(0)
	if sw := c.status.Canary.Weights; sw != nil && sw.Canary.ServiceName == t.canaryName && sw.Stable.ServiceName == t.stableName &&
		sw.Canary.PodTemplateHash == t.canarySel && (sw.Verified == nil || *sw.Verified) {
		w = sw.Canary.Weight
	}
	if t.stableSel != "" && t.stableSel != c.status.StableRS && c.status.StableRS != "" {
		// The stable Service is on other pods than the stable ones (a
		// promotion moved it, an abort has not moved it back yet): all to
		// the canary group, from where the stable Service can go back
		// (the new version may fail the stable group's health check).
		w = c.maxWeight()
	}
	if rs := replicaset.FindByHash(c.obs.rss, t.canarySel); w > 0 && (rs == nil || replicaset.Replicas(rs) == 0 || replicaset.Available(rs) < replicaset.Replicas(rs)) {
		w = 0
	}
	// What the goal asks counts only for the pods the goal names: with the
	// canary Service still on other pods (a new template came), the goal's
	// weight is for pods it does not select yet.
	goalW := goal.weight
	if t.canarySel != goal.canaryHash {
		goalW = 0
	}
	if cur, ok := c.foreignCanaryShare(t); ok && w > max(goalW, cur) {
		// The correction gives the canary no more than it has now or the
		// goal asks: after an undo or an abort (goal 0), or a new
		// template, a hand edit that left the canary nothing is not undone
		// by raising it back to the weight last verified, onto pods the
		// rollout is leaving (which the write guard refuses while they are
		// unhealthy, for ever).
		w = max(goalW, cur)
	}
	before := c.status.Canary.Weights
	if err := c.moveWeight(ctx, t, w, goal); err != nil || c.status.Canary.Weights == before {
		return err
	}
	c.warning(v1alpha1.ReasonTrafficWeightCorrected, "The rollout owns the action %s: %s; rewritten to canary %s %d, stable %s %d",
		t.actionName, joinMsgs(t.foreign), t.canaryName, w, t.stableName, c.maxWeight()-w)
	return nil
}

// foreignCanaryShare is the most any Ingress's action gives the canary
// Service now, out of maxWeight (rounded up); ok is false when an action
// cannot be read as weights.
func (c *rolloutContext) foreignCanaryShare(t *trafficState) (int32, bool) {
	key := albannotation.ActionKey(c.albSpec().AnnotationPrefix, t.actionName)
	var most int32
	for _, ing := range t.ingresses {
		w, ok := actionWeights(ing.Annotations[key])
		if !ok {
			return 0, false
		}
		most = max(most, sharesOf(w, c.maxWeight(), true)[t.canaryName])
	}
	return most, true
}

// describeForward says what an action annotation forwards, for events.
func describeForward(value string) string {
	a, err := albannotation.ParseAction(value)
	if err != nil {
		return "an action that is not valid JSON"
	}
	w, ok := a.Weights()
	if !ok {
		return "an action that is not a forward"
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(w)) {
		parts = append(parts, fmt.Sprintf("%s %d", name, w[name]))
	}
	return strings.Join(parts, ", ")
}

// readAgainIfOld restarts the check of spec, a health check before a raise,
// when it was verified in an earlier pass: that pass's write did not
// happen (a crash, a conflict), and health before a raise is read in the
// pass that writes.
func (c *rolloutContext) readAgainIfOld(spec *verifySpec) {
	v := c.status.Verification
	if v != nil && v.Phase == v1alpha1.VerificationVerified && v.Fingerprint == spec.fingerprint() &&
		(v.LastCheckedAt == nil || v.LastCheckedAt.Time.Before(c.now)) {
		c.startVerification(v1alpha1.VerificationTargetHealth, spec)
	}
}

// writeWeights writes the action annotation with canary weight w on every
// Ingress and starts its verification.
func (c *rolloutContext) writeWeights(ctx context.Context, t *trafficState, w int32, goal trafficGoal) error {
	alb := c.albSpec()
	port := strconv.Itoa(int(c.canaryPort()))
	value, err := albannotation.Forward([]albannotation.Destination{
		{Service: t.canaryName, Port: port, Weight: w},
		{Service: t.stableName, Port: port, Weight: c.maxWeight() - w},
	}, alb.StickinessConfig)
	if err != nil {
		c.specError("cannot build the ALB action: %v", err)
		return nil
	}
	key := albannotation.ActionKey(alb.AnnotationPrefix, t.actionName)
	for _, ing := range t.ingresses {
		if err := c.patchIngress(ctx, ing, func(n *networkingv1.Ingress) error {
			n.Annotations[key] = value
			return c.manage(n, true, key)
		}); err != nil {
			return err
		}
	}
	from := t.canaryW
	if !t.written {
		from = -1
	}
	c.status.Canary.Weights = c.weightsStatus(t.canaryName, t.canarySel, w, t.stableName, t.stableSel, false)
	c.progressed = true
	if from < 0 {
		c.normal(v1alpha1.ReasonTrafficWeightUpdated, "Traffic weight set to %d (canary %s, stable %s)", w, t.canaryName, t.stableName)
	} else {
		c.normal(v1alpha1.ReasonTrafficWeightUpdated, "Traffic weight updated from %d to %d", from, w)
	}
	if c.verifying() {
		t2 := *t
		t2.written, t2.canaryW, t2.stableW = true, w, c.maxWeight()-w
		kind := goal.kind
		if kind == "" {
			kind = v1alpha1.VerificationCanaryWeight
		}
		c.startVerification(kind, c.canarySpec(&t2, w, c.maxWeight()-w, t.routes))
	}
	c.after(time.Second)
	return nil
}

// moveRoutes writes or removes the header routes to reach goal.routes. Adding
// a route sends matching requests to the canary group: its pods must be
// healthy in it first.
func (c *rolloutContext) moveRoutes(ctx context.Context, t *trafficState, goal trafficGoal) error {
	alb := c.albSpec()
	adding := false
	for name, cond := range goal.routes {
		if t.routes[name] != cond {
			adding = true
		}
	}
	if adding && c.verifying() {
		spec := c.canarySpec(t, t.canaryW, t.stableW, t.routes)
		spec.beforeRaise(t.canaryName, nil)
		c.readAgainIfOld(spec)
		if out, err := c.runVerification(ctx, v1alpha1.VerificationTargetHealth, spec); out != outcomeVerified {
			return err
		}
	}
	port := strconv.Itoa(int(c.canaryPort()))
	action, err := albannotation.Forward([]albannotation.Destination{{Service: t.canaryName, Port: port, Weight: c.maxWeight()}}, alb.StickinessConfig)
	if err != nil {
		c.specError("cannot build the header route action: %v", err)
		return nil
	}
	// Routes no longer in managedRoutes (dropped from the spec while
	// written) are in order too: not in the goal, they are removed.
	order := c.routeNames()
	for _, ing := range t.ingresses {
		err := c.patchIngress(ctx, ing, func(n *networkingv1.Ingress) error {
			for _, name := range order {
				ak, ck := albannotation.ActionKey(alb.AnnotationPrefix, name), albannotation.ConditionsKey(alb.AnnotationPrefix, name)
				if cond, want := goal.routes[name]; want {
					n.Annotations[ak], n.Annotations[ck] = action, cond
					albannotation.EnsureRoutePath(n, name, order)
					if err := c.manage(n, true, ak, ck); err != nil {
						return err
					}
				} else {
					delete(n.Annotations, ak)
					delete(n.Annotations, ck)
					albannotation.RemoveRoutePath(n, name)
					if err := c.manage(n, false, ak, ck); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	c.progressed = true
	c.normal(v1alpha1.ReasonHeaderRouteUpdated, "Header routes set to %v", slices.Sorted(maps.Keys(goal.routes)))
	if c.verifying() {
		c.startVerification(v1alpha1.VerificationHeaderRoute, c.canarySpec(t, t.canaryW, t.stableW, goal.routes))
	}
	c.after(time.Second)
	return nil
}

// manage updates the managed-alb-annotations bookkeeping of an Ingress.
func (c *rolloutContext) manage(ing *networkingv1.Ingress, add bool, keys ...string) error {
	m, err := albannotation.ParseManaged(ing.Annotations[albannotation.ManagedAnnotationsKey])
	if err != nil {
		// A broken bookkeeping annotation is rewritten; it holds no traffic.
		m = albannotation.Managed{}
	}
	if add {
		m.Add(c.ro.Name, keys...)
	} else {
		m.Remove(c.ro.Name, keys...)
	}
	ing.Annotations[albannotation.ManagedAnnotationsKey] = m.String()
	return nil
}

// patchIngress applies a change to an Ingress as a merge patch guarded by its
// resourceVersion, so a concurrent writer is never overwritten.
func (c *rolloutContext) patchIngress(ctx context.Context, ing *networkingv1.Ingress, mutate func(*networkingv1.Ingress) error) error {
	n := ing.DeepCopy()
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	if err := mutate(n); err != nil {
		return err
	}
	if u := c.vetIngress(ing, n); u != nil {
		return c.refuse(u)
	}
	// Write-ahead: what the Ingress carries now and what this write adds
	// go into status.trafficBound, and that is stored before the Ingress
	// changes. A status write lost after the Ingress write (a crash, a
	// conflict with a user's abort) must not make the controller forget a
	// write the load balancer controller may still apply.
	c.growBound(ing)
	c.growBound(n)
	c.noteRemovedRoutes(ing, n)
	c.notePending(n)
	if err := c.persistBound(ctx); err != nil {
		return err
	}
	if err := c.r.client.Patch(ctx, n, client.MergeFromWithOptions(ing, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("updating ingress %s/%s: %w", ing.Namespace, ing.Name, err)
	}
	*ing = *n
	return nil
}

// persistBound stores status.trafficBound as this pass has it, alone and
// guarded by the rollout's resourceVersion, when it differs from what the
// API server holds: a write the load balancer may apply is recorded before
// it is made. A conflict (a user's abort or promote landing meanwhile)
// stops the pass before the write; the next one starts from what the user
// wrote.
func (c *rolloutContext) persistBound(ctx context.Context) error {
	if !c.verifying() || equality.Semantic.DeepEqual(c.ro.Status.TrafficBound, c.status.TrafficBound) {
		return nil
	}
	n := c.ro.DeepCopy()
	n.Status.TrafficBound = c.status.TrafficBound.DeepCopy()
	if err := c.r.client.Status().Patch(ctx, n, client.MergeFromWithOptions(c.ro, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("recording the traffic bound of rollout %s/%s before an ingress write: %w", c.ro.Namespace, c.ro.Name, err)
	}
	c.r.own.wrote(n.UID, n.ResourceVersion)
	// The spec is the one the pass read (the write was guarded by its
	// resourceVersion), with what the pass resolved in memory
	// (spec.workloadRef's template), which the server's copy lacks.
	n.Spec = *c.ro.Spec.DeepCopy()
	c.ro = n
	return nil
}

// switchService points a Service's selector at a ReplicaSet's pods.
func (c *rolloutContext) switchService(ctx context.Context, svc *corev1.Service, hash, role string) error {
	n := svc.DeepCopy()
	if n.Spec.Selector == nil {
		n.Spec.Selector = map[string]string{}
	}
	from := n.Spec.Selector[replicaset.HashLabel]
	n.Spec.Selector[replicaset.HashLabel] = hash
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	n.Annotations[ManagedByAnnotation] = c.ro.Name
	delete(n.Annotations, WideningAnnotation)
	if u := c.vetSelector(svc, n.Spec.Selector, fmt.Sprintf("point %s service %s at pods %s", role, svc.Name, hash)); u != nil {
		return c.refuse(u)
	}
	if err := c.r.client.Patch(ctx, n, client.MergeFromWithOptions(svc, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("pointing %s service %s/%s at pods %s: %w", role, svc.Namespace, svc.Name, hash, err)
	}
	*svc = *n
	c.progressed = true
	if from == "" {
		from = "all pods"
	}
	c.normal(v1alpha1.ReasonSwitchService, "Switched selector of %s service %s from %s to %s", role, svc.Name, from, hash)
	c.after(100 * time.Millisecond)
	return nil
}

// flipPingPong swaps the stable and canary roles of the ping and pong services.
func (c *rolloutContext) flipPingPong() {
	if c.status.Canary.StablePingPong == "ping" {
		c.status.Canary.StablePingPong = "pong"
	} else {
		c.status.Canary.StablePingPong = "ping"
	}
	c.progressed = true
	c.normal(v1alpha1.ReasonPingPongSwitched, "Stable service is now the %s service", c.status.Canary.StablePingPong)
	c.after(100 * time.Millisecond)
}

// weightsStatus builds status.canary.weights.
func (c *rolloutContext) weightsStatus(canarySvc, canaryHash string, w int32, stableSvc, stableHash string, verified bool) *v1alpha1.TrafficWeights {
	tw := &v1alpha1.TrafficWeights{
		Canary: v1alpha1.WeightDestination{Weight: w, ServiceName: canarySvc, PodTemplateHash: canaryHash},
		Stable: v1alpha1.WeightDestination{Weight: c.maxWeight() - w, ServiceName: stableSvc, PodTemplateHash: stableHash},
	}
	if c.verifying() {
		tw.Verified = &verified
	}
	return tw
}

// canarySpec is the verification of a canary traffic state: the canary and
// stable services at their weights, their targets (the ready pods each
// selects), and the header routes.
func (c *rolloutContext) canarySpec(t *trafficState, cw, sw int32, routes map[string]string) *verifySpec {
	spec := &verifySpec{
		ingresses:   t.ingresses,
		actionName:  t.actionName,
		servicePort: c.canaryPort(),
	}
	spec.add(verify.RoleCanary, t.canarySvc, t.canarySel, cw, c.obs.podsSelectedBy(t.canarySvc))
	spec.add(verify.RoleStable, t.stableSvc, t.stableSel, sw, c.obs.podsSelectedBy(t.stableSvc))
	for _, name := range slices.Sorted(maps.Keys(routes)) {
		spec.routes = append(spec.routes, routeSpec{name: name, conditions: routes[name], service: t.canarySvc, hash: t.canarySel, pods: c.obs.podsSelectedBy(t.canarySvc)})
	}
	// A managed route must have no rule left with any headers the steps give
	// it other than those in force: a route not in force none at all, a
	// route whose match changed between steps none with its old headers.
	// (The engine finds a route's rules by their headers; checking only one
	// set of headers let a rule with another one pass for someone else's.)
	for _, mr := range c.ro.Spec.Strategy.Canary.TrafficRouting.ManagedRoutes {
		on, inForce := routes[mr.Name]
		k := 0
		for _, cond := range c.routeConditions(mr.Name) {
			if inForce && cond == on {
				continue
			}
			name := mr.Name
			if k++; k > 1 || inForce {
				name = fmt.Sprintf("%s (earlier match %d)", mr.Name, k)
			}
			spec.routes = append(spec.routes, routeSpec{name: name, conditions: cond, removed: true})
		}
	}
	// Routes removed since the last verified state, with the conditions
	// they had (their step may be gone from the spec): none of their rules
	// may remain.
	if b := c.status.TrafficBound; b != nil && c.verifying() {
		for _, name := range slices.Sorted(maps.Keys(b.RemovedRoutes)) {
			cond := b.RemovedRoutes[name]
			if on, inForce := routes[name]; inForce && on == cond {
				continue
			}
			if slices.ContainsFunc(spec.routes, func(r routeSpec) bool { return r.removed && r.conditions == cond }) {
				continue
			}
			spec.routes = append(spec.routes, routeSpec{name: name + " (removed)", conditions: cond, removed: true})
		}
	}
	return spec
}

// routeNames are the header routes the rollout writes: its managedRoutes,
// then routes its Ingresses still carry under the rollout's bookkeeping
// (managed-alb-annotations) that managedRoutes no longer names. Those
// still forward to the canary group, so they count as traffic until they
// are removed (and the removal verified).
func (c *rolloutContext) routeNames() []string {
	cs := c.ro.Spec.Strategy.Canary
	if cs == nil || cs.TrafficRouting == nil || cs.TrafficRouting.ALB == nil {
		return nil
	}
	var out []string
	for _, mr := range cs.TrafficRouting.ManagedRoutes {
		out = append(out, mr.Name)
	}
	alb := cs.TrafficRouting.ALB
	prefix := albannotation.ActionKey(alb.AnnotationPrefix, "")
	var stale []string
	for _, name := range c.ingressNames(alb.IngressNames()) {
		ing := c.obs.ingresses[name]
		if ing == nil {
			continue
		}
		m, err := albannotation.ParseManaged(ing.Annotations[albannotation.ManagedAnnotationsKey])
		if err != nil {
			continue
		}
		for _, k := range m[c.ro.Name] {
			route, ok := strings.CutPrefix(k, prefix)
			if !ok || route == cs.ActionService() || slices.Contains(out, route) || slices.Contains(stale, route) {
				continue
			}
			if _, has := ing.Annotations[k]; has {
				stale = append(stale, route)
			}
		}
	}
	slices.Sort(stale)
	return append(out, stale...)
}

// routeConditions are the distinct conditions annotations the
// setHeaderRoute steps give route, in step order (none when no step
// matches anything for it).
func (c *rolloutContext) routeConditions(route string) []string {
	var out []string
	for _, st := range c.ro.Spec.Strategy.Canary.Steps {
		if h := st.SetHeaderRoute; h != nil && h.Name == route && len(h.Match) > 0 {
			if v, err := albannotation.HeaderConditions(h.Match); err == nil && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// stableStrayedUnderTraffic: not a promotion, yet the stable Service was
// pointed at other pods (by hand) while its group has traffic, during an
// update or an abort.
func (c *rolloutContext) stableStrayedUnderTraffic(t *trafficState, goal trafficGoal) bool {
	return (c.mode == modeProgress || c.mode == modeAbort) && goal.stableHash == c.status.StableRS &&
		t.stableSel != "" && t.stableSel != goal.stableHash && t.stableW != 0
}

// widenStrayedStable takes a stable Service that strayed under traffic back
// to the stable pods: widened first (the pods it selects stay while the
// stable ones join), then narrowed to the stable pods once they are healthy
// in its group (narrowStable). Moving all traffic off it first would wait on
// a canary the current step may give no pods, or, going back, on pods that
// fail the stable group's health check.
func (c *rolloutContext) widenStrayedStable(ctx context.Context, t *trafficState, goal trafficGoal) error {
	if !c.fullyAvailable(goal.stableHash, "widening service "+t.stableSvc.Name+" to it") ||
		c.waitForOtherVersions(t.stableSvc, "stable", t.stableSel, goal.stableHash, c.newHash) {
		return nil
	}
	// The weights as written are verified first: until they are, the
	// canary keeps its pods (scaleCanaryALB), and widened, the stable
	// Service would select them too. When it was pointed at the canary's
	// pods, it selects them already: widening only adds the stable pods,
	// and the check would wait on the very pods that fail there.
	if t.stableSel != c.newHash {
		if ok, err := c.verifyCurrent(ctx, t, interim(goal.kind), "", false, ""); !ok || err != nil {
			return err
		}
	}
	if c.strayedStable(t) && len(c.obs.podsOf(c.newHash)) > 0 && c.newHash != c.status.StableRS {
		c.wait(time.Second, "waiting for the canary's pods to go before widening stable service %s back to the stable pods: it was pointed at ReplicaSet %s-%s by hand, and widened it would select them too", t.stableSvc.Name, c.ro.Name, t.stableSel)
		return nil
	}
	return c.widenService(ctx, t.stableSvc, goal.stableHash, "stable")
}

// canaryIdleGoingBack reports whether, going back (an abort, a rollback),
// the check of this pass found the canary group's weight 0 applied on every
// rule although the state is not verified otherwise: the group that has the
// traffic fails its health check (the broken new version, where a
// promotion had moved the stable Service). The canary Service then moves
// back to the stable pods, taking nothing from anyone; waiting for the
// whole state to verify would keep all traffic on the broken version for
// ever.
func (c *rolloutContext) canaryIdleGoingBack(t *trafficState, narrowing bool) bool {
	if c.mode == modeProgress || t.canaryW != 0 || narrowing || len(t.routes) > 0 {
		return false
	}
	spec := c.canarySpec(t, t.canaryW, t.stableW, t.routes)
	spec.outsideCheck = c.mode == modeAbort
	return c.checkedWeightsApplied(spec)
}
