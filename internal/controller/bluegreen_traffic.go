package controller

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// bgTraffic is what the traffic side of a blue-green rollout looks like from
// Kubernetes: what the Services select, and either the action annotation of
// the Ingresses (ALB mode) or the ALB Ingresses whose paths route to the
// Services directly (Service-selector mode).
type bgTraffic struct {
	// alb: the switch is made in the ALB (blueGreen.alb names an Ingress).
	alb                   bool
	activeSvc, previewSvc *corev1.Service
	// activeSel and previewSel are the hashes the Services select; pinned
	// is false while a selector has no hash label (it selects every pod of
	// the rollout).
	activeSel, previewSel       string
	activePinned, previewPinned bool

	// ALB mode: the Ingresses with the action, and the weights they carry.
	ingresses  []*networkingv1.Ingress
	actionName string
	// written is true when every Ingress carries a forward action to
	// exactly the active and preview services with the same weights.
	written           bool
	activeW, previewW int32

	// Service-selector mode: the ALB Ingresses whose paths name the active
	// (preview) Service itself, and the Service port they name.
	activeIngs, previewIngs []*networkingv1.Ingress
	activePort, previewPort backendPort
}

// backendPort is a Service port as an Ingress backend names it: the number,
// and the name when the backend names it so.
type backendPort struct {
	number int32
	name   string
}

// references reports whether a Service of the rollout selects the
// ReplicaSet's pods (so they may be registered in a target group).
func (t *bgTraffic) references(rs *appsv1.ReplicaSet) bool {
	return t != nil && (selects(t.activeSvc, rs) || selects(t.previewSvc, rs))
}

// observeBlueGreen reads the Services and Ingresses of a blue-green rollout;
// false when the spec names objects that do not exist (spec errors).
func (c *rolloutContext) observeBlueGreen(ctx context.Context) (*bgTraffic, bool) {
	bg := c.ro.Spec.Strategy.BlueGreen
	t := &bgTraffic{}
	ok := true
	if svc := c.obs.services[bg.ActiveService]; svc == nil {
		c.specError("service %s/%s does not exist: create it (the rollout points its selector at the active ReplicaSet's pods)", c.ro.Namespace, bg.ActiveService)
		ok = false
	} else {
		t.activeSvc = svc
		t.activeSel, t.activePinned = svc.Spec.Selector[replicaset.HashLabel]
	}
	if bg.PreviewService != "" {
		if svc := c.obs.services[bg.PreviewService]; svc == nil {
			c.specError("service %s/%s does not exist: create it (the rollout points its selector at the new ReplicaSet's pods before the switch)", c.ro.Namespace, bg.PreviewService)
			ok = false
		} else {
			t.previewSvc = svc
			t.previewSel, t.previewPinned = svc.Spec.Selector[replicaset.HashLabel]
		}
	}
	if names := c.ingressNames(bg.ALB.IngressNames()); len(names) > 0 {
		return t, c.observeBlueGreenALB(t, names) && ok
	}
	if !ok || !c.verifying() {
		return t, ok
	}
	var err error
	if t.activeIngs, t.activePort, err = c.plainIngresses(ctx, t.activeSvc); err != nil {
		c.specError("%v", err)
		return t, false
	}
	if t.previewSvc != nil {
		if t.previewIngs, t.previewPort, err = c.plainIngresses(ctx, t.previewSvc); err != nil {
			c.specError("%v", err)
			return t, false
		}
	}
	return t, true
}

// observeBlueGreenALB reads the action annotation of the ALB mode.
func (c *rolloutContext) observeBlueGreenALB(t *bgTraffic, names []string) bool {
	bg := c.ro.Spec.Strategy.BlueGreen
	alb := bg.ALB
	t.alb = true
	t.actionName = alb.RootService
	if t.actionName == "" {
		t.actionName = bg.ActiveService
	}
	ok := t.activeSvc != nil && t.previewSvc != nil
	for _, svc := range []*corev1.Service{t.activeSvc, t.previewSvc} {
		if svc != nil && !hasPort(svc, alb.ServicePort) {
			c.specError("service %s/%s has no port %d (blueGreen.alb.servicePort)", c.ro.Namespace, svc.Name, alb.ServicePort)
			ok = false
		}
	}
	act := c.observeAction(names, alb.AnnotationPrefix, t.actionName, bg.PreviewService, bg.ActiveService, "blueGreen.alb", "switch")
	t.ingresses, t.written, t.previewW, t.activeW = act.ingresses, act.written, act.first, act.second
	return ok && act.ok
}

// plainGroup is a set of ALB Ingresses that name a Service directly on the
// same Service port: one target group each.
type plainGroup struct {
	ings []*networkingv1.Ingress
	port backendPort
	// healthOnly: the group is one an action the rollout does not write
	// forwards to; only its targets' health is checked.
	healthOnly bool
}

// plainGroups is every ALB Ingress path that names svc directly, grouped
// by the Service port it names (each port has target groups of its own).
func (c *rolloutContext) plainGroups(ctx context.Context, svc *corev1.Service) ([]plainGroup, error) {
	var list networkingv1.IngressList
	if err := c.r.client.List(ctx, &list, client.InNamespace(c.ro.Namespace)); err != nil {
		return nil, fmt.Errorf("listing the ingresses of namespace %s to find the ALB in front of service %s: %w", c.ro.Namespace, svc.Name, err)
	}
	var out []plainGroup
	for i := range list.Items {
		ing := &list.Items[i]
		if gone(ing) || !isALBIngress(ing, c.obs.albClasses) {
			continue
		}
		for _, b := range ingressBackends(ing) {
			if b.Name != svc.Name || b.Port.Name == albannotation.UseAnnotation {
				continue
			}
			p, ok := resolveBackendPort(svc, b.Port)
			if !ok {
				return nil, fmt.Errorf("ingress %s/%s routes to service %s on port %s, which the service does not have", ing.Namespace, ing.Name, svc.Name, describeBackendPort(b.Port))
			}
			i := slices.IndexFunc(out, func(g plainGroup) bool { return g.port == p })
			if i < 0 {
				out = append(out, plainGroup{port: p})
				i = len(out) - 1
			}
			if !slices.Contains(out[i].ings, ing) {
				out[i].ings = append(out[i].ings, ing)
			}
		}
	}
	// Actions the rollout does not write that forward to svc (observed
	// forwards): their groups are checked for health only, the action's
	// weights being someone else's.
	for _, f := range c.obs.forwards {
		if f.service != svc.Name {
			continue
		}
		p, ok := resolveBackendPort(svc, actionPort(f.port))
		if !ok {
			return nil, fmt.Errorf("an action of ingress %s/%s forwards to service %s on port %s, which the service does not have", f.ing.Namespace, f.ing.Name, svc.Name, f.port)
		}
		out = append(out, plainGroup{ings: []*networkingv1.Ingress{f.ing}, port: p, healthOnly: true})
	}
	return out, nil
}

// verifyPlainGroups checks, one group after the other, that pods (what svc
// selects as hash) are registered and healthy in every group of groups: the
// last check is recorded as kind, the others as TargetHealth. A group an
// action the rollout does not write forwards to, or every group with
// healthOnly, is judged on its targets' health only. It reports whether all
// were verified in this pass.
func (c *rolloutContext) verifyPlainGroups(ctx context.Context, groups []plainGroup, role verify.Role, svc *corev1.Service, hash string, pods []corev1.Pod, kind v1alpha1.VerificationKind, healthOnly bool) (bool, error) {
	for i, g := range groups {
		k := v1alpha1.VerificationTargetHealth
		if i == len(groups)-1 {
			k = kind
		}
		spec := plainSpec(g.ings, g.port, role, svc, hash, pods, true)
		spec.healthOnly = healthOnly || g.healthOnly
		if out, err := c.runVerification(ctx, k, spec); out != outcomeVerified || err != nil {
			return false, err
		}
	}
	return true, nil
}

// actionPort reads an action's servicePort ("80" or "http").
func actionPort(p albannotation.Port) networkingv1.ServiceBackendPort {
	if n, err := strconv.Atoi(string(p)); err == nil {
		return networkingv1.ServiceBackendPort{Number: int32(n)}
	}
	return networkingv1.ServiceBackendPort{Name: string(p)}
}

// plainIngresses finds the ALB Ingresses of the namespace that send svc
// traffic outside the rollout's own action: a path (or default backend)
// whose backend is svc itself (Argo Rollouts' blue-green manifests), or an
// action the rollout does not write. When they name svc by different ports,
// those naming the first port found are verified (movePlain checks every
// port's groups).
func (c *rolloutContext) plainIngresses(ctx context.Context, svc *corev1.Service) ([]*networkingv1.Ingress, backendPort, error) {
	groups, err := c.plainGroups(ctx, svc)
	if err != nil || len(groups) == 0 {
		return nil, backendPort{}, err
	}
	// The first Service port's group: a path names the active Service
	// directly in Argo's manifests, or an action (one the rollout no longer
	// writes) forwards to it.
	return groups[0].ings, groups[0].port, nil
}

// isALBIngress reports whether an ALB serves an Ingress: its class is one
// an ALB controller implements (albClasses, from the cluster's
// IngressClasses; "alb" always), it has no class and the default class is
// such a one, or it carries the legacy class annotation or the load
// balancer controller's annotations.
func isALBIngress(ing *networkingv1.Ingress, albClasses map[string]bool) bool {
	if ing.Spec.IngressClassName != nil && (*ing.Spec.IngressClassName == "alb" || albClasses[*ing.Spec.IngressClassName]) {
		return true
	}
	if ing.Spec.IngressClassName == nil && ing.Annotations["kubernetes.io/ingress.class"] == "" && albClasses[defaultClassKey] {
		return true // the cluster's default IngressClass is the ALB's
	}
	if ing.Annotations["kubernetes.io/ingress.class"] == "alb" {
		return true
	}
	for k := range ing.Annotations {
		if strings.HasPrefix(k, albannotation.DefaultPrefix+"/") {
			return true
		}
	}
	return false
}

// albControllerName is the IngressClass controller of the AWS Load
// Balancer Controller (and of EKS Auto Mode's, eks.amazonaws.com/alb).
var albControllerNames = []string{"ingress.k8s.aws/alb", "eks.amazonaws.com/alb"}

// defaultClassKey marks, in the ALB classes, that the cluster's default
// IngressClass is an ALB one.
const defaultClassKey = ""

// albIngressClasses reads the cluster's IngressClasses: the names of those
// the ALB controller implements, and defaultClassKey when the default one
// is among them. A cluster where they cannot be read counts only "alb".
func albIngressClasses(list []networkingv1.IngressClass) map[string]bool {
	out := map[string]bool{}
	for _, ic := range list {
		if !slices.Contains(albControllerNames, ic.Spec.Controller) {
			continue
		}
		out[ic.Name] = true
		if ic.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" {
			out[defaultClassKey] = true
		}
	}
	return out
}

// ingressBackends lists the Service backends of an Ingress.
func ingressBackends(ing *networkingv1.Ingress) []networkingv1.IngressServiceBackend {
	var out []networkingv1.IngressServiceBackend
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
		out = append(out, *b.Service)
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if p.Backend.Service != nil {
				out = append(out, *p.Backend.Service)
			}
		}
	}
	return out
}

func resolveBackendPort(svc *corev1.Service, p networkingv1.ServiceBackendPort) (backendPort, bool) {
	for _, sp := range svc.Spec.Ports {
		if (p.Name != "" && sp.Name == p.Name) || (p.Name == "" && sp.Port == p.Number) {
			return backendPort{number: sp.Port, name: p.Name}, true
		}
	}
	return backendPort{}, false
}

func describeBackendPort(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(int(p.Number))
}

// servedPods are the pods that serve a Service pinned to hash (all the pods
// it selects when it is not pinned).
func (c *rolloutContext) servedPods(svc *corev1.Service, hash string) []corev1.Pod {
	if hash == "" {
		return c.obs.podsSelectedBy(svc)
	}
	return c.obs.podsOf(hash)
}

// fullyAvailable reports whether the ReplicaSet of hash has all its pods
// available and seen ready, so its targets can be verified; it records what
// the rollout waits for when not.
func (c *rolloutContext) fullyAvailable(hash, purpose string) bool {
	if c.scaledToZero() {
		return true // no pod is asked for
	}
	rs := replicaset.FindByHash(c.obs.rss, hash)
	if rs == nil || !replicaset.Settled(rs) || replicaset.Replicas(rs) == 0 || replicaset.Available(rs) < replicaset.Replicas(rs) ||
		readyPods(c.obs.podsOf(hash)) < replicaset.Replicas(rs) {
		name := c.ro.Name + "-" + hash
		if rs != nil {
			name = fmt.Sprintf("%s (%d/%d available)", rs.Name, replicaset.Available(rs), replicaset.Replicas(rs))
		}
		c.wait(time.Second, "waiting for ReplicaSet %s to be available before %s", name, purpose)
		return false
	}
	return true
}

// runFresh runs a verification whose Verified outcome allows a switch in
// this very pass: a record verified in an earlier pass (before a pause, say,
// after which the pods may have turned unhealthy, or the IAM permission been
// revoked) is checked again first, with a new start.
func (c *rolloutContext) runFresh(ctx context.Context, kind v1alpha1.VerificationKind, s *verifySpec) (outcome, error) {
	if !c.verifying() {
		return outcomeVerified, nil
	}
	if v := c.status.Verification; v != nil && v.Phase == v1alpha1.VerificationVerified && v.Fingerprint == s.fingerprint() &&
		v.FinishedAt != nil && v.FinishedAt.Before(&metav1.Time{Time: c.now}) {
		c.startVerification(kind, s)
	}
	return c.runVerification(ctx, kind, s)
}

// ----- Service-selector mode -----

// forwardedTo reports whether an action the rollout does not write forwards
// production traffic to the Service (observed.forwards).
func (c *rolloutContext) forwardedTo(service string) bool {
	return slices.ContainsFunc(c.obs.forwards, func(f foreignForward) bool { return f.service == service })
}

// plainSpec verifies a Service that Ingress paths name directly: all of the
// rule's traffic goes to its target group, and the pods (the Service's own,
// or with requireHealthy the given ones among possibly more) are healthy in it.
func plainSpec(ings []*networkingv1.Ingress, port backendPort, role verify.Role, svc *corev1.Service, hash string, pods []corev1.Pod, requireHealthy bool) *verifySpec {
	spec := &verifySpec{ingresses: ings, servicePort: port.number, portName: port.name}
	spec.add(role, svc, hash, 100, pods)
	spec.dests[0].requireHealthy = requireHealthy
	return spec
}

// driveBlueGreenSelector moves a Service-selector blue-green one safe step
// toward goal and reports whether it is there, verified.
//
// The preview Service gets no production traffic and follows its goal at
// once, as in Argo Rollouts. The active Service moves from one ReplicaSet to
// another in the least-downtime way a selector allows: its selector is
// widened (the hash label removed, so it selects every pod of the rollout):
// the old pods stay registered and healthy in the active target group while
// the new ones are registered and pass the ALB health check (the ALB sends
// nothing to a target still in its initial state); once every pod of the goal
// is healthy there, verified, the selector is narrowed to them and the old
// pods drain. While widened, both versions serve, and no third one: the
// selector is widened only once no pod of another version is left (see
// waitForOtherVersions), and a widening that a new template made stale is
// undone before the new ReplicaSet gets pods (staleWidening). Without
// verification (or without an ALB in front of the active Service) the
// selector moves at once, as Argo Rollouts moves it.
func (c *rolloutContext) driveBlueGreenSelector(ctx context.Context, t *bgTraffic, goal bgGoal) (bool, error) {
	if t.previewSvc != nil && (!t.previewPinned || t.previewSel != goal.preview) && replicaset.FindByHash(c.obs.rss, goal.preview) != nil {
		if c.verifying() && c.forwardedTo(t.previewSvc.Name) && !c.scaledToZero() {
			// An action the rollout does not write (a canary's, left from
			// before a switch of strategy) sends the preview Service
			// production traffic: it moves widen, verify, narrow.
			sel := t.previewSvc.Spec.Selector[replicaset.HashLabel]
			ok := func() (bool, error) { return true, nil }
			return false, c.movePlain(ctx, plainMove{svc: t.previewSvc, role: "preview", sel: sel, goal: goal.preview,
				narrowing: sel == "" && c.subsetOf(t.previewSvc, goal.preview), current: ok, gaining: ok})
		}
		return false, c.switchService(ctx, t.previewSvc, goal.preview, "preview")
	}
	if !c.verifying() || len(t.activeIngs) == 0 {
		return c.switchUnverified(ctx, t, goal)
	}
	pinnedToGoal := t.activePinned && t.activeSel == goal.active
	if c.mode == modeProgress && goal.active != c.newHash && pinnedToGoal {
		// Before the switch: the preview is what there is to verify.
		if ok, verified, err := c.previewGate(ctx, t, false); ok {
			return verified, err
		}
	}
	if pinnedToGoal {
		spec := plainSpec(t.activeIngs, t.activePort, verify.RoleActive, t.activeSvc, goal.active, c.obs.podsSelectedBy(t.activeSvc), false)
		if c.forwardedTo(t.activeSvc.Name) {
			spec.onHealth() // an action the rollout does not write: its weights are its writer's
		}
		out, err := c.runVerification(ctx, goal.kind, spec)
		return out == outcomeVerified, err
	}
	if !c.fullyAvailable(goal.active, "pointing service "+t.activeSvc.Name+" at it") {
		return false, nil
	}
	if t.activePinned {
		if c.mode == modeProgress && goal.active == c.newHash {
			// The switch starts only with every new pod healthy in the
			// preview target group, checked now, when an ALB routes to the
			// preview. Widening needs no other check: it only adds targets,
			// and the ALB sends nothing to a target before it passes the
			// health check; the narrowing is what is verified.
			if ok, verified, err := c.previewGate(ctx, t, true); ok && !verified {
				return false, err
			}
		}
		if c.waitForOtherVersions(t.activeSvc, "active", t.activeSel, goal.active, c.status.StableRS) {
			return false, nil
		}
		return false, c.widenService(ctx, t.activeSvc, goal.active, "active")
	}
	// Widened: narrow once every pod of the goal is healthy in every group
	// of the active Service (each Service port a path names, each action
	// the rollout does not write; the last one checked is the goal's kind).
	groups, err := c.plainGroups(ctx, t.activeSvc)
	if err != nil {
		return false, err
	}
	// Widened, the Service still selects the pods it moves off: an abort is
	// recorded verified only once narrowed (interim).
	if ok, err := c.verifyPlainGroups(ctx, groups, verify.RoleActive, t.activeSvc, goal.active, c.obs.podsOf(goal.active), interim(goal.kind), false); !ok || err != nil {
		return false, err
	}
	return false, c.switchService(ctx, t.activeSvc, goal.active, "active")
}

// otherVersionPods lists the ReplicaSets, other than those of hashes, that
// still have live pods: a widened selector would select those pods too.
func (c *rolloutContext) otherVersionPods(hashes ...string) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range c.obs.rss {
		if slices.Contains(hashes, replicaset.HashOf(rs)) {
			continue
		}
		for _, p := range c.obs.podsOf(replicaset.HashOf(rs)) {
			if p.DeletionTimestamp == nil {
				out = append(out, rs)
				break
			}
		}
	}
	return out
}

// waitForOtherVersions reports whether the active Service must wait before
// it is widened from one ReplicaSet to another: a widened selector selects
// every pod of the rollout, so the pods of any other version (one kept for
// scaleDownDelaySeconds, an aborted one kept for
// abortScaleDownDelaySeconds) would join the active group and serve. They
// scale down when their delay is over; the switch waits for that.
func (c *rolloutContext) waitForOtherVersions(svc *corev1.Service, role string, keep ...string) bool {
	others := c.otherVersionPods(keep...)
	if len(others) == 0 {
		return false
	}
	rs := others[0]
	when := "once nothing depends on it"
	if d, ok := replicaset.ScaleDownDeadline(rs); ok {
		when = "at " + d.UTC().Format(time.RFC3339)
	}
	c.wait(time.Second, "waiting for ReplicaSet %s to scale down (%s) before widening the selector of %s service %s: a widened selector would select its pods too", rs.Name, when, role, svc.Name)
	return true
}

// staleWidening reports whether the active Service is widened over pods of
// a version that is neither stable nor new (the template changed during the
// switch): it must be narrowed back to stable before anything else, and the
// new ReplicaSet must not grow meanwhile (its pods would join the group).
func (c *rolloutContext) staleWidening(t *bgTraffic) bool {
	if t == nil || t.activeSvc == nil || t.activePinned || c.status.StableRS == "" {
		return false
	}
	for _, p := range c.obs.podsSelectedBy(t.activeSvc) {
		if h := p.Labels[replicaset.HashLabel]; h != c.status.StableRS && h != c.newHash && p.DeletionTimestamp == nil {
			return true
		}
	}
	return false
}

// previewGate verifies, when an ALB routes to the preview Service, that every
// pod of the new ReplicaSet is registered and healthy in the preview target
// group. ok is false when there is nothing to verify (no ALB in front of the
// preview, or the preview not yet on the new pods, or none of them ready).
func (c *rolloutContext) previewGate(ctx context.Context, t *bgTraffic, fresh bool) (ok, verified bool, err error) {
	if t.previewSvc == nil || len(t.previewIngs) == 0 || !t.previewPinned || t.previewSel != c.newHash ||
		replicaset.Replicas(c.newRS) == 0 || !replicaset.Settled(c.newRS) || replicaset.Available(c.newRS) < replicaset.Replicas(c.newRS) {
		return false, false, nil
	}
	spec := plainSpec(t.previewIngs, t.previewPort, verify.RolePreview, t.previewSvc, c.newHash, c.obs.podsSelectedBy(t.previewSvc), false)
	if c.forwardedTo(t.previewSvc.Name) {
		spec.onHealth() // an action the rollout does not write: its weights are its writer's
	}
	run := c.runVerification
	if fresh {
		run = c.runFresh
	}
	out, err := run(ctx, v1alpha1.VerificationTargetHealth, spec)
	return true, out == outcomeVerified, err
}

// switchUnverified points the active Service at the goal as Argo Rollouts
// does: at once, once its ReplicaSet is fully available.
func (c *rolloutContext) switchUnverified(ctx context.Context, t *bgTraffic, goal bgGoal) (bool, error) {
	if c.verifying() {
		c.setCondition(v1alpha1.ConditionTrafficVerified, corev1.ConditionFalse, v1alpha1.ReasonNoALBIngress,
			fmt.Sprintf("no ALB Ingress routes to service %s (none of class alb names it as a backend), so the switch cannot be verified: it is made as Argo Rollouts makes it; name the Ingress in blueGreen.alb for a switch made in the ALB", t.activeSvc.Name))
	}
	if t.activePinned && t.activeSel == goal.active {
		return true, nil
	}
	rs := replicaset.FindByHash(c.obs.rss, goal.active)
	if rs == nil || replicaset.Replicas(rs) == 0 || replicaset.Available(rs) < replicaset.Replicas(rs) {
		c.wait(time.Second, "waiting for ReplicaSet %s-%s to be available before pointing service %s at it", c.ro.Name, goal.active, t.activeSvc.Name)
		return false, nil
	}
	return false, c.switchService(ctx, t.activeSvc, goal.active, "active")
}

// v1alpha1.ReasonNoALBIngress: verification is on, but no ALB routes to the active Service.

// widenService removes the hash label from a Service's selector, so that it
// selects every pod of the rollout while the pods of hash join its target
// group.
func (c *rolloutContext) widenService(ctx context.Context, svc *corev1.Service, hash, role string) error {
	n := svc.DeepCopy()
	from := n.Spec.Selector[replicaset.HashLabel]
	delete(n.Spec.Selector, replicaset.HashLabel)
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	n.Annotations[ManagedByAnnotation] = c.ro.Name
	n.Annotations[WideningAnnotation] = hash
	if u := c.vetSelector(svc, n.Spec.Selector, "widen the selector of "+role+" service "+svc.Name+" to every pod of the rollout"); u != nil {
		return c.refuse(u)
	}
	if err := c.r.client.Patch(ctx, n, client.MergeFromWithOptions(svc, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("widening the selector of %s service %s/%s: %w", role, svc.Namespace, svc.Name, err)
	}
	*svc = *n
	c.progressed = true
	c.normal(v1alpha1.ReasonSwitchService, "Widened selector of %s service %s from %s to every pod of the rollout, until the pods of %s are healthy in its target group", role, svc.Name, from, hash)
	c.after(100 * time.Millisecond)
	return nil
}

// ----- ALB mode -----

// bgSpec is the verification of an ALB-mode traffic state: the preview and
// active services at their weights, with the pods each selects.
func (c *rolloutContext) bgSpec(t *bgTraffic, previewW, activeW int32) *verifySpec {
	spec := &verifySpec{ingresses: t.ingresses, actionName: t.actionName, servicePort: c.ro.Spec.Strategy.BlueGreen.ALB.ServicePort}
	spec.add(verify.RolePreview, t.previewSvc, t.previewSel, previewW, c.obs.podsSelectedBy(t.previewSvc))
	spec.add(verify.RoleActive, t.activeSvc, t.activeSel, activeW, c.obs.podsSelectedBy(t.activeSvc))
	return spec
}

// verifyBlueGreenCurrent verifies the ALB-mode traffic state as it is.
func (c *rolloutContext) verifyBlueGreenCurrent(ctx context.Context, t *bgTraffic, kind v1alpha1.VerificationKind) (bool, error) {
	if !c.verifying() {
		return true, nil
	}
	out, err := c.runVerification(ctx, kind, c.bgSpec(t, t.previewW, t.activeW))
	return out == outcomeVerified, err
}

// driveBlueGreenALB moves an ALB-mode blue-green one safe step toward goal and
// reports whether it is there, verified. A Service's selector moves only while
// its target group gets no traffic (verified on every listener); traffic moves
// to a group only once the pods that will serve it are healthy in it; the
// weights move all at once (100/0 to 0/100), so clients never see both
// versions. The switch: preview on the new pods, healthy → flip to the preview
// group → active Service on the new pods, healthy in the active group →
// weight back to the active group. An abort takes the same path back.
func (c *rolloutContext) driveBlueGreenALB(ctx context.Context, t *bgTraffic, goal bgGoal) (bool, error) {
	if !t.written {
		// No valid action yet (first deploy), or the Ingresses disagree:
		// all traffic to the active group first.
		return false, c.moveBlueGreenWeight(ctx, t, 0, goal)
	}
	if !t.activePinned || t.activeSel != goal.active {
		narrowing := !t.activePinned && c.subsetOf(t.activeSvc, goal.active)
		if t.activeW > 0 && !narrowing {
			// Traffic leaves the active group for the preview group, which
			// must serve the goal's pods.
			if !t.previewPinned || t.previewSel != goal.active {
				if t.previewW > 0 {
					// Both groups carry traffic and the preview is on other
					// pods (a hand-edited action): all to the active group.
					return false, c.moveBlueGreenWeight(ctx, t, 0, goal)
				}
				return false, c.movePreview(ctx, t, goal.active, interim(goal.kind))
			}
			return false, c.moveBlueGreenWeight(ctx, t, 100, goal)
		}
		if !c.canSwitchTo(goal.active, t.activeSvc, t.activeW > 0) {
			return false, nil
		}
		// The active group's weight 0 is seen applied (weights written but
		// not verified count as traffic) before its selector moves. During
		// the switch the whole state is verified. Back to stable (abort,
		// rollback) the group that carries the traffic may serve the broken
		// version (the reason for the abort) and never verify; its health
		// is not this move's concern, the active group's weight is: a check
		// that found the weights applied everywhere and only targets
		// unhealthy is enough.
		if c.verifying() {
			spec := c.bgSpec(t, t.previewW, t.activeW)
			// A check on the way to the goal: an abort is recorded
			// verified only in its end state (interim).
			kind := interim(goal.kind)
			if narrowing && t.activeW > 0 {
				spec.requireHealthy(t.activeSvc.Name, c.obs.podsOf(goal.active))
				kind = v1alpha1.VerificationTargetHealth
			}
			out, err := c.runVerification(ctx, kind, spec)
			back := c.mode != modeProgress && !narrowing
			if out != outcomeVerified && (!back || !c.checkedWeightsApplied(spec)) {
				return false, err
			}
		}
		if c.verifying() && c.obs.plainBackends[t.activeSvc.Name] && !c.scaledToZero() {
			// Another Ingress's path sends all of its traffic to the
			// active group whatever the action's weights: the Service is
			// widened, then narrowed once the goal's pods are healthy in
			// that path's group (the action's weights are checked above).
			sel := t.activeSel
			if !t.activePinned {
				sel = ""
			}
			ok := func() (bool, error) { return true, nil }
			return false, c.movePlain(ctx, plainMove{svc: t.activeSvc, role: "active", sel: sel, goal: goal.active, narrowing: narrowing, current: ok, gaining: ok})
		}
		return false, c.switchService(ctx, t.activeSvc, goal.active, "active")
	}
	if t.activeW != 100 {
		return false, c.moveBlueGreenWeight(ctx, t, 0, goal)
	}
	if !t.previewPinned || t.previewSel != goal.preview {
		return false, c.movePreview(ctx, t, goal.preview, interim(goal.kind))
	}
	spec := c.bgSpec(t, t.previewW, t.activeW)
	kind := goal.kind
	if c.mode == modeProgress && goal.active != c.newHash && t.previewSel == c.newHash && replicaset.Replicas(c.newRS) > 0 &&
		replicaset.Settled(c.newRS) && replicaset.Available(c.newRS) >= replicaset.Replicas(c.newRS) {
		// Before the switch: every new pod registered and healthy in the
		// preview target group (the ALB health-checks it at weight 0 too).
		spec.requireHealthy(t.previewSvc.Name, nil)
		kind = v1alpha1.VerificationTargetHealth
	}
	if !c.verifying() {
		return true, nil
	}
	out, err := c.runVerification(ctx, kind, spec)
	return out == outcomeVerified, err
}

// canSwitchTo checks that the ReplicaSet a Service is about to select exists,
// with available pods when traffic depends on the Service.
func (c *rolloutContext) canSwitchTo(hash string, svc *corev1.Service, underTraffic bool) bool {
	rs := replicaset.FindByHash(c.obs.rss, hash)
	if rs == nil {
		c.wait(time.Second, "waiting for ReplicaSet %s-%s before pointing service %s at it", c.ro.Name, hash, svc.Name)
		return false
	}
	if underTraffic && replicaset.Available(rs) < 1 {
		c.wait(0, "waiting for an available pod of %s before pointing service %s at it", rs.Name, svc.Name)
		return false
	}
	return true
}

// movePreview points the preview Service at hash, once no listener sends
// traffic to the preview group (verified).
func (c *rolloutContext) movePreview(ctx context.Context, t *bgTraffic, hash string, kind v1alpha1.VerificationKind) error {
	if t.previewW != 0 {
		return fmt.Errorf("internal error: moving preview service %s while it has weight %d", t.previewSvc.Name, t.previewW)
	}
	if !c.canSwitchTo(hash, t.previewSvc, false) {
		return nil
	}
	ok, err := c.verifyBlueGreenCurrent(ctx, t, kind)
	if err != nil {
		return err
	}
	// Going back (an abort, a rollback), the preview group at weight 0 moves
	// once the check found that weight applied on every rule, even when the
	// active group that has the traffic (the broken new version maybe)
	// fails its health check: the move takes nothing from anyone, and
	// waiting for the whole state to verify would keep all traffic on the
	// broken version for ever.
	if !ok && (c.mode == modeProgress || !c.checkedWeightsApplied(c.bgSpec(t, t.previewW, t.activeW))) {
		return nil
	}
	return c.switchService(ctx, t.previewSvc, hash, "preview")
}

// moveBlueGreenWeight writes previewW to the preview group and the rest to
// the active group, once the group that gains traffic is ready: its
// ReplicaSet fully available and, when verifying, its pods registered and
// healthy in its target group, checked within bgFreshness.
func (c *rolloutContext) moveBlueGreenWeight(ctx context.Context, t *bgTraffic, previewW int32, goal bgGoal) error {
	gaining, hash := t.activeSvc, t.activeSel
	if !t.activePinned {
		hash = goal.active
	}
	if t.written && previewW > t.previewW {
		gaining, hash = t.previewSvc, t.previewSel
	}
	if !c.fullyAvailable(hash, "sending traffic to service "+gaining.Name) {
		return nil
	}
	undo := c.undoingFlip(t, gaining)
	if ok, err := c.foreignActionRaiseChecked(ctx, t, gaining, hash); !ok {
		return err
	}
	if c.verifying() && t.written {
		spec := c.bgSpec(t, t.previewW, t.activeW)
		spec.beforeRaise(gaining.Name, c.servedPods(gaining, hash))
		out, err := c.runFresh(ctx, v1alpha1.VerificationTargetHealth, spec)
		// Back to stable (abort, rollback, undoing a flip that timed out),
		// the move waits only for the gaining group's targets to be seen
		// healthy, even when the check is not Verified otherwise (written
		// weights the load balancer controller never applied); the group
		// that loses the traffic, the broken new version maybe, is not
		// judged at all. The active group's pods may have been replaced
		// while it had no weight: they are checked, never assumed.
		back := (c.mode != modeProgress || undo) && gaining == t.activeSvc
		if out != outcomeVerified && (!back || !c.checkedHealthy(spec, gaining.Name)) {
			return err
		}
	}
	return c.writeBlueGreenWeights(ctx, t, previewW, goal)
}

// checkedHealthy reports whether the check of spec made in this pass found
// every expected target of service registered and healthy in each of its
// target groups (whatever it found elsewhere).
func (c *rolloutContext) checkedHealthy(s *verifySpec, service string) bool {
	v := c.status.Verification
	if v == nil || v.Fingerprint != s.fingerprint() || v.LastCheckedAt == nil || v.LastCheckedAt.Before(&metav1.Time{Time: c.now}) {
		return false
	}
	if v.Phase == v1alpha1.VerificationFailed {
		// An AWS error: what was read may be partial (a load balancer not
		// read lists no group at all), so it proves nothing.
		return false
	}
	return allTargetsHealthy(v, service)
}

// allTargetsHealthy reports whether check v observed service in at least
// one target group and, in every one, all its expected targets registered
// and healthy.
func allTargetsHealthy(v *v1alpha1.VerificationStatus, service string) bool {
	n := 0
	for _, g := range v.TargetGroups {
		if g.Service != service {
			continue
		}
		if g.ExpectedTargets == 0 || g.HealthyTargets < g.ExpectedTargets || len(g.Unhealthy) > 0 {
			return false
		}
		n++
	}
	return n > 0
}

// checkedWeightsApplied reports whether the check of spec made in this pass
// found the weights of every rule as the spec wants them, on every Ingress,
// whatever it found of target health (the engine reports TargetsNotHealthy
// only when the rules verify).
func (c *rolloutContext) checkedWeightsApplied(s *verifySpec) bool {
	v := c.status.Verification
	if v == nil || v.Fingerprint != s.fingerprint() || v.LastCheckedAt == nil || v.LastCheckedAt.Before(&metav1.Time{Time: c.now}) {
		return false
	}
	return v.Phase == v1alpha1.VerificationVerified || (v.Phase == v1alpha1.VerificationPending && v.Reason == verify.ReasonTargetsNotHealthy)
}

// undoingTimedOut reports whether the weights as written are those of a
// verification that timed out (the load balancer controller never applied
// them, or the group that got the traffic never turned healthy): moving the
// traffic back to the group it came from then needs no check of the written
// state first (that check could never pass), only of that group's targets
// (they may have been replaced meanwhile); the move itself is verified.
func (c *rolloutContext) undoingTimedOut(t *bgTraffic) bool {
	v := c.status.Verification
	return v != nil && v.Phase == v1alpha1.VerificationTimedOut && v.Fingerprint == c.bgSpec(t, t.previewW, t.activeW).fingerprint()
}

// writeBlueGreenWeights writes the action with previewW to the preview group
// and the rest to the active group on every Ingress, in one annotation write
// each, and starts its verification.
func (c *rolloutContext) writeBlueGreenWeights(ctx context.Context, t *bgTraffic, previewW int32, goal bgGoal) error {
	bg := c.ro.Spec.Strategy.BlueGreen
	port := strconv.Itoa(int(bg.ALB.ServicePort))
	value, err := albannotation.Forward([]albannotation.Destination{
		{Service: bg.ActiveService, Port: port, Weight: 100 - previewW},
		{Service: bg.PreviewService, Port: port, Weight: previewW},
	}, nil)
	if err != nil {
		c.specError("cannot build the ALB action: %v", err)
		return nil
	}
	key := albannotation.ActionKey(bg.ALB.AnnotationPrefix, t.actionName)
	for _, ing := range t.ingresses {
		if err := c.patchIngress(ctx, ing, func(n *networkingv1.Ingress) error {
			n.Annotations[key] = value
			return c.manage(n, true, key)
		}); err != nil {
			return err
		}
	}
	c.progressed = true
	c.normal(v1alpha1.ReasonTrafficWeightUpdated, "Traffic switched: active service %s %d%%, preview service %s %d%%", bg.ActiveService, 100-previewW, bg.PreviewService, previewW)
	if c.verifying() {
		t2 := *t
		t2.written, t2.previewW, t2.activeW = true, previewW, 100-previewW
		kind := goal.kind
		if previewW != 0 || !t.activePinned || t.activeSel != goal.active {
			// Not the goal's end state yet: an abort's own kind is kept
			// for the check of all traffic on the stable pods (interim).
			kind = interim(kind)
		}
		c.startVerification(kind, c.bgSpec(&t2, previewW, 100-previewW))
	}
	c.after(time.Second)
	return nil
}

// blueGreenRestartGate, for spec.restartAt, verifies that the pods of the
// group that gets traffic are registered and healthy in it before the next
// batch of pods is evicted (the exact pod set is part of the fingerprint).
func (c *rolloutContext) blueGreenRestartGate(t *bgTraffic) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		if !c.verifying() {
			return true, nil
		}
		var spec *verifySpec
		switch {
		case t.alb:
			spec = c.bgSpec(t, t.previewW, t.activeW)
			for i := range spec.dests {
				if spec.dests[i].weight > 0 {
					spec.dests[i].requireHealthy = true
				}
			}
		case len(t.activeIngs) > 0:
			spec = plainSpec(t.activeIngs, t.activePort, verify.RoleActive, t.activeSvc, t.activeSel, c.obs.podsSelectedBy(t.activeSvc), true)
			if c.forwardedTo(t.activeSvc.Name) {
				spec.onHealth() // an action the rollout does not write: its weights are its writer's
			}
		default:
			return true, nil
		}
		return c.probe(ctx, spec, "restarting pods")
	}
}

// bgActionPresent reports whether any Ingress of t carries the switch's
// action annotation, written by the controller or not.
func (c *rolloutContext) bgActionPresent(t *bgTraffic) bool {
	key := albannotation.ActionKey(c.ro.Spec.Strategy.BlueGreen.ALB.AnnotationPrefix, t.actionName)
	for _, ing := range t.ingresses {
		if ing.Annotations[key] != "" {
			return true
		}
	}
	return false
}

// foreignActionRaiseChecked reports whether the active group may take all
// traffic over an action the controller did not write (a hand edit,
// Ingresses that disagree): such an action carries traffic too, so all of
// it to the active group raises that group, checked like any raise (a
// health-only check judges no weight). With no action at all (the first
// deploy) nothing flows through it yet, and a written action is checked by
// the caller.
func (c *rolloutContext) foreignActionRaiseChecked(ctx context.Context, t *bgTraffic, gaining *corev1.Service, hash string) (bool, error) {
	if !c.verifying() || t.written || !c.bgActionPresent(t) {
		return true, nil
	}
	spec := c.bgSpec(t, 0, 100)
	spec.beforeRaise(gaining.Name, c.servedPods(gaining, hash))
	out, err := c.runFresh(ctx, v1alpha1.VerificationTargetHealth, spec)
	return out == outcomeVerified, err
}

// undoingFlip: all traffic goes back to the active group on the stable pods
// after a flip whose verification timed out (undoingTimedOut).
func (c *rolloutContext) undoingFlip(t *bgTraffic, gaining *corev1.Service) bool {
	return gaining == t.activeSvc && t.activePinned && t.activeSel == c.status.StableRS && c.undoingTimedOut(t)
}
