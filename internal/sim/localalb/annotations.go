package localalb

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// Annotation keys, as the AWS Load Balancer Controller reads them.
const (
	annotationPrefix     = "alb.ingress.kubernetes.io/"
	AnnotationGroupName  = annotationPrefix + "group.name"
	AnnotationGroupOrder = annotationPrefix + "group.order"
	AnnotationListenPort = annotationPrefix + "listen-ports"
	AnnotationScheme     = annotationPrefix + "scheme"
	AnnotationTGAttrs    = annotationPrefix + "target-group-attributes"
	// AnnotationActionsPrefix + <name>: a forward (or fixed-response, redirect) action
	// for backends that name service <name> with port name "use-annotation".
	AnnotationActionsPrefix = annotationPrefix + "actions."
	// AnnotationConditionsPrefix + <name>: extra rule conditions for backend <name>.
	AnnotationConditionsPrefix = annotationPrefix + "conditions."

	AnnotationHCPath         = annotationPrefix + "healthcheck-path"
	AnnotationHCPort         = annotationPrefix + "healthcheck-port"
	AnnotationHCProtocol     = annotationPrefix + "healthcheck-protocol"
	AnnotationHCInterval     = annotationPrefix + "healthcheck-interval-seconds"
	AnnotationHCTimeout      = annotationPrefix + "healthcheck-timeout-seconds"
	AnnotationHealthyCount   = annotationPrefix + "healthy-threshold-count"
	AnnotationUnhealthyCount = annotationPrefix + "unhealthy-threshold-count"
	AnnotationSuccessCodes   = annotationPrefix + "success-codes"
	AnnotationIngressClass   = "kubernetes.io/ingress.class"
	UseAnnotationPortName    = "use-annotation"
	defaultListenPortHTTP    = 80
	maxGroupOrder            = 1000
	maxActionWeight          = 999
	maxStickinessSeconds     = 604800
)

// ActionConfig is the JSON of an actions.<name> annotation. encoding/json matches
// keys case-insensitively, so Argo Rollouts' PascalCase ("ForwardConfig") and the
// documented camelCase ("forwardConfig") both work, as with the real controller.
type ActionConfig struct {
	Type                string                     `json:"type"`
	TargetGroupARN      *string                    `json:"targetGroupARN"`
	ForwardConfig       *ForwardActionConfig       `json:"forwardConfig"`
	FixedResponseConfig *FixedResponseActionConfig `json:"fixedResponseConfig"`
	RedirectConfig      *RedirectActionConfig      `json:"redirectConfig"`
}

// ForwardActionConfig is the forwardConfig of an action annotation.
type ForwardActionConfig struct {
	TargetGroups                []TargetGroupTuple           `json:"targetGroups"`
	TargetGroupStickinessConfig *TargetGroupStickinessConfig `json:"targetGroupStickinessConfig"`
}

// TargetGroupTuple is one weighted destination: a service port, or a target group
// given by ARN or name.
type TargetGroupTuple struct {
	TargetGroupARN  *string             `json:"targetGroupARN"`
	TargetGroupName *string             `json:"targetGroupName"`
	ServiceName     *string             `json:"serviceName"`
	ServicePort     *intstr.IntOrString `json:"servicePort"`
	Weight          *int32              `json:"weight"`
}

// TargetGroupStickinessConfig is the stickiness of a forward action.
type TargetGroupStickinessConfig struct {
	Enabled         *bool  `json:"enabled"`
	DurationSeconds *int32 `json:"durationSeconds"`
}

// FixedResponseActionConfig is the fixedResponseConfig of an action annotation.
type FixedResponseActionConfig struct {
	ContentType *string `json:"contentType"`
	MessageBody *string `json:"messageBody"`
	StatusCode  string  `json:"statusCode"`
}

// RedirectActionConfig is the redirectConfig of an action annotation.
type RedirectActionConfig struct {
	Host       *string `json:"host"`
	Path       *string `json:"path"`
	Port       *string `json:"port"`
	Protocol   *string `json:"protocol"`
	Query      *string `json:"query"`
	StatusCode string  `json:"statusCode"`
}

// RuleCondition is one element of a conditions.<name> annotation.
type RuleCondition struct {
	Field                   string             `json:"field"`
	HostHeaderConfig        *ValuesConfig      `json:"hostHeaderConfig"`
	HTTPHeaderConfig        *HTTPHeaderConfig  `json:"httpHeaderConfig"`
	HTTPRequestMethodConfig *ValuesConfig      `json:"httpRequestMethodConfig"`
	PathPatternConfig       *ValuesConfig      `json:"pathPatternConfig"`
	QueryStringConfig       *QueryStringConfig `json:"queryStringConfig"`
	SourceIPConfig          *ValuesConfig      `json:"sourceIPConfig"`
	Values                  []string           `json:"values"` // the legacy form of host-header and path-pattern values
}

// ValuesConfig is a condition config that is only a list of values.
type ValuesConfig struct {
	Values []string `json:"values"`
}

// HTTPHeaderConfig is the config of an http-header condition.
type HTTPHeaderConfig struct {
	HTTPHeaderName string   `json:"httpHeaderName"`
	Values         []string `json:"values"`
}

// QueryStringConfig is the config of a query-string condition.
type QueryStringConfig struct {
	Values []QueryStringKeyValue `json:"values"`
}

// QueryStringKeyValue is one key/value pair of a query-string condition.
type QueryStringKeyValue struct {
	Key   *string `json:"key"`
	Value string  `json:"value"`
}

// annotationError is a problem with one annotation, phrased for the Ingress event.
type annotationError struct {
	Key string
	Err error
}

func (e *annotationError) Error() string { return fmt.Sprintf("annotation %s: %v", e.Key, e.Err) }
func (e *annotationError) Unwrap() error { return e.Err }

// ParseAction parses and checks the JSON of an actions.<name> annotation.
func ParseAction(key, raw string) (*ActionConfig, error) {
	var a ActionConfig
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		return nil, &annotationError{Key: key, Err: fmt.Errorf("invalid JSON: %w", err)}
	}
	if err := a.validate(); err != nil {
		return nil, &annotationError{Key: key, Err: err}
	}
	return &a, nil
}

func (a *ActionConfig) validate() error {
	switch strings.ToLower(a.Type) {
	case "forward":
		if a.ForwardConfig == nil {
			if a.TargetGroupARN == nil || *a.TargetGroupARN == "" {
				return fmt.Errorf("a forward action needs forwardConfig.targetGroups or targetGroupARN")
			}
			return nil
		}
		if len(a.ForwardConfig.TargetGroups) == 0 {
			return fmt.Errorf("forwardConfig.targetGroups is empty")
		}
		for i, tg := range a.ForwardConfig.TargetGroups {
			if err := tg.validate(); err != nil {
				return fmt.Errorf("forwardConfig.targetGroups[%d]: %w", i, err)
			}
		}
		if s := a.ForwardConfig.TargetGroupStickinessConfig; s != nil && s.DurationSeconds != nil {
			if d := *s.DurationSeconds; d < 1 || d > maxStickinessSeconds {
				return fmt.Errorf("targetGroupStickinessConfig.durationSeconds %d is outside 1..%d", d, maxStickinessSeconds)
			}
		}
	case "fixed-response":
		if a.FixedResponseConfig == nil {
			return fmt.Errorf("a fixed-response action needs fixedResponseConfig")
		}
		if _, err := strconv.Atoi(a.FixedResponseConfig.StatusCode); err != nil {
			return fmt.Errorf("fixedResponseConfig.statusCode %q is not a number", a.FixedResponseConfig.StatusCode)
		}
	case "redirect":
		if a.RedirectConfig == nil {
			return fmt.Errorf("a redirect action needs redirectConfig")
		}
	default:
		return fmt.Errorf("unknown action type %q: want forward, fixed-response or redirect", a.Type)
	}
	return nil
}

func (t TargetGroupTuple) validate() error {
	n := 0
	if t.TargetGroupARN != nil && *t.TargetGroupARN != "" {
		n++
	}
	if t.TargetGroupName != nil && *t.TargetGroupName != "" {
		n++
	}
	if t.ServiceName != nil && *t.ServiceName != "" {
		n++
		if t.ServicePort == nil {
			return fmt.Errorf("serviceName %q needs a servicePort", *t.ServiceName)
		}
	}
	if n != 1 {
		return fmt.Errorf("give exactly one of serviceName+servicePort, targetGroupARN or targetGroupName")
	}
	if t.Weight != nil && (*t.Weight < 0 || *t.Weight > maxActionWeight) {
		return fmt.Errorf("weight %d is outside 0..%d", *t.Weight, maxActionWeight)
	}
	return nil
}

// ParseConditions parses and checks the JSON of a conditions.<name> annotation.
func ParseConditions(key, raw string) ([]RuleCondition, error) {
	var cs []RuleCondition
	if err := json.Unmarshal([]byte(raw), &cs); err != nil {
		return nil, &annotationError{Key: key, Err: fmt.Errorf("invalid JSON: %w", err)}
	}
	for i, c := range cs {
		if err := c.validate(); err != nil {
			return nil, &annotationError{Key: key, Err: fmt.Errorf("condition %d: %w", i, err)}
		}
	}
	return cs, nil
}

func (c RuleCondition) validate() error {
	switch c.Field {
	case "host-header":
		if c.HostHeaderConfig == nil && len(c.Values) == 0 {
			return fmt.Errorf("host-header needs hostHeaderConfig.values")
		}
	case "path-pattern":
		if c.PathPatternConfig == nil && len(c.Values) == 0 {
			return fmt.Errorf("path-pattern needs pathPatternConfig.values")
		}
	case "http-header":
		if c.HTTPHeaderConfig == nil || c.HTTPHeaderConfig.HTTPHeaderName == "" || len(c.HTTPHeaderConfig.Values) == 0 {
			return fmt.Errorf("http-header needs httpHeaderConfig with httpHeaderName and values")
		}
	case "http-request-method":
		if c.HTTPRequestMethodConfig == nil || len(c.HTTPRequestMethodConfig.Values) == 0 {
			return fmt.Errorf("http-request-method needs httpRequestMethodConfig.values")
		}
	case "query-string":
		if c.QueryStringConfig == nil || len(c.QueryStringConfig.Values) == 0 {
			return fmt.Errorf("query-string needs queryStringConfig.values")
		}
	case "source-ip":
		if c.SourceIPConfig == nil || len(c.SourceIPConfig.Values) == 0 {
			return fmt.Errorf("source-ip needs sourceIPConfig.values")
		}
	default:
		return fmt.Errorf("unknown field %q: want host-header, path-pattern, http-header, http-request-method, query-string or source-ip", c.Field)
	}
	return nil
}

// ListenPort is one entry of the listen-ports annotation.
type ListenPort struct {
	Protocol string
	Port     int32
}

// ParseListenPorts parses the listen-ports annotation, e.g. [{"HTTP": 80}, {"HTTPS": 443}].
// An absent annotation means HTTP on port 80.
func ParseListenPorts(raw string, present bool) ([]ListenPort, error) {
	if !present {
		return []ListenPort{{Protocol: "HTTP", Port: defaultListenPortHTTP}}, nil
	}
	var entries []map[string]int32
	if err := json.Unmarshal([]byte(raw), &entries); err != nil {
		return nil, &annotationError{Key: AnnotationListenPort, Err: fmt.Errorf("invalid JSON: %w", err)}
	}
	var out []ListenPort
	for _, e := range entries {
		for proto, port := range e {
			p := strings.ToUpper(proto)
			if p != "HTTP" && p != "HTTPS" {
				return nil, &annotationError{Key: AnnotationListenPort, Err: fmt.Errorf("protocol %q: want HTTP or HTTPS", proto)}
			}
			if port < 1 || port > 65535 {
				return nil, &annotationError{Key: AnnotationListenPort, Err: fmt.Errorf("port %d is out of range", port)}
			}
			out = append(out, ListenPort{Protocol: p, Port: port})
		}
	}
	if len(out) == 0 {
		return nil, &annotationError{Key: AnnotationListenPort, Err: fmt.Errorf("no ports listed")}
	}
	return out, nil
}

// ParseGroupOrder parses group.order: an integer in -1000..1000, default 0.
func ParseGroupOrder(raw string, present bool) (int, error) {
	if !present {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < -maxGroupOrder || n > maxGroupOrder {
		return 0, &annotationError{Key: AnnotationGroupOrder, Err: fmt.Errorf("%q: want an integer between -1000 and 1000", raw)}
	}
	return n, nil
}

// HealthCheck holds target-group health-check settings.
type HealthCheck struct {
	Path               string
	Port               string // "traffic-port" or a number
	Protocol           string
	IntervalSeconds    int32
	TimeoutSeconds     int32
	HealthyThreshold   int32
	UnhealthyThreshold int32
	SuccessCodes       string
}

// DefaultHealthCheck is the Load Balancer Controller's default for ip targets.
func DefaultHealthCheck() HealthCheck {
	return HealthCheck{Path: "/", Port: "traffic-port", Protocol: "HTTP", IntervalSeconds: 15, TimeoutSeconds: 5,
		HealthyThreshold: 2, UnhealthyThreshold: 2, SuccessCodes: "200"}
}

// ParseHealthCheck reads the healthcheck annotations. Service annotations override
// Ingress annotations, as with the real controller.
func ParseHealthCheck(ingress, service map[string]string) (HealthCheck, error) {
	hc := DefaultHealthCheck()
	get := func(k string) (string, bool) {
		if v, ok := service[k]; ok {
			return strings.TrimSpace(v), true
		}
		v, ok := ingress[k]
		return strings.TrimSpace(v), ok
	}
	if v, ok := get(AnnotationHCPath); ok {
		if !strings.HasPrefix(v, "/") {
			return hc, &annotationError{Key: AnnotationHCPath, Err: fmt.Errorf("%q must start with /", v)}
		}
		hc.Path = v
	}
	if v, ok := get(AnnotationHCPort); ok {
		if v != "traffic-port" {
			if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 65535 {
				return hc, &annotationError{Key: AnnotationHCPort, Err: fmt.Errorf("%q: want traffic-port or a port number", v)}
			}
		}
		hc.Port = v
	}
	if v, ok := get(AnnotationHCProtocol); ok {
		if strings.ToUpper(v) != "HTTP" {
			return hc, &annotationError{Key: AnnotationHCProtocol, Err: fmt.Errorf("%q: the local environment supports HTTP health checks only", v)}
		}
	}
	ints := []struct {
		key    string
		dst    *int32
		lo, hi int32
	}{
		{AnnotationHCInterval, &hc.IntervalSeconds, 5, 300},
		{AnnotationHCTimeout, &hc.TimeoutSeconds, 2, 120},
		{AnnotationHealthyCount, &hc.HealthyThreshold, 2, 10},
		{AnnotationUnhealthyCount, &hc.UnhealthyThreshold, 2, 10},
	}
	for _, f := range ints {
		if v, ok := get(f.key); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < int(f.lo) || n > int(f.hi) {
				return hc, &annotationError{Key: f.key, Err: fmt.Errorf("%q: want an integer between %d and %d", v, f.lo, f.hi)}
			}
			*f.dst = int32(n)
		}
	}
	if v, ok := get(AnnotationSuccessCodes); ok {
		if err := checkSuccessCodes(v); err != nil {
			return hc, &annotationError{Key: AnnotationSuccessCodes, Err: err}
		}
		hc.SuccessCodes = v
	}
	if hc.TimeoutSeconds >= hc.IntervalSeconds {
		return hc, &annotationError{Key: AnnotationHCTimeout, Err: fmt.Errorf("timeout %ds must be smaller than the interval %ds", hc.TimeoutSeconds, hc.IntervalSeconds)}
	}
	return hc, nil
}

// checkSuccessCodes accepts "200", "200,202" and "200-299" with codes 200..499.
func checkSuccessCodes(v string) error {
	for _, part := range strings.Split(v, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 200 || b > 499 || a > b {
			return fmt.Errorf("%q: want codes between 200 and 499 like 200, 200,202 or 200-299", v)
		}
	}
	return nil
}

// ParseTargetGroupAttributes parses "key=value,key=value".
func ParseTargetGroupAttributes(raw string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, &annotationError{Key: AnnotationTGAttrs, Err: fmt.Errorf("%q: want key=value pairs separated by commas", part)}
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}
