package verify

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// ResourceTag is the tag the AWS Load Balancer Controller puts on a target
// group it builds for an Ingress backend: <ns>/<ingress>-<service>:<port>.
const ResourceTag = "ingress.k8s.aws/resource"

// ResourceTagValue is the ResourceTag value of the target group of service
// port in an ingress.
func ResourceTagValue(namespace, ingress, service, port string) string {
	return fmt.Sprintf("%s/%s-%s:%s", namespace, ingress, service, port)
}

// destSet is a set of destinations verified together: the action's (or the
// plain backend's), or one route's, with the target groups found for each.
type destSet struct {
	route *Route // nil for the action
	dests []Destination
	// groupDest maps the ARN of each target group of a destination to its
	// index in dests.
	groupDest map[string]int
	// healthOnly: Input.HealthOnly; a rule matches when it references the
	// destinations that RequireHealthy, whatever its weights.
	healthOnly bool
	// total is what the desired weights are out of (Input.WeightTotal).
	total int64
}

// label names the set in diagnoses.
func (s *destSet) label(in *Input) string {
	switch {
	case s.route != nil:
		return "route " + s.route.Name
	case in.ActionName == "" && len(s.dests) == 1:
		return "backend " + s.dests[0].Service + ":" + in.port(s.dests[0])
	}
	return "action " + in.ActionName
}

// ruleView is one listener rule as one destination set sees it.
type ruleView struct {
	listener elbv2.Listener
	rule     elbv2.Rule
	// weights is the ALB weight per destination, summed over its groups.
	weights []int64
	// groups are each destination's target groups in the rule, with their
	// own weights: one destination may have several (a second group with the
	// same tag, or one bound by a TargetGroupBinding).
	groups  [][]elbv2.WeightedTargetGroup
	unknown []elbv2.WeightedTargetGroup // groups of no destination of the set
	total   int64
	// missing lists the destinations that must be in the rule
	// (RequireHealthy) but are not.
	missing []int
	matches bool
}

// referenced is the number of the set's destinations the rule forwards to.
func (r ruleView) referenced() int {
	n := 0
	for _, gs := range r.groups {
		if len(gs) > 0 {
			n++
		}
	}
	return n
}

// setView is a destination set with its rules on one load balancer.
type setView struct {
	set   *destSet
	rules []ruleView
}

// ingressView is what one ingress's load balancer does for the input.
type ingressView struct {
	groups map[string]elbv2.TargetGroup
	action setView
	routes []setView // in Input.Routes order
	// others are rules that forward to a group of the action without being
	// its rules (seen through the action's set); reported, not judged.
	others []ruleView
	// listeners read, by port.
	listeners []elbv2.Listener
	// unapplied are the listeners, by port, that have rules of this ingress
	// (to a group of the action's or a route's services) but none of the
	// action, while another listener has rules of the action: the load
	// balancer controller puts every path of an ingress on all its
	// listeners, so it has not applied the action there yet. Each comes
	// with those rules, seen through the action's set. Judged.
	unapplied []listenerRules
}

// listenerRules is a listener with some of its rules.
type listenerRules struct {
	listener elbv2.Listener
	rules    []ruleView
}

// sets returns the action's view and the routes', in that order.
func (v *ingressView) sets() []*setView {
	out := []*setView{&v.action}
	for i := range v.routes {
		out = append(out, &v.routes[i])
	}
	return out
}

// matchIngress finds the target groups of the action's and the routes'
// destinations (by tag, else by TargetGroupBinding), sorts every rule of
// every listener into the route whose header conditions it carries, the
// action, the other rules that touch the action's groups, or none, and
// compares each rule's weights with the desired ones.
func matchIngress(in *Input, ing Ingress, st *IngressState) ingressView {
	v := ingressView{groups: map[string]elbv2.TargetGroup{}}
	for _, tg := range st.TargetGroups {
		v.groups[tg.ARN] = tg
	}
	v.action.set = newDestSet(in, ing, st, nil, in.Destinations)
	for i := range in.Routes {
		r := &in.Routes[i]
		v.routes = append(v.routes, setView{set: newDestSet(in, ing, st, r, r.Destinations)})
	}
	listeners := append([]ListenerState(nil), st.Listeners...)
	sort.SliceStable(listeners, func(i, j int) bool { return listeners[i].Listener.Port < listeners[j].Listener.Port })
	var withoutAction []listenerRules
	for _, ls := range listeners {
		v.listeners = append(v.listeners, ls.Listener)
		hasAction := false
		var ours []ruleView // rules of this ingress that are not the action's
		for _, r := range ls.Rules {
			rv := viewRule(v.action.set, ls.Listener, r)
			if k := routeOf(in.Routes, r); k >= 0 {
				route := viewRule(v.routes[k].set, ls.Listener, r)
				v.routes[k].rules = append(v.routes[k].rules, route)
				if route.referenced() > 0 || rv.referenced() > 0 {
					ours = append(ours, rv)
				}
				continue
			}
			switch refs := rv.referenced(); {
			case refs == 0:
				// Another ingress's rule, or one that does not forward.
			case refs == 1 && len(rv.unknown) == 0 && len(in.Destinations) > 1:
				// Forwards to one service's groups alone: a default backend,
				// a plain path or a header route, not the action.
				v.others = append(v.others, rv)
				ours = append(ours, rv)
			default:
				v.action.rules = append(v.action.rules, rv)
				hasAction = true
			}
		}
		if !hasAction && len(ours) > 0 {
			withoutAction = append(withoutAction, listenerRules{listener: ls.Listener, rules: ours})
		}
	}
	if len(v.action.rules) > 0 {
		v.unapplied = withoutAction
	}
	return v
}

// newDestSet maps the load balancer's target groups to the destinations.
func newDestSet(in *Input, ing Ingress, st *IngressState, route *Route, dests []Destination) *destSet {
	s := &destSet{route: route, dests: dests, groupDest: map[string]int{}, healthOnly: in.HealthOnly, total: in.weightTotal()}
	byTag := map[string]int{}
	for i, d := range dests {
		byTag[ResourceTagValue(in.Namespace, ing.Name, d.Service, in.port(d))] = i
	}
	for _, tg := range st.TargetGroups {
		if res, ok := tg.Tags[ResourceTag]; ok {
			// Tagged by the load balancer controller: the tag alone decides,
			// so that another ingress's group of the same service never counts.
			if i, ok := byTag[res]; ok {
				s.groupDest[tg.ARN] = i
			}
			continue
		}
		if i, ok := destinationOfBinding(in, dests, tg.ARN); ok {
			s.groupDest[tg.ARN] = i
		}
	}
	return s
}

// viewRule compares one rule with a destination set.
func viewRule(s *destSet, l elbv2.Listener, r elbv2.Rule) ruleView {
	n := len(s.dests)
	rv := ruleView{listener: l, rule: r, weights: make([]int64, n), groups: make([][]elbv2.WeightedTargetGroup, n)}
	for _, g := range r.Forward {
		if i, ok := s.groupDest[g.ARN]; ok {
			rv.weights[i] += int64(g.Weight)
			rv.groups[i] = append(rv.groups[i], g)
		} else {
			rv.unknown = append(rv.unknown, g)
		}
		rv.total += int64(g.Weight)
	}
	desired := make([]int64, n)
	for i, d := range s.dests {
		desired[i] = int64(d.Weight)
		if d.RequireHealthy && len(rv.groups[i]) == 0 {
			rv.missing = append(rv.missing, i)
		}
	}
	rv.matches = n > 0 && len(rv.missing) == 0 && (s.healthOnly || sharesMatch(desired, rv.weights, rv.unknown, s.total))
	return rv
}

// routeOf returns the index of the route whose header conditions the rule
// carries (the one with the most, when several match), or -1.
func routeOf(routes []Route, r elbv2.Rule) int {
	best, bestN := -1, 0
	for k, route := range routes {
		if len(route.Headers) > bestN && hasHeaders(r, route.Headers) {
			best, bestN = k, len(route.Headers)
		}
	}
	return best
}

// hasHeaders reports whether the rule has an http-header condition for
// every entry, on the same header with the same values.
func hasHeaders(r elbv2.Rule, hs []HeaderMatch) bool {
	for _, h := range hs {
		if !slices.ContainsFunc(r.Conditions, func(c elbv2.RuleCondition) bool {
			return c.Field == elbv2.ConditionHTTPHeader && strings.EqualFold(c.HTTPHeaderName, h.Name) && sameValues(c.Values, h.Values)
		}) {
			return false
		}
	}
	return true
}

func sameValues(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

// destinationOfBinding maps a target group to a destination through the
// TargetGroupBinding that names it.
func destinationOfBinding(in *Input, dests []Destination, arn string) (int, bool) {
	for _, b := range in.TargetGroupBindings {
		if b.TargetGroupARN != arn || (b.Namespace != "" && b.Namespace != in.Namespace) {
			continue
		}
		for i, d := range dests {
			if b.serves(d.Service, in.port(d)) {
				return i, true
			}
		}
	}
	return 0, false
}

// serves reports whether the binding is for the given port of a service;
// the port may be a number or a name. A binding's port given in the other
// spelling matches only through the Service's port list, which
// ListTargetGroupBindings resolves (ServicePortName, ServicePortNumber): a
// port name and some port number are not the same port just because one is
// a name.
func (b TargetGroupBinding) serves(service, port string) bool {
	switch {
	case b.ServiceName != service || port == "":
		return false
	case b.ServicePort == port:
		return true
	case b.ServicePortNumber != 0 && port == strconv.Itoa(int(b.ServicePortNumber)):
		return true
	}
	return b.ServicePortName != "" && port == b.ServicePortName
}

// sharesMatch reports whether the ALB weights w forward the shares the
// desired weights d (out of total: percent when it is 100) ask for. Groups that are not part of the set
// (unknown) are desired at 0. A group desired at 0 must be at 0. The others
// match when
//
//   - the shares are exactly the desired ones (w proportional to d: the load
//     balancer controller copies annotation weights as they are, and 1:1 is
//     exactly 50/50), or
//   - w is what rounding the desired weights to ALB weights after scaling
//     them up can produce: round(p[i]*f) == w[i] for every i, with p the
//     desired weights scaled to a sum of total and some f >= 1. ALB weights run
//     0-999, so a writer that scales scales up, and the rounding then moves
//     a share by at most half a point. Scaling down (f < 1) is not accepted:
//     there ±0.5 of rounding is a large share error (25/75 written as 1:2 is
//     33 % canary).
func sharesMatch(d, w []int64, unknown []elbv2.WeightedTargetGroup, total int64) bool {
	for _, u := range unknown {
		if u.Weight != 0 {
			return false
		}
	}
	var sumW, sumD int64
	for i := range d {
		if (d[i] == 0) != (w[i] == 0) {
			return false
		}
		sumW += w[i]
		sumD += d[i]
	}
	if sumW == 0 || sumD == 0 {
		return false
	}
	exact := true
	for i := range d {
		if w[i]*sumD != d[i]*sumW {
			exact = false
		}
	}
	if exact {
		return true
	}
	// In terms of d, the scale is f' = f*total/sumD >= total/sumD, and f'
	// must lie in [(2w-1)/(2d), (2w+1)/(2d)] for each i with d>0. The
	// intervals and [total/sumD, inf) intersect iff every lower bound is <=
	// every upper bound. Cross-multiplied to stay in integers.
	for j := range d {
		if d[j] == 0 {
			continue
		}
		if (2*w[j]+1)*sumD < 2*total*d[j] {
			return false
		}
		for i := range d {
			if d[i] == 0 || i == j {
				continue
			}
			if (2*w[i]-1)*d[j] > (2*w[j]+1)*d[i] {
				return false
			}
		}
	}
	return true
}

// sharesDiffer reports whether destination i's share in a rule is off by
// more than rounding could explain; it picks what to name in a diagnosis.
func sharesDiffer(d, w []int64, total int64, i int) bool {
	var sumD int64
	for _, x := range d {
		sumD += x
	}
	if (d[i] == 0) != (w[i] == 0) {
		return true
	}
	if total == 0 || sumD == 0 {
		return d[i] != 0
	}
	if total == sumD || w[i]*sumD == d[i]*total {
		return d[i]*total != w[i]*sumD
	}
	if total < sumD {
		// Weights scaled down: no rounding allowance.
		return true
	}
	want := float64(d[i]) * float64(total) / float64(sumD)
	diff := want - float64(w[i])
	return diff > 0.5+0.5*float64(len(d)) || diff < -0.5-0.5*float64(len(d))
}
