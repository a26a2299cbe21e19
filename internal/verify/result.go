package verify

import (
	"time"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// Outcome is the verdict of one check.
type Outcome string

// The outcomes of a check.
const (
	// Verified: every rule of the action forwards the desired weights and
	// every expected target of every group that gets traffic is healthy.
	Verified Outcome = "Verified"
	// Pending: the ALB has not converged yet; Message says what is missing.
	// Check again after NextCheck.
	Pending Outcome = "Pending"
	// Failed: the check could not be made; Reason classifies the error
	// (AccessDenied, RegionMismatch, ...). Unless the input is invalid it is
	// retried after NextCheck until the deadline, since someone may fix it.
	Failed Outcome = "Failed"
	// TimedOut: the deadline passed without verification. Final for this
	// desired state; Cause says what was still wrong.
	TimedOut Outcome = "TimedOut"
)

// Reasons (CamelCase, for status conditions and events). Errors from the
// ELBv2 provider use their elbv2.Kind as reason: Throttled, AccessDenied,
// RegionMismatch, LoadBalancerNotFound, ListenerNotFound, TargetGroupNotFound,
// AWSCredentialsUnavailable, AWSUnreachable, AWSError.
const (
	ReasonWeightsVerified = "WeightsVerified"
	// ReasonTargetsHealthy is the reason of a Verified Input.HealthOnly check.
	ReasonTargetsHealthy             = "TargetsHealthy"
	ReasonLoadBalancerNotProvisioned = "LoadBalancerNotProvisioned"
	ReasonRulesNotFound              = "RulesNotFound"
	ReasonWeightMismatch             = "WeightMismatch"
	ReasonTargetsNotHealthy          = "TargetsNotHealthy"
	ReasonVerificationTimedOut       = "VerificationTimedOut"
	ReasonInvalidInput               = "InvalidInput"
)

// Result is the verdict of one check with its diagnosis.
type Result struct {
	Outcome Outcome
	// Reason is a CamelCase reason for conditions and events.
	Reason string
	// Message is the human diagnosis, e.g. "listener :443 rule 3: canary
	// k8s-demo-canary-1a2b weight 0, want 25; canary k8s-demo-canary-1a2b
	// targets 2/3 healthy (127.0.1.7:8080 unhealthy Target.ResponseCodeMismatch)".
	Message string
	// Cause is, for TimedOut, the reason of the last check (WeightMismatch, ...).
	Cause string
	// Err is the classified error of a Failed check (an *elbv2.Error or the input error).
	Err error
	// TargetGroups holds what was observed per target group of the action
	// and of each route (Route set).
	TargetGroups []TargetGroupObservation
	// LoadBalancers names, per ingress whose load balancer was read, the
	// load balancer and the target groups found for the destinations, for
	// status.alb / status.albs. Filled whatever the outcome.
	LoadBalancers []LoadBalancerObservation
	// OtherRules are rules that forward to a target group of the action
	// without being its rules (an Ingress default backend or a plain path to
	// one of its services, a header route not in Input.Routes). They are
	// reported, not judged: traffic they carry is not part of the verdict,
	// except that a listener with such rules but none of the action, while
	// another listener has rules of the action, is Pending (see Input).
	OtherRules []OtherRule
	// NextCheck is when to check again (exponential backoff with jitter,
	// never past the deadline); 0 when Verified, TimedOut or the input is invalid.
	NextCheck time.Duration
	// Deadline is when the verification times out.
	Deadline time.Time
}

// TargetGroupObservation is what one target group of the action (or of a
// route) looked like.
type TargetGroupObservation struct {
	Ingress string
	// Route is the route's name for a group of Input.Routes, "" for the action's.
	Route   string
	Role    Role
	Service string
	ARN     string
	Name    string
	// DesiredWeight is the desired weight in percent.
	DesiredWeight int32
	// Rules lists the weight this group has in each rule of the action.
	Rules []RuleWeight
	// HealthChecked is false when target health was not judged (the group
	// gets no traffic and its destination does not RequireHealthy, or the
	// weights were not applied yet).
	HealthChecked bool
	Healthy       int
	Expected      int
	// NotHealthy lists expected targets that are not healthy, with state and reason.
	NotHealthy []TargetState
	// Unexpected lists healthy targets nobody expected (reported, not fatal).
	Unexpected []TargetState
	// HealthCheck is the group's health-check configuration.
	HealthCheck elbv2.HealthCheck
	// Held: the shift gives the group no more traffic than was last
	// verified for it (Destination.VerifiedWeight); its health, read at
	// HealthReadAt (zero: never read), is reported and decides nothing.
	Held         bool
	HealthReadAt time.Time

	set   int  // 0 for the action, 1+k for Input.Routes[k]
	dest  int  // index of the destination in its set
	judge bool // its health decides the verdict
}

// LoadBalancerObservation is the load balancer of one ingress with the
// target groups of the input's destinations found on it.
type LoadBalancerObservation struct {
	Ingress string
	Name    string
	ARN     string
	DNSName string
	// FullName is the CloudWatch dimension value, app/<name>/<id>.
	FullName     string
	TargetGroups []TargetGroupRef
}

// TargetGroupRef names one target group of a destination.
type TargetGroupRef struct {
	Role    Role
	Service string
	// Route is the route's name for a group found only for a route.
	Route string
	Name  string
	ARN   string
	// FullName is the CloudWatch dimension value, targetgroup/<name>/<id>.
	FullName string
	// InRules: a rule of the action (or route) forwards to the group.
	InRules bool
}

// OtherRule is a listener rule that forwards to a group of the action
// without being one of its rules.
type OtherRule struct {
	Ingress      string
	ListenerPort int32
	Protocol     string
	Rule         string // priority, or "default"
	// Forward lists every group of the rule with its ALB weight; Role and
	// Service are empty for groups of no destination.
	Forward []RuleTarget
}

// RuleTarget is one group of a rule's forward action.
type RuleTarget struct {
	Role    Role
	Service string
	Name    string
	ARN     string
	Weight  int32
}

// RuleWeight is one group's weight in one rule.
type RuleWeight struct {
	ListenerPort int32
	Protocol     string
	Rule         string // priority, or "default"
	Weight       int32  // ALB weight (0-999)
	Total        int32  // sum of the rule's weights
	Matches      bool   // the whole rule forwards the desired shares
}

// TargetState is a target with its ELBv2 health.
type TargetState struct {
	Target
	State       string // healthy, initial, unhealthy, draining, unused, unavailable; "" when not registered
	Reason      string
	Description string
}
