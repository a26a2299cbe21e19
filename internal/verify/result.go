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
	ReasonWeightsVerified            = "WeightsVerified"
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
	// TargetGroups holds what was observed per target group of the action.
	TargetGroups []TargetGroupObservation
	// NextCheck is when to check again (exponential backoff with jitter,
	// never past the deadline); 0 when Verified, TimedOut or the input is invalid.
	NextCheck time.Duration
	// Deadline is when the verification times out.
	Deadline time.Time
}

// TargetGroupObservation is what one target group of the action looked like.
type TargetGroupObservation struct {
	Ingress string
	Role    Role
	Service string
	ARN     string
	Name    string
	// DesiredWeight is the desired weight in percent.
	DesiredWeight int32
	// Rules lists the weight this group has in each rule of the action.
	Rules []RuleWeight
	// HealthChecked is false when target health was not read (the group
	// gets no traffic, or the weights were not applied yet).
	HealthChecked bool
	Healthy       int
	Expected      int
	// NotHealthy lists expected targets that are not healthy, with state and reason.
	NotHealthy []TargetState
	// Unexpected lists healthy targets nobody expected (reported, not fatal).
	Unexpected []TargetState
	// HealthCheck is the group's health-check configuration.
	HealthCheck elbv2.HealthCheck

	dest int // index of the destination in Input.Destinations
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
