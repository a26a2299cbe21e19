package verify

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// maxListedTargets bounds how many targets a diagnosis names per group.
const maxListedTargets = 5

// severity orders the problems of a check: the most severe one gives the
// Reason; all of them are in the Message.
type severity int

const (
	sevVerified severity = iota
	sevTargets
	sevWeights
	sevNoRules
	sevNotProvisioned
	sevError
)

// ingressVerdict is the decision for one ingress.
type ingressVerdict struct {
	sev     severity
	reason  string
	err     error
	msgs    []string
	summary string // what was verified, for the Verified message
	groups  []TargetGroupObservation
}

// Decide turns an observation into a Result. It is a pure function of its
// arguments: no I/O, no clock, no randomness (the jitter is a hash).
func Decide(in Input, obs Observation, now time.Time, b Backoff) Result {
	res := Result{Deadline: in.Deadline()}
	if err := in.validate(); err != nil {
		res.Outcome, res.Reason, res.Err = Failed, ReasonInvalidInput, err
		res.Message = "cannot verify: " + strings.ReplaceAll(err.Error(), "\n", "; ")
		res.Deadline = time.Time{}
		return res
	}
	worst := ingressVerdict{sev: sevVerified, reason: ReasonWeightsVerified}
	var msgs, summaries []string
	for _, ing := range in.Ingresses {
		v := decideIngress(&in, ing, findState(obs, ing.Name))
		prefix := ""
		if len(in.Ingresses) > 1 {
			prefix = "ingress " + ing.Name + ": "
		}
		for _, m := range v.msgs {
			msgs = append(msgs, prefix+m)
		}
		if v.summary != "" {
			summaries = append(summaries, prefix+v.summary)
		}
		res.TargetGroups = append(res.TargetGroups, v.groups...)
		if v.sev > worst.sev {
			worst = v
		}
	}
	res.Reason, res.Err = worst.reason, worst.err
	switch worst.sev {
	case sevVerified:
		res.Outcome = Verified
		res.Message = strings.Join(append(summaries, msgs...), "; ")
		return res
	case sevError:
		res.Outcome = Failed
	default:
		res.Outcome = Pending
	}
	res.Message = strings.Join(msgs, "; ")
	elapsed := now.Sub(in.DesiredAt)
	remaining := res.Deadline.Sub(now)
	if remaining <= 0 {
		res.Outcome, res.Cause, res.Reason = TimedOut, res.Reason, ReasonVerificationTimedOut
		res.Message = fmt.Sprintf("not verified %s after the desired state was written (timeout %s): %s",
			elapsed.Round(100*time.Millisecond), in.timeout(), res.Message)
		return res
	}
	res.NextCheck = min(b.Delay(elapsed, jitterKey(&in)), remaining)
	return res
}

func jitterKey(in *Input) string {
	var b strings.Builder
	b.WriteString(in.Namespace)
	for _, ing := range in.Ingresses {
		b.WriteString("/" + ing.Name)
	}
	b.WriteString("@" + strconv.FormatInt(in.DesiredAt.UnixNano(), 10))
	return b.String()
}

func findState(obs Observation, ingress string) *IngressState {
	for i := range obs.Ingresses {
		if obs.Ingresses[i].Ingress == ingress {
			return &obs.Ingresses[i]
		}
	}
	return nil
}

func decideIngress(in *Input, ing Ingress, st *IngressState) ingressVerdict {
	switch {
	case ing.Hostname == "":
		return ingressVerdict{sev: sevNotProvisioned, reason: ReasonLoadBalancerNotProvisioned, msgs: []string{fmt.Sprintf(
			"ingress %s/%s has no load balancer hostname in status.loadBalancer yet: the AWS Load Balancer Controller has not provisioned or reconciled it (check its logs and the ingress events)",
			in.Namespace, ing.Name)}}
	case st == nil:
		return ingressVerdict{sev: sevError, reason: string(elbv2.KindOther), msgs: []string{"load balancer state of ingress " + ing.Name + " was not read"}}
	case st.Err != nil:
		return ingressVerdict{sev: sevError, reason: errReason(st.Err), err: st.Err, msgs: []string{st.Err.Error()}}
	}
	view := matchAction(in, ing, st)
	if len(view.rules) == 0 {
		return ingressVerdict{sev: sevNoRules, reason: ReasonRulesNotFound, msgs: []string{noRulesMessage(in, ing, st, view)}}
	}
	v := ingressVerdict{sev: sevVerified, reason: ReasonWeightsVerified}
	groups := groupObservations(in, ing, view)
	for _, r := range view.rules {
		if !r.matches {
			v.msgs = append(v.msgs, ruleMismatch(in, ing, view, r))
		}
	}
	if len(v.msgs) > 0 {
		v.sev, v.reason = sevWeights, ReasonWeightMismatch
	}
	targetsOK := true
	var healthy []string
	for i := range groups {
		g := &groups[i]
		if g.DesiredWeight == 0 || g.ARN == "" {
			continue
		}
		hs, read := st.Health[g.ARN]
		if !read {
			targetsOK = false
			continue
		}
		d := in.Destinations[g.dest]
		if msg, ok := evalTargets(d, hs, g); !ok {
			targetsOK = false
			v.msgs = append(v.msgs, msg)
		} else {
			healthy = append(healthy, fmt.Sprintf("%s %d/%d", g.Role, g.Healthy, max(g.Expected, g.Healthy)))
		}
		if len(g.Unexpected) > 0 {
			v.msgs = append(v.msgs, fmt.Sprintf("note: %s %s has %d healthy target(s) not expected: %s",
				g.Role, g.Name, len(g.Unexpected), listTargets(g.Unexpected)))
		}
	}
	if !targetsOK && v.sev == sevVerified {
		v.sev, v.reason = sevTargets, ReasonTargetsNotHealthy
	}
	v.groups = groups
	if v.sev == sevVerified {
		v.summary = verifiedSummary(in, view, healthy)
	}
	return v
}

// groupObservations builds one observation per target group of the action
// found in the rules, plus one without ARN for each destination that no rule
// forwards to.
func groupObservations(in *Input, ing Ingress, view actionView) []TargetGroupObservation {
	var out []TargetGroupObservation
	index := map[string]int{}
	seenDest := make([]bool, len(in.Destinations))
	for _, r := range view.rules {
		for i, arn := range r.arns {
			if arn == "" {
				continue
			}
			seenDest[i] = true
			k, ok := index[arn]
			if !ok {
				d := in.Destinations[i]
				tg := view.groups[arn]
				name := tg.Name
				if name == "" {
					name = elbv2.NameFromARN(arn)
				}
				out = append(out, TargetGroupObservation{Ingress: ing.Name, Role: d.Role, Service: d.Service, ARN: arn, Name: name,
					DesiredWeight: d.Weight, HealthCheck: tg.HealthCheck, dest: i})
				k = len(out) - 1
				index[arn] = k
			}
			out[k].Rules = append(out[k].Rules, RuleWeight{ListenerPort: r.listener.Port, Protocol: r.listener.Protocol,
				Rule: r.rule.Priority, Weight: int32(r.weights[i]), Total: int32(r.total), Matches: r.matches})
		}
	}
	for i, d := range in.Destinations {
		if !seenDest[i] {
			out = append(out, TargetGroupObservation{Ingress: ing.Name, Role: d.Role, Service: d.Service, DesiredWeight: d.Weight, dest: i})
		}
	}
	return out
}

func ruleName(r ruleView) string {
	if r.rule.IsDefault || r.rule.Priority == "default" {
		return fmt.Sprintf("listener :%d default rule", r.listener.Port)
	}
	return fmt.Sprintf("listener :%d rule %s", r.listener.Port, r.rule.Priority)
}

// ruleMismatch explains why one rule does not forward the desired shares.
func ruleMismatch(in *Input, ing Ingress, view actionView, r ruleView) string {
	desired := make([]int64, len(in.Destinations))
	var sumD int64
	for i, d := range in.Destinations {
		desired[i] = int64(d.Weight)
		sumD += desired[i]
	}
	var parts []string
	for i, d := range in.Destinations {
		if !sharesDiffer(desired, r.weights, r.total, i) {
			continue
		}
		parts = append(parts, weightText(in, ing, view, r, i, d, sumD))
	}
	for _, u := range r.unknown {
		if u.Weight != 0 {
			parts = append(parts, fmt.Sprintf("target group %s (not tagged for this action) weight %d, want 0", elbv2.NameFromARN(u.ARN), u.Weight))
		}
	}
	if len(parts) == 0 {
		// Every single share is within rounding but together they are not
		// consistent: name them all.
		for i, d := range in.Destinations {
			parts = append(parts, weightText(in, ing, view, r, i, d, sumD))
		}
	}
	return ruleName(r) + ": " + strings.Join(parts, ", ")
}

func weightText(in *Input, ing Ingress, view actionView, r ruleView, i int, d Destination, sumD int64) string {
	if r.arns[i] == "" {
		return fmt.Sprintf("%s %s:%s not in the rule (no target group tagged %s=%s), want %d",
			d.Role, d.Service, in.port(d), ResourceTag, ResourceTagValue(in.Namespace, ing.Name, d.Service, in.port(d)), d.Weight)
	}
	name := view.groups[r.arns[i]].Name
	if name == "" {
		name = elbv2.NameFromARN(r.arns[i])
	}
	if r.total == sumD {
		return fmt.Sprintf("%s %s weight %d, want %d", d.Role, name, r.weights[i], d.Weight)
	}
	return fmt.Sprintf("%s %s weight %d of %d (%.1f%%), want %.1f%%", d.Role, name, r.weights[i], r.total,
		100*float64(r.weights[i])/float64(max(r.total, 1)), 100*float64(d.Weight)/float64(sumD))
}

// noRulesMessage explains that no rule forwards to the action's groups.
func noRulesMessage(in *Input, ing Ingress, st *IngressState, view actionView) string {
	var tags []string
	for _, d := range in.Destinations {
		tags = append(tags, ResourceTagValue(in.Namespace, ing.Name, d.Service, in.port(d)))
	}
	msg := fmt.Sprintf("no rule on the %d listener(s) of load balancer %s forwards to a target group of ingress %s/%s action %s (target groups tagged %s=%s or named by a TargetGroupBinding)",
		len(st.Listeners), st.LoadBalancer.Name, in.Namespace, ing.Name, in.ActionName, ResourceTag, strings.Join(tags, " | "))
	if len(view.groupDest) > 0 {
		return msg + fmt.Sprintf(": %d such target group(s) exist but no rule uses them yet; the load balancer controller has not applied the ingress rules", len(view.groupDest))
	}
	return msg + ": the load balancer controller has not created them yet, or the ingress does not route to the action"
}

// evalTargets checks one target group that will get traffic: every expected
// target registered and healthy (or at least one healthy target when none
// is expected). It fills g's health fields and returns a diagnosis.
func evalTargets(d Destination, hs []elbv2.TargetHealth, g *TargetGroupObservation) (string, bool) {
	g.HealthChecked = true
	byTarget := make(map[Target]elbv2.TargetHealth, len(hs))
	for _, h := range hs {
		byTarget[Target{ID: h.ID, Port: h.Port}] = h
	}
	expected := make(map[Target]bool, len(d.Targets))
	for _, t := range d.Targets {
		expected[t] = true
	}
	g.Expected = len(expected)
	for _, t := range d.Targets {
		h, ok := byTarget[t]
		switch {
		case !ok:
			g.NotHealthy = append(g.NotHealthy, TargetState{Target: t, Reason: "not registered"})
		case h.State != elbv2.StateHealthy:
			g.NotHealthy = append(g.NotHealthy, TargetState{Target: t, State: h.State, Reason: h.Reason, Description: h.Description})
		default:
			g.Healthy++
		}
	}
	var others []TargetState
	for _, h := range hs {
		t := Target{ID: h.ID, Port: h.Port}
		if expected[t] {
			continue
		}
		if len(expected) == 0 && h.State == elbv2.StateHealthy {
			g.Healthy++
		} else if h.State == elbv2.StateHealthy {
			g.Unexpected = append(g.Unexpected, TargetState{Target: t, State: h.State})
		} else {
			others = append(others, TargetState{Target: t, State: h.State, Reason: h.Reason})
		}
	}
	if len(expected) == 0 {
		if g.Healthy > 0 {
			return "", true
		}
		detail := "none registered"
		if len(others) > 0 {
			detail = fmt.Sprintf("%d registered: %s", len(others), listTargets(others))
		}
		return fmt.Sprintf("%s %s has no healthy target (%s)%s", g.Role, g.Name, detail, healthCheckHint(g, others)), false
	}
	if len(g.NotHealthy) == 0 {
		return "", true
	}
	return fmt.Sprintf("%s %s targets %d/%d healthy (%s)%s", g.Role, g.Name, g.Healthy, g.Expected,
		listTargets(g.NotHealthy), healthCheckHint(g, g.NotHealthy)), false
}

// listTargets names targets with their state and reason, at most maxListedTargets.
func listTargets(ts []TargetState) string {
	var parts []string
	for i, t := range ts {
		if i == maxListedTargets {
			parts = append(parts, fmt.Sprintf("and %d more", len(ts)-i))
			break
		}
		s := t.String()
		if t.State != "" {
			s += " " + t.State
		}
		if t.Reason != "" {
			s += " " + t.Reason
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// healthCheckHint adds the health-check settings when targets fail them, the
// usual cause of "verification times out": a wrong path, port or matcher, or
// thresholds too strict for the app's start-up.
func healthCheckHint(g *TargetGroupObservation, ts []TargetState) string {
	failing := false
	for _, t := range ts {
		if t.State == elbv2.StateUnhealthy {
			failing = true
		}
	}
	hc := g.HealthCheck
	if !failing || hc.Path == "" {
		return ""
	}
	return fmt.Sprintf(" [health check %s %s on port %s expects %s, every %s, %d passes to become healthy]",
		hc.Protocol, hc.Path, hc.Port, hc.Matcher, hc.Interval, hc.HealthyThreshold)
}

// verifiedSummary says what was verified.
func verifiedSummary(in *Input, view actionView, healthy []string) string {
	var rules, weights []string
	for _, r := range view.rules {
		rules = append(rules, strings.TrimPrefix(ruleName(r), "listener "))
	}
	for _, d := range in.Destinations {
		weights = append(weights, fmt.Sprintf("%s %d", d.Role, d.Weight))
	}
	s := fmt.Sprintf("weights %s verified on %d rule(s) (%s)", strings.Join(weights, ", "), len(view.rules), strings.Join(rules, ", "))
	if len(healthy) > 0 {
		s += "; targets healthy: " + strings.Join(healthy, ", ")
	}
	return s
}
