package localalb

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// maxTargetsPerCall is how many targets one Register/DeregisterTargets call carries,
// as the real controller batches them.
const maxTargetsPerCall = 200

// bindingReconciler keeps a target group's ip targets equal to the ready pods behind
// the TargetGroupBinding's service port, and sets readiness-gate conditions.
type bindingReconciler struct {
	opts   Options
	client client.Client
	events recorder.EventRecorder
}

func newBinding() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(TargetGroupBindingGVK)
	return u
}

func (r *bindingReconciler) setup(mgr ctrl.Manager) error {
	r.client = mgr.GetClient()
	r.events = mgr.GetEventRecorder("targetGroupBinding")
	return ctrl.NewControllerManagedBy(mgr).
		Named("localalb-targetgroupbinding").
		For(newBinding()).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.bindingsForService)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.bindingsForPod)).
		Complete(r)
}

func (r *bindingReconciler) bindingsForService(ctx context.Context, o client.Object) []reconcile.Request {
	return r.bindingsOf(ctx, o.GetNamespace(), o.GetName())
}

// bindingsForPod maps a pod to the bindings of the services selecting it and to
// the bindings named by its readiness gates.
func (r *bindingReconciler) bindingsForPod(ctx context.Context, o client.Object) []reconcile.Request {
	pod, ok := o.(*corev1.Pod)
	if !ok {
		return nil
	}
	// Every binding of the namespace, not only those of the services that
	// select the pod now: the Service and Pod caches are updated separately,
	// and a pod turning ready just as a service's selector moves to it must
	// not be missed by both events (the service event saw the pod not ready,
	// the pod event saw the old selector).
	out := r.bindingsOf(ctx, pod.Namespace, "")
	for _, g := range pod.Spec.ReadinessGates {
		if name, ok := strings.CutPrefix(string(g.ConditionType), ReadinessGatePrefix); ok {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: pod.Namespace, Name: name}})
		}
	}
	return out
}

// bindingsOf returns the bindings of service ("" = every binding) in namespace.
func (r *bindingReconciler) bindingsOf(ctx context.Context, namespace, service string) []reconcile.Request {
	var list unstructured.UnstructuredList
	list.SetGroupVersionKind(TargetGroupBindingGVK.GroupVersion().WithKind("TargetGroupBindingList"))
	if err := r.client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list TargetGroupBindings", "namespace", namespace)
		return nil
	}
	var out []reconcile.Request
	for _, u := range list.Items {
		if name, _, _ := unstructured.NestedString(u.Object, "spec", "serviceRef", "name"); service == "" || name == service {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: u.GetNamespace(), Name: u.GetName()}})
		}
	}
	return out
}

// bindingSpec is the part of a TargetGroupBinding spec the reconciler reads.
type bindingSpec struct {
	TargetGroupARN string `json:"targetGroupARN"`
	TargetType     string `json:"targetType"`
	ServiceRef     struct {
		Name string             `json:"name"`
		Port intstr.IntOrString `json:"port"`
	} `json:"serviceRef"`
}

func parseBindingSpec(u *unstructured.Unstructured) (bindingSpec, error) {
	var s bindingSpec
	raw, _, _ := unstructured.NestedMap(u.Object, "spec")
	b, err := json.Marshal(raw)
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil {
		return s, fmt.Errorf("TargetGroupBinding %s/%s: bad spec: %w", u.GetNamespace(), u.GetName(), err)
	}
	if s.TargetGroupARN == "" || s.ServiceRef.Name == "" {
		return s, fmt.Errorf("TargetGroupBinding %s/%s: spec.targetGroupARN and spec.serviceRef.name are required", u.GetNamespace(), u.GetName())
	}
	if s.TargetType != "" && s.TargetType != "ip" {
		return s, fmt.Errorf("TargetGroupBinding %s/%s: targetType %q is not supported locally: use ip", u.GetNamespace(), u.GetName(), s.TargetType)
	}
	return s, nil
}

// endpointTarget is one pod endpoint that should be a target.
type endpointTarget struct {
	IP   string
	Port int32
	Pod  *corev1.Pod
}

func (t endpointTarget) id() string { return net.JoinHostPort(t.IP, strconv.Itoa(int(t.Port))) }

// Reconcile registers and deregisters the targets of one TargetGroupBinding.
func (r *bindingReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	tgb := newBinding()
	if err := r.client.Get(ctx, req.NamespacedName, tgb); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	spec, err := parseBindingSpec(tgb)
	if err != nil {
		r.events.Eventf(tgb, nil, corev1.EventTypeWarning, "FailedReconcile", "Reconcile", "%v", err)
		return reconcile.Result{}, nil
	}
	if tgb.GetDeletionTimestamp() != nil {
		return reconcile.Result{}, r.finalize(ctx, tgb, spec)
	}
	if !controllerutil.ContainsFinalizer(tgb, TGBFinalizer) {
		patch := client.MergeFrom(tgb.DeepCopy())
		controllerutil.AddFinalizer(tgb, TGBFinalizer)
		if err := r.client.Patch(ctx, tgb, patch); err != nil {
			return reconcile.Result{}, client.IgnoreNotFound(err)
		}
	}
	desired, err := r.desiredTargets(ctx, tgb, spec)
	if err != nil {
		return reconcile.Result{}, err
	}
	health, err := r.sync(ctx, spec.TargetGroupARN, desired)
	if err != nil {
		if isAPIError(err, "TargetGroupNotFound") {
			// The group is being replaced or deleted; its binding follows shortly.
			return reconcile.Result{RequeueAfter: r.opts.HealthPollInterval}, nil
		}
		r.events.Eventf(tgb, nil, corev1.EventTypeWarning, "FailedDeployModel", "Register", "Failed to register targets: %v", err)
		return reconcile.Result{}, err
	}
	pending, err := r.updateGates(ctx, tgb.GetName(), desired, health)
	if err != nil {
		return reconcile.Result{}, err
	}
	if pending {
		return reconcile.Result{RequeueAfter: r.opts.HealthPollInterval}, nil
	}
	return reconcile.Result{}, nil
}

// desiredTargets returns the pods of the service port that should be targets:
// ready ones, and not-ready ones whose only missing piece is this binding's
// readiness gate (their containers are ready), as the real controller does.
//
// The real controller reads the service's EndpointSlices. Here the pods are read
// directly, with the EndpointSlice controller's rules (selector match, pod IP, Ready
// and not terminating, target port resolved per pod): the API server refuses
// loopback addresses in EndpointSlices, so the slices of loopback pods stay empty.
func (r *bindingReconciler) desiredTargets(ctx context.Context, tgb *unstructured.Unstructured, spec bindingSpec) ([]endpointTarget, error) {
	ns := tgb.GetNamespace()
	var svc corev1.Service
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: spec.ServiceRef.Name}, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil // no service, no targets
		}
		return nil, fmt.Errorf("read service %s/%s: %w", ns, spec.ServiceRef.Name, err)
	}
	sp, err := lookupServicePort(&svc, spec.ServiceRef.Port)
	if err != nil {
		r.events.Eventf(tgb, nil, corev1.EventTypeWarning, "FailedReconcile", "Reconcile", "%v", err)
		return nil, nil
	}
	if len(svc.Spec.Selector) == 0 {
		return nil, nil // a service without selector has no pods to register
	}
	var pods corev1.PodList
	if err := r.client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(svc.Spec.Selector)); err != nil {
		return nil, fmt.Errorf("list pods of service %s/%s: %w", ns, svc.Name, err)
	}
	gate := corev1.PodConditionType(ReadinessGatePrefix + tgb.GetName())
	var out []endpointTarget
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.PodIP == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		port, ok := targetPort(sp, pod)
		if !ok {
			continue
		}
		ready := podReady(pod) || svc.Spec.PublishNotReadyAddresses
		if !ready && !waitsOnlyForGate(pod, gate) {
			continue
		}
		out = append(out, endpointTarget{IP: pod.Status.PodIP, Port: port, Pod: pod})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id() < out[j].id() })
	return out, nil
}

// targetPort resolves a service port's targetPort for one pod (a name refers to a
// container port of the pod).
func targetPort(sp corev1.ServicePort, pod *corev1.Pod) (int32, bool) {
	switch {
	case sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal > 0:
		return sp.TargetPort.IntVal, true
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == sp.TargetPort.StrVal {
					return p.ContainerPort, true
				}
			}
		}
		return 0, false
	}
	return sp.Port, true
}

// podReady is the EndpointSlice controller's readiness: Ready and not terminating.
func podReady(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitsOnlyForGate reports whether pod declares gate, is not terminating and has
// ready containers: it is unready only because its target is not healthy yet.
func waitsOnlyForGate(pod *corev1.Pod, gate corev1.PodConditionType) bool {
	if pod == nil || pod.DeletionTimestamp != nil || !hasGate(pod, gate) {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.ContainersReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasGate(pod *corev1.Pod, gate corev1.PodConditionType) bool {
	for _, g := range pod.Spec.ReadinessGates {
		if g.ConditionType == gate {
			return true
		}
	}
	return false
}

// sync registers missing targets and deregisters extra ones; it returns the target
// health after the changes, by target id.
func (r *bindingReconciler) sync(ctx context.Context, arn string, desired []endpointTarget) (map[string]elbv2types.TargetHealthDescription, error) {
	health, err := r.health(ctx, arn)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	var add []elbv2types.TargetDescription
	for _, t := range desired {
		want[t.id()] = true
		if h, ok := health[t.id()]; !ok || h.TargetHealth == nil || h.TargetHealth.State == elbv2types.TargetHealthStateEnumDraining {
			add = append(add, elbv2types.TargetDescription{Id: aws.String(t.IP), Port: aws.Int32(t.Port)})
		}
	}
	var remove []elbv2types.TargetDescription
	for id, h := range health {
		if want[id] || h.TargetHealth == nil || h.TargetHealth.State == elbv2types.TargetHealthStateEnumDraining {
			continue
		}
		remove = append(remove, *h.Target)
	}
	sortTargets(add)
	sortTargets(remove)
	if len(add)+len(remove) > 0 {
		ctrl.LoggerFrom(ctx).Info("syncing targets", "targetGroup", arn, "register", len(add), "deregister", len(remove))
	}
	for start := 0; start < len(add); start += maxTargetsPerCall {
		batch := add[start:min(start+maxTargetsPerCall, len(add))]
		if _, err := r.opts.ELBV2.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: aws.String(arn), Targets: batch}); err != nil {
			return nil, fmt.Errorf("RegisterTargets %s: %w", arn, err)
		}
	}
	for start := 0; start < len(remove); start += maxTargetsPerCall {
		batch := remove[start:min(start+maxTargetsPerCall, len(remove))]
		if _, err := r.opts.ELBV2.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(arn), Targets: batch}); err != nil {
			return nil, fmt.Errorf("DeregisterTargets %s: %w", arn, err)
		}
	}
	if len(add)+len(remove) == 0 {
		return health, nil
	}
	return r.health(ctx, arn)
}

func sortTargets(ts []elbv2types.TargetDescription) {
	sort.Slice(ts, func(i, j int) bool { return aws.ToString(ts[i].Id) < aws.ToString(ts[j].Id) })
}

func (r *bindingReconciler) health(ctx context.Context, arn string) (map[string]elbv2types.TargetHealthDescription, error) {
	resp, err := r.opts.ELBV2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("DescribeTargetHealth %s: %w", arn, err)
	}
	out := map[string]elbv2types.TargetHealthDescription{}
	for _, d := range resp.TargetHealthDescriptions {
		if d.Target == nil {
			continue
		}
		id := net.JoinHostPort(aws.ToString(d.Target.Id), strconv.Itoa(int(aws.ToInt32(d.Target.Port))))
		out[id] = d
	}
	return out, nil
}

// updateGates sets the readiness-gate condition of pods that declare it: True when
// their target is healthy. It reports whether anything is still waiting to turn
// healthy behind a gate (so health is polled again; without gates nobody waits).
func (r *bindingReconciler) updateGates(ctx context.Context, tgbName string, desired []endpointTarget,
	health map[string]elbv2types.TargetHealthDescription) (pending bool, err error) {
	gate := corev1.PodConditionType(ReadinessGatePrefix + tgbName)
	for _, t := range desired {
		h := health[t.id()]
		state, reason, msg := elbv2types.TargetHealthStateEnum(""), "", ""
		if h.TargetHealth != nil {
			state, reason, msg = h.TargetHealth.State, string(h.TargetHealth.Reason), aws.ToString(h.TargetHealth.Description)
		}
		healthy := state == elbv2types.TargetHealthStateEnumHealthy
		if t.Pod == nil || !hasGate(t.Pod, gate) {
			continue
		}
		if !healthy {
			pending = true
		}
		if err := r.setGate(ctx, t.Pod, gate, healthy, reason, msg); err != nil {
			return pending, err
		}
	}
	return pending, nil
}

func (r *bindingReconciler) setGate(ctx context.Context, pod *corev1.Pod, gate corev1.PodConditionType, healthy bool, reason, msg string) error {
	status := corev1.ConditionFalse
	if healthy {
		status, reason, msg = corev1.ConditionTrue, "", ""
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == gate && c.Status == status && c.Reason == reason && c.Message == msg {
			return nil
		}
	}
	// A strategic merge patch merges pod conditions by type, so it cannot clobber the
	// conditions the node agent writes at the same time.
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.PodCondition{{
		Type: gate, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.Now(),
	}}}})
	if err != nil {
		return err
	}
	if err := r.client.Status().Patch(ctx, pod, client.RawPatch(types.StrategicMergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("set condition %s on pod %s/%s: %w", gate, pod.Namespace, pod.Name, err)
	}
	return nil
}

// finalize deregisters every target of a binding being deleted, then lets it go.
func (r *bindingReconciler) finalize(ctx context.Context, tgb *unstructured.Unstructured, spec bindingSpec) error {
	if !controllerutil.ContainsFinalizer(tgb, TGBFinalizer) {
		return nil
	}
	if _, err := r.sync(ctx, spec.TargetGroupARN, nil); err != nil && !isAPIError(err, "TargetGroupNotFound") {
		return err
	}
	patch := client.MergeFrom(tgb.DeepCopy())
	controllerutil.RemoveFinalizer(tgb, TGBFinalizer)
	return client.IgnoreNotFound(r.client.Patch(ctx, tgb, patch))
}
