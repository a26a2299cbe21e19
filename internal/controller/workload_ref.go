package controller

// spec.workloadRef: a Rollout that runs the pod template of a Deployment.
//
// Resolution. Every pass reads the Deployment the rollout names (apps/v1,
// same namespace) before anything else is observed, and puts its pod
// template (and its selector, when the rollout has none) into the pass's
// copy of the Rollout, with spec.templateResolvedFromRef set. Nothing of it
// is written back: the controller's writes to the Rollout are merge patches
// of what it changed (annotations, status), so the Rollout keeps an empty
// template. The pod-template hash is computed on that template exactly as
// on an inline one (Argo Rollouts does the same), so a rollout switched
// between an inline template and a Deployment carrying the same template
// (the same JSON, API server defaults included) finds its ReplicaSet and
// starts no update. A Deployment that is missing, or a spec that also sets
// a template, is an InvalidSpec: the rollout makes no change until it is
// fixed. Deployments are watched (generation changes): a new pod template
// starts an update at once. The Deployment's metadata.generation is
// recorded as Argo Rollouts records it: the annotation
// rollout.argoproj.io/workload-generation on the Rollout and
// status.workloadObservedGeneration.
//
// scaleDown. never (the default) leaves the Deployment alone. onsuccess
// scales it to 0 once the rollout is healthy: fully promoted, its traffic
// verified, Healthy in the status written before and in this pass.
// progressively lowers it as the rollout's pods become available (to
// spec.replicas minus the rollout's available pods, Argo's rule) and to 0
// once the rollout is healthy. Both only ever lower the Deployment's
// replicas; the controller never scales it up (Argo Rollouts scales it
// back up while the first revision is not healthy; here a person does).
//
// Safety. The Deployment's pods serve whatever Service selects them. Before
// the Deployment goes down, every Service that may receive traffic and
// selects its pods (a Service an ALB Ingress routes to, directly or by an
// action the rollout does not write, and the rollout's own Services while
// the guard's exposure says they may get traffic) must select ready pods of
// the rollout too; when the rollout verifies, those pods must be registered
// and healthy in each of that Service's target groups (verifyPlainGroups, as
// plainServedWithout checks the pods that stay before a ReplicaSet goes).
// That check runs only once the rollout is healthy, so that it does not
// interleave with the checks of an update: progressively then waits for the
// rollout to be healthy, as onsuccess does. The write itself goes through
// the guard's scale-down rule (vetWorkloadScale): a guarded Service that
// selects the Deployment's pods keeps, with the rollout's available pods it
// selects, what its traffic needs.

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/validation"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// WorkloadGenerationAnnotation is Argo Rollouts' annotation on a Rollout
// with spec.workloadRef: the metadata.generation of the referenced
// Deployment the controller last read.
const WorkloadGenerationAnnotation = "rollout.argoproj.io/workload-generation"

// reasonScalingDeployment is the reason of the event of a Deployment
// scaled down by workloadRef.scaleDown.
const reasonScalingDeployment = "ScalingDeployment"

// indexWorkloadRefs indexes Rollouts by the Deployment spec.workloadRef names.
const indexWorkloadRefs = "albrollouts.workloadref"

// workloadState is what a pass read of spec.workloadRef.
type workloadState struct {
	// deploy is the Deployment whose template the pass runs (nil: none).
	deploy *appsv1.Deployment
	// problem says why it could not be resolved (an InvalidSpec message).
	problem string
}

// rolloutWorkloadRefs lists the Deployment a rollout's workloadRef names
// (the index of the Deployment watch).
func rolloutWorkloadRefs(o client.Object) []string {
	ro, ok := o.(*v1alpha1.Rollout)
	if !ok || ro.Spec.WorkloadRef == nil || ro.Spec.WorkloadRef.Kind != "Deployment" || ro.Spec.WorkloadRef.Name == "" {
		return nil
	}
	return []string{ro.Spec.WorkloadRef.Name}
}

// resolveWorkloadRef reads the Deployment spec.workloadRef names and puts
// its pod template (and selector, when the rollout has none) into ro, in
// memory. A workloadRef that validation refuses, or a spec that sets a
// template too, is left unresolved: validation reports it.
func (r *Reconciler) resolveWorkloadRef(ctx context.Context, ro *v1alpha1.Rollout) (*workloadState, error) {
	ref := ro.Spec.WorkloadRef
	if ref == nil {
		return nil, nil
	}
	if len(validation.WorkloadRef(ref, field.NewPath("spec", "workloadRef"))) > 0 || !equality.Semantic.DeepEqual(ro.Spec.Template, corev1.PodTemplateSpec{}) {
		return &workloadState{}, nil
	}
	var d appsv1.Deployment
	err := r.client.Get(ctx, client.ObjectKey{Namespace: ro.Namespace, Name: ref.Name}, &d)
	switch {
	case apierrors.IsNotFound(err):
		return &workloadState{problem: fmt.Sprintf(
			"spec.workloadRef: Deployment %s/%s not found; the rollout takes its pod template from it: create it, or name an existing Deployment of namespace %s",
			ro.Namespace, ref.Name, ro.Namespace)}, nil
	case err != nil:
		return nil, fmt.Errorf("reading Deployment %s/%s, the spec.workloadRef of rollout %s: %w", ro.Namespace, ref.Name, ro.Name, err)
	}
	ro.Spec.Template = *d.Spec.Template.DeepCopy()
	if ro.Spec.Selector == nil {
		ro.Spec.Selector = d.Spec.Selector.DeepCopy()
	}
	ro.Spec.TemplateResolvedFromRef = true
	return &workloadState{deploy: &d}, nil
}

// specErrors returns the spec's problems: an unresolvable workloadRef, or
// what validation finds (finishStatus reports them: the InvalidSpec
// condition, and a Warning event when they change).
func (c *rolloutContext) specErrors() []string {
	var msgs []string
	if w := c.obs.workload; w != nil && w.problem != "" {
		msgs = []string{w.problem}
	} else {
		for _, e := range validation.Rollout(c.ro) {
			msgs = append(msgs, e.Error())
		}
	}
	return msgs
}

// syncWorkload runs after the pass's decisions: it records the generation
// of the Deployment the pass ran (annotation and status) and, when the pass
// went through, applies scaleDown. It returns runErr, or its own error.
func (c *rolloutContext) syncWorkload(ctx context.Context, runErr error) error {
	if c.ro.Spec.WorkloadRef == nil {
		c.status.WorkloadObservedGeneration = ""
		return runErr
	}
	w := c.obs.workload
	if w == nil || w.deploy == nil {
		return runErr
	}
	gen := strconv.FormatInt(w.deploy.Generation, 10)
	c.status.WorkloadObservedGeneration = gen
	if err := c.recordWorkloadGeneration(ctx, gen); err != nil {
		if runErr != nil {
			return runErr
		}
		return err
	}
	if runErr != nil || len(c.invalid) > 0 {
		return runErr
	}
	return c.scaleDownWorkload(ctx, w.deploy)
}

// recordWorkloadGeneration sets Argo's workload-generation annotation on
// the Rollout (a merge patch of that annotation alone).
func (c *rolloutContext) recordWorkloadGeneration(ctx context.Context, gen string) error {
	if c.ro.Annotations[WorkloadGenerationAnnotation] == gen {
		return nil
	}
	n := c.ro.DeepCopy()
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	n.Annotations[WorkloadGenerationAnnotation] = gen
	if err := c.r.client.Patch(ctx, n, client.MergeFromWithOptions(c.ro, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("recording the generation of Deployment %s (annotation %s) on rollout %s/%s: %w", c.ro.Spec.WorkloadRef.Name, WorkloadGenerationAnnotation, c.ro.Namespace, c.ro.Name, err)
	}
	c.r.own.wrote(n.UID, n.ResourceVersion)
	// The pass's copy keeps its resolved template; only what was written
	// changes.
	c.ro.Annotations, c.ro.ResourceVersion = n.Annotations, n.ResourceVersion
	return nil
}

// workloadScaleTarget is the replica count scaleDown allows the Deployment
// now: never lowers nothing; onsuccess lowers it to 0 once the rollout is
// healthy; progressively to replicas - available (the rollout's available
// pods take the place of the Deployment's), and to 0 once healthy. It is
// never above current: the Deployment is only ever scaled down.
func workloadScaleTarget(policy string, current, replicas, available int32, healthy bool) int32 {
	target := current
	switch policy {
	case v1alpha1.ScaleDownOnSuccess:
		if healthy {
			target = 0
		}
	case v1alpha1.ScaleDownProgressively:
		if healthy {
			target = 0
		} else {
			target = max(replicas-available, 0)
		}
	}
	return min(target, current)
}

// workloadHealthy reports whether the rollout is healthy for scaleDown:
// Healthy in the status written before this pass and in this pass's, the
// current template stable.
func (c *rolloutContext) workloadHealthy() bool {
	return c.ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && c.status.Phase == v1alpha1.RolloutPhaseHealthy &&
		c.status.StableRS != "" && c.status.StableRS == c.status.CurrentPodHash && !c.status.Abort
}

// scaleDownWorkload lowers the Deployment's replicas as scaleDown allows,
// as far as the traffic that reaches its pods allows.
func (c *rolloutContext) scaleDownWorkload(ctx context.Context, d *appsv1.Deployment) error {
	if d.DeletionTimestamp != nil {
		return nil
	}
	policy := c.ro.Spec.WorkloadRef.ScaleDown
	current := ptr.Deref(d.Spec.Replicas, 1)
	healthy := c.workloadHealthy()
	target := workloadScaleTarget(policy, current, c.replicas(), c.status.AvailableReplicas, healthy)
	if target >= current {
		return nil
	}
	why, err := c.workloadServed(ctx, d, healthy)
	if err != nil {
		return err
	}
	if why != "" {
		log.FromContext(ctx).V(1).Info("holding the scale-down of the referenced Deployment", "deployment", d.Name, "why", why)
		c.after(guardRetry)
		return nil
	}
	if u := c.vetWorkloadScale(d, target); u != nil {
		_ = c.refuse(u)
		return nil
	}
	n := d.DeepCopy()
	n.Spec.Replicas = ptr.To(target)
	if err := c.r.client.Patch(ctx, n, client.MergeFromWithOptions(d, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("scaling down Deployment %s/%s from %d to %d (spec.workloadRef.scaleDown %s): %w", d.Namespace, d.Name, current, target, policy, err)
	}
	c.normal(reasonScalingDeployment, "Scaled down Deployment %s from %d to %d (workloadRef scaleDown: %s; the rollout has %d available pods)",
		d.Name, current, target, policy, c.status.AvailableReplicas)
	return nil
}

// selectsTemplate reports whether a Service's selector selects pods with
// the labels of a pod template.
func selectsTemplate(svc *corev1.Service, tmpl *corev1.PodTemplateSpec) bool {
	return svc != nil && len(svc.Spec.Selector) > 0 && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(tmpl.Labels))
}

// workloadServed says why the Deployment's pods cannot go yet ("" when they
// can): a Service that may receive traffic selects them and does not yet
// have ready pods of the rollout, or, when the rollout verifies, those pods
// are not yet healthy in each of the Service's ALB target groups.
func (c *rolloutContext) workloadServed(ctx context.Context, d *appsv1.Deployment, healthy bool) (string, error) {
	for _, svc := range c.workloadServices(d) {
		if why, err := c.servedWithoutWorkload(ctx, svc, healthy); why != "" || err != nil {
			return why, err
		}
	}
	return "", nil
}

// workloadServices are the Services of the namespace (as this pass left
// them) that select the Deployment's pods and may receive traffic: an ALB
// Ingress routes to them, or the guard's exposure says so.
func (c *rolloutContext) workloadServices(d *appsv1.Deployment) []*corev1.Service {
	e := c.exposure()
	var out []*corev1.Service
	for i := range c.obs.namespaceServices {
		svc := &c.obs.namespaceServices[i]
		if s := c.obs.services[svc.Name]; s != nil {
			svc = s
		}
		name := svc.Name
		traffic := c.obs.ingressNamed[name] || c.obs.plainBackends[name] || e.serves(name)
		if svc.DeletionTimestamp == nil && traffic && selectsTemplate(svc, &d.Spec.Template) {
			out = append(out, svc)
		}
	}
	return out
}

// servedWithoutWorkload says why svc still needs the Deployment's pods (""
// when it does not): it selects no ready pod of the rollout, or, when the
// rollout verifies, those pods are not yet seen healthy in each of its ALB
// target groups (checked once the rollout is healthy).
func (c *rolloutContext) servedWithoutWorkload(ctx context.Context, svc *corev1.Service, healthy bool) (string, error) {
	var ready []corev1.Pod
	for _, p := range c.obs.podsSelectedBy(svc) {
		if podReady(&p) && p.DeletionTimestamp == nil {
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		return fmt.Sprintf("service %s selects the Deployment's pods and may receive traffic, and selects no ready pod of the rollout", svc.Name), nil
	}
	if !c.verifying() {
		return "", nil
	}
	groups, err := c.plainGroups(ctx, svc)
	if err != nil || len(groups) == 0 {
		return "", err
	}
	if !healthy {
		return fmt.Sprintf("service %s selects the Deployment's pods and an ALB routes to it: the rollout's pods are checked healthy in its target groups once the rollout is healthy", svc.Name), nil
	}
	ok, err := c.sideCheck(func() (bool, error) {
		return c.verifyPlainGroups(ctx, groups, verify.RoleStable, svc, svc.Spec.Selector[replicaset.HashLabel], ready, v1alpha1.VerificationTargetHealth, true)
	})
	if err != nil || !ok {
		return fmt.Sprintf("service %s selects the Deployment's pods and an ALB routes to it: the rollout's %d ready pods it selects are not yet seen healthy in its target groups", svc.Name, len(ready)), err
	}
	return "", nil
}

// sideCheck runs a check whose record is not the rollout's: the Deployment's
// groups are checked after the pass decided, and status.verification and
// the TrafficVerified condition keep the rollout's own last check (the
// steady state's, which the next pass would otherwise redo). The check must
// then succeed within one pass; until it does, the Deployment keeps its pods.
func (c *rolloutContext) sideCheck(check func() (bool, error)) (bool, error) {
	saved := c.status.Verification.DeepCopy()
	var cond *v1alpha1.RolloutCondition
	if cur := c.condition(v1alpha1.ConditionTrafficVerified); cur != nil {
		cond = cur.DeepCopy()
	}
	ok, err := check()
	c.status.Verification = saved
	c.removeCondition(v1alpha1.ConditionTrafficVerified)
	if cond != nil {
		c.status.Conditions = append(c.status.Conditions, *cond)
	}
	return ok, err
}

// vetWorkloadScale is the write guard's scale-down rule (vetScale) for the
// Deployment: a guarded Service that may receive traffic and selects the
// Deployment's pods keeps, with the rollout's available pods it selects,
// what its traffic needs.
func (c *rolloutContext) vetWorkloadScale(d *appsv1.Deployment, replicas int32) *unsafeWrite {
	e := c.exposure()
	for _, name := range c.guardedServices() {
		svc := c.obs.services[name]
		if svc == nil || !e.serves(name) || !selectsTemplate(svc, &d.Spec.Template) {
			continue
		}
		need := c.need(e, name)
		have := replicas
		for _, rs := range c.obs.rss {
			if selects(svc, rs) {
				have += replicaset.Available(rs)
			}
		}
		if have < need {
			return &unsafeWrite{write: fmt.Sprintf("scale Deployment %s from %d to %d", d.Name, ptr.Deref(d.Spec.Replicas, 1), replicas),
				object:    fmt.Sprintf("service %s/%s", svc.Namespace, name),
				invariant: fmt.Sprintf("the service selects the Deployment's pods and may receive traffic (%s), which needs %d pods; %d would be left", e.describe(name), need, have),
				waitFor:   "more available pods of the rollout behind the service"}
		}
	}
	return nil
}
