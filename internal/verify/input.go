package verify

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// DefaultTimeout is how long after the desired state was written a
// verification may stay unverified before it times out.
const DefaultTimeout = 30 * time.Second

// Role says what a destination is to the rollout. It only labels diagnoses.
type Role string

// The roles of a destination.
const (
	RoleCanary     Role = "canary"
	RoleStable     Role = "stable"
	RoleAdditional Role = "additional"
)

// Input is what the rollout expects the ALB to do.
type Input struct {
	// Namespace of the Ingresses and Services.
	Namespace string
	// Ingresses that carry the action; every one must verify.
	Ingresses []Ingress
	// ActionName is the service name of the alb.ingress.kubernetes.io/actions.<name>
	// annotation (the root or stable service). It names the action in diagnoses.
	ActionName string
	// ServicePort is the servicePort written in the action (a number or a
	// port name), as the load balancer controller puts it in the
	// ingress.k8s.aws/resource tag. A Destination may override it.
	ServicePort string
	// Destinations are the canary, stable and additional services of the
	// action with their desired weights (percent) and expected targets.
	Destinations []Destination
	// TargetGroupBindings of the namespace (see ListTargetGroupBindings), used
	// for target groups that carry no ingress.k8s.aws/resource tag.
	TargetGroupBindings []TargetGroupBinding
	// DesiredAt is when the desired weights were written (the annotation
	// update); the timeout counts from here.
	DesiredAt time.Time
	// Timeout is how long the ALB may take to converge; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Ingress is one Ingress that routes through the action.
type Ingress struct {
	Name string
	// Hostname is status.loadBalancer.ingress[0].hostname; empty while the
	// load balancer controller has not provisioned the ALB.
	Hostname string
}

// Destination is one service of the action.
type Destination struct {
	Role    Role
	Service string
	// ServicePort overrides Input.ServicePort for this service.
	ServicePort string
	// Weight is the desired weight in percent (0-100, as in the annotation).
	Weight int32
	// Targets are the targets that must be registered and healthy when the
	// weight is above zero: ready pod IP:port of the ReplicaSet that will
	// receive the traffic (see TargetsFromEndpointSlices), or instance ID and
	// node port in instance mode. When empty, at least one healthy target is
	// required.
	Targets []Target
}

// Target is a target as ELBv2 names it.
type Target struct {
	ID   string // IP address or instance ID
	Port int32
}

func (t Target) String() string { return net.JoinHostPort(t.ID, strconv.Itoa(int(t.Port))) }

// port returns the service port a destination's target groups were built for.
func (in *Input) port(d Destination) string {
	if d.ServicePort != "" {
		return d.ServicePort
	}
	return in.ServicePort
}

// timeout returns the effective timeout.
func (in *Input) timeout() time.Duration {
	if in.Timeout > 0 {
		return in.Timeout
	}
	return DefaultTimeout
}

// Deadline is the moment the verification times out.
func (in *Input) Deadline() time.Time { return in.DesiredAt.Add(in.timeout()) }

// validate reports input the verifier cannot act on; these are programming
// or configuration errors, not ALB state.
func (in *Input) validate() error {
	var errs []error
	if in.Namespace == "" {
		errs = append(errs, errors.New("namespace is empty"))
	}
	if len(in.Ingresses) == 0 {
		errs = append(errs, errors.New("no ingress given"))
	}
	for _, ing := range in.Ingresses {
		if ing.Name == "" {
			errs = append(errs, errors.New("an ingress has no name"))
		}
	}
	if len(in.Destinations) == 0 {
		errs = append(errs, errors.New("no destination service given"))
	}
	var sum int64
	for _, d := range in.Destinations {
		if d.Service == "" {
			errs = append(errs, errors.New("a destination has no service name"))
		}
		if in.port(d) == "" {
			errs = append(errs, fmt.Errorf("destination %s has no service port", d.Service))
		}
		if d.Weight < 0 || d.Weight > 999 {
			errs = append(errs, fmt.Errorf("destination %s has weight %d, want 0-100", d.Service, d.Weight))
		}
		sum += int64(d.Weight)
	}
	if len(in.Destinations) > 0 && sum == 0 {
		errs = append(errs, errors.New("all desired weights are 0"))
	}
	if in.DesiredAt.IsZero() {
		errs = append(errs, errors.New("the time the desired state was written is not set"))
	}
	return errors.Join(errs...)
}
