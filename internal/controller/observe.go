package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// observed is everything a pass decides from, read at its start.
type observed struct {
	// rss are the ReplicaSets the rollout controls, oldest revision first.
	rss []*appsv1.ReplicaSet
	// pods are the pods of those ReplicaSets.
	pods []corev1.Pod
	// services and ingresses the rollout names, by name; a missing one is absent.
	services  map[string]*corev1.Service
	ingresses map[string]*networkingv1.Ingress
	// managedElsewhere maps the Services this rollout writes that another
	// rollout manages to that rollout (see ownership.go).
	managedElsewhere map[string]string
	// bindings are the namespace's TargetGroupBindings (read only when the
	// rollout verifies).
	bindings []verify.TargetGroupBinding
	// plainBackends are the Services of the rollout that a path (or default
	// backend) of an ALB Ingress names directly, not through an action: they
	// receive that path's traffic whatever the weights (the write guard).
	plainBackends map[string]bool
	// held are ALB Ingresses the rollout no longer names but whose
	// managed-alb-annotations still list its action: the action keeps the
	// weights last written there, so they stay the rollout's (see
	// heldIngresses). They are in ingresses too.
	held []string
	// released are Services that carry the rollout's managed-by annotation
	// but that the spec no longer names (a blue-green active Service after
	// the strategy became canary): their selector goes back to the
	// rollout's pods of every version (releaseServices).
	released []*corev1.Service
	// forwards are actions the rollout does not write (a user's own
	// Ingress, or one the spec stopped naming) that forward to one of its
	// Services with a weight: that Service's group gets traffic whatever
	// the rollout's own action says, as from a plain path.
	forwards []foreignForward
	// albClasses are the IngressClasses an ALB controller implements
	// (albIngressClasses).
	albClasses map[string]bool
	// namespaceServices are all the Services of the rollout's namespace.
	namespaceServices []corev1.Service
	// kept are the released Services an ALB Ingress routes to: their
	// selector stays, and the write guard keeps their pods.
	kept []string
	// ingressNamed are the Services of the namespace an ALB Ingress names
	// in a path or default backend.
	ingressNamed map[string]bool
	// exposing are the Services the rollout neither names nor released
	// that an ALB Ingress routes to and that select the rollout's pods (a
	// plain Service web with selector app=web in front of a basic canary):
	// their groups get traffic from whichever of its pods they select, so
	// a ReplicaSet they select goes only once their other pods are healthy
	// in those groups (plainServedWithout), and the write guard keeps their
	// pods.
	exposing []string
	// workload is what was read of spec.workloadRef (nil without one; see
	// workload_ref.go). The Rollout observed already carries its template.
	workload *workloadState
}

func (r *Reconciler) observe(ctx context.Context, ro *v1alpha1.Rollout) (*observed, error) {
	workload, err := r.resolveWorkloadRef(ctx, ro)
	if err != nil {
		return nil, err
	}
	obs := &observed{services: map[string]*corev1.Service{}, ingresses: map[string]*networkingv1.Ingress{}, workload: workload}
	var rsList appsv1.ReplicaSetList
	if err := r.client.List(ctx, &rsList, client.InNamespace(ro.Namespace)); err != nil {
		return nil, fmt.Errorf("listing ReplicaSets of rollout %s/%s: %w", ro.Namespace, ro.Name, err)
	}
	owned := map[string]bool{}
	for i := range rsList.Items {
		rs := &rsList.Items[i]
		if replicaset.Owned(rs, ro) && rs.DeletionTimestamp == nil {
			obs.rss = append(obs.rss, rs)
			owned[rs.Name] = true
		}
	}
	replicaset.SortByRevision(obs.rss)

	if ro.Spec.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(ro.Spec.Selector)
		if err == nil && !sel.Empty() {
			var pods corev1.PodList
			if err := r.client.List(ctx, &pods, client.InNamespace(ro.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
				return nil, fmt.Errorf("listing pods of rollout %s/%s: %w", ro.Namespace, ro.Name, err)
			}
			for _, p := range pods.Items {
				if ref := metav1.GetControllerOf(&p); ref != nil && ref.Kind == "ReplicaSet" && owned[ref.Name] {
					obs.pods = append(obs.pods, p)
				}
			}
		}
	}

	for _, name := range slices.Concat(rolloutServices(ro), formerServices(ro)) {
		var svc corev1.Service
		err := r.client.Get(ctx, client.ObjectKey{Namespace: ro.Namespace, Name: name}, &svc)
		switch {
		case err == nil:
			obs.services[name] = &svc
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("reading service %s/%s: %w", ro.Namespace, name, err)
		}
	}
	managed, err := r.servicesManagedElsewhere(ctx, ro, obs)
	if err != nil {
		return nil, err
	}
	obs.managedElsewhere = managed
	for _, name := range rolloutIngresses(ro) {
		var ing networkingv1.Ingress
		err := r.client.Get(ctx, client.ObjectKey{Namespace: ro.Namespace, Name: name}, &ing)
		switch {
		case err == nil:
			obs.ingresses[name] = &ing
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("reading ingress %s/%s: %w", ro.Namespace, name, err)
		}
	}
	var ings networkingv1.IngressList
	if err := r.client.List(ctx, &ings, client.InNamespace(ro.Namespace)); err != nil {
		return nil, fmt.Errorf("listing the ingresses of namespace %s: %w", ro.Namespace, err)
	}
	var classes networkingv1.IngressClassList
	if err := r.client.List(ctx, &classes); err != nil {
		return nil, fmt.Errorf("listing the cluster's IngressClasses (to know which Ingresses an ALB serves): %w", err)
	}
	obs.albClasses = albIngressClasses(classes.Items)
	obs.plainBackends = map[string]bool{}
	mine := rolloutServices(ro)
	var others []foreignForward // to Services that are not the rollout's
	for i := range ings.Items {
		ing := &ings.Items[i]
		if gone(ing) || !isALBIngress(ing, obs.albClasses) {
			continue
		}
		if heldBy(ro, ing) {
			obs.held = append(obs.held, ing.Name)
			obs.ingresses[ing.Name] = ing
		}
		for _, b := range ingressBackends(ing) {
			if b.Port.Name != albannotation.UseAnnotation && slices.Contains(mine, b.Name) {
				obs.plainBackends[b.Name] = true
			}
			if obs.ingressNamed == nil {
				obs.ingressNamed = map[string]bool{}
			}
			obs.ingressNamed[b.Name] = true
		}
		for _, f := range foreignForwards(ro, ing, obs.held) {
			if obs.ingressNamed == nil {
				obs.ingressNamed = map[string]bool{}
			}
			obs.ingressNamed[f.service] = true // an ALB sends it traffic
			if slices.Contains(mine, f.service) {
				obs.plainBackends[f.service] = true
				obs.forwards = append(obs.forwards, f)
			} else {
				others = append(others, f)
			}
		}
	}
	var svcs corev1.ServiceList
	if err := r.client.List(ctx, &svcs, client.InNamespace(ro.Namespace)); err != nil {
		return nil, fmt.Errorf("listing the services of namespace %s: %w", ro.Namespace, err)
	}
	obs.namespaceServices = svcs.Items
	for i := range svcs.Items {
		svc := &svcs.Items[i]
		if svc.Annotations[ManagedByAnnotation] == ro.Name && svc.DeletionTimestamp == nil && !slices.Contains(writtenServices(ro), svc.Name) {
			obs.released = append(obs.released, svc)
			if obs.ingressNamed[svc.Name] {
				// Kept as it is (releaseServices), with its traffic: its
				// pods are guarded like those of the rollout's Services.
				obs.kept = append(obs.kept, svc.Name)
				obs.services[svc.Name] = svc
				obs.plainBackends[svc.Name] = true
			}
			continue
		}
		if obs.ingressNamed[svc.Name] && obs.services[svc.Name] == nil && selectsRolloutPods(svc, obs.rss) {
			obs.exposing = append(obs.exposing, svc.Name)
			obs.services[svc.Name] = svc
			obs.plainBackends[svc.Name] = true
			for _, f := range others {
				if f.service == svc.Name {
					obs.forwards = append(obs.forwards, f)
				}
			}
		}
	}
	if ro.ALBVerification().Enabled(r.opts.VerifyByDefault) {
		b, err := verify.ListTargetGroupBindings(ctx, r.client, ro.Namespace)
		if err != nil {
			return nil, err
		}
		obs.bindings = b
	}
	return obs, nil
}

// selectsRolloutPods reports whether svc's selector matches the pods of
// one of the rollout's ReplicaSets (their template's labels).
func selectsRolloutPods(svc *corev1.Service, rss []*appsv1.ReplicaSet) bool {
	return slices.ContainsFunc(rss, func(rs *appsv1.ReplicaSet) bool { return selects(svc, rs) })
}

// formerServices are the Services the rollout's recorded traffic names
// (status.trafficBound, status.canary.weights) that its spec no longer
// names (a renamed canaryService): the load balancer may still forward
// to them, so the write guard keeps their pods (guardedServices).
func formerServices(ro *v1alpha1.Rollout) []string {
	var out []string
	add := func(name string) {
		if name != "" && !slices.Contains(out, name) && !slices.Contains(rolloutServices(ro), name) {
			out = append(out, name)
		}
	}
	if b := ro.Status.TrafficBound; b != nil {
		for _, name := range slices.Sorted(maps.Keys(b.Weights)) {
			add(name)
		}
		for _, name := range b.RouteServices {
			add(name)
		}
	}
	if w := ro.Status.Canary.Weights; w != nil {
		add(w.Canary.ServiceName)
		add(w.Stable.ServiceName)
	}
	return out
}

// gone reports whether an Ingress no longer routes: deleted, with no
// finalizer left. One the load balancer controller has not finished
// deleting (its finalizer is still there) may still route by its rules.
func gone(ing *networkingv1.Ingress) bool {
	return ing.DeletionTimestamp != nil && len(ing.Finalizers) == 0
}

// foreignForward is a forward of an action the rollout does not write.
type foreignForward struct {
	ing     *networkingv1.Ingress
	service string
	port    albannotation.Port
}

// foreignForwards lists the forwards with a weight above 0 of the actions
// on an ALB Ingress that are not the rollout's own: its action and header
// routes on the Ingresses it names or holds, written under its
// managed-alb-annotations entry.
func foreignForwards(ro *v1alpha1.Rollout, ing *networkingv1.Ingress, held []string) []foreignForward {
	own := ownActionKeys(ro, ing, held)
	var out []foreignForward
	for _, k := range slices.Sorted(maps.Keys(ing.Annotations)) {
		if own[k] || !strings.Contains(k, "/actions.") {
			continue
		}
		a, err := albannotation.ParseAction(ing.Annotations[k])
		if err != nil || a.ForwardConfig == nil || !strings.EqualFold(a.Type, "forward") {
			continue
		}
		for _, tg := range a.ForwardConfig.TargetGroups {
			if tg.ServiceName != "" && tg.Weight != nil && *tg.Weight > 0 {
				out = append(out, foreignForward{ing: ing, service: tg.ServiceName, port: tg.ServicePort})
			}
		}
	}
	return out
}

// ownActionKeys are the annotation keys of an Ingress the rollout writes
// now: its action and header routes, on an Ingress it names or holds.
func ownActionKeys(ro *v1alpha1.Rollout, ing *networkingv1.Ingress, held []string) map[string]bool {
	prefix, action := rolloutAction(ro)
	own := map[string]bool{}
	if action == "" || (!slices.Contains(rolloutIngresses(ro), ing.Name) && !slices.Contains(held, ing.Name)) {
		return own
	}
	own[albannotation.ActionKey(prefix, action)] = true
	if m, err := albannotation.ParseManaged(ing.Annotations[albannotation.ManagedAnnotationsKey]); err == nil {
		for _, k := range m[ro.Name] {
			own[k] = true
		}
	}
	return own
}

// heldBy reports whether an Ingress the rollout does not name still carries
// the rollout's action by the managed-alb-annotations bookkeeping: it was
// dropped from the spec (trafficRouting.alb.ingresses, blueGreen.alb) after
// the controller wrote weights there. The load balancer keeps forwarding
// them, so the Ingress stays managed, its weights moving with the others',
// until the bookkeeping entry is removed.
func heldBy(ro *v1alpha1.Rollout, ing *networkingv1.Ingress) bool {
	prefix, action := rolloutAction(ro)
	if action == "" || slices.Contains(rolloutIngresses(ro), ing.Name) {
		return false
	}
	m, err := albannotation.ParseManaged(ing.Annotations[albannotation.ManagedAnnotationsKey])
	if err != nil {
		return false
	}
	_, has := ing.Annotations[albannotation.ActionKey(prefix, action)]
	return has && slices.Contains(m[ro.Name], albannotation.ActionKey(prefix, action))
}

// podsOf returns the pods of a ReplicaSet (by its hash label).
func (o *observed) podsOf(hash string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range o.pods {
		if p.Labels[replicaset.HashLabel] == hash {
			out = append(out, p)
		}
	}
	return out
}

// podsSelectedBy returns the rollout's pods a Service's selector selects.
func (o *observed) podsSelectedBy(svc *corev1.Service) []corev1.Pod {
	if svc == nil || len(svc.Spec.Selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var out []corev1.Pod
	for _, p := range o.pods {
		if sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}
