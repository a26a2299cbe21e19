package verify

import (
	"errors"
	"fmt"
	"net"
	"slices"
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
	// RoleActive and RolePreview are the services of a blue-green rollout.
	RoleActive  Role = "active"
	RolePreview Role = "preview"
)

// Input is what the rollout expects the ALB to do.
//
// Two modes select which listener rules are verified:
//
//   - Action (ActionName set): the rules the load balancer controller builds
//     from the alb.ingress.kubernetes.io/actions.<ActionName> annotation. They
//     are recognised by the groups they forward to: every rule that forwards
//     to a target group of one of the Destinations is the action's, unless
//     it forwards to the groups of a single destination and nothing else (the
//     LBC keeps a group at weight 0 in the action's rules, so those name all
//     of them). Such a rule is an Ingress default backend or a plain path to
//     one of the services, or a header route: it is reported in
//     Result.OtherRules and in the message, not judged. With a single
//     destination, every rule that forwards to its groups is the action's.
//     Every listener is judged, though: the LBC puts every path of an
//     Ingress on all its listeners, so a listener that has rules of the
//     ingress (such a rule, or a route's) but none of the action, while
//     another listener has rules of the action, has not been given the
//     action yet, and the check is Pending (ReasonRulesNotFound, naming the
//     listener) until it has. A listener whose rules forward to none of the
//     action's or the routes' groups is another ingress's and not judged.
//   - Plain backend (ActionName empty): exactly one Destination, a Service
//     that Ingress paths name directly (no action annotation), as the active
//     service of a blue-green rollout in Service-selector mode. The LBC then
//     builds, per path, a rule that forwards to that service's target group
//     alone (a single TargetGroupArn, or a ForwardConfig with one group).
//     Every rule that forwards to the destination's groups must forward all
//     of its traffic there (any other group in it at weight 0), and the
//     destination's expected targets must be healthy.
//
// Routes (header routes) are verified in the same check, in either mode.
type Input struct {
	// Namespace of the Ingresses and Services.
	Namespace string
	// Ingresses that carry the action; every one must verify.
	Ingresses []Ingress
	// ActionName is the service name of the alb.ingress.kubernetes.io/actions.<name>
	// annotation (the root or stable service); it names the action in
	// diagnoses. Empty selects the plain-backend mode (see Input).
	ActionName string
	// ServicePort is the servicePort written in the action (a number or a
	// port name), as the load balancer controller puts it in the
	// ingress.k8s.aws/resource tag. A Destination may override it.
	ServicePort string
	// Destinations are the canary, stable and additional services of the
	// action (or the one backend service) with their desired weights
	// (percent) and expected targets.
	Destinations []Destination
	// Routes are header routes verified alongside the action: each one is
	// either in place (its rules forward as its Destinations say, to healthy
	// targets) or removed (no rule of it remains).
	Routes []Route
	// TargetGroupBindings of the namespace (see ListTargetGroupBindings), used
	// for target groups that carry no ingress.k8s.aws/resource tag.
	TargetGroupBindings []TargetGroupBinding
	// DesiredAt is when the desired weights were written (the annotation
	// update); the timeout counts from here, and no ELBv2 answer read before
	// it is used for the verdict.
	DesiredAt time.Time
	// Timeout is how long the ALB may take to converge; 0 means DefaultTimeout.
	Timeout time.Duration
	// HealthOnly asks only what raising a group's weight needs: every rule
	// of the action references a group of each destination that
	// RequireHealthy, every listener with rules of the ingress has rules of
	// the action (see Input), and that destination's expected targets are
	// registered and healthy in every such group, read after DesiredAt. The
	// rules' weights, the health of the other destinations and the routes
	// are not judged, and no fresh listener list is read before Verified:
	// the weights in place were verified when they were written, and the
	// ones about to be written are verified (fully) then. At least one
	// destination must RequireHealthy.
	HealthOnly bool
	// WeightTotal is what the desired weights are out of: 0 means 100
	// (percent). Argo Rollouts' maxTrafficWeight sets it (up to 999, the
	// largest ALB weight); ALB weights are relative, so 5 of 1000 is 0.5 %.
	WeightTotal int32
}

// weightTotal is what the desired weights are out of.
func (in *Input) weightTotal() int64 {
	if in.WeightTotal <= 0 {
		return 100
	}
	return int64(in.WeightTotal)
}

// Ingress is one Ingress that routes through the action.
type Ingress struct {
	Name string
	// Hostname is status.loadBalancer.ingress[0].hostname; empty while the
	// load balancer controller has not provisioned the ALB.
	Hostname string
}

// Destination is one service of the action (or of a route).
type Destination struct {
	Role    Role
	Service string
	// ServicePort overrides Input.ServicePort for this service.
	ServicePort string
	// Weight is the desired weight, out of Input.WeightTotal (percent by
	// default, as in the annotation).
	Weight int32
	// Targets are the targets that must be registered and healthy when the
	// weight is above zero (or RequireHealthy is set): ready pod IP:port of
	// the ReplicaSet that will receive the traffic (see
	// TargetsFromEndpointSlices), or instance ID and node port in instance
	// mode. When empty, at least one healthy target is required.
	Targets []Target
	// RequireHealthy asks for the Targets to be registered and healthy in
	// every target group of this destination that the rules reference, even
	// when Weight is 0, and for every rule to reference one of its groups.
	// Set it to check a group's health before raising its weight: the ALB
	// health-checks a group that a rule references even at weight 0, so its
	// targets can be healthy before they get traffic. Without it, a group
	// at weight 0 may hold anything.
	RequireHealthy bool
	// VerifiedWeight is the weight last verified for this destination with
	// the same targets (out of the same total), or nil when unknown. A
	// destination whose Weight is not above it, and that does not
	// RequireHealthy, holds: the shift gives its groups no more traffic than
	// they had, verified, so they are judged on the most recent health read
	// of any age (shared by every check through the provider's cache) and
	// not read when nothing was read yet. Their targets that are not
	// healthy are reported (Result.Notes, TargetGroupObservation.Held),
	// never a reason to wait. A destination that gains traffic (Weight above
	// VerifiedWeight, or VerifiedWeight nil) is read healthy after the
	// change, as before. Leave it nil when the targets changed since.
	VerifiedWeight *int32
}

// holds reports whether the destination's groups get no more traffic than
// was last verified for them (see Destination.VerifiedWeight).
func (d Destination) holds() bool {
	return !d.RequireHealthy && d.VerifiedWeight != nil && d.Weight <= *d.VerifiedWeight
}

// Route is a header route, as written for an Argo Rollouts setHeaderRoute
// step named Name: the annotations alb.ingress.kubernetes.io/actions.<Name>
// (forward to the canary service) and alb.ingress.kubernetes.io/conditions.<Name>
// (an http-header condition), and an Ingress path to service <Name> with
// port name use-annotation. The load balancer controller turns them into
// listener rules that carry that http-header condition.
type Route struct {
	// Name of the route; it names the route in diagnoses.
	Name string
	// Headers identify the route's rules: a listener rule is the route's
	// when it has, for every entry, an http-header condition on that header
	// (compared case-insensitively) with exactly those values (in any
	// order), as conditions.<Name> holds them. A rule that matches several
	// routes belongs to the one with the most entries. At least one.
	Headers []HeaderMatch
	// Destinations the route forwards to, with desired weights and expected
	// targets (for setHeaderRoute: the canary service at 100). They are
	// verified like the action's, on every rule of the route, and every
	// listener that has a rule of the action must have a rule of the route.
	// Empty means the route was removed: no rule of the route may remain.
	Destinations []Destination
}

// HeaderMatch is one http-header condition of a route.
type HeaderMatch struct {
	Name   string
	Values []string
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
	if in.ActionName == "" && len(in.Destinations) > 1 {
		errs = append(errs, fmt.Errorf("no action name, which selects the plain-backend mode, but %d destinations given: the plain-backend mode verifies exactly one service; name the action to verify several", len(in.Destinations)))
	}
	errs = append(errs, in.validateDestinations("", in.Destinations)...)
	if len(in.Destinations) > 0 && sumWeights(in.Destinations) == 0 {
		errs = append(errs, errors.New("all desired weights are 0"))
	}
	names := map[string]bool{}
	for _, r := range in.Routes {
		what := "route " + r.Name
		switch {
		case r.Name == "":
			errs = append(errs, errors.New("a route has no name"))
			what = "a route"
		case names[r.Name]:
			errs = append(errs, fmt.Errorf("route %s is given twice", r.Name))
		}
		names[r.Name] = true
		if len(r.Headers) == 0 {
			errs = append(errs, fmt.Errorf("%s has no header condition to identify its rules", what))
		}
		for _, h := range r.Headers {
			if h.Name == "" || len(h.Values) == 0 {
				errs = append(errs, fmt.Errorf("%s has a header condition without header name or values", what))
			}
		}
		errs = append(errs, in.validateDestinations(what+": ", r.Destinations)...)
		if len(r.Destinations) > 0 && sumWeights(r.Destinations) == 0 {
			errs = append(errs, fmt.Errorf("%s: all desired weights are 0 (give no destinations for a removed route)", what))
		}
	}
	if in.HealthOnly && !slices.ContainsFunc(in.Destinations, func(d Destination) bool { return d.RequireHealthy }) {
		errs = append(errs, errors.New("a health-only check without a destination that requires healthy targets checks nothing"))
	}
	if in.WeightTotal < 0 || in.WeightTotal > 999 {
		errs = append(errs, fmt.Errorf("the weight total %d is not 1-999 (ALB weights go up to 999)", in.WeightTotal))
	}
	if in.DesiredAt.IsZero() {
		errs = append(errs, errors.New("the time the desired state was written is not set"))
	}
	return errors.Join(errs...)
}

// validateDestinations checks one set of destinations (the action's or a route's).
func (in *Input) validateDestinations(prefix string, ds []Destination) []error {
	var errs []error
	seen := map[string]bool{}
	for _, d := range ds {
		if d.Service == "" {
			errs = append(errs, errors.New(prefix+"a destination has no service name"))
		}
		if in.port(d) == "" {
			errs = append(errs, fmt.Errorf("%sdestination %s has no service port", prefix, d.Service))
		}
		if key := d.Service + ":" + in.port(d); seen[key] {
			errs = append(errs, fmt.Errorf("%sdestination %s is given twice", prefix, key))
		} else {
			seen[key] = true
		}
		if d.Weight < 0 || int64(d.Weight) > in.weightTotal() {
			errs = append(errs, fmt.Errorf("%sdestination %s has weight %d, want 0-%d", prefix, d.Service, d.Weight, in.weightTotal()))
		}
	}
	if sum := sumWeights(ds); sum > in.weightTotal() {
		total := fmt.Sprintf("the total %d", in.weightTotal())
		if in.weightTotal() == 100 {
			total = "100 percent"
		}
		errs = append(errs, fmt.Errorf("%sthe desired weights add up to %d, more than %s", prefix, sum, total))
	}
	return errs
}

func sumWeights(ds []Destination) int64 {
	var sum int64
	for _, d := range ds {
		sum += int64(d.Weight)
	}
	return sum
}
