package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// destSpec is one service of a verification.
type destSpec struct {
	role           verify.Role
	svc            *corev1.Service
	hash           string // the pod-template hash it selects ("" = unpinned)
	weight         int32
	pods           []corev1.Pod
	requireHealthy bool
}

// routeSpec is one header route of a verification; removed routes must have
// no rule left.
type routeSpec struct {
	name       string
	conditions string // the conditions annotation value
	service    *corev1.Service
	hash       string
	pods       []corev1.Pod
	removed    bool
}

// verifySpec is what a verification expects, before it becomes a
// verify.Input: the same spec gives the same fingerprint.
type verifySpec struct {
	ingresses   []*networkingv1.Ingress
	actionName  string // "" = plain backend (blue-green selector mode)
	servicePort int32
	dests       []destSpec
	routes      []routeSpec
	portName    string // the port as Ingress backends name it, if by name (blue-green plain backends)
	// healthOnly: verify.Input.HealthOnly, the check before raising a
	// group's weight (see beforeRaise).
	healthOnly bool
	// outsideCheck: no rule outside the action (a stale header route, a
	// path straight to a Service) may forward to a group the spec gives
	// weight 0 (see trafficOutsideAction); an abort's checks ask it.
	outsideCheck bool
}

func (s *verifySpec) add(role verify.Role, svc *corev1.Service, hash string, weight int32, pods []corev1.Pod) {
	s.dests = append(s.dests, destSpec{role: role, svc: svc, hash: hash, weight: weight, pods: pods})
}

// onHealth judges the destinations on their targets' health only (the
// weights that send them traffic are not the rollout's to check).
func (s *verifySpec) onHealth() {
	s.healthOnly = true
	for i := range s.dests {
		s.dests[i].requireHealthy = true
	}
}

// requireHealthy asks for the service's targets to be healthy in its group
// whatever its weight; pods, when given, replace the expected pods.
func (s *verifySpec) requireHealthy(service string, pods []corev1.Pod) {
	for i := range s.dests {
		if s.dests[i].svc != nil && s.dests[i].svc.Name == service {
			s.dests[i].requireHealthy = true
			if pods != nil {
				s.dests[i].pods = pods
			}
		}
	}
}

// beforeRaise makes the spec the check made before the service's group gets
// more traffic: its pods (or the given ones) registered and healthy in every
// group of it that the action's rules reference, and nothing else. The
// weights in place were verified when written, and the next ones are
// verified fully once written; the other groups do not gain traffic.
func (s *verifySpec) beforeRaise(service string, pods []corev1.Pod) {
	s.requireHealthy(service, pods)
	s.healthOnly = true
}

// fingerprint identifies what the spec verifies: ingresses, each service with
// the hash it selects and its weight, header routes, and for the services
// that must be healthy whatever their weight, the exact targets. Roles are
// left out: ping-pong swaps them without changing what the ALB does.
func (s *verifySpec) fingerprint() string {
	var parts []string
	var ings []string
	for _, ing := range s.ingresses {
		ings = append(ings, ing.Name)
	}
	sort.Strings(ings)
	parts = append(parts, "ingress="+strings.Join(ings, ","))
	if s.actionName != "" {
		parts = append(parts, "action="+s.actionName)
	}
	// Each Service port has target groups of its own: a check of one
	// port's groups says nothing of another's.
	if s.servicePort != 0 {
		parts = append(parts, fmt.Sprintf("port=%d", s.servicePort))
	}
	if s.portName != "" {
		parts = append(parts, "port="+s.portName)
	}
	if s.healthOnly {
		parts = append(parts, "health-only")
	}
	var dests []string
	for _, d := range s.dests {
		name := ""
		if d.svc != nil {
			name = d.svc.Name
		}
		x := fmt.Sprintf("%s@%s=%d", name, d.hash, d.weight)
		if d.requireHealthy {
			x += "+healthy:" + targetsDigest(d.svc, s.servicePort, d.pods)
		}
		dests = append(dests, x)
	}
	sort.Strings(dests)
	parts = append(parts, dests...)
	for _, r := range s.routes {
		if r.removed {
			parts = append(parts, "route-"+r.name)
		} else {
			parts = append(parts, "route+"+r.name+"@"+r.hash+":"+r.conditions)
		}
	}
	return strings.Join(parts, ";")
}

// scope names what a spec's weights are written to: the Ingresses, the
// action and the Service port (the fingerprint without its destinations).
func (s *verifySpec) scope() string {
	var ings []string
	for _, ing := range s.ingresses {
		ings = append(ings, ing.Name)
	}
	sort.Strings(ings)
	return fmt.Sprintf("ingress=%s;action=%s;port=%d;port=%s", strings.Join(ings, ","), s.actionName, s.servicePort, s.portName)
}

// expected are the weights a spec expects, per Service with a digest of
// the targets of the pods it selects now; nil for a check of target health
// only, which verifies no weight.
func (c *rolloutContext) expected(s *verifySpec) *v1alpha1.DestinationWeights {
	if s.healthOnly || len(s.dests) == 0 {
		return nil
	}
	w := c.desired(s)
	for i := range w.Destinations {
		for _, d := range s.dests {
			if d.svc != nil && d.svc.Name == w.Destinations[i].Service {
				w.Destinations[i].Targets = c.selectedDigest(s, d)
				break
			}
		}
	}
	return w
}

// desired are the weights a spec expects per Service (for a check of
// health only, the weights in place), without targets; nil without
// destinations.
func (c *rolloutContext) desired(s *verifySpec) *v1alpha1.DestinationWeights {
	if len(s.dests) == 0 {
		return nil
	}
	w := &v1alpha1.DestinationWeights{Total: c.weightTotal(s), Scope: s.scope()}
	for _, d := range s.dests {
		if d.svc != nil {
			w.Destinations = append(w.Destinations, v1alpha1.DestinationWeight{Service: d.svc.Name, Weight: d.weight})
		}
	}
	return w
}

// selectedDigest is the digest of the targets the pods a destination's
// Service selects give: a group keeps its traffic only on the same targets
// (narrowing a widened Service leaves the same weight to fewer of them).
func (c *rolloutContext) selectedDigest(s *verifySpec, d destSpec) string {
	return targetsDigest(d.svc, s.servicePort, livePods(c.obs.podsSelectedBy(d.svc)))
}

// weightTotal is what a spec's weights are out of.
func (c *rolloutContext) weightTotal(s *verifySpec) int32 {
	if cs := c.ro.Spec.Strategy.Canary; cs != nil && cs.TrafficRouting != nil && s.actionName != "" {
		return cs.MaxWeight()
	}
	return 100
}

// verifiedBefore is the baseline of a verification that starts after prev:
// the weights prev expected if it verified them, else what prev had as its
// own baseline (nothing verified since), kept only for the same scope.
//
// A prev that verified no weights (a step written and never verified, that
// timed out; a health-only check of the weights in place) may have left
// its desired weights on the ALB: a group they lowered, that the next state
// raises back, gains traffic there though not above its verified weight
// (the abort of a first step, 25/75 back to 0/100, moves stable from 75 to
// 100). So each Service keeps the lower of its verified weight and prev's
// desired one, and one prev did not name (or a prev that recorded none)
// has no baseline: it is read healthy after the change.
func verifiedBefore(prev *v1alpha1.VerificationStatus, scope string) *v1alpha1.DestinationWeights {
	if prev == nil {
		return nil
	}
	base := prev.VerifiedBefore
	verified := prev.Phase == v1alpha1.VerificationVerified && prev.Expected != nil
	if verified {
		base = prev.Expected
	}
	if base == nil || base.Scope != scope {
		return nil
	}
	base = base.DeepCopy()
	if verified || (prev.Desired == nil && prev.DesiredWeights == nil) {
		return base // verified, or nothing desired (no destination)
	}
	d := prev.Desired
	if d == nil || d.Scope != base.Scope || d.Total != base.Total {
		return nil // what prev may have written is not known
	}
	var kept []v1alpha1.DestinationWeight
	for _, w := range base.Destinations {
		i := slices.IndexFunc(d.Destinations, func(x v1alpha1.DestinationWeight) bool { return x.Service == w.Service })
		if i < 0 {
			continue
		}
		w.Weight = min(w.Weight, d.Destinations[i].Weight)
		kept = append(kept, w)
	}
	base.Destinations = kept
	return base
}

// verifiedWeight is the weight the baseline verified for a destination's
// Service with the same targets as now, restated out of total (rounded
// down); nil when there is none (the destination then gains traffic, and is
// read healthy after the change). A destination that must be healthy
// whatever its weight never holds.
func (c *rolloutContext) verifiedWeight(base *v1alpha1.DestinationWeights, s *verifySpec, d destSpec, total int32) *int32 {
	if base == nil || d.svc == nil || d.requireHealthy || base.Total <= 0 {
		return nil
	}
	digest := c.selectedDigest(s, d)
	for _, w := range base.Destinations {
		if w.Service == d.svc.Name && w.Targets == digest && digest != "none" {
			return ptr.To(int32(int64(w.Weight) * int64(total) / int64(base.Total)))
		}
	}
	return nil
}

// targetsDigest is a short digest of the targets a service's pods give.
func targetsDigest(svc *corev1.Service, port int32, pods []corev1.Pod) string {
	if svc == nil {
		return "none"
	}
	ts, err := targetsOf(svc, port, pods)
	if err != nil {
		return "none"
	}
	h := fnv.New32a()
	for _, t := range ts {
		_, _ = h.Write([]byte(t.String() + ","))
	}
	return fmt.Sprintf("%d/%08x", len(ts), h.Sum32())
}

// input builds the verify.Input of a spec.
//
// base is the verification's baseline (status.verification.verifiedBefore):
// a destination whose weight is not above what it verified there, with the
// same pods, keeps or loses traffic and is judged on its last health read
// (verify.Destination.VerifiedWeight); nil judges every destination with
// traffic on health read after the change.
func (c *rolloutContext) input(s *verifySpec, desiredAt time.Time, base *v1alpha1.DestinationWeights) (verify.Input, error) {
	in := verify.Input{
		Namespace:           c.ro.Namespace,
		ActionName:          s.actionName,
		ServicePort:         strconv.Itoa(int(s.servicePort)),
		TargetGroupBindings: c.obs.bindings,
		DesiredAt:           desiredAt,
		Timeout:             c.verifyTimeout(),
		HealthOnly:          s.healthOnly,
	}
	if s.portName != "" {
		in.ServicePort = s.portName
	}
	if cs := c.ro.Spec.Strategy.Canary; cs != nil && cs.TrafficRouting != nil && s.actionName != "" {
		// The canary's weights are out of maxTrafficWeight.
		in.WeightTotal = c.weightTotal(s)
	}
	for _, ing := range s.ingresses {
		host := ""
		for _, lb := range ing.Status.LoadBalancer.Ingress {
			if lb.Hostname != "" {
				host = lb.Hostname
				break
			}
		}
		in.Ingresses = append(in.Ingresses, verify.Ingress{Name: ing.Name, Hostname: host})
	}
	total := c.weightTotal(s)
	for _, d := range s.dests {
		if d.svc == nil {
			return in, fmt.Errorf("a service of the verification does not exist")
		}
		ts, err := targetsOf(d.svc, s.servicePort, d.pods)
		if err != nil {
			return in, err
		}
		in.Destinations = append(in.Destinations, verify.Destination{Role: d.role, Service: d.svc.Name, Weight: d.weight, Targets: ts, RequireHealthy: d.requireHealthy,
			VerifiedWeight: c.verifiedWeight(base, s, d, total)})
	}
	for _, r := range s.routes {
		headers, err := parseHeaders(r.conditions)
		if err != nil {
			return in, fmt.Errorf("header route %s: %w", r.name, err)
		}
		vr := verify.Route{Name: r.name, Headers: headers}
		if !r.removed && r.service != nil {
			ts, err := targetsOf(r.service, s.servicePort, r.pods)
			if err != nil {
				return in, err
			}
			all := int32(100)
			if in.WeightTotal > 0 {
				all = in.WeightTotal
			}
			vr.Destinations = []verify.Destination{{Role: verify.RoleCanary, Service: r.service.Name, Weight: all, Targets: ts}}
		}
		in.Routes = append(in.Routes, vr)
	}
	return in, nil
}

// targetsIncomplete says why the expected targets of a destination that gets
// traffic (or must be healthy) cannot be trusted yet: none are ready, or the
// pod cache shows fewer ready pods than its ReplicaSet reports available.
func (c *rolloutContext) targetsIncomplete(s *verifySpec, in verify.Input) string {
	if c.scaledToZero() {
		return "" // no pod is asked for: the weights are what there is to verify
	}
	for i, d := range s.dests {
		if (d.weight == 0 || s.healthOnly) && !d.requireHealthy {
			continue
		}
		got := len(in.Destinations[i].Targets)
		if got == 0 {
			return fmt.Sprintf("waiting for ready pods of service %s before verifying it (%d pods selected, %d ready, none gives a target for port %d)", d.svc.Name, len(d.pods), readyPods(d.pods), s.servicePort)
		}
		if rs := replicaset.FindByHash(c.obs.rss, d.hash); rs != nil && int32(got) < replicaset.Available(rs) {
			return fmt.Sprintf("waiting for the pods of %s (%d of %d available seen ready)", rs.Name, got, replicaset.Available(rs))
		}
	}
	return ""
}

// parseHeaders reads a conditions annotation into the route's header matches.
func parseHeaders(conditions string) ([]verify.HeaderMatch, error) {
	var conds []albannotation.HeaderCondition
	if err := json.Unmarshal([]byte(conditions), &conds); err != nil {
		return nil, fmt.Errorf("invalid conditions %q: %w", conditions, err)
	}
	var out []verify.HeaderMatch
	for _, cd := range conds {
		if cd.Field != "http-header" {
			continue
		}
		out = append(out, verify.HeaderMatch{Name: cd.HTTPHeaderConfig.HTTPHeaderName, Values: cd.HTTPHeaderConfig.Values})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no http-header condition in %q", conditions)
	}
	return out, nil
}

// v1alpha1.ReasonSettling: the state is seen applied, but a write it replaced may
// still land (see unsettled).

// v1alpha1.ReasonTargetsNotReady: the pods that should serve a group give no target
// (none ready, or none with the Service's target port).

// outcome is what runVerification tells its caller.
type outcome int

const (
	outcomePending outcome = iota
	outcomeVerified
	outcomeTimedOut
)

// startVerification records a new verification of spec in status, starting
// now (after the change it verifies was written).
func (c *rolloutContext) startVerification(kind v1alpha1.VerificationKind, s *verifySpec) *v1alpha1.VerificationStatus {
	at := c.r.opts.Now()
	now, desiredAt := metav1.NewTime(at), metav1.NewMicroTime(at)
	v := &v1alpha1.VerificationStatus{
		Phase:           v1alpha1.VerificationPending,
		Kind:            kind,
		Fingerprint:     s.fingerprint(),
		PodTemplateHash: c.newHash,
		TimeoutSeconds:  int32(c.verifyTimeout() / time.Second),
		StartedAt:       &now,
		DesiredAt:       &desiredAt,
		VerifiedBefore:  verifiedBefore(c.status.Verification, s.scope()),
		Desired:         c.desired(s),
	}
	if c.ro.Spec.Strategy.Canary != nil && c.status.CurrentStepIndex != nil {
		v.StepIndex = ptr.To(*c.status.CurrentStepIndex)
	}
	if len(s.dests) > 0 {
		v.DesiredWeights = &v1alpha1.VerificationWeights{Canary: s.dests[0].weight}
		if len(s.dests) > 1 {
			v.DesiredWeights.Stable = s.dests[1].weight
		}
	}
	c.status.Verification = v
	c.setCondition(v1alpha1.ConditionTrafficVerified, corev1.ConditionUnknown, verify.ReasonWeightMismatch, "verification started: "+string(kind))
	return v
}

// verified reports whether the last verification verified exactly spec.
func (c *rolloutContext) verified(s *verifySpec) bool {
	v := c.status.Verification
	return v != nil && v.Phase == v1alpha1.VerificationVerified && v.Fingerprint == s.fingerprint()
}

// runVerification checks spec through the verifier, continuing the recorded
// verification of the same fingerprint (its start time is the freshness
// bound and the timeout base) or starting one.
func (c *rolloutContext) runVerification(ctx context.Context, kind v1alpha1.VerificationKind, s *verifySpec) (outcome, error) {
	if !c.verifying() {
		return outcomeVerified, nil
	}
	v := c.status.Verification
	// The fingerprint leaves the kind out (a weight written under one kind is
	// verified under the next), but an abort's verification is its own: it
	// adds a check of the rules outside the action (see record).
	if v == nil || v.Fingerprint != s.fingerprint() || (kind == v1alpha1.VerificationAbort && v.Kind != kind) {
		v = c.startVerification(kind, s)
	}
	if (v.Phase == v1alpha1.VerificationPending || v.Phase == v1alpha1.VerificationFailed) && c.settling(v, s) {
		// Held by unsettled: the settle time has come; look again.
		v = c.startVerification(kind, s)
	}
	switch v.Phase {
	case v1alpha1.VerificationVerified:
		if !c.settling(v, s) && c.boundIs(s) {
			return outcomeVerified, nil
		}
		// An action this one replaced may still land, or a write since
		// this state was verified (lost by the load balancer controller,
		// say) left the traffic bound above it: check again, so that the
		// check resets the bound.
		v = c.startVerification(kind, s)
	case v1alpha1.VerificationTimedOut:
		// A timed-out verification is final for its window. During an update
		// it aborted the rollout; seen again here, the rollout was retried
		// (or is aborted and this is the abort's own check): look again with
		// a new window, after a pause when nothing changed.
		if wait := retryAfterTimeout(v, c.verifyTimeout(), c.now); wait > 0 && c.mode != modeProgress {
			c.after(wait)
			c.wait(0, "verification timed out (%s): %s", v.Reason, v.Message)
			return outcomePending, nil
		}
		v = c.startVerification(kind, s)
	}
	if c.r.verifier == nil {
		return outcomePending, c.errNoVerifier()
	}
	c.asyncKey = "" // record's result is a watch's only through callVerifier
	in, err := c.input(s, freshnessBound(v), v.VerifiedBefore)
	if err != nil {
		c.specError("cannot verify: %v", err)
		return outcomePending, nil
	}
	if why := c.targetsIncomplete(s, in); why != "" {
		// Never verify against an empty or partial target list: "some healthy
		// target" is not "the pods that will serve are healthy". This too
		// times out.
		if w := windowOf(v, c.verifyTimeout()); w.closed(c.now) {
			return c.record(v, s, verify.Result{Outcome: verify.TimedOut, Reason: verify.ReasonVerificationTimedOut, Cause: v1alpha1.ReasonTargetsNotReady,
				Message: fmt.Sprintf("not verified %s after it started (timeout %s): %s", w.age(c.now).Round(100*time.Millisecond), c.verifyTimeout(), why)}), nil
		}
		c.wait(200*time.Millisecond, "%s", why)
		return outcomePending, nil
	}
	res := c.callVerifier(ctx, purposeTraffic, in, 0)
	if checking(res) {
		// Submitted: the watch's callback (or this fallback) brings the
		// rollout back with a result. Nothing was read: nothing recorded.
		c.wait(res.NextCheck, "verifying %s: %s", strings.ToLower(string(v.Kind)), res.Message)
		return outcomePending, nil
	}
	out := c.record(v, s, res)
	if c.r.async != nil && out == outcomePending && (res.Outcome == verify.Verified || res.Outcome == verify.TimedOut) {
		// The watch ended on a result the rollout cannot take as it is
		// (not settled yet, traffic outside the action): read again.
		c.forgetWatch()
	}
	return out, nil
}

// record stores a check's result in status.verification, sets the
// TrafficVerified condition, emits Argo Rollouts' events, and schedules the
// next check.
func (c *rolloutContext) record(v *v1alpha1.VerificationStatus, s *verifySpec, res verify.Result) outcome {
	now := metav1.NewTime(c.r.opts.Now())
	c.checked = &res
	// A background watch's result found again in a later pass is not a
	// new check: no attempt, no metric, no warning (and no status write
	// when nothing else changed).
	repeat := c.seenBefore(res, v, now.Time)
	if !repeat {
		v.LastCheckedAt = &now
		v.Attempts++
	}
	v.Reason, v.Message = res.Reason, res.Message
	v.TargetGroups = observations(res)
	c.recordALBStatus(res)
	if res.Outcome == verify.Verified && (v.Kind == v1alpha1.VerificationAbort || s.outsideCheck) && c.ro.Spec.Strategy.Canary != nil {
		// Before the canary scales down, no other rule of the ALB (a stale
		// header route, a path straight to the canary service) may still
		// send it traffic.
		if msg := trafficOutsideAction(s, res); msg != "" {
			res.Outcome, res.Reason, res.Message = verify.Pending, verify.ReasonWeightMismatch, msg
			res.NextCheck = 2 * time.Second
			if windowOf(v, c.verifyTimeout()).closed(c.now) {
				res.Outcome, res.Cause, res.Reason = verify.TimedOut, verify.ReasonWeightMismatch, verify.ReasonVerificationTimedOut
			}
		}
	}
	if !repeat {
		c.r.metrics.verification(c.ro, string(res.Outcome))
	}
	switch res.Outcome {
	case verify.Verified:
		if c.unsettled(s, v) {
			v.Phase, v.Reason = v1alpha1.VerificationPending, v1alpha1.ReasonSettling
			v.Message = fmt.Sprintf("%s; not counted before %s: it replaced a write that was never verified, which the load balancer controller may still apply",
				res.Message, c.status.TrafficBound.SettleAt.UTC().Format(time.RFC3339))
			c.setCondition(v1alpha1.ConditionTrafficVerified, corev1.ConditionUnknown, v1alpha1.ReasonSettling, v.Message)
			c.wait(0, "verifying %s: %s", strings.ToLower(string(v.Kind)), v.Message)
			return outcomePending
		}
		v.Phase, v.FinishedAt = v1alpha1.VerificationVerified, &now
		v.Expected = c.expected(s) // the next verification's baseline
		c.boundVerified(s, v)
		c.progressed = true
		if w := c.status.Canary.Weights; w != nil && len(s.dests) >= 2 && s.dests[0].weight == w.Canary.Weight && s.dests[1].weight == w.Stable.Weight {
			w.Verified = ptr.To(true)
		}
		c.setCondition(v1alpha1.ConditionTrafficVerified, corev1.ConditionTrue, res.Reason, res.Message)
		for _, g := range res.TargetGroups {
			switch {
			case g.Held:
				c.normal(v1alpha1.ReasonTargetGroupVerified, "Service %s (TargetGroup %s) verified: weight %d (targets not judged: it gets no more traffic; as last read, %d/%d healthy)", g.Service, g.Name, g.DesiredWeight, g.Healthy, max(g.Expected, g.Healthy))
			case g.HealthChecked:
				c.normal(v1alpha1.ReasonTargetGroupVerified, "Service %s (TargetGroup %s) verified: weight %d, %d/%d targets healthy", g.Service, g.Name, g.DesiredWeight, g.Healthy, max(g.Expected, g.Healthy))
			case g.DesiredWeight > 0:
				// A health-first check judges only the groups about to get
				// more traffic: this one's targets were not looked at, and
				// the event must not read as if they had passed.
				c.normal(v1alpha1.ReasonTargetGroupVerified, "Service %s (TargetGroup %s) verified: weight %d (targets not judged: it gets no more traffic)", g.Service, g.Name, g.DesiredWeight)
			}
		}
		return outcomeVerified
	case verify.Failed:
		v.Phase = v1alpha1.VerificationFailed
		c.setCondition(v1alpha1.ConditionTrafficVerified, corev1.ConditionFalse, res.Reason, res.Message)
		switch {
		case repeat:
		case res.Reason == string(elbv2.KindLoadBalancerNotFound):
			c.warning(v1alpha1.ReasonLoadBalancerNotFound, "Failed to find load balancer: %s", res.Message)
		case v.Kind == v1alpha1.VerificationCanaryWeight:
			c.warning(v1alpha1.ReasonWeightVerifyError, "Failed to verify weight: %s", res.Message)
		default:
			c.warning(v1alpha1.ReasonTargetGroupVerifyError, "Failed to verify %s: %s", describeSpec(s), res.Message)
		}
		c.wait(max(res.NextCheck, time.Second), "verification failed (%s): %s", res.Reason, res.Message)
		return outcomePending
	case verify.TimedOut:
		if awsProblem(res.Cause) {
			// The ALB could not be read (IAM, throttling, network): nothing is
			// known about it, so this is no reason to abort. Keep traffic where
			// it is and keep checking, in a new window.
			v.Phase = v1alpha1.VerificationFailed
			v.Reason = res.Cause
			reopen(v, now)
			c.setCondition(v1alpha1.ConditionTrafficVerified, corev1.ConditionFalse, res.Cause, res.Message)
			if !repeat {
				c.warning(v1alpha1.ReasonTargetGroupVerifyError, "Failed to verify %s: %s", describeSpec(s), res.Message)
			}
			c.wait(5*time.Second, "verification failing (%s): %s", res.Cause, res.Message)
			return outcomePending
		}
		v.Phase, v.FinishedAt = v1alpha1.VerificationTimedOut, &now
		c.setCondition(v1alpha1.ConditionTrafficVerified, corev1.ConditionFalse, verify.ReasonVerificationTimedOut, res.Message)
		c.warning(v1alpha1.ReasonTargetGroupUnverified, "%s not verified: %s", describeSpec(s), res.Message)
		c.onTimedOut()
		return outcomeTimedOut
	default:
		v.Phase = v1alpha1.VerificationPending
		if c.mode != modeProgress && res.Reason == verify.ReasonTargetsNotHealthy && !c.unsettled(s, v) {
			// Going back, a check that found every rule forwarding the
			// weights of s (read after they were written; only targets
			// fail) bounds the traffic as a verified one would: the
			// load balancer applies exactly them. Otherwise a group at
			// weight 0 behind a broken version could never be re-pointed
			// (the guard would count the weight it had before).
			c.boundVerified(s, v)
		}
		c.setCondition(v1alpha1.ConditionTrafficVerified, corev1.ConditionUnknown, res.Reason, res.Message)
		c.wait(max(res.NextCheck, 200*time.Millisecond), "verifying %s: %s", strings.ToLower(string(v.Kind)), res.Message)
		return outcomePending
	}
}

// trafficOutsideAction names the rules outside the verified action that
// forward traffic to a service the spec wants at weight 0.
func trafficOutsideAction(s *verifySpec, res verify.Result) string {
	zero := map[string]bool{}
	for _, d := range s.dests {
		if d.weight == 0 && d.svc != nil {
			zero[d.svc.Name] = true
		}
	}
	var out []string
	for _, r := range res.OtherRules {
		for _, f := range r.Forward {
			if f.Weight > 0 && zero[f.Service] {
				out = append(out, fmt.Sprintf("listener :%d rule %s forwards weight %d to %s (%s), which must get no traffic", r.ListenerPort, r.Rule, f.Weight, f.Service, f.Name))
			}
		}
	}
	return strings.Join(out, "; ")
}

// awsProblem reports whether a reason says the ELBv2 API could not be read
// (as opposed to the ALB being in another state than desired).
func awsProblem(reason string) bool {
	switch elbv2.Kind(reason) {
	case elbv2.KindThrottled, elbv2.KindAccessDenied, elbv2.KindRegionMismatch, elbv2.KindCredentials, elbv2.KindNetwork, elbv2.KindOther,
		elbv2.KindLoadBalancerNotFound, elbv2.KindListenerNotFound, elbv2.KindTargetGroupNotFound:
		return true
	}
	return false
}

// describeSpec names a verification's services for events.
func describeSpec(s *verifySpec) string {
	var parts []string
	for _, d := range s.dests {
		if d.svc != nil {
			parts = append(parts, fmt.Sprintf("Service %s (weight %d)", d.svc.Name, d.weight))
		}
	}
	return strings.Join(parts, ", ")
}

// observations converts the verifier's per-group observations for status.
func observations(res verify.Result) []v1alpha1.TargetGroupObservation {
	var out []v1alpha1.TargetGroupObservation
	for _, g := range res.TargetGroups {
		o := v1alpha1.TargetGroupObservation{
			Name: g.Name, ARN: g.ARN, Role: string(g.Role), Service: g.Service,
			DesiredWeight: g.DesiredWeight, ExpectedTargets: int32(g.Expected), HealthyTargets: int32(g.Healthy),
		}
		if g.Route != "" {
			o.Role = string(g.Role) + " (route " + g.Route + ")"
		}
		if len(g.Rules) > 0 {
			w := g.Rules[0].Weight
			o.ActualWeight = &w
			o.Rule = g.Rules[0].Rule
			o.Listener = strconv.Itoa(int(g.Rules[0].ListenerPort))
		}
		o.RegisteredTargets = int32(g.Healthy)
		for i, t := range g.NotHealthy {
			if t.State != "" {
				o.RegisteredTargets++
			}
			if i < 5 {
				state := t.State
				if state == "" {
					state = "notRegistered"
				}
				o.Unhealthy = append(o.Unhealthy, v1alpha1.TargetObservation{Target: t.String(), State: state, Reason: t.Reason, Description: t.Description})
			}
		}
		out = append(out, o)
	}
	return out
}

// recordALBStatus fills status.alb / status.albs (Argo Rollouts' fields)
// from what the check found.
func (c *rolloutContext) recordALBStatus(res verify.Result) {
	if len(res.LoadBalancers) == 0 {
		return
	}
	var albs []v1alpha1.ALBStatus
	for _, lb := range res.LoadBalancers {
		st := v1alpha1.ALBStatus{Ingress: lb.Ingress, LoadBalancer: v1alpha1.AwsResourceRef{Name: lb.Name, ARN: lb.ARN, FullName: argoFullName(lb.FullName, "app/")}}
		for _, tg := range lb.TargetGroups {
			if tg.Route != "" {
				continue
			}
			ref := v1alpha1.AwsResourceRef{Name: tg.Name, ARN: tg.ARN, FullName: argoFullName(tg.FullName, "targetgroup/")}
			switch tg.Role {
			case verify.RoleCanary:
				st.CanaryTargetGroup = ref
			case verify.RoleStable:
				st.StableTargetGroup = ref
			case verify.RoleActive:
				st.ActiveTargetGroup = &ref
			case verify.RolePreview:
				st.PreviewTargetGroup = &ref
			}
		}
		albs = append(albs, st)
	}
	c.status.ALB = &albs[0]
	c.status.ALBs = albs
}

// lookupALBStatus fills status.alb / status.albs for a rollout that does not
// verify, when they are empty, at most every 5 minutes and ignoring errors:
// the names and ARNs of the load balancer and target groups are useful
// (dashboards, CloudWatch dimensions) even without verification.
func (c *rolloutContext) lookupALBStatus(ctx context.Context, s *verifySpec) {
	if c.verifying() || c.r.verifier == nil || c.status.ALB != nil {
		return
	}
	c.r.albLookupsMu.Lock()
	last, seen := c.r.albLookups[c.ro.UID]
	if seen && c.now.Sub(last) < 5*time.Minute {
		c.r.albLookupsMu.Unlock()
		return
	}
	c.r.albLookups[c.ro.UID] = c.now
	c.r.albLookupsMu.Unlock()
	in, err := c.input(s, c.now, nil)
	if err != nil {
		return
	}
	res := c.callVerifier(ctx, purposeALB, in, albLookupReuse)
	if checking(res) {
		// Nothing read yet: the watch's callback brings the rollout back.
		c.r.albLookupsMu.Lock()
		if seen {
			c.r.albLookups[c.ro.UID] = last
		} else {
			delete(c.r.albLookups, c.ro.UID)
		}
		c.r.albLookupsMu.Unlock()
		return
	}
	// One read is all the lookup wants: no watch keeps reading for it.
	c.forgetWatch()
	c.recordALBStatus(res)
}

// callVerifier checks in for purpose (purposeTraffic, purposeProbe,
// purposeALB). Synchronously (Options.SyncVerify, or a verifier that cannot
// watch), it runs one check bounded by the per-call timeout. Otherwise it
// never waits: it returns the background watch's result for exactly in, or
// submits in and returns a Checking result (see async_verify.go); reuse
// lets a watch whose freshness bound is at most that much earlier answer.
func (c *rolloutContext) callVerifier(ctx context.Context, purpose string, in verify.Input, reuse time.Duration) verify.Result {
	if c.r.async != nil {
		return c.checkAsync(purpose, in, reuse)
	}
	vctx, cancel := context.WithTimeout(ctx, c.r.opts.VerifyCallTimeout)
	defer cancel()
	return c.r.verifier.Verify(vctx, in)
}

// errNoVerifier is the error of a rollout that verifies on a controller
// built without an ELBv2 verifier.
func (c *rolloutContext) errNoVerifier() error {
	return fmt.Errorf("verification is on for rollout %s/%s but the controller has no ELBv2 verifier", c.ro.Namespace, c.ro.Name)
}

// onTimedOut handles a verification that timed out: during an update it
// aborts the rollout (traffic goes back to stable, verified, before the
// canary scales down); otherwise the rollout stays where it is, Degraded.
func (c *rolloutContext) onTimedOut() {
	v := c.status.Verification
	msg := ""
	if v != nil {
		msg = v.Message
	}
	if c.mode == modeProgress {
		c.abort(v1alpha1.ReasonVerificationTimedOut, msg)
		return
	}
	c.wait(time.Second, "verification timed out: %s", msg)
}

// argoFullName is a CloudWatch dimension value as Argo Rollouts writes it
// in status.alb: without its app/ or targetgroup/ prefix (<name>/<id>), so
// that templates written for Argo, which add the prefix, query the right
// dimension.
func argoFullName(fullName, prefix string) string {
	return strings.TrimPrefix(fullName, prefix)
}
