// Package albannotation reads and writes the Ingress annotations through which
// a rollout steers an AWS Application Load Balancer: the AWS Load Balancer
// Controller's forward action (alb.ingress.kubernetes.io/actions.<name>) and
// conditions (alb.ingress.kubernetes.io/conditions.<name>), the
// rollouts.argoproj.io/managed-alb-annotations bookkeeping, and the Ingress
// paths of header routes. Values are written in the format Argo Rollouts
// writes (PascalCase keys, ServicePort as a string, Weight always present), so
// the load balancer controller, Argo Rollouts and its tooling read them alike.
package albannotation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Keys and values.
const (
	// DefaultPrefix is the AWS Load Balancer Controller's annotation prefix.
	DefaultPrefix = "alb.ingress.kubernetes.io"
	// ManagedAnnotationsKey records, per rollout, the annotation keys it owns on an Ingress.
	ManagedAnnotationsKey = "rollouts.argoproj.io/managed-alb-annotations"
	// UseAnnotation is the backend port name that makes the load balancer
	// controller take the backend's action from the actions annotation.
	UseAnnotation = "use-annotation"
	// RoutePath is the path of a header route's Ingress rule.
	RoutePath = "/*"
)

// ActionKey is the actions annotation key of name under prefix ("" = default).
func ActionKey(prefix, name string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + "/actions." + name
}

// ConditionsKey is the conditions annotation key of name under prefix.
func ConditionsKey(prefix, name string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + "/conditions." + name
}

// Action is a load balancer controller action annotation.
type Action struct {
	Type          string         `json:"Type"`
	ForwardConfig *ForwardConfig `json:"ForwardConfig,omitempty"`
}

// ForwardConfig is a weighted forward.
type ForwardConfig struct {
	TargetGroups                []TargetGroup `json:"TargetGroups"`
	TargetGroupStickinessConfig *Stickiness   `json:"TargetGroupStickinessConfig,omitempty"`
}

// TargetGroup is one destination of a forward action.
type TargetGroup struct {
	ServiceName     string `json:"ServiceName,omitempty"`
	ServicePort     Port   `json:"ServicePort,omitempty"`
	TargetGroupARN  string `json:"TargetGroupARN,omitempty"`
	TargetGroupName string `json:"TargetGroupName,omitempty"`
	Weight          *int64 `json:"Weight,omitempty"`
}

// Stickiness is the forward action's target-group stickiness.
type Stickiness struct {
	Enabled         bool  `json:"Enabled"`
	DurationSeconds int64 `json:"DurationSeconds"`
}

// Port is a service port written as a string ("80", "http"); it reads a JSON
// number too, as the load balancer controller does.
type Port string

// UnmarshalJSON accepts "80", 80 and "http".
func (p *Port) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*p = Port(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("servicePort must be a number or a port name: %w", err)
	}
	*p = Port(n.String())
	return nil
}

// Destination is a service and its weight in a forward action.
type Destination struct {
	Service string
	Port    string
	Weight  int32
}

// Forward returns the forward action JSON for the destinations, in the given
// order, with stickiness when enabled.
func Forward(dests []Destination, stickiness *v1alpha1.StickinessConfig) (string, error) {
	a := Action{Type: "forward", ForwardConfig: &ForwardConfig{}}
	for _, d := range dests {
		if d.Service == "" || d.Port == "" {
			return "", fmt.Errorf("forward destination needs a service and a port, got %q:%q", d.Service, d.Port)
		}
		if d.Weight < 0 {
			return "", fmt.Errorf("weight of %s is %d, must not be negative", d.Service, d.Weight)
		}
		w := int64(d.Weight)
		a.ForwardConfig.TargetGroups = append(a.ForwardConfig.TargetGroups, TargetGroup{ServiceName: d.Service, ServicePort: Port(d.Port), Weight: &w})
	}
	if stickiness != nil && stickiness.Enabled {
		if stickiness.DurationSeconds < 1 || stickiness.DurationSeconds > 604800 {
			return "", fmt.Errorf("stickinessConfig.durationSeconds %d must be between 1 and 604800", stickiness.DurationSeconds)
		}
		a.ForwardConfig.TargetGroupStickinessConfig = &Stickiness{Enabled: true, DurationSeconds: stickiness.DurationSeconds}
	}
	b, err := json.Marshal(a)
	return string(b), err
}

// ParseAction reads an actions annotation value. Keys are matched without
// regard to case, as the load balancer controller's JSON decoding does.
func ParseAction(value string) (*Action, error) {
	var a Action
	if err := json.Unmarshal([]byte(value), &a); err != nil {
		return nil, fmt.Errorf("invalid action JSON: %w", err)
	}
	return &a, nil
}

// Weights returns the weight of each destination service of a forward action
// (a missing Weight counts as 0, as the load balancer controller reads it),
// and whether the action is a forward at all.
func (a *Action) Weights() (map[string]int64, bool) {
	if a == nil || !strings.EqualFold(a.Type, "forward") || a.ForwardConfig == nil {
		return nil, false
	}
	out := map[string]int64{}
	for _, tg := range a.ForwardConfig.TargetGroups {
		if tg.ServiceName == "" {
			continue
		}
		out[tg.ServiceName] += ptrValue(tg.Weight)
	}
	return out, true
}

func ptrValue(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// HeaderCondition is one condition of a conditions annotation (lowercase keys,
// as Argo Rollouts writes them).
type HeaderCondition struct {
	Field            string           `json:"field"`
	HTTPHeaderConfig HTTPHeaderConfig `json:"httpHeaderConfig"`
}

// HTTPHeaderConfig matches a header against exact values.
type HTTPHeaderConfig struct {
	HTTPHeaderName string   `json:"httpHeaderName"`
	Values         []string `json:"values"`
}

// HeaderConditions returns the conditions annotation of a header route: one
// http-header condition per header name, with every exact value asked for it.
// ALB matches header values exactly (with * and ? wildcards), so prefix and
// regular-expression matches are refused.
func HeaderConditions(matches []v1alpha1.HeaderRoutingMatch) (string, error) {
	var out []HeaderCondition
	for _, m := range matches {
		if m.HeaderName == "" {
			return "", errors.New("a header match needs headerName")
		}
		if m.HeaderValue == nil || m.HeaderValue.Exact == "" {
			return "", fmt.Errorf("header %s: ALB header routes support only headerValue.exact", m.HeaderName)
		}
		i := slices.IndexFunc(out, func(c HeaderCondition) bool {
			return strings.EqualFold(c.HTTPHeaderConfig.HTTPHeaderName, m.HeaderName)
		})
		if i < 0 {
			out = append(out, HeaderCondition{Field: "http-header", HTTPHeaderConfig: HTTPHeaderConfig{HTTPHeaderName: m.HeaderName}})
			i = len(out) - 1
		}
		out[i].HTTPHeaderConfig.Values = append(out[i].HTTPHeaderConfig.Values, m.HeaderValue.Exact)
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// Managed is the managed-alb-annotations bookkeeping: rollout name → the
// annotation keys it wrote on the Ingress.
type Managed map[string][]string

// ParseManaged reads the bookkeeping annotation ("" is empty).
func ParseManaged(value string) (Managed, error) {
	m := Managed{}
	if strings.TrimSpace(value) == "" {
		return m, nil
	}
	if err := json.Unmarshal([]byte(value), &m); err != nil {
		return nil, fmt.Errorf("invalid %s annotation: %w", ManagedAnnotationsKey, err)
	}
	return m, nil
}

// Add records keys as owned by rollout.
func (m Managed) Add(rollout string, keys ...string) {
	for _, k := range keys {
		if !slices.Contains(m[rollout], k) {
			m[rollout] = append(m[rollout], k)
		}
	}
}

// Remove forgets keys of rollout.
func (m Managed) Remove(rollout string, keys ...string) {
	m[rollout] = slices.DeleteFunc(m[rollout], func(k string) bool { return slices.Contains(keys, k) })
}

// String is the annotation value.
func (m Managed) String() string {
	b, _ := json.Marshal(map[string][]string(m))
	return string(b)
}

// HasBackend reports whether any path of the Ingress (or its default backend)
// routes to service.
func HasBackend(ing *networkingv1.Ingress, service string) bool {
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil && b.Service.Name == service {
		return true
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if p.Backend.Service != nil && p.Backend.Service.Name == service {
				return true
			}
		}
	}
	return false
}

// EnsureRoutePath adds, at the front of every rule of the Ingress, a path
// "/*" whose backend is route with port use-annotation, unless a path to route
// exists already; then it orders each rule's paths by the managed routes'
// order (other paths after them). It reports whether the spec changed.
func EnsureRoutePath(ing *networkingv1.Ingress, route string, order []string) bool {
	changed := false
	if !HasBackend(ing, route) {
		pt := networkingv1.PathTypeImplementationSpecific
		p := networkingv1.HTTPIngressPath{Path: RoutePath, PathType: &pt, Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: route, Port: networkingv1.ServiceBackendPort{Name: UseAnnotation}},
		}}
		for i := range ing.Spec.Rules {
			r := &ing.Spec.Rules[i]
			if r.HTTP == nil {
				r.HTTP = &networkingv1.HTTPIngressRuleValue{}
			}
			r.HTTP.Paths = append([]networkingv1.HTTPIngressPath{p}, r.HTTP.Paths...)
			changed = true
		}
	}
	rank := func(p networkingv1.HTTPIngressPath) int {
		if p.Backend.Service != nil {
			if i := slices.Index(order, p.Backend.Service.Name); i >= 0 {
				return i
			}
		}
		return len(order)
	}
	for i := range ing.Spec.Rules {
		r := &ing.Spec.Rules[i]
		if r.HTTP == nil {
			continue
		}
		before := slices.Clone(r.HTTP.Paths)
		slices.SortStableFunc(r.HTTP.Paths, func(a, b networkingv1.HTTPIngressPath) int { return rank(a) - rank(b) })
		for j := range before {
			if before[j].Backend.Service != r.HTTP.Paths[j].Backend.Service {
				changed = true
				break
			}
		}
	}
	return changed
}

// RemoveRoutePath removes every path whose backend is route; it reports
// whether the spec changed.
func RemoveRoutePath(ing *networkingv1.Ingress, route string) bool {
	changed := false
	for i := range ing.Spec.Rules {
		r := &ing.Spec.Rules[i]
		if r.HTTP == nil {
			continue
		}
		n := len(r.HTTP.Paths)
		r.HTTP.Paths = slices.DeleteFunc(r.HTTP.Paths, func(p networkingv1.HTTPIngressPath) bool {
			return p.Backend.Service != nil && p.Backend.Service.Name == route
		})
		changed = changed || len(r.HTTP.Paths) != n
	}
	return changed
}

// PortString formats a numbered service port for an action.
func PortString(port int32) string { return strconv.Itoa(int(port)) }
