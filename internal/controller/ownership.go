package controller

import (
	"context"
	"fmt"
	"slices"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// A Service's selector can follow one rollout only. The rollout that first
// points it at its pods marks it with ManagedByAnnotation (Argo Rollouts'
// annotation, whose value is the rollout's name); another rollout that names
// the Service is an invalid spec and writes nothing, as in Argo Rollouts:
// re-pointing the selector would empty a target group the first rollout
// sends traffic to.

// writtenServices lists the Services whose selector a rollout writes: the
// canary, stable, ping and pong Services of a canary, the active and preview
// Services of a blue-green (root Services are only read).
func writtenServices(ro *v1alpha1.Rollout) []string {
	var out []string
	if c := ro.Spec.Strategy.Canary; c != nil {
		out = append(out, c.CanaryService, c.StableService)
		if c.PingPong != nil {
			out = append(out, c.PingPong.PingService, c.PingPong.PongService)
		}
	}
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		out = append(out, bg.ActiveService, bg.PreviewService)
	}
	return nonEmpty(out)
}

// servicesManagedElsewhere returns, by Service name, the other rollout that
// manages a Service this rollout writes: the annotation names another
// rollout of the namespace, and that rollout still names the Service among
// those it writes. An annotation naming a rollout that is gone, or that no
// longer names the Service, is stale and ignored (the Service is taken over
// at the next write).
func (r *Reconciler) servicesManagedElsewhere(ctx context.Context, ro *v1alpha1.Rollout, obs *observed) (map[string]string, error) {
	var out map[string]string
	for _, name := range writtenServices(ro) {
		svc := obs.services[name]
		if svc == nil {
			continue
		}
		owner, ok := svc.Annotations[ManagedByAnnotation]
		if !ok || owner == "" || owner == ro.Name {
			continue
		}
		var other v1alpha1.Rollout
		err := r.client.Get(ctx, client.ObjectKey{Namespace: ro.Namespace, Name: owner}, &other)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("reading rollout %s/%s, which service %s names as its manager: %w", ro.Namespace, owner, name, err)
		}
		if other.DeletionTimestamp != nil || !slices.Contains(writtenServices(&other), name) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = owner
	}
	return out, nil
}

// rejectSharedServices reports, as an invalid spec, the Services of the
// rollout that another rollout manages (finishStatus emits the warning
// event when the report is new); true when there are any (the pass then
// changes nothing).
func (c *rolloutContext) rejectSharedServices() bool {
	if len(c.obs.managedElsewhere) == 0 {
		return false
	}
	names := make([]string, 0, len(c.obs.managedElsewhere))
	for name := range c.obs.managedElsewhere {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c.specError("service %s/%s is managed by rollout %s (annotation %s): a Service's selector can follow one rollout only, so this rollout changes nothing; give it a Service of its own",
			c.ro.Namespace, name, c.obs.managedElsewhere[name], ManagedByAnnotation)
	}
	return true
}

// releaseServices lets go of the Services the rollout managed and no longer
// names (observed.released), as Argo Rollouts does when a blue-green
// rollout becomes a canary: the pod-template-hash selector is removed, so
// the Service selects the rollout's pods of every version again, and so is
// the managed-by annotation. A Service an ALB Ingress names keeps its
// selector: widening it would register pods in a target group under
// traffic before they are healthy there; the rollout reports it instead. A
// Service the rollout's action may still forward to (a renamed
// canaryService) is kept until that traffic is gone, verified.
func (c *rolloutContext) releaseServices(ctx context.Context) error {
	for _, svc := range c.obs.released {
		if c.exposure().serves(svc.Name) {
			continue // the load balancer may still forward to it: kept as it is
		}
		if c.obs.ingressNamed[svc.Name] {
			log.FromContext(ctx).Info("service no longer named by the rollout keeps its selector: an ALB ingress routes to it", "service", svc.Name)
			continue
		}
		n := svc.DeepCopy()
		delete(n.Annotations, ManagedByAnnotation)
		from := n.Spec.Selector[replicaset.HashLabel]
		delete(n.Spec.Selector, replicaset.HashLabel)
		if err := c.r.client.Patch(ctx, n, client.MergeFromWithOptions(svc, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("releasing service %s/%s, which the rollout no longer names: %w", svc.Namespace, svc.Name, err)
		}
		if from != "" {
			c.normal(v1alpha1.ReasonSwitchService, "Released service %s, which the rollout no longer names: selector widened from %s to the rollout's pods", svc.Name, from)
		}
	}
	return nil
}
