package localalb

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// stackModel is what one ingress group should look like in ELBv2.
type stackModel struct {
	ID           StackID
	Scheme       string
	LBName       string
	Listeners    []*listenerModel       // sorted by port
	TargetGroups map[string]*tgModel    // by ingress.k8s.aws/resource tag
	Warnings     []string               // problems that did not stop the build
	Members      []types.NamespacedName // ingresses in group order
}

type listenerModel struct {
	Port          int32
	DefaultAction actionModel
	Rules         []ruleModel // in priority order: the first is priority 1
}

type ruleModel struct {
	Conditions []elbv2types.RuleCondition
	Action     actionModel
}

// actionModel is an ALB action whose forward targets are not resolved to ARNs yet.
type actionModel struct {
	Type          elbv2types.ActionTypeEnum
	Forward       []forwardTarget
	Stickiness    *elbv2types.TargetGroupStickinessConfig
	FixedResponse *elbv2types.FixedResponseActionConfig
	Redirect      *elbv2types.RedirectActionConfig
}

type forwardTarget struct {
	Resource string // a target group of this stack, by resource tag
	ARN      string // or a target group given by ARN
	Name     string // or by name
	Weight   *int32
}

// tgModel is one target group: a service port of one ingress.
type tgModel struct {
	Resource    string
	Name        string
	Namespace   string
	Service     string
	ServicePort intstr.IntOrString // as written in the ingress
	Port        int32              // the target group's port: the numeric target port, else 1
	HealthCheck HealthCheck
	Attributes  map[string]string
}

// buildError is a failure to turn the ingresses into a model. Permanent errors
// (bad annotations) wait for the user to change something; others are retried.
type buildError struct {
	Ingress   types.NamespacedName
	Err       error
	Permanent bool
}

func (e *buildError) Error() string {
	return fmt.Sprintf("ingress %s: %v", e.Ingress, e.Err)
}
func (e *buildError) Unwrap() error { return e.Err }

// errServiceNotFound marks a backend service that does not exist (yet).
var errServiceNotFound = errors.New("service not found")

// serviceGetter returns a service, or an error wrapping errServiceNotFound.
type serviceGetter func(namespace, name string) (*corev1.Service, error)

// modelBuilder turns the member ingresses of a stack into a stackModel.
type modelBuilder struct {
	cluster  string
	services serviceGetter
}

// member is an ingress with its parsed group order.
type member struct {
	ing   *networkingv1.Ingress
	order int
}

// sortMembers orders ingresses by group.order, then namespace/name, as the real
// controller does. Ingresses with a bad group.order come back as a build error.
func sortMembers(ings []*networkingv1.Ingress) ([]member, error) {
	var ms []member
	for _, ing := range ings {
		v, ok := ing.Annotations[AnnotationGroupOrder]
		order, err := ParseGroupOrder(v, ok)
		if err != nil {
			return nil, &buildError{Ingress: keyOf(ing), Err: err, Permanent: true}
		}
		ms = append(ms, member{ing: ing, order: order})
	}
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].order != ms[j].order {
			return ms[i].order < ms[j].order
		}
		return keyOf(ms[i].ing).String() < keyOf(ms[j].ing).String()
	})
	return ms, nil
}

func keyOf(ing *networkingv1.Ingress) types.NamespacedName {
	return types.NamespacedName{Namespace: ing.Namespace, Name: ing.Name}
}

// build returns the model of stack id from its member ingresses (not empty).
func (b *modelBuilder) build(id StackID, ings []*networkingv1.Ingress) (*stackModel, error) {
	members, err := sortMembers(ings)
	if err != nil {
		return nil, err
	}
	m := &stackModel{ID: id, TargetGroups: map[string]*tgModel{}, Scheme: "internal"}
	listeners := map[int32]*listenerModel{}
	var defaultAction *actionModel
	for _, mb := range members {
		ing := mb.ing
		m.Members = append(m.Members, keyOf(ing))
		if s, ok := ing.Annotations[AnnotationScheme]; ok {
			if s != "internal" && s != "internet-facing" {
				return nil, &buildError{Ingress: keyOf(ing), Permanent: true,
					Err: &annotationError{Key: AnnotationScheme, Err: fmt.Errorf("%q: want internal or internet-facing", s)}}
			}
			m.Scheme = s
		}
		ports, err := b.listenPorts(ing, m)
		if err != nil {
			return nil, err
		}
		rules, err := b.ingressRules(ing, m)
		if err != nil {
			return nil, err
		}
		if ing.Spec.DefaultBackend != nil && defaultAction == nil {
			a, err := b.backendAction(ing, *ing.Spec.DefaultBackend, m)
			if err != nil {
				return nil, err
			}
			defaultAction = &a
		}
		for _, port := range ports {
			l := listeners[port]
			if l == nil {
				l = &listenerModel{Port: port}
				listeners[port] = l
			}
			l.Rules = append(l.Rules, rules...)
		}
	}
	if defaultAction == nil {
		// Without a default backend the real controller answers 404 itself.
		defaultAction = &actionModel{Type: elbv2types.ActionTypeEnumFixedResponse,
			FixedResponse: &elbv2types.FixedResponseActionConfig{StatusCode: aws.String("404"), ContentType: aws.String("text/plain")}}
	}
	for _, l := range listeners {
		l.DefaultAction = *defaultAction
		m.Listeners = append(m.Listeners, l)
	}
	sort.Slice(m.Listeners, func(i, j int) bool { return m.Listeners[i].Port < m.Listeners[j].Port })
	m.LBName = LoadBalancerName(b.cluster, id, m.Scheme)
	return m, nil
}

// listenPorts returns the HTTP ports of an ingress; HTTPS ports are skipped with a
// warning (elbsim listeners speak plain HTTP).
func (b *modelBuilder) listenPorts(ing *networkingv1.Ingress, m *stackModel) ([]int32, error) {
	v, ok := ing.Annotations[AnnotationListenPort]
	lps, err := ParseListenPorts(v, ok)
	if err != nil {
		return nil, &buildError{Ingress: keyOf(ing), Err: err, Permanent: true}
	}
	var ports []int32
	for _, lp := range lps {
		if lp.Protocol != "HTTP" {
			m.Warnings = append(m.Warnings, fmt.Sprintf("ingress %s: listener %s:%d skipped: the local environment has HTTP listeners only",
				keyOf(ing), lp.Protocol, lp.Port))
			continue
		}
		if !slices.Contains(ports, lp.Port) {
			ports = append(ports, lp.Port)
		}
	}
	if len(ports) == 0 {
		return nil, &buildError{Ingress: keyOf(ing), Permanent: true,
			Err: &annotationError{Key: AnnotationListenPort, Err: errors.New("no HTTP port: the local environment supports HTTP listeners only")}}
	}
	return ports, nil
}

// ingressRules returns one rule per path of the ingress, in spec order.
func (b *modelBuilder) ingressRules(ing *networkingv1.Ingress, m *stackModel) ([]ruleModel, error) {
	var rules []ruleModel
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			action, err := b.backendAction(ing, p.Backend, m)
			if err != nil {
				return nil, err
			}
			var conds []elbv2types.RuleCondition
			if r.Host != "" {
				conds = append(conds, elbv2types.RuleCondition{Field: aws.String("host-header"),
					HostHeaderConfig: &elbv2types.HostHeaderConditionConfig{Values: []string{r.Host}}})
			}
			if patterns := pathPatterns(p.Path, p.PathType); len(patterns) > 0 {
				conds = append(conds, elbv2types.RuleCondition{Field: aws.String("path-pattern"),
					PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: patterns}})
			}
			if p.Backend.Service != nil {
				extra, err := b.annotationConditions(ing, p.Backend.Service.Name)
				if err != nil {
					return nil, err
				}
				conds = append(conds, extra...)
			}
			if len(conds) == 0 {
				conds = append(conds, elbv2types.RuleCondition{Field: aws.String("path-pattern"),
					PathPatternConfig: &elbv2types.PathPatternConditionConfig{Values: []string{"/*"}}})
			}
			rules = append(rules, ruleModel{Conditions: conds, Action: action})
		}
	}
	return rules, nil
}

// pathPatterns converts an ingress path to ALB path patterns like the real controller.
func pathPatterns(path string, pt *networkingv1.PathType) []string {
	if path == "" {
		return nil
	}
	if pt != nil && *pt == networkingv1.PathTypePrefix {
		if path == "/" {
			return []string{"/*"}
		}
		p := strings.TrimSuffix(path, "/")
		return []string{p, p + "/*"}
	}
	return []string{path} // Exact, and ImplementationSpecific (may hold ALB wildcards)
}

func (b *modelBuilder) annotationConditions(ing *networkingv1.Ingress, name string) ([]elbv2types.RuleCondition, error) {
	key := AnnotationConditionsPrefix + name
	raw, ok := ing.Annotations[key]
	if !ok {
		return nil, nil
	}
	cs, err := ParseConditions(key, raw)
	if err != nil {
		return nil, &buildError{Ingress: keyOf(ing), Err: err, Permanent: true}
	}
	out := make([]elbv2types.RuleCondition, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.toSDK())
	}
	return out, nil
}

func (c RuleCondition) toSDK() elbv2types.RuleCondition {
	out := elbv2types.RuleCondition{Field: aws.String(c.Field)}
	values := func(cfg *ValuesConfig) []string {
		if cfg != nil {
			return cfg.Values
		}
		return c.Values
	}
	switch c.Field {
	case "host-header":
		out.HostHeaderConfig = &elbv2types.HostHeaderConditionConfig{Values: values(c.HostHeaderConfig)}
	case "path-pattern":
		out.PathPatternConfig = &elbv2types.PathPatternConditionConfig{Values: values(c.PathPatternConfig)}
	case "http-header":
		out.HttpHeaderConfig = &elbv2types.HttpHeaderConditionConfig{
			HttpHeaderName: aws.String(c.HTTPHeaderConfig.HTTPHeaderName), Values: c.HTTPHeaderConfig.Values}
	case "http-request-method":
		out.HttpRequestMethodConfig = &elbv2types.HttpRequestMethodConditionConfig{Values: c.HTTPRequestMethodConfig.Values}
	case "query-string":
		cfg := &elbv2types.QueryStringConditionConfig{}
		for _, kv := range c.QueryStringConfig.Values {
			cfg.Values = append(cfg.Values, elbv2types.QueryStringKeyValuePair{Key: kv.Key, Value: aws.String(kv.Value)})
		}
		out.QueryStringConfig = cfg
	case "source-ip":
		out.SourceIpConfig = &elbv2types.SourceIpConditionConfig{Values: c.SourceIPConfig.Values}
	}
	return out
}

// backendAction is the action for an ingress backend: the actions.<name> annotation
// for port name use-annotation, else a forward to the service port's target group.
func (b *modelBuilder) backendAction(ing *networkingv1.Ingress, be networkingv1.IngressBackend, m *stackModel) (actionModel, error) {
	if be.Service == nil {
		return actionModel{}, &buildError{Ingress: keyOf(ing), Permanent: true,
			Err: errors.New("backends other than services (resource backends) are not supported")}
	}
	svc := be.Service
	if svc.Port.Name == UseAnnotationPortName {
		return b.annotationAction(ing, svc.Name, m)
	}
	port := intstr.FromInt32(svc.Port.Number)
	if svc.Port.Name != "" {
		port = intstr.FromString(svc.Port.Name)
	}
	res, err := b.targetGroup(ing, svc.Name, port, m)
	if err != nil {
		return actionModel{}, err
	}
	return actionModel{Type: elbv2types.ActionTypeEnumForward, Forward: []forwardTarget{{Resource: res}}}, nil
}

func (b *modelBuilder) annotationAction(ing *networkingv1.Ingress, name string, m *stackModel) (actionModel, error) {
	key := AnnotationActionsPrefix + name
	raw, ok := ing.Annotations[key]
	if !ok {
		return actionModel{}, &buildError{Ingress: keyOf(ing), Permanent: true,
			Err: fmt.Errorf("backend %q uses port %q but the annotation %s is missing", name, UseAnnotationPortName, key)}
	}
	a, err := ParseAction(key, raw)
	if err != nil {
		return actionModel{}, &buildError{Ingress: keyOf(ing), Err: err, Permanent: true}
	}
	switch strings.ToLower(a.Type) {
	case "fixed-response":
		f := a.FixedResponseConfig
		return actionModel{Type: elbv2types.ActionTypeEnumFixedResponse, FixedResponse: &elbv2types.FixedResponseActionConfig{
			StatusCode: aws.String(f.StatusCode), ContentType: f.ContentType, MessageBody: f.MessageBody}}, nil
	case "redirect":
		r := a.RedirectConfig
		return actionModel{Type: elbv2types.ActionTypeEnumRedirect, Redirect: &elbv2types.RedirectActionConfig{
			StatusCode: elbv2types.RedirectActionStatusCodeEnum(r.StatusCode), Host: r.Host, Path: r.Path, Port: r.Port,
			Protocol: r.Protocol, Query: r.Query}}, nil
	}
	out := actionModel{Type: elbv2types.ActionTypeEnumForward}
	if a.ForwardConfig == nil { // legacy form: {"type":"forward","targetGroupARN":"arn:..."}
		out.Forward = []forwardTarget{{ARN: *a.TargetGroupARN}}
		return out, nil
	}
	for _, t := range a.ForwardConfig.TargetGroups {
		ft := forwardTarget{Weight: t.Weight}
		switch {
		case t.TargetGroupARN != nil && *t.TargetGroupARN != "":
			ft.ARN = *t.TargetGroupARN
		case t.TargetGroupName != nil && *t.TargetGroupName != "":
			ft.Name = *t.TargetGroupName
		default:
			res, err := b.targetGroup(ing, *t.ServiceName, *t.ServicePort, m)
			if err != nil {
				return actionModel{}, err
			}
			ft.Resource = res
		}
		out.Forward = append(out.Forward, ft)
	}
	if s := a.ForwardConfig.TargetGroupStickinessConfig; s != nil {
		out.Stickiness = &elbv2types.TargetGroupStickinessConfig{Enabled: s.Enabled, DurationSeconds: s.DurationSeconds}
	}
	return out, nil
}

// targetGroup adds (once) the target group of a service port of an ingress to the
// model and returns its resource tag.
func (b *modelBuilder) targetGroup(ing *networkingv1.Ingress, svcName string, port intstr.IntOrString, m *stackModel) (string, error) {
	res := TargetGroupResource(ing.Namespace, ing.Name, svcName, port)
	if _, ok := m.TargetGroups[res]; ok {
		return res, nil
	}
	svc, err := b.services(ing.Namespace, svcName)
	if err != nil {
		return "", &buildError{Ingress: keyOf(ing), Err: err} // retried: the service may come later
	}
	sp, err := lookupServicePort(svc, port)
	if err != nil {
		return "", &buildError{Ingress: keyOf(ing), Err: err}
	}
	hc, err := ParseHealthCheck(ing.Annotations, svc.Annotations)
	if err != nil {
		return "", &buildError{Ingress: keyOf(ing), Err: err, Permanent: true}
	}
	attrs := map[string]string{}
	if raw, ok := svc.Annotations[AnnotationTGAttrs]; ok {
		attrs, err = ParseTargetGroupAttributes(raw)
	} else if raw, ok := ing.Annotations[AnnotationTGAttrs]; ok {
		attrs, err = ParseTargetGroupAttributes(raw)
	}
	if err != nil {
		return "", &buildError{Ingress: keyOf(ing), Err: err, Permanent: true}
	}
	tgPort := int32(1) // a named target port resolves per pod; the real controller uses 1
	switch {
	case sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal > 0:
		tgPort = sp.TargetPort.IntVal
	case sp.TargetPort.Type == intstr.Int || (sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal == ""):
		tgPort = sp.Port
	}
	m.TargetGroups[res] = &tgModel{
		Resource:    res,
		Name:        TargetGroupName(b.cluster, m.ID, svc.Namespace, svc.Name, svc.UID, port, tgPort),
		Namespace:   svc.Namespace,
		Service:     svc.Name,
		ServicePort: port,
		Port:        tgPort,
		HealthCheck: hc,
		Attributes:  attrs,
	}
	return res, nil
}

// lookupServicePort finds a service port by number, or by name. A name that is a
// number and matches no port name is taken as a number: Argo Rollouts writes
// "servicePort":"80" as a string.
func lookupServicePort(svc *corev1.Service, port intstr.IntOrString) (corev1.ServicePort, error) {
	if port.Type == intstr.String {
		for _, p := range svc.Spec.Ports {
			if p.Name == port.StrVal {
				return p, nil
			}
		}
		n, err := strconv.ParseInt(port.StrVal, 10, 32)
		if err != nil {
			return corev1.ServicePort{}, fmt.Errorf("service %s/%s has no port named %q", svc.Namespace, svc.Name, port.StrVal)
		}
		port = intstr.FromInt32(int32(n))
	}
	for _, p := range svc.Spec.Ports {
		if p.Port == port.IntVal {
			return p, nil
		}
	}
	return corev1.ServicePort{}, fmt.Errorf("service %s/%s has no port %d", svc.Namespace, svc.Name, port.IntVal)
}
