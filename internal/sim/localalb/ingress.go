package localalb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// Event reasons on Ingresses, as the real controller uses them.
const (
	ReasonFailedBuildModel       = "FailedBuildModel"
	ReasonFailedDeployModel      = "FailedDeployModel"
	ReasonSuccessfullyReconciled = "SuccessfullyReconciled"
	ReasonFailedCleanup          = "FailedCleanup"
	ReasonUnsupported            = "UnsupportedSetting"
)

// ingressReconciler reconciles one ingress group (stack) per request: the request
// name is the group name (namespace empty) or the ingress for implicit groups.
type ingressReconciler struct {
	opts     Options
	client   client.Client
	events   recorder.EventRecorder
	deployer *deployer

	mu      sync.Mutex
	applied map[StackID]string    // fingerprint of the ingresses last applied
	pending map[StackID]time.Time // when an unapplied change was first seen
	last    map[StackID]string    // last Deployed summary reported
}

func (r *ingressReconciler) setup(mgr ctrl.Manager) error {
	r.client = mgr.GetClient()
	r.events = mgr.GetEventRecorder("ingress")
	r.deployer = &deployer{api: r.opts.ELBV2, cluster: r.opts.ClusterName}
	r.applied = map[StackID]string{}
	r.pending = map[StackID]time.Time{}
	r.last = map[StackID]string{}
	if err := mgr.Add(manager.RunnableFunc(r.ensureIngressClass)); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("localalb-ingress").
		Watches(&networkingv1.Ingress{}, handler.Funcs{
			CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.enqueueIngress(e.Object, q)
			},
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.enqueueIngress(e.ObjectOld, q) // the ingress may have left its old group
				r.enqueueIngress(e.ObjectNew, q)
			},
			DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.enqueueIngress(e.Object, q)
			},
			GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				r.enqueueIngress(e.Object, q)
			},
		}).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.stacksInNamespace)).
		Complete(r)
}

// ensureIngressClass creates the IngressClass "alb", as the controller's Helm chart does.
func (r *ingressReconciler) ensureIngressClass(ctx context.Context) error {
	ic := &networkingv1.IngressClass{}
	ic.Name = IngressClassName
	ic.Spec.Controller = IngressClassController
	// Retried every second until it is there or ctx ends.
	_ = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		err := r.client.Create(ctx, ic)
		return err == nil || apierrors.IsAlreadyExists(err), nil
	})
	return nil
}

func (r *ingressReconciler) enqueueIngress(o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	ing, ok := o.(*networkingv1.Ingress)
	if !ok {
		return
	}
	if r.isALB(context.Background(), ing) || controllerutil.ContainsFinalizer(ing, IngressFinalizer) {
		q.Add(reconcile.Request{NamespacedName: stackOf(ing).key()})
	}
}

func (r *ingressReconciler) stacksInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var list networkingv1.IngressList
	if err := r.client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	seen := map[StackID]bool{}
	var out []reconcile.Request
	for i := range list.Items {
		ing := &list.Items[i]
		if s := stackOf(ing); r.isALB(ctx, ing) && !seen[s] {
			seen[s] = true
			out = append(out, reconcile.Request{NamespacedName: s.key()})
		}
	}
	return out
}

// stackOf returns the group of an ingress.
func stackOf(ing *networkingv1.Ingress) StackID {
	if g := strings.TrimSpace(ing.Annotations[AnnotationGroupName]); g != "" {
		return StackID{Name: g}
	}
	return StackID{Namespace: ing.Namespace, Name: ing.Name}
}

// isALB reports whether the ingress is of class alb: ingressClassName "alb", an
// IngressClass whose controller is ingress.k8s.aws/alb, or the legacy annotation.
func (r *ingressReconciler) isALB(ctx context.Context, ing *networkingv1.Ingress) bool {
	if ing.Spec.IngressClassName == nil {
		return ing.Annotations[AnnotationIngressClass] == IngressClassName
	}
	name := *ing.Spec.IngressClassName
	if name == IngressClassName {
		return true
	}
	var ic networkingv1.IngressClass
	if err := r.client.Get(ctx, client.ObjectKey{Name: name}, &ic); err != nil {
		return false
	}
	return ic.Spec.Controller == IngressClassController
}

// Reconcile brings one ingress group's ALB in line with its ingresses.
func (r *ingressReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	stack := StackID{Namespace: req.Namespace, Name: req.Name}
	members, leaving, err := r.groupOf(ctx, stack)
	if err != nil {
		return reconcile.Result{}, err
	}
	if wait := r.lagWait(stack, fingerprint(members, leaving)); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	if len(members) == 0 {
		return r.cleanup(ctx, stack, leaving)
	}
	for _, ing := range members {
		if err := r.addFinalizer(ctx, ing); err != nil {
			return reconcile.Result{}, err
		}
	}
	builder := &modelBuilder{cluster: r.opts.ClusterName, services: r.getService(ctx)}
	model, err := builder.build(stack, members)
	if err != nil {
		return r.buildFailed(members, err)
	}
	for _, w := range model.Warnings {
		for _, ing := range members {
			r.events.Eventf(ing, nil, corev1.EventTypeWarning, ReasonUnsupported, "Build", "%s", w)
		}
	}
	dep, err := r.deployer.deploy(ctx, model)
	if err != nil {
		for _, ing := range members {
			r.events.Eventf(ing, nil, corev1.EventTypeWarning, ReasonFailedDeployModel, "Deploy", "Failed deploy model due to %v", err)
		}
		return reconcile.Result{}, err
	}
	if err := r.syncBindings(ctx, model, dep.TargetGroups); err != nil {
		return reconcile.Result{}, err
	}
	for _, ing := range members {
		if err := r.setHostname(ctx, ing, dep.DNSName); err != nil {
			return reconcile.Result{}, err
		}
	}
	if err := r.release(ctx, leaving); err != nil {
		return reconcile.Result{}, err
	}
	r.markApplied(stack, fingerprint(members, leaving), members)
	r.reportDeployed(stack, model, dep)
	return reconcile.Result{}, nil
}

// groupOf lists the ingresses of a stack: members (alb, not deleting) and leaving
// ones (deleting, or no longer alb but still holding our finalizer).
func (r *ingressReconciler) groupOf(ctx context.Context, stack StackID) (members, leaving []*networkingv1.Ingress, err error) {
	var list networkingv1.IngressList
	var opts []client.ListOption
	if !stack.Explicit() {
		opts = append(opts, client.InNamespace(stack.Namespace))
	}
	if err := r.client.List(ctx, &list, opts...); err != nil {
		return nil, nil, fmt.Errorf("list ingresses: %w", err)
	}
	for i := range list.Items {
		ing := &list.Items[i]
		alb := r.isALB(ctx, ing)
		switch {
		case alb && stackOf(ing) == stack && ing.DeletionTimestamp == nil:
			members = append(members, ing)
		case alb && stackOf(ing) == stack && controllerutil.ContainsFinalizer(ing, IngressFinalizer):
			leaving = append(leaving, ing)
		case !alb && controllerutil.ContainsFinalizer(ing, IngressFinalizer) && stackOf(ing) == stack:
			leaving = append(leaving, ing)
		}
	}
	return members, leaving, nil
}

// fingerprint summarises what of the ingresses the ALB depends on, so the lag only
// applies to real changes (not to our own status or finalizer writes).
func fingerprint(members, leaving []*networkingv1.Ingress) string {
	h := sha256.New()
	for _, ing := range members {
		b, _ := json.Marshal(struct {
			K string
			A map[string]string
			S networkingv1.IngressSpec
		}{keyOf(ing).String(), ing.Annotations, ing.Spec})
		_, _ = h.Write(b)
	}
	for _, ing := range leaving {
		_, _ = h.Write([]byte("leaving:" + keyOf(ing).String()))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// lagWait returns how long to wait before applying fp: the configured lag counted
// from when the first unapplied change was seen.
func (r *ingressReconciler) lagWait(stack StackID, fp string) time.Duration {
	if r.opts.ReconcileLag <= 0 {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.applied[stack] == fp {
		delete(r.pending, stack)
		return 0
	}
	since, ok := r.pending[stack]
	if !ok {
		since = time.Now()
		r.pending[stack] = since
	}
	return time.Until(since.Add(r.opts.ReconcileLag))
}

func (r *ingressReconciler) markApplied(stack StackID, fp string, members []*networkingv1.Ingress) {
	r.mu.Lock()
	changed := r.applied[stack] != fp
	r.applied[stack] = fp
	delete(r.pending, stack)
	r.mu.Unlock()
	if changed {
		for _, ing := range members {
			r.events.Eventf(ing, nil, corev1.EventTypeNormal, ReasonSuccessfullyReconciled, "Reconcile", "Successfully reconciled")
		}
	}
}

func (r *ingressReconciler) forget(stack StackID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.applied, stack)
	delete(r.pending, stack)
	delete(r.last, stack)
}

// buildFailed reports a model error as a Warning event on the ingresses and leaves
// the ALB alone. Errors the user must fix are not retried; others back off.
func (r *ingressReconciler) buildFailed(members []*networkingv1.Ingress, err error) (reconcile.Result, error) {
	var be *buildError
	for _, ing := range members {
		if errors.As(err, &be) && be.Ingress != keyOf(ing) && len(members) > 1 {
			r.events.Eventf(ing, nil, corev1.EventTypeWarning, ReasonFailedBuildModel, "Build",
				"Failed build model due to ingress %s of the same group: %v", be.Ingress, be.Err)
			continue
		}
		msg := err.Error()
		if be != nil {
			msg = be.Err.Error()
		}
		r.events.Eventf(ing, nil, corev1.EventTypeWarning, ReasonFailedBuildModel, "Build", "Failed build model due to %s", msg)
	}
	if be != nil && be.Permanent {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{}, err
}

func (r *ingressReconciler) getService(ctx context.Context) serviceGetter {
	return func(namespace, name string) (*corev1.Service, error) {
		var svc corev1.Service
		if err := r.client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &svc); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("service %s/%s: %w", namespace, name, errServiceNotFound)
			}
			return nil, fmt.Errorf("read service %s/%s: %w", namespace, name, err)
		}
		return &svc, nil
	}
}

func (r *ingressReconciler) addFinalizer(ctx context.Context, ing *networkingv1.Ingress) error {
	if controllerutil.ContainsFinalizer(ing, IngressFinalizer) {
		return nil
	}
	patch := client.MergeFromWithOptions(ing.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.AddFinalizer(ing, IngressFinalizer)
	if err := r.client.Patch(ctx, ing, patch); err != nil {
		return fmt.Errorf("add finalizer to ingress %s: %w", keyOf(ing), err)
	}
	return nil
}

// setHostname publishes the ALB DNS name in the ingress status.
func (r *ingressReconciler) setHostname(ctx context.Context, ing *networkingv1.Ingress, dns string) error {
	want := []networkingv1.IngressLoadBalancerIngress{{Hostname: dns}}
	if slices.EqualFunc(ing.Status.LoadBalancer.Ingress, want, func(a, b networkingv1.IngressLoadBalancerIngress) bool {
		return a.Hostname == b.Hostname && a.IP == "" && len(a.Ports) == 0
	}) {
		return nil
	}
	patch := client.MergeFrom(ing.DeepCopy())
	ing.Status.LoadBalancer.Ingress = want
	if err := r.client.Status().Patch(ctx, ing, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("set status of ingress %s: %w", keyOf(ing), err)
	}
	return nil
}

// release clears the status of ingresses that left the stack and drops our finalizer.
func (r *ingressReconciler) release(ctx context.Context, leaving []*networkingv1.Ingress) error {
	for _, ing := range leaving {
		if ing.DeletionTimestamp == nil && len(ing.Status.LoadBalancer.Ingress) > 0 {
			patch := client.MergeFrom(ing.DeepCopy())
			ing.Status.LoadBalancer.Ingress = nil
			if err := r.client.Status().Patch(ctx, ing, patch); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("clear status of ingress %s: %w", keyOf(ing), err)
			}
		}
		patch := client.MergeFromWithOptions(ing.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if controllerutil.RemoveFinalizer(ing, IngressFinalizer) {
			if err := r.client.Patch(ctx, ing, patch); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("remove finalizer from ingress %s: %w", keyOf(ing), err)
			}
		}
	}
	return nil
}

// cleanup deletes everything of a stack without members, then lets the leaving
// ingresses go.
func (r *ingressReconciler) cleanup(ctx context.Context, stack StackID, leaving []*networkingv1.Ingress) (reconcile.Result, error) {
	if err := r.syncBindings(ctx, &stackModel{ID: stack}, map[string]string{}); err != nil {
		return reconcile.Result{}, err
	}
	if err := r.deployer.destroy(ctx, stack); err != nil {
		for _, ing := range leaving {
			r.events.Eventf(ing, nil, corev1.EventTypeWarning, ReasonFailedCleanup, "Cleanup", "Failed to delete the load balancer: %v", err)
		}
		return reconcile.Result{}, err
	}
	if err := r.release(ctx, leaving); err != nil {
		return reconcile.Result{}, err
	}
	r.forget(stack)
	return reconcile.Result{}, nil
}

// reportDeployed calls OnDeployed when the ALB's address or listeners changed.
func (r *ingressReconciler) reportDeployed(stack StackID, m *stackModel, dep *deployed) {
	if r.opts.OnDeployed == nil {
		return
	}
	d := Deployed{Stack: stack.String(), DNSName: dep.DNSName, Ports: dep.Ports}
	for _, k := range m.Members {
		d.Ingresses = append(d.Ingresses, k.String())
	}
	summary := fmt.Sprint(d)
	r.mu.Lock()
	changed := r.last[stack] != summary
	r.last[stack] = summary
	r.mu.Unlock()
	if changed {
		r.opts.OnDeployed(d)
	}
}

// stackSelector selects the TargetGroupBindings of a stack by their labels.
func stackSelector(stack StackID) (labels.Selector, error) {
	set := labels.Set{LabelStackName: stack.Name}
	sel := labels.SelectorFromSet(set)
	if stack.Explicit() {
		req, err := labels.NewRequirement(LabelStackNamespace, "!", nil)
		if err != nil {
			return nil, err
		}
		return sel.Add(*req), nil
	}
	req, err := labels.NewRequirement(LabelStackNamespace, "=", []string{stack.Namespace})
	if err != nil {
		return nil, err
	}
	return sel.Add(*req), nil
}

// syncBindings makes the stack's TargetGroupBindings match its target groups: one
// per target group (arns maps resource tags to ARNs), the others deleted.
func (r *ingressReconciler) syncBindings(ctx context.Context, m *stackModel, arns map[string]string) error {
	sel, err := stackSelector(m.ID)
	if err != nil {
		return err
	}
	var list unstructured.UnstructuredList
	list.SetGroupVersionKind(TargetGroupBindingGVK.GroupVersion().WithKind("TargetGroupBindingList"))
	if err := r.client.List(ctx, &list, client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return fmt.Errorf("list TargetGroupBindings of stack %s: %w", m.ID, err)
	}
	want := map[types.NamespacedName]*tgModel{}
	for _, res := range slices.Sorted(maps.Keys(m.TargetGroups)) {
		tg := m.TargetGroups[res]
		want[types.NamespacedName{Namespace: tg.Namespace, Name: tg.Name}] = tg
	}
	have := map[types.NamespacedName]*unstructured.Unstructured{}
	for i := range list.Items {
		u := &list.Items[i]
		k := types.NamespacedName{Namespace: u.GetNamespace(), Name: u.GetName()}
		if _, ok := want[k]; !ok {
			if err := r.client.Delete(ctx, u); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("delete TargetGroupBinding %s: %w", k, err)
			}
			continue
		}
		have[k] = u
	}
	for k, tg := range want {
		if err := r.ensureBinding(ctx, m.ID, k, tg, arns[tg.Resource], have[k]); err != nil {
			return err
		}
	}
	return nil
}

func (r *ingressReconciler) ensureBinding(ctx context.Context, stack StackID, k types.NamespacedName, tg *tgModel, arn string, cur *unstructured.Unstructured) error {
	spec := map[string]any{
		"targetGroupARN": arn,
		"targetType":     "ip",
		"ipAddressType":  "ipv4",
		"serviceRef":     map[string]any{"name": tg.Service, "port": bindingServicePort(tg.ServicePort)},
	}
	lbls := map[string]string{LabelStackName: stack.Name}
	if !stack.Explicit() {
		lbls[LabelStackNamespace] = stack.Namespace
	}
	if cur == nil {
		u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
		u.SetGroupVersionKind(TargetGroupBindingGVK)
		u.SetNamespace(k.Namespace)
		u.SetName(k.Name)
		u.SetLabels(lbls)
		if err := r.client.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create TargetGroupBinding %s: %w", k, err)
		}
		return nil
	}
	old, _, _ := unstructured.NestedMap(cur.Object, "spec")
	if specEqual(old, spec) {
		return nil
	}
	u := cur.DeepCopy()
	u.Object["spec"] = spec
	if err := r.client.Update(ctx, u); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update TargetGroupBinding %s: %w", k, err)
	}
	return nil
}

// bindingServicePort is the spec.serviceRef.port of a binding, as the AWS Load
// Balancer Controller writes it: an integer for a numbered port, also when the
// action wrote the number as a JSON string ("servicePort":"80", as Argo Rollouts
// does), and a string only for a port name. A client that matches bindings by port
// number would otherwise find none. Service port names always hold a letter
// (IANA_SVC_NAME), so a string of digits can only mean a number.
func bindingServicePort(p intstr.IntOrString) any {
	if p.Type == intstr.Int {
		return int64(p.IntVal)
	}
	if n, err := strconv.ParseInt(p.StrVal, 10, 32); err == nil && n > 0 && n <= 65535 {
		return n
	}
	return p.StrVal
}

// specEqual compares two JSON-like maps by their JSON encoding (numbers from the
// API come back as int64, ours too).
func specEqual(a, b map[string]any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
