package verify

import (
	"fmt"
	"sort"
	"strconv"

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

// actionView is the action of one ingress as found on its load balancer.
type actionView struct {
	// groupDest maps the ARN of each target group of the action to the index
	// of its destination in Input.Destinations.
	groupDest map[string]int
	groups    map[string]elbv2.TargetGroup
	rules     []ruleView
}

// ruleView is one listener rule that forwards to the action's groups.
type ruleView struct {
	listener elbv2.Listener
	rule     elbv2.Rule
	weights  []int64  // ALB weight per destination (0 when absent)
	arns     []string // target group ARN per destination ("" when absent)
	unknown  []elbv2.WeightedTargetGroup
	total    int64
	matches  bool
}

// matchAction finds the action's target groups (by tag, else by
// TargetGroupBinding) and every rule on every listener that forwards to one
// of them, and compares each rule's weights with the desired ones.
func matchAction(in *Input, ing Ingress, st *IngressState) actionView {
	v := actionView{groupDest: map[string]int{}, groups: map[string]elbv2.TargetGroup{}}
	byTag := map[string]int{}
	for i, d := range in.Destinations {
		byTag[ResourceTagValue(in.Namespace, ing.Name, d.Service, in.port(d))] = i
	}
	for _, tg := range st.TargetGroups {
		v.groups[tg.ARN] = tg
		if res, ok := tg.Tags[ResourceTag]; ok {
			// Tagged by the load balancer controller: the tag alone decides,
			// so that another ingress's group of the same service never counts.
			if i, ok := byTag[res]; ok {
				v.groupDest[tg.ARN] = i
			}
			continue
		}
		if i, ok := destinationOfBinding(in, tg.ARN); ok {
			v.groupDest[tg.ARN] = i
		}
	}
	desired := make([]int64, len(in.Destinations))
	for i, d := range in.Destinations {
		desired[i] = int64(d.Weight)
	}
	listeners := append([]ListenerState(nil), st.Listeners...)
	sort.SliceStable(listeners, func(i, j int) bool { return listeners[i].Listener.Port < listeners[j].Listener.Port })
	for _, ls := range listeners {
		for _, r := range ls.Rules {
			rv := ruleView{listener: ls.Listener, rule: r, weights: make([]int64, len(in.Destinations)), arns: make([]string, len(in.Destinations))}
			ours := false
			for _, g := range r.Forward {
				if i, ok := v.groupDest[g.ARN]; ok {
					ours = true
					rv.weights[i] += int64(g.Weight)
					rv.arns[i] = g.ARN
				} else {
					rv.unknown = append(rv.unknown, g)
				}
				rv.total += int64(g.Weight)
			}
			if !ours {
				continue
			}
			rv.matches = sharesMatch(desired, rv.weights, rv.unknown)
			v.rules = append(v.rules, rv)
		}
	}
	return v
}

// destinationOfBinding maps a target group to a destination through the
// TargetGroupBinding that names it.
func destinationOfBinding(in *Input, arn string) (int, bool) {
	for _, b := range in.TargetGroupBindings {
		if b.TargetGroupARN != arn || (b.Namespace != "" && b.Namespace != in.Namespace) {
			continue
		}
		for i, d := range in.Destinations {
			if b.ServiceName == d.Service && portsCompatible(b.ServicePort, in.port(d)) {
				return i, true
			}
		}
	}
	return 0, false
}

// portsCompatible compares service ports that may be given as a number or a
// name; a number and a name cannot be compared without the Service, so they
// are accepted.
func portsCompatible(a, b string) bool {
	if a == "" || b == "" || a == b {
		return true
	}
	_, errA := strconv.Atoi(a)
	_, errB := strconv.Atoi(b)
	return (errA == nil) != (errB == nil)
}

// sharesMatch reports whether the ALB weights w forward the same shares as
// the desired weights d. The load balancer controller copies annotation
// weights (0-100) into ALB weights (0-999); another writer may scale them
// to 0-999 and round. So w matches d when some factor f gives
// round(d[i]*f) == w[i] for every i: a group desired at 0 must be at 0,
// every other group must be inside f's rounding interval. Groups that are
// not part of the action (unknown) are desired at 0.
func sharesMatch(d, w []int64, unknown []elbv2.WeightedTargetGroup) bool {
	for _, u := range unknown {
		if u.Weight != 0 {
			return false
		}
	}
	var total int64
	for i := range d {
		if (d[i] == 0) != (w[i] == 0) {
			return false
		}
		total += w[i]
	}
	if total == 0 {
		return false
	}
	// f lies in [(2w-1)/(2d), (2w+1)/(2d)] for each i with d>0; the
	// intervals intersect iff every lower bound is <= every upper bound.
	// Cross-multiplied to stay in integers.
	for i := range d {
		for j := range d {
			if d[i] == 0 || d[j] == 0 || i == j {
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
	if total == sumD {
		return d[i] != w[i]
	}
	want := float64(d[i]) * float64(total) / float64(sumD)
	diff := want - float64(w[i])
	return diff > 0.5+0.5*float64(len(d)) || diff < -0.5-0.5*float64(len(d))
}
