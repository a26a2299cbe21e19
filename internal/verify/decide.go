package verify

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// maxListedTargets bounds how many targets (or rules) a diagnosis names.
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
	notes   []string // reported whatever the verdict
	summary string   // what was verified, for the Verified message
	groups  []TargetGroupObservation
	lb      *LoadBalancerObservation
	others  []OtherRule
}

// add records a problem; the most severe one gives the reason.
func (v *ingressVerdict) add(sev severity, reason, msg string) {
	v.msgs = append(v.msgs, msg)
	if sev > v.sev {
		v.sev, v.reason = sev, reason
	}
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
	if in.HealthOnly {
		worst.reason = ReasonTargetsHealthy
	}
	var msgs, summaries []string
	for _, ing := range in.Ingresses {
		v := decideIngress(&in, ing, findState(obs, ing.Name))
		prefix := ""
		if len(in.Ingresses) > 1 {
			prefix = "ingress " + ing.Name + ": "
		}
		for _, m := range append(v.msgs, v.notes...) {
			msgs = append(msgs, prefix+m)
		}
		if v.summary != "" {
			summaries = append(summaries, prefix+v.summary)
		}
		res.TargetGroups = append(res.TargetGroups, v.groups...)
		res.OtherRules = append(res.OtherRules, v.others...)
		if v.lb != nil {
			res.LoadBalancers = append(res.LoadBalancers, *v.lb)
		}
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
	next := b.Delay(elapsed, jitterKey(&in))
	if res.Outcome == Pending && !obs.NextRead.IsZero() {
		// Come back when what blocks is read again: checks of every
		// rollout behind one listener then share that read.
		next = max(obs.NextRead.Sub(now), MinNextCheck)
	}
	res.NextCheck = min(next, remaining)
	return res
}

// MinNextCheck is the shortest NextCheck of a pending check.
const MinNextCheck = 100 * time.Millisecond

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
	}
	view := matchIngress(in, ing, st)
	if st.Err != nil {
		return ingressVerdict{sev: sevError, reason: errReason(st.Err), err: st.Err, msgs: []string{st.Err.Error()},
			lb: loadBalancerObservation(in, ing, st, view)}
	}
	v := rulesVerdict(in, ing, st, view)
	v.lb = loadBalancerObservation(in, ing, st, view)
	v.others = otherRules(ing, view)
	if others := unjudgedOthers(view); len(others) > 0 {
		v.notes = append(v.notes, fmt.Sprintf("note: %d rule(s) forward to a target group of the %s without being its rules, not judged: %s",
			len(others), view.action.set.label(in), describeRules(view, view.action.set, others)))
	}
	groups := groupObservations(in, ing, view)
	targetsOK := true
	var healthy []string
	for i := range groups {
		g := &groups[i]
		if g.Held {
			v.notes = append(v.notes, heldNote(in, view, st, g))
			continue
		}
		if !g.judge {
			continue
		}
		hs, read := st.Health[g.ARN]
		if !read {
			targetsOK = false
			continue
		}
		prefix, label := "", string(g.Role)
		if g.Route != "" {
			prefix, label = "route "+g.Route+": ", "route "+g.Route+" "+label
		}
		d := view.sets()[g.set].set.dests[g.dest]
		if msg, ok := evalTargets(d, hs, g); !ok {
			targetsOK = false
			v.msgs = append(v.msgs, prefix+msg)
		} else {
			healthy = append(healthy, fmt.Sprintf("%s %d/%d", label, g.Healthy, max(g.Expected, g.Healthy)))
		}
		if len(g.Unexpected) > 0 {
			v.notes = append(v.notes, fmt.Sprintf("note: %s%s %s has %d healthy target(s) not expected: %s",
				prefix, g.Role, g.Name, len(g.Unexpected), listTargets(g.Unexpected)))
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

// rulesVerdict judges the rules alone: the action's (present and matching),
// each route's (present on every listener of the action and matching, or
// gone when removed). Target health is judged after it.
func rulesVerdict(in *Input, ing Ingress, st *IngressState, view ingressView) ingressVerdict {
	v := ingressVerdict{sev: sevVerified, reason: ReasonWeightsVerified}
	action := &view.action
	if len(action.rules) == 0 {
		v.add(sevNoRules, ReasonRulesNotFound, noRulesMessage(in, ing, st, view))
	}
	for _, lr := range view.unapplied {
		v.add(sevNoRules, ReasonRulesNotFound, unappliedMessage(in, view, lr))
	}
	for _, r := range action.rules {
		if !r.matches {
			v.add(sevWeights, ReasonWeightMismatch, ruleMismatch(in, ing, view, action, r))
		}
	}
	if in.HealthOnly {
		// The routes in place were verified when written.
		return v
	}
	for k := range view.routes {
		sv := &view.routes[k]
		route := sv.set.route
		prefix := "route " + route.Name + ": "
		if len(route.Destinations) == 0 {
			if len(sv.rules) > 0 {
				v.add(sevWeights, ReasonWeightMismatch, prefix+"not removed yet: "+describeRules(view, sv.set, sv.rules)+"; want no rule of the route")
			}
			continue
		}
		if len(sv.rules) == 0 {
			v.add(sevNoRules, ReasonRulesNotFound, prefix+routeNotFoundMessage(st, route))
			continue
		}
		for _, l := range listenersWithout(action.rules, sv.rules) {
			v.add(sevNoRules, ReasonRulesNotFound, fmt.Sprintf("%slistener :%d has rules of the %s but none of the route yet", prefix, l.Port, action.set.label(in)))
		}
		for _, r := range sv.rules {
			if !r.matches {
				v.add(sevWeights, ReasonWeightMismatch, prefix+ruleMismatch(in, ing, view, sv, r))
			}
		}
	}
	return v
}

// rulesApplied reports whether the rules verify, so that target health is
// worth reading.
func rulesApplied(in *Input, ing Ingress, st *IngressState, view ingressView) bool {
	return rulesVerdict(in, ing, st, view).sev == sevVerified
}

// listenersWithout lists, by port, the listeners that have a rule in have
// but none in want.
func listenersWithout(have, want []ruleView) []elbv2.Listener {
	var out []elbv2.Listener
	for _, r := range have {
		if slices.ContainsFunc(want, func(w ruleView) bool { return w.listener.ARN == r.listener.ARN }) ||
			slices.ContainsFunc(out, func(l elbv2.Listener) bool { return l.ARN == r.listener.ARN }) {
			continue
		}
		out = append(out, r.listener)
	}
	return out
}

// judged returns the target groups of a set whose targets decide the
// verdict: for a destination that RequireHealthy, every group of it that a
// rule references; for another destination with a desired weight, the
// groups that get weight in some rule, or, while none does, every group of
// it in the rules (so that a timeout names their unhealthy targets too).
func (sv *setView) judged() []string {
	var out []string
	for i, d := range sv.set.dests {
		var refs, weighted []string
		for _, r := range sv.rules {
			for _, g := range r.groups[i] {
				if !slices.Contains(refs, g.ARN) {
					refs = append(refs, g.ARN)
				}
				if g.Weight > 0 && !slices.Contains(weighted, g.ARN) {
					weighted = append(weighted, g.ARN)
				}
			}
		}
		var pick []string
		switch {
		case d.RequireHealthy:
			pick = refs
		case d.holds():
			// Reported on the health last read (heldGroups), not judged.
		case sv.set.healthOnly:
			// Only the destinations that RequireHealthy are judged.
		case d.Weight > 0 && len(weighted) > 0:
			pick = weighted
		case d.Weight > 0:
			pick = refs
		}
		for _, arn := range pick {
			if !slices.Contains(out, arn) {
				out = append(out, arn)
			}
		}
	}
	return out
}

// held returns the target groups with weight of a set's destinations that
// hold (see Destination.VerifiedWeight): their health is reported from the
// last read of any age, and decides nothing.
func (sv *setView) held() []string {
	var out []string
	for i, d := range sv.set.dests {
		if !d.holds() || d.Weight == 0 {
			continue
		}
		for _, r := range sv.rules {
			for _, g := range r.groups[i] {
				if g.Weight > 0 && !slices.Contains(out, g.ARN) {
					out = append(out, g.ARN)
				}
			}
		}
	}
	return out
}

// heldGroups lists, without duplicates, the held groups of every set that
// no set judges.
func heldGroups(view ingressView) []string {
	judged := healthGroups(view)
	var out []string
	for _, sv := range view.sets() {
		for _, arn := range sv.held() {
			if !slices.Contains(out, arn) && !slices.Contains(judged, arn) {
				out = append(out, arn)
			}
		}
	}
	return out
}

// healthGroups lists, without duplicates, the groups whose health is judged
// in any set.
func healthGroups(view ingressView) []string {
	var out []string
	for _, sv := range view.sets() {
		for _, arn := range sv.judged() {
			if !slices.Contains(out, arn) {
				out = append(out, arn)
			}
		}
	}
	return out
}

// groupObservations builds, per set, one observation per target group found
// in its rules, plus one without ARN for each destination that no rule
// forwards to.
func groupObservations(in *Input, ing Ingress, view ingressView) []TargetGroupObservation {
	var out []TargetGroupObservation
	for k, sv := range view.sets() {
		route := ""
		if sv.set.route != nil {
			route = sv.set.route.Name
		}
		judged, held := sv.judged(), sv.held()
		index := map[string]int{}
		seenDest := make([]bool, len(sv.set.dests))
		for _, r := range sv.rules {
			for i, gs := range r.groups {
				for _, g := range gs {
					seenDest[i] = true
					n, ok := index[g.ARN]
					if !ok {
						d := sv.set.dests[i]
						tg := view.groups[g.ARN]
						judge := slices.Contains(judged, g.ARN)
						out = append(out, TargetGroupObservation{Ingress: ing.Name, Route: route, Role: d.Role, Service: d.Service, ARN: g.ARN,
							Name: groupName(view, g.ARN), DesiredWeight: d.Weight, HealthCheck: tg.HealthCheck, set: k, dest: i,
							judge: judge, Held: !judge && slices.Contains(held, g.ARN)})
						n = len(out) - 1
						index[g.ARN] = n
					}
					out[n].Rules = append(out[n].Rules, RuleWeight{ListenerPort: r.listener.Port, Protocol: r.listener.Protocol,
						Rule: r.rule.Priority, Weight: g.Weight, Total: int32(r.total), Matches: r.matches})
				}
			}
		}
		for i, d := range sv.set.dests {
			if !seenDest[i] {
				out = append(out, TargetGroupObservation{Ingress: ing.Name, Route: route, Role: d.Role, Service: d.Service, DesiredWeight: d.Weight, set: k, dest: i})
			}
		}
	}
	return out
}

// loadBalancerObservation names the load balancer and the groups found for
// the destinations; nil when the load balancer was not read.
func loadBalancerObservation(in *Input, ing Ingress, st *IngressState, view ingressView) *LoadBalancerObservation {
	lb := st.LoadBalancer
	if lb.ARN == "" {
		return nil
	}
	o := &LoadBalancerObservation{Ingress: ing.Name, Name: lb.Name, ARN: lb.ARN, DNSName: lb.DNSName, FullName: lb.FullName()}
	seen := map[string]bool{}
	for _, sv := range view.sets() {
		route := ""
		if sv.set.route != nil {
			route = sv.set.route.Name
		}
		for i, d := range sv.set.dests {
			for _, tg := range st.TargetGroups {
				if k, ok := sv.set.groupDest[tg.ARN]; !ok || k != i || seen[tg.ARN] {
					continue
				}
				seen[tg.ARN] = true
				inRules := slices.ContainsFunc(sv.rules, func(r ruleView) bool {
					return len(r.groups[i]) > 0 && slices.ContainsFunc(r.groups[i], func(g elbv2.WeightedTargetGroup) bool { return g.ARN == tg.ARN })
				})
				o.TargetGroups = append(o.TargetGroups, TargetGroupRef{Role: d.Role, Service: d.Service, Route: route, Name: groupName(view, tg.ARN),
					ARN: tg.ARN, FullName: tg.FullName(), InRules: inRules})
			}
		}
	}
	return o
}

// otherRules reports the rules that touch the action's groups without being its rules.
func otherRules(ing Ingress, view ingressView) []OtherRule {
	var out []OtherRule
	for _, r := range view.others {
		o := OtherRule{Ingress: ing.Name, ListenerPort: r.listener.Port, Protocol: r.listener.Protocol, Rule: r.rule.Priority}
		for _, g := range r.rule.Forward {
			t := RuleTarget{Name: groupName(view, g.ARN), ARN: g.ARN, Weight: g.Weight}
			if i, ok := view.action.set.groupDest[g.ARN]; ok {
				t.Role, t.Service = view.action.set.dests[i].Role, view.action.set.dests[i].Service
			}
			o.Forward = append(o.Forward, t)
		}
		out = append(out, o)
	}
	return out
}

func groupName(view ingressView, arn string) string {
	if n := view.groups[arn].Name; n != "" {
		return n
	}
	return elbv2.NameFromARN(arn)
}

func ruleName(r ruleView) string {
	if r.rule.IsDefault || r.rule.Priority == "default" {
		return fmt.Sprintf("listener :%d default rule", r.listener.Port)
	}
	return fmt.Sprintf("listener :%d rule %s", r.listener.Port, r.rule.Priority)
}

// describeRules names rules with the groups they forward to, e.g.
// "listener :80 default rule (stable k8s-demo-stable 1)".
func describeRules(view ingressView, s *destSet, rs []ruleView) string {
	var parts []string
	for i, r := range rs {
		if i == maxListedTargets {
			parts = append(parts, fmt.Sprintf("and %d more", len(rs)-i))
			break
		}
		var fwd []string
		for _, g := range r.rule.Forward {
			name := groupName(view, g.ARN)
			if k, ok := s.groupDest[g.ARN]; ok {
				name = string(s.dests[k].Role) + " " + name
			}
			fwd = append(fwd, fmt.Sprintf("%s %d", name, g.Weight))
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", ruleName(r), strings.Join(fwd, ", ")))
	}
	return strings.Join(parts, ", ")
}

// ruleMismatch explains why one rule does not forward the desired shares.
func ruleMismatch(in *Input, ing Ingress, view ingressView, sv *setView, r ruleView) string {
	dests := sv.set.dests
	desired := make([]int64, len(dests))
	var sumD int64
	for i, d := range dests {
		desired[i] = int64(d.Weight)
		sumD += desired[i]
	}
	var parts []string
	for i := range dests {
		if !slices.Contains(r.missing, i) && (sv.set.healthOnly || !sharesDiffer(desired, r.weights, r.total, i)) {
			continue
		}
		parts = append(parts, weightText(in, ing, view, sv, r, i, sumD))
	}
	for _, u := range r.unknown {
		if u.Weight != 0 && !sv.set.healthOnly {
			parts = append(parts, fmt.Sprintf("target group %s (not tagged for this %s) weight %d, want 0", groupName(view, u.ARN), strings.Fields(sv.set.label(in))[0], u.Weight))
		}
	}
	if len(parts) == 0 {
		// Every single share is within rounding but together they are not
		// consistent: name them all.
		for i := range dests {
			parts = append(parts, weightText(in, ing, view, sv, r, i, sumD))
		}
	}
	return ruleName(r) + ": " + strings.Join(parts, ", ")
}

func weightText(in *Input, ing Ingress, view ingressView, sv *setView, r ruleView, i int, sumD int64) string {
	d := sv.set.dests[i]
	if len(r.groups[i]) == 0 {
		want := fmt.Sprintf("want %d", d.Weight)
		if d.RequireHealthy && d.Weight == 0 {
			want = "want it in the rule (at weight 0) so that its targets are health-checked before they get traffic"
		}
		return fmt.Sprintf("%s %s:%s not in the rule (%s), %s", d.Role, d.Service, in.port(d), absentWhy(in, ing, view, sv, i), want)
	}
	var names []string
	for _, g := range r.groups[i] {
		names = append(names, groupName(view, g.ARN))
	}
	name := strings.Join(names, "+")
	if r.total == sumD {
		return fmt.Sprintf("%s %s weight %d, want %d", d.Role, name, r.weights[i], d.Weight)
	}
	return fmt.Sprintf("%s %s weight %d of %d (%.1f%%), want %.1f%%", d.Role, name, r.weights[i], r.total,
		100*float64(r.weights[i])/float64(max(r.total, 1)), 100*float64(d.Weight)/float64(sumD))
}

// absentWhy explains why a destination is missing from a rule: its group
// exists (and which rules use it), or no group was found for it.
func absentWhy(in *Input, ing Ingress, view ingressView, sv *setView, i int) string {
	d := sv.set.dests[i]
	var names []string
	for arn, k := range sv.set.groupDest {
		if k == i {
			names = append(names, groupName(view, arn))
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("no target group tagged %s=%s or named by a TargetGroupBinding of it", ResourceTag, ResourceTagValue(in.Namespace, ing.Name, d.Service, in.port(d)))
	}
	sort.Strings(names)
	var users []string
	for _, r := range append(append([]ruleView(nil), sv.rules...), view.others...) {
		if r.rule.ARN != "" && slices.ContainsFunc(r.rule.Forward, func(g elbv2.WeightedTargetGroup) bool {
			k, ok := sv.set.groupDest[g.ARN]
			return ok && k == i
		}) {
			users = append(users, ruleName(r))
		}
	}
	what := fmt.Sprintf("its target group %s exists", strings.Join(names, ", "))
	if len(users) == 0 {
		return what + " but no rule forwards to it yet"
	}
	return what + " and is used by " + strings.Join(users, ", ")
}

// noRulesMessage explains that no rule of the action was found.
func noRulesMessage(in *Input, ing Ingress, st *IngressState, view ingressView) string {
	var tags []string
	for _, d := range in.Destinations {
		tags = append(tags, ResourceTagValue(in.Namespace, ing.Name, d.Service, in.port(d)))
	}
	msg := fmt.Sprintf("no rule on the %d listener(s) of load balancer %s forwards to a target group of ingress %s/%s %s (target groups tagged %s=%s or named by a TargetGroupBinding)",
		len(st.Listeners), st.LoadBalancer.Name, in.Namespace, ing.Name, view.action.set.label(in), ResourceTag, strings.Join(tags, " | "))
	switch {
	case len(view.others) > 0:
		return msg + fmt.Sprintf(" as a rule of it: %d rule(s) forward to the group of only one of its services (%s), which makes them a default backend, a plain path or a header route; a rule of the action forwards to the groups of at least two",
			len(view.others), describeRules(view, view.action.set, view.others))
	case len(view.action.set.groupDest) > 0:
		return msg + fmt.Sprintf(": %d such target group(s) exist but no rule uses them yet; the load balancer controller has not applied the ingress rules", len(view.action.set.groupDest))
	}
	return msg + ": the load balancer controller has not created them yet, or the ingress does not route to the action"
}

// unappliedMessage explains that a listener has rules of the ingress but
// none of the action, while other listeners have them.
func unappliedMessage(in *Input, view ingressView, lr listenerRules) string {
	var ports []string
	for _, l := range view.listeners {
		if l.ARN != lr.listener.ARN && slices.ContainsFunc(view.action.rules, func(r ruleView) bool { return r.listener.ARN == l.ARN }) {
			ports = append(ports, fmt.Sprintf(":%d", l.Port))
		}
	}
	have := "listener " + strings.Join(ports, ", ") + " has"
	if len(ports) > 1 {
		have = "listeners " + strings.Join(ports, ", ") + " have"
	}
	return fmt.Sprintf("listener :%d has no rule of the %s yet while %s: %s; the load balancer controller puts every path of an ingress on all its listeners and has not applied the %s there yet",
		lr.listener.Port, view.action.set.label(in), have, describeRules(view, view.action.set, lr.rules), strings.Fields(view.action.set.label(in))[0])
}

// unjudgedOthers are the rules of view.others that are not on a listener
// judged as not applied yet (view.unapplied).
func unjudgedOthers(view ingressView) []ruleView {
	var out []ruleView
	for _, r := range view.others {
		if !slices.ContainsFunc(view.unapplied, func(lr listenerRules) bool { return lr.listener.ARN == r.listener.ARN }) {
			out = append(out, r)
		}
	}
	return out
}

// routeNotFoundMessage explains that no rule of a route was found.
func routeNotFoundMessage(st *IngressState, r *Route) string {
	var hs []string
	for _, h := range r.Headers {
		hs = append(hs, h.Name+"="+strings.Join(h.Values, "|"))
	}
	return fmt.Sprintf("no rule on the %d listener(s) of load balancer %s has the http-header condition %s: the load balancer controller has not applied the route yet (annotations alb.ingress.kubernetes.io/actions.%s and conditions.%s, and an Ingress path to service %s with port use-annotation)",
		len(st.Listeners), st.LoadBalancer.Name, strings.Join(hs, " and "), r.Name, r.Name, r.Name)
}

// verifiedSummary says what was verified.
func verifiedSummary(in *Input, view ingressView, healthy []string) string {
	if in.HealthOnly {
		return fmt.Sprintf("targets healthy: %s, in the groups of %d rule(s) (weights not judged)", strings.Join(healthy, ", "), len(view.action.rules))
	}
	s := "weights " + setSummary(&view.action)
	for _, sv := range view.routes {
		if len(sv.set.dests) == 0 {
			s += "; route " + sv.set.route.Name + " removed"
			continue
		}
		s += "; route " + sv.set.route.Name + ": " + setSummary(&sv)
	}
	if len(healthy) > 0 {
		s += "; targets healthy: " + strings.Join(healthy, ", ")
	}
	return s
}

func setSummary(sv *setView) string {
	var rules, weights []string
	for _, r := range sv.rules {
		rules = append(rules, strings.TrimPrefix(ruleName(r), "listener "))
	}
	for _, d := range sv.set.dests {
		weights = append(weights, fmt.Sprintf("%s %d", d.Role, d.Weight))
	}
	return fmt.Sprintf("%s verified on %d rule(s) (%s)", strings.Join(weights, ", "), len(sv.rules), strings.Join(rules, ", "))
}

// heldNote reports the health of a group whose traffic the shift does not
// raise, as last read (any age): it decides nothing.
func heldNote(in *Input, view ingressView, st *IngressState, g *TargetGroupObservation) string {
	prefix := ""
	if g.Route != "" {
		prefix = "route " + g.Route + ": "
	}
	hs, read := st.Health[g.ARN]
	if !read {
		return fmt.Sprintf("note: %s%s %s keeps or loses traffic (weight %d, verified %d): its health was not read yet, and is not waited for",
			prefix, g.Role, g.Name, g.DesiredWeight, derefWeight(view.sets()[g.set].set.dests[g.dest].VerifiedWeight))
	}
	d := view.sets()[g.set].set.dests[g.dest]
	msg, ok := evalTargets(d, hs, g)
	g.HealthChecked = false // judged on an answer that may predate the change
	g.HealthReadAt = st.HealthReadAt[g.ARN]
	if ok {
		return fmt.Sprintf("note: %s%s %s keeps or loses traffic: %d/%d targets healthy when last read (%s)",
			prefix, g.Role, g.Name, g.Healthy, max(g.Expected, g.Healthy), g.HealthReadAt.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("note: %s%s (keeps or loses traffic; last read %s, not a reason to wait)", prefix, msg, g.HealthReadAt.UTC().Format(time.RFC3339))
}

func derefWeight(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
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
	// A target listed twice is one target: it must not count twice.
	targets := make([]Target, 0, len(d.Targets))
	expected := make(map[Target]bool, len(d.Targets))
	for _, t := range d.Targets {
		if !expected[t] {
			expected[t] = true
			targets = append(targets, t)
		}
	}
	g.Expected = len(expected)
	for _, t := range targets {
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
