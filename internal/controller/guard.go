package controller

// The write guard: one check between the state machines' decisions and the
// writes that change who serves traffic.
//
// The state machines (driveTraffic, driveBlueGreenALB, driveBlueGreenSelector,
// the scale functions, restartPods) decide what to change, one step at a
// time, in an order meant to be safe. The guard does not trust that order.
// Every write that can change who serves traffic goes through it — a
// Service's selector (switchService, widenService), an Ingress's action and
// header-route annotations (patchIngress), a ReplicaSet's replicas (scale),
// a pod eviction (restartPods) — and it checks the write against the safety
// invariants on what this pass observed (the Rollout, its ReplicaSets and
// pods, Services, Ingresses, and the verification records in its status),
// never against what the state machine meant. A write that would break an
// invariant is not made: the guard emits a Warning event UnsafeWriteRefused
// (what write, which invariant, which Service or ReplicaSet, what the
// controller waits for), puts the same in the status message, and looks
// again in guardRetry. A refused selector or Ingress write ends the pass (it
// is the last step of a drive function); a refused scale or eviction only
// skips that write, so that the verification that will allow it still runs.
// A wrong decision is thus at worst a wait, never a target group that serves
// with no healthy target.
//
// # Who may receive traffic
//
// The guard's one notion is exposure (see exposure): the most traffic the
// load balancer may send to each Service's target group now.
//
//   - Weights of the rollout's action, on every Ingress it names (several
//     Ingresses, several ALBs: the highest). A weight written but not yet
//     verified may or may not be applied by the load balancer controller, so
//     the one before it counts too: status.trafficBound keeps, per Service,
//     the highest weight of the last verified action and of every action
//     written since (grown on every action write, reset to the verified
//     weights when a check verifies them; see growBound and boundVerified).
//     While the rollout verifies and no bound is recorded (an upgrade), every
//     Service of the action may have all the traffic.
//   - Header routes: a route action that forwards to a Service, on any
//     Ingress, written, or removed but not yet verified absent (the bound's
//     routeServices).
//   - Paths that name a Service directly (a plain backend on an ALB Ingress):
//     all of that path's traffic, whatever the weights; and blue-green
//     selector mode's active Service, production by definition. The preview
//     Service of a blue-green rollout serves no production traffic outside
//     the action and is exempt there.
//
// Without verification (verifyTargetGroup false) nothing is known of what the
// load balancer applies: the written state is used alone.
//
// # The invariants
//
//   - Selector (vetSelector): a Service that may receive traffic never
//     selects pods of a retired version (a ReplicaSet neither stable nor
//     current); it may narrow (every pod it will select is already selected,
//     one of them ready); otherwise it moves only when its traffic is that of
//     a plain path (no weight can take it away: blue-green selector mode's
//     switch), and only to pods that are all ready in fully available
//     ReplicaSets. A Service another rollout manages is never written. A
//     Service with no traffic is free.
//   - Action (vetIngress): the action names exactly the rollout's Services
//     with weights summing to its total; a Service whose weight rises above
//     what it may already get (exposure before the write), or that a header
//     route starts forwarding to, must have a ready pod and, when the rollout
//     verifies, a check that found its current targets healthy in its
//     target group (the health-before-weight record of status.verification,
//     matched by the digest of its targets in the fingerprint). The first
//     write, when no valid action exists anywhere, carries no traffic yet.
//   - Scale-down (vetScale): a ReplicaSet selected by a Service that may
//     receive traffic keeps, with the other ReplicaSets that Service selects,
//     what that traffic needs: one pod, and for a weighted Service its share
//     of the highest weight it may get (ceilShare, as the state machine sizes
//     it; setCanaryScale in force asks for one). A lower weight written but
//     not yet verified does not count.
//   - Eviction (vetEviction): never the last ready pod of a Service that may
//     receive traffic.
//
// What the guard leaves to the state machines: liveness (it only refuses),
// the freshness of a health check (it accepts the record that matches the
// current targets), and everything verified after a write (a write it lets
// through is verified like any other).

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// guardRetry is when a pass looks again after a refused write.
const guardRetry = 2 * time.Second

// v1alpha1.ReasonUnsafeWriteRefused is the reason of the event of a refused write.

// errUnsafeWrite matches every refusal of the guard (errors.Is).
var errUnsafeWrite = errors.New("unsafe write refused")

// unsafeWrite is a refusal: what write, which invariant it would break, on
// which object, and what the controller waits for.
type unsafeWrite struct {
	write, invariant, object, waitFor string
}

func (u *unsafeWrite) Error() string {
	return fmt.Sprintf("refused to %s: %s (%s); waiting for %s", u.write, u.invariant, u.object, u.waitFor)
}

func (u *unsafeWrite) Is(target error) bool { return target == errUnsafeWrite }

// refuse reports a refused write (event, status message, requeue) and
// returns it as an error.
func (c *rolloutContext) refuse(u *unsafeWrite) error {
	c.warning(v1alpha1.ReasonUnsafeWriteRefused, "Refused to %s: %s (%s); the controller waits for %s", u.write, u.invariant, u.object, u.waitFor)
	c.wait(guardRetry, "%s", u.Error())
	return u
}

// actionRef is where a rollout's traffic split is written: the action
// annotation on its Ingresses, the Services it must name and their total,
// the managed header routes.
type actionRef struct {
	ingresses      []string
	prefix, action string
	services       []string
	total          int32
	routes         []string
	port           int32
}

// actionRef returns the rollout's action, nil when it has none (blue-green
// selector mode, a canary without traffic routing).
func (c *rolloutContext) actionRef() *actionRef {
	if cs := c.ro.Spec.Strategy.Canary; cs != nil && cs.TrafficRouting != nil && cs.TrafficRouting.ALB != nil {
		alb := cs.TrafficRouting.ALB
		canary, stable := c.canaryServiceNames()
		a := &actionRef{ingresses: c.ingressNames(alb.IngressNames()), prefix: alb.AnnotationPrefix, action: cs.ActionService(),
			services: []string{canary, stable}, total: cs.MaxWeight(), port: c.canaryPort()}
		a.routes = c.routeNames()
		return a
	}
	if bg := c.ro.Spec.Strategy.BlueGreen; bg != nil && len(bg.ALB.IngressNames()) > 0 {
		action := bg.ALB.RootService
		if action == "" {
			action = bg.ActiveService
		}
		return &actionRef{ingresses: c.ingressNames(bg.ALB.IngressNames()), prefix: bg.ALB.AnnotationPrefix, action: action,
			services: []string{bg.ActiveService, bg.PreviewService}, total: 100, port: bg.ALB.ServicePort}
	}
	return nil
}

// actionWeights reads the per-Service weights of a forward action value.
func actionWeights(value string) (map[string]int32, bool) {
	if value == "" {
		return nil, false
	}
	a, err := albannotation.ParseAction(value)
	if err != nil {
		return nil, false
	}
	w, ok := a.Weights()
	if !ok {
		return nil, false
	}
	out := map[string]int32{}
	for s, x := range w {
		out[s] = int32(x)
	}
	return out, true
}

// exposure is the most traffic the load balancer may send each Service's
// target group (see the package comment of guard.go).
type exposure struct {
	a *actionRef // nil: no action
	// weight is, per Service, the highest weight of the action it may get.
	weight map[string]int32
	// base is the most a Service may get: the written weights and the bound
	// (weight, without the all-traffic assumption made when no bound is
	// known).
	base map[string]int32
	// low is the least a Service may get now: the lowest weight any of the
	// rollout's Ingresses with a valid action carries for it (a hand edit
	// or a forward to another service counts as 0). A write above it raises the Service's traffic on some load
	// balancer, even when an earlier action gave it more (a hand edit, a
	// disagreement): its targets must be seen healthy first.
	low map[string]int32
	// routed: Services a header route may forward to.
	routed map[string]bool
	// plain: Services an Ingress path names directly (all its traffic).
	plain map[string]bool
	// first: no valid action is written anywhere and none was recorded:
	// no traffic flows through the action yet.
	first bool
}

// serves reports whether a Service may receive traffic.
func (e *exposure) serves(svc string) bool {
	return e.weight[svc] > 0 || e.routed[svc] || e.plain[svc]
}

// weighted reports whether a Service gets traffic through the action (a
// weight or a header route), which only a verified weight of 0 takes away.
func (e *exposure) weighted(svc string) bool { return e.weight[svc] > 0 || e.routed[svc] }

// describe says how a Service may receive traffic, for messages.
func (e *exposure) describe(svc string) string {
	var parts []string
	if w := e.weight[svc]; w > 0 {
		parts = append(parts, fmt.Sprintf("weight up to %d of %d (written, or not yet verified otherwise)", w, e.a.total))
	}
	if e.routed[svc] {
		parts = append(parts, "a header route forwards to it")
	}
	if e.plain[svc] {
		parts = append(parts, "an Ingress path routes to it directly")
	}
	return strings.Join(parts, ", ")
}

// exposure computes who may receive traffic, from the Ingresses as observed
// (and as written in this pass) and status.trafficBound.
func (c *rolloutContext) exposure() *exposure {
	e := &exposure{a: c.actionRef(), weight: map[string]int32{}, base: map[string]int32{}, routed: map[string]bool{}, plain: map[string]bool{}}
	bg := c.ro.Spec.Strategy.BlueGreen
	for name := range c.obs.plainBackends {
		if bg != nil && name == bg.PreviewService && !c.forwardedTo(name) {
			continue // preview traffic is not production, unless an action sends it some
		}
		e.plain[name] = true
	}
	if bg != nil && e.a == nil {
		e.plain[bg.ActiveService] = true
	}
	a := e.a
	if a == nil {
		return e
	}
	written := false
	e.low = map[string]int32{}
	lowSet := false
	for _, name := range a.ingresses {
		ing := c.obs.ingresses[name]
		if ing == nil {
			continue
		}
		w, ok := actionWeights(ing.Annotations[albannotation.ActionKey(a.prefix, a.action)])
		if ok {
			// An Ingress without a valid action sends nothing through it.
			// Weights count as shares of what the action itself adds up to
			// (out of a.total): an action written under another
			// maxTrafficWeight keeps the share it gives.
			low := sharesOf(w, a.total, false)
			for _, s := range a.services {
				if !lowSet {
					e.low[s] = low[s]
				} else {
					e.low[s] = min(e.low[s], low[s])
				}
			}
			lowSet = true
		}
		if ok {
			written = true
			for s, x := range sharesOf(w, a.total, true) {
				e.base[s] = max(e.base[s], x)
			}
		}
		for _, r := range a.routes {
			if w, ok := actionWeights(ing.Annotations[albannotation.ActionKey(a.prefix, r)]); ok {
				for s, x := range w {
					if x > 0 {
						e.routed[s] = true
					}
				}
			}
		}
	}
	b := c.status.TrafficBound
	if c.verifying() && b != nil {
		for s, x := range b.Weights {
			e.base[s] = max(e.base[s], x)
		}
		for _, s := range b.RouteServices {
			e.routed[s] = true
		}
	}
	maps.Copy(e.weight, e.base)
	e.first = !written && (b == nil || !c.verifying())
	if c.verifying() && b == nil {
		// Nothing recorded of what the load balancer applies: any Service
		// of the action may have all of the traffic.
		for _, s := range slices.Concat(a.services, slices.Collect(maps.Keys(e.base))) {
			e.weight[s] = a.total
		}
	}
	return e
}

// sharesOf restates an action's weights out of total: each weight's share
// of what the action adds up to (rounded up, or down with up false). An
// action that adds up to total is returned as it is.
func sharesOf(w map[string]int32, total int32, up bool) map[string]int32 {
	var sum int64
	for _, x := range w {
		sum += int64(x)
	}
	if sum == 0 || sum == int64(total) {
		return w
	}
	out := make(map[string]int32, len(w))
	for s, x := range w {
		n := int64(x) * int64(total)
		if up {
			out[s] = int32((n + sum - 1) / sum)
		} else {
			out[s] = int32(n / sum)
		}
	}
	return out
}

// growBound adds what an Ingress carries to status.trafficBound: the load
// balancer may apply it until the action is verified.
func (c *rolloutContext) growBound(ing *networkingv1.Ingress) {
	a := c.actionRef()
	if a == nil || !c.verifying() {
		return
	}
	b := c.status.TrafficBound
	if b == nil {
		b = &v1alpha1.TrafficBound{}
		c.status.TrafficBound = b
	}
	if b.Weights == nil {
		b.Weights = map[string]int32{}
	}
	if w, ok := actionWeights(ing.Annotations[albannotation.ActionKey(a.prefix, a.action)]); ok {
		for s, x := range sharesOf(w, a.total, true) {
			b.Weights[s] = max(b.Weights[s], x)
		}
	}
	for _, r := range a.routes {
		if w, ok := actionWeights(ing.Annotations[albannotation.ActionKey(a.prefix, r)]); ok {
			for s, x := range w {
				if x > 0 && !slices.Contains(b.RouteServices, s) {
					b.RouteServices = append(b.RouteServices, s)
				}
			}
		}
	}
	slices.Sort(b.RouteServices)
}

// noteRemovedRoutes records in status.trafficBound the header routes a write
// from old to n removes, with the conditions they had: verification checks
// that none of their rules remains before the bound forgets them.
func (c *rolloutContext) noteRemovedRoutes(old, n *networkingv1.Ingress) {
	a := c.actionRef()
	b := c.status.TrafficBound
	if a == nil || b == nil || !c.verifying() {
		return
	}
	for _, r := range a.routes {
		ak, ck := albannotation.ActionKey(a.prefix, r), albannotation.ConditionsKey(a.prefix, r)
		cond, had := old.Annotations[ck]
		if _, has := n.Annotations[ak]; !had || has || cond == "" {
			continue
		}
		if b.RemovedRoutes == nil {
			b.RemovedRoutes = map[string]string{}
		}
		b.RemovedRoutes[r] = cond
	}
}

// supersededSettle is how long an action written over an unverified one
// keeps the older one in the bound after the newer one is seen applied. The
// load balancer controller may have read the older action and be applying
// it (A -> B -> A: the check of the second A can read the first A before B
// lands); a check whose reads are sent this long after that proves B will
// not land any more. The AWS Load Balancer Controller reconciles an Ingress
// in seconds.
const supersededSettle = 10 * time.Second

// notePending records the action and header routes just written on an
// Ingress as pending, and marks the bound Superseded when they replace
// another pending (unverified) write.
func (c *rolloutContext) notePending(ing *networkingv1.Ingress) {
	a := c.actionRef()
	b := c.status.TrafficBound
	if a == nil || b == nil || !c.verifying() {
		return
	}
	w, ok := actionWeights(ing.Annotations[albannotation.ActionKey(a.prefix, a.action)])
	if !ok {
		return
	}
	var routes []string
	for _, r := range a.routes {
		v, present := ing.Annotations[albannotation.ActionKey(a.prefix, r)]
		if !present {
			continue
		}
		routes = append(routes, r+"="+ing.Annotations[albannotation.ConditionsKey(a.prefix, r)]+" "+v)
	}
	slices.Sort(routes)
	if b.Pending != nil && (!maps.Equal(b.Pending, w) || !slices.Equal(b.PendingRoutes, routes)) {
		b.Superseded, b.SettleAt = true, nil
	}
	b.Pending, b.PendingRoutes = w, routes
}

// settling reports whether verification v of spec s (Verified by an older
// controller, or Pending, held by unsettled) must be made again before the
// bound drops a superseded action: the settle time has come and v's reads
// were sent before it.
func (c *rolloutContext) settling(v *v1alpha1.VerificationStatus, s *verifySpec) bool {
	b := c.status.TrafficBound
	if b == nil || !b.Superseded || b.SettleAt == nil || s.healthOnly || s.actionName == "" {
		return false
	}
	if c.now.Before(b.SettleAt.Time) {
		c.after(b.SettleAt.Sub(c.now))
		return false
	}
	return freshnessBound(v).Before(b.SettleAt.Time)
}

// unsettled reports whether a check of v that found the state of s applied
// cannot count yet: the action it verifies replaced an unverified one
// (Superseded), which the load balancer controller may still be applying
// (A -> B -> A), and v's reads were sent before the settle time
// (supersededSettle after the first such check). v stays Pending meanwhile,
// so status never says verified while an older write may still land; a
// check after the settle time (runVerification starts it) decides.
func (c *rolloutContext) unsettled(s *verifySpec, v *v1alpha1.VerificationStatus) bool {
	old := c.status.TrafficBound
	if s.healthOnly || s.actionName == "" || c.actionRef() == nil || old == nil || !old.Superseded {
		return false
	}
	if old.SettleAt == nil {
		at := metav1.NewMicroTime(c.r.opts.Now().Add(supersededSettle))
		old.SettleAt = &at
	}
	if freshnessBound(v).Before(old.SettleAt.Time) {
		c.after(max(old.SettleAt.Sub(c.now), 100*time.Millisecond))
		return true
	}
	return false
}

// boundVerified resets status.trafficBound to a state check v verified: the
// load balancer applies exactly its weights and routes (a health-only check
// verifies no weight). A superseded action is dropped only by a check that
// is not unsettled.
func (c *rolloutContext) boundVerified(s *verifySpec, v *v1alpha1.VerificationStatus) {
	if s.healthOnly || s.actionName == "" || c.actionRef() == nil {
		return
	}
	c.status.TrafficBound = verifiedBound(s)
}

// verifiedBound is the traffic bound a verified check of s leaves: its
// weights and the Services of its routes.
func verifiedBound(s *verifySpec) *v1alpha1.TrafficBound {
	b := &v1alpha1.TrafficBound{Weights: map[string]int32{}}
	for _, d := range s.dests {
		if d.svc != nil {
			b.Weights[d.svc.Name] = d.weight
		}
	}
	for _, r := range s.routes {
		if !r.removed && r.service != nil && !slices.Contains(b.RouteServices, r.service.Name) {
			b.RouteServices = append(b.RouteServices, r.service.Name)
		}
	}
	slices.Sort(b.RouteServices)
	return b
}

// boundIs reports whether status.trafficBound is what a verified check of
// s leaves (boundVerified), or s is not a check of the action's weights.
func (c *rolloutContext) boundIs(s *verifySpec) bool {
	b := c.status.TrafficBound
	if b == nil || s.healthOnly || s.actionName == "" || c.actionRef() == nil {
		return true
	}
	want := verifiedBound(s)
	return maps.Equal(b.Weights, want.Weights) && slices.Equal(b.RouteServices, want.RouteServices) &&
		len(b.Pending) == 0 && len(b.PendingRoutes) == 0 && len(b.RemovedRoutes) == 0 && !b.Superseded
}

// livePods are the pods that are not terminating.
func livePods(pods []corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// podsMatching returns the rollout's live pods a selector selects.
func (o *observed) podsMatching(sel map[string]string) []corev1.Pod {
	if len(sel) == 0 {
		return nil
	}
	s := labels.SelectorFromSet(sel)
	var out []corev1.Pod
	for _, p := range o.pods {
		if p.DeletionTimestamp == nil && s.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// markEvicted records in the observation that a pod is going away.
func (o *observed) markEvicted(name string, at time.Time) {
	for i := range o.pods {
		if o.pods[i].Name == name && o.pods[i].DeletionTimestamp == nil {
			t := metav1.NewTime(at)
			o.pods[i].DeletionTimestamp = &t
		}
	}
}

// vetSelector checks a write of svc's selector to sel.
func (c *rolloutContext) vetSelector(svc *corev1.Service, sel map[string]string, write string) *unsafeWrite {
	object := fmt.Sprintf("service %s/%s", svc.Namespace, svc.Name)
	// Another rollout's Service (observed by servicesManagedElsewhere: an
	// annotation naming a rollout that is gone or no longer names the
	// Service is stale, and the Service is taken over).
	if by := c.obs.managedElsewhere[svc.Name]; by != "" {
		return &unsafeWrite{write: write, object: object,
			invariant: fmt.Sprintf("the service is managed by rollout %s (annotation %s)", by, ManagedByAnnotation),
			waitFor:   "the rollouts to name different services"}
	}
	e := c.exposure()
	if !e.serves(svc.Name) {
		return nil
	}
	next := c.obs.podsMatching(sel)
	cur := livePods(c.obs.podsSelectedBy(svc))
	in := func(p corev1.Pod, list []corev1.Pod) bool {
		return slices.ContainsFunc(list, func(q corev1.Pod) bool { return q.Name == p.Name })
	}
	for _, p := range next {
		// A pod of a retired version may not join the service; one that the
		// service selects already (a hand edit pointed it there) may stay
		// while the service moves off it (widened, then narrowed).
		if h := p.Labels[replicaset.HashLabel]; h != c.status.StableRS && h != c.newHash && !in(p, cur) {
			return &unsafeWrite{write: write, object: object,
				invariant: fmt.Sprintf("the service may receive traffic (%s) and the new selector selects pod %s of retired ReplicaSet %s-%s (neither stable nor current)", e.describe(svc.Name), p.Name, c.ro.Name, h),
				waitFor:   fmt.Sprintf("ReplicaSet %s-%s to scale down", c.ro.Name, h)}
		}
	}
	var added []corev1.Pod
	for _, p := range next {
		if !in(p, cur) {
			added = append(added, p)
		}
	}
	// No ready pod in the new selection is refused unless the current one
	// has none either, or the rollout asks for none (spec.replicas 0): the
	// move makes nothing worse than what was asked.
	if readyPods(next) == 0 && readyPods(cur) > 0 && c.replicas() > 0 {
		return &unsafeWrite{write: write, object: object,
			invariant: fmt.Sprintf("the service may receive traffic (%s) and the new selector selects no ready pod", e.describe(svc.Name)),
			waitFor:   "a ready pod of the new selection"}
	}
	if len(added) == 0 {
		return nil // narrowing: every pod it will select is already selected
	}
	// A weighted group only narrows, except that the stable version's
	// ready pods may join one that keeps every pod it has (a stable
	// Service pointed elsewhere by hand, widened on its way back): they
	// pass the health check before the load balancer sends them anything,
	// and the group loses no target meanwhile.
	stableJoin := c.status.StableRS != "" && len(cur) > 0 && !slices.ContainsFunc(cur, func(p corev1.Pod) bool { return !in(p, next) }) &&
		!slices.ContainsFunc(added, func(p corev1.Pod) bool { return p.Labels[replicaset.HashLabel] != c.status.StableRS })
	if e.weighted(svc.Name) && !stableJoin {
		return &unsafeWrite{write: write, object: object,
			invariant: fmt.Sprintf("the service's target group may receive traffic (%s): its selector moves only to a subset of its pods until weight 0 (and no header route) is verified", e.describe(svc.Name)),
			waitFor:   "the traffic to leave the service's target group, verified"}
	}
	for _, p := range added {
		rs := replicaset.FindByHash(c.obs.rss, p.Labels[replicaset.HashLabel])
		if !podReady(&p) || rs == nil || !replicaset.Settled(rs) || replicaset.Replicas(rs) == 0 || replicaset.Available(rs) < replicaset.Replicas(rs) {
			name := p.Labels[replicaset.HashLabel]
			if rs != nil {
				name = fmt.Sprintf("%s (%d/%d available)", rs.Name, replicaset.Available(rs), replicaset.Replicas(rs))
			}
			return &unsafeWrite{write: write, object: object,
				invariant: fmt.Sprintf("the service receives traffic (%s) and the new selector adds pod %s, not ready or of a ReplicaSet not fully available: %s", e.describe(svc.Name), p.Name, name),
				waitFor:   "every pod of the new selection to be ready"}
		}
	}
	return nil
}

// vetIngress checks the write of an Ingress from old to n: the action and the
// header routes.
func (c *rolloutContext) vetIngress(old, n *networkingv1.Ingress) *unsafeWrite {
	a := c.actionRef()
	if a == nil {
		return nil
	}
	object := fmt.Sprintf("ingress %s/%s", n.Namespace, n.Name)
	e := c.exposure()
	key := albannotation.ActionKey(a.prefix, a.action)
	if nv := n.Annotations[key]; nv != old.Annotations[key] {
		write := "write the action " + key + " of " + object
		w, ok := actionWeights(nv)
		var sum int32
		for _, x := range w {
			sum += x
		}
		if !ok || len(w) != len(a.services) || sum != a.total || slices.ContainsFunc(a.services, func(s string) bool { _, in := w[s]; return !in }) {
			return &unsafeWrite{write: write, object: object,
				invariant: fmt.Sprintf("the action must forward to exactly services %s with weights summing to %d, not %q", strings.Join(a.services, " and "), a.total, nv),
				waitFor:   "a valid action (a controller bug: report it)"}
		}
		// A canary's raise counts from the least a Service may get now
		// (low); blue-green's switch still counts from the most (base): its
		// move back to the active group after an unverified flip relies on
		// it (an open limitation: that move is not health-checked first).
		from := e.base
		if c.ro.Spec.Strategy.Canary != nil {
			from = e.low
		}
		for _, s := range slices.Sorted(maps.Keys(w)) {
			if w[s] > from[s] {
				if u := c.vetRaise(e, s, write, fmt.Sprintf("weight %d (from %d on some load balancer)", w[s], from[s])); u != nil {
					return u
				}
			}
		}
	}
	for _, r := range a.routes {
		ak, ck := albannotation.ActionKey(a.prefix, r), albannotation.ConditionsKey(a.prefix, r)
		if n.Annotations[ak] == old.Annotations[ak] && n.Annotations[ck] == old.Annotations[ck] {
			continue
		}
		w, ok := actionWeights(n.Annotations[ak])
		if !ok {
			continue // removed: no traffic gained
		}
		write := "write header route " + r + " of " + object
		for _, s := range slices.Sorted(maps.Keys(w)) {
			if w[s] <= 0 {
				continue
			}
			if !slices.Contains(a.services, s) {
				return &unsafeWrite{write: write, object: object,
					invariant: fmt.Sprintf("a header route forwards only to the rollout's services %s, not %s", strings.Join(a.services, " and "), s),
					waitFor:   "a valid route (a controller bug: report it)"}
			}
			if u := c.vetRaise(e, s, write, "header route "+r); u != nil {
				return u
			}
		}
	}
	return nil
}

// vetRaise checks that service s may get more traffic: a ready pod and, when
// the rollout verifies, a check that found its current targets healthy in
// its group.
func (c *rolloutContext) vetRaise(e *exposure, s, write, what string) *unsafeWrite {
	svc := c.obs.services[s]
	object := fmt.Sprintf("service %s/%s", c.ro.Namespace, s)
	if svc == nil {
		return &unsafeWrite{write: write, object: object, invariant: "it would send traffic (" + what + ") to a service that does not exist", waitFor: "the service"}
	}
	if c.scaledToZero() {
		// No pod of the rollout is ready and none is asked for: every group
		// is empty, and moving weight between them makes nothing worse.
		return nil
	}
	if readyPods(c.obs.podsSelectedBy(svc)) == 0 {
		return &unsafeWrite{write: write, object: object,
			invariant: "it would raise the service's traffic (" + what + ") while it selects no ready pod",
			waitFor:   "a ready pod of the service"}
	}
	if e.first || !c.verifying() || c.healthSeen(svc, e.a.port) {
		return nil
	}
	return &unsafeWrite{write: write, object: object,
		invariant: "it would raise the service's traffic (" + what + ") before a check found its current targets healthy in its target group",
		waitFor:   "the service's targets to be verified healthy in its target group"}
}

// healthSeen reports whether status.verification holds a check of svc's
// current targets (the digest in the fingerprint) that found them healthy:
// verified, or checked in this pass with every target healthy (the check
// before moving traffic back to stable).
func (c *rolloutContext) healthSeen(svc *corev1.Service, port int32) bool {
	v := c.status.Verification
	if v == nil {
		return false
	}
	digest := "+healthy:" + targetsDigest(svc, port, c.obs.podsSelectedBy(svc))
	if !slices.ContainsFunc(strings.Split(v.Fingerprint, ";"), func(part string) bool {
		return strings.HasPrefix(part, svc.Name+"@") && strings.HasSuffix(part, digest)
	}) {
		return false
	}
	if v.Phase == v1alpha1.VerificationVerified {
		return true
	}
	if v.LastCheckedAt == nil || v.LastCheckedAt.Before(&metav1.Time{Time: c.now}) || v.Phase == v1alpha1.VerificationFailed {
		// An AWS error: what was read may be partial (a load balancer not
		// read lists no group at all), so it proves nothing.
		return false
	}
	return allTargetsHealthy(v, svc.Name)
}

// need is how many pods the traffic a Service may receive needs.
func (c *rolloutContext) need(e *exposure, svc string) int32 {
	replicas := c.replicas()
	if replicas <= 0 || !e.serves(svc) {
		return 0
	}
	n := int32(1)
	if w := e.weight[svc]; w > 0 {
		n = max(n, ceilShare(w, replicas, e.a.total))
		if cs := c.ro.Spec.Strategy.Canary; cs != nil && c.mode == modeProgress && c.status.CurrentStepIndex != nil {
			canary, _ := c.canaryServiceNames()
			if i := int(*c.status.CurrentStepIndex); svc == canary && i < len(cs.Steps) && scaleOverride(cs.Steps, i) != nil {
				n = 1 // setCanaryScale sizes the canary, not its weight
			}
		}
	}
	return n
}

// vetScale checks scaling rs to replicas.
func (c *rolloutContext) vetScale(rs *appsv1.ReplicaSet, replicas int32) *unsafeWrite {
	if replicas >= replicaset.Replicas(rs) {
		return nil
	}
	e := c.exposure()
	for _, name := range c.guardedServices() {
		svc := c.obs.services[name]
		if svc == nil || !selects(svc, rs) || !e.serves(name) {
			continue
		}
		need := c.need(e, name)
		have := replicas
		for _, other := range c.obs.rss {
			if other.Name != rs.Name && selects(svc, other) {
				have += replicaset.Available(other)
			}
		}
		if have < need {
			return &unsafeWrite{write: fmt.Sprintf("scale ReplicaSet %s from %d to %d", rs.Name, replicaset.Replicas(rs), replicas),
				object:    fmt.Sprintf("service %s/%s", svc.Namespace, name),
				invariant: fmt.Sprintf("the service selects its pods and may receive traffic (%s), which needs %d pods; %d would be left", e.describe(name), need, have),
				waitFor:   "the traffic of the service to be lower, verified"}
		}
	}
	return nil
}

// guardedServices are the Services whose pods the guard keeps while they
// may receive traffic: those the spec names, those only the recorded
// traffic still names (formerServices), released Services an ALB Ingress
// routes to (observed.kept), and the Services of others an ALB Ingress
// routes to that select the rollout's pods (observed.exposing).
func (c *rolloutContext) guardedServices() []string {
	return slices.Concat(rolloutServices(c.ro), formerServices(c.ro), c.obs.kept, c.obs.exposing)
}

// vetEviction checks evicting pod p.
func (c *rolloutContext) vetEviction(p *corev1.Pod) *unsafeWrite {
	if p.DeletionTimestamp != nil || !podReady(p) {
		return nil
	}
	e := c.exposure()
	for _, name := range c.guardedServices() {
		svc := c.obs.services[name]
		if svc == nil || !e.serves(name) || len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(p.Labels)) {
			continue
		}
		if readyPods(c.obs.podsSelectedBy(svc)) <= 1 {
			return &unsafeWrite{write: "evict pod " + p.Name, object: fmt.Sprintf("service %s/%s", svc.Namespace, name),
				invariant: fmt.Sprintf("it is the last ready pod of the service, which may receive traffic (%s)", e.describe(name)),
				waitFor:   "another ready pod of the service, or its traffic to leave it"}
		}
	}
	return nil
}
