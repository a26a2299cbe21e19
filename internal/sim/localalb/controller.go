// Package localalb is a local stand-in for the AWS Load Balancer Controller: it turns
// Ingresses of class "alb" into application load balancers in elbsim, through the
// real ELBv2 API (aws-sdk-go-v2), the way the real controller does in AWS.
//
// What it does, per ingress group (alb.ingress.kubernetes.io/group.name, ordered by
// group.order; an ingress without a group is its own group):
//   - one ALB tagged elbv2.k8s.aws/cluster, ingress.k8s.aws/stack and
//     ingress.k8s.aws/resource=LoadBalancer, with an HTTP listener per listen-ports
//     entry (default 80);
//   - one rule per ingress path (path-pattern, host-header, conditions.<name>), in
//     group order, forwarding to a target group or following actions.<name>;
//   - one target group per service port (named k8s-<ns8>-<svc8>-<hash10>, tagged with
//     ingress.k8s.aws/resource=<ns>/<ingress>-<service>:<port>, health check from the
//     healthcheck-* annotations) and a TargetGroupBinding object for it;
//   - the ingress status hostname set to the ALB DNS name; a finalizer
//     (ingress.k8s.aws/resources) so deleting the ingress deletes the ALB.
//
// The TargetGroupBinding controller registers the ready pod IPs of the service's
// EndpointSlices as ip targets, deregisters the others, and sets the readiness-gate
// condition target-health.elbv2.k8s.aws/<binding> on pods that declare it.
//
// Bad annotations become Warning events (FailedBuildModel) on the Ingress and leave
// the ALB as it was. Options.ReconcileLag delays applying an Ingress change, like a
// slow or throttled real controller.
package localalb

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Controller names and keys shared with the real controller.
const (
	// IngressClassName is the ingressClassName (or legacy class annotation) handled.
	IngressClassName = "alb"
	// IngressClassController is the spec.controller of IngressClasses handled.
	IngressClassController = "ingress.k8s.aws/alb"
	// IngressFinalizer guards an ingress until its ALB resources are gone.
	IngressFinalizer = "ingress.k8s.aws/resources"
	// TGBFinalizer guards a TargetGroupBinding until its targets are deregistered.
	TGBFinalizer = "elbv2.k8s.aws/resources"
	// ReadinessGatePrefix + <TargetGroupBinding name> is the pod condition set True
	// when the pod's target is healthy.
	ReadinessGatePrefix = "target-health.elbv2.k8s.aws/"
	// LabelStackName and LabelStackNamespace mark the TargetGroupBindings of a stack.
	LabelStackName      = "ingress.k8s.aws/stack-name"
	LabelStackNamespace = "ingress.k8s.aws/stack-namespace"
	// DefaultClusterName is the elbv2.k8s.aws/cluster tag value by default.
	DefaultClusterName = "albrollouts-local"
)

// TargetGroupBindingGVK is the kind of the TargetGroupBinding objects written.
var TargetGroupBindingGVK = schema.GroupVersionKind{Group: "elbv2.k8s.aws", Version: "v1beta1", Kind: "TargetGroupBinding"}

// Options configures the controller.
type Options struct {
	// ELBV2 is the API client, e.g. an aws-sdk-go-v2 client pointed at elbsim. Required.
	ELBV2 ELBV2
	// ClusterName is the elbv2.k8s.aws/cluster tag; default DefaultClusterName.
	ClusterName string
	// ReconcileLag delays applying a changed Ingress (the real controller takes
	// seconds, minutes under throttling). 0 applies at once.
	ReconcileLag time.Duration
	// HealthPollInterval is how often target health is re-read while targets are not
	// healthy yet or readiness gates are pending; default 1s.
	HealthPollInterval time.Duration
	// OnDeployed, if set, is called after a stack was deployed with a different
	// address or listener set than before (for printing listener URLs).
	OnDeployed func(Deployed)
}

// Deployed describes an ALB the controller brought up or changed.
type Deployed struct {
	Stack     string   // ingress.k8s.aws/stack value
	DNSName   string   // the ALB's DNS name
	Ports     []int32  // listener ports
	Ingresses []string // member ingresses, namespace/name
}

// Controller is the local load balancer controller.
type Controller struct {
	opts Options
}

// New validates the options and returns a controller; add it to a manager with
// SetupWithManager.
func New(o Options) (*Controller, error) {
	if o.ELBV2 == nil {
		return nil, fmt.Errorf("local ALB controller: an ELBv2 client is required")
	}
	if o.ClusterName == "" {
		o.ClusterName = DefaultClusterName
	}
	if o.ReconcileLag < 0 {
		return nil, fmt.Errorf("local ALB controller: reconcile lag %s must not be negative", o.ReconcileLag)
	}
	if o.HealthPollInterval <= 0 {
		o.HealthPollInterval = time.Second
	}
	return &Controller{opts: o}, nil
}

// SetupWithManager registers the ingress-group and TargetGroupBinding reconcilers.
func (c *Controller) SetupWithManager(mgr ctrl.Manager) error {
	if err := (&ingressReconciler{opts: c.opts}).setup(mgr); err != nil {
		return fmt.Errorf("local ALB controller: %w", err)
	}
	if err := (&bindingReconciler{opts: c.opts}).setup(mgr); err != nil {
		return fmt.Errorf("local ALB controller: %w", err)
	}
	return nil
}
