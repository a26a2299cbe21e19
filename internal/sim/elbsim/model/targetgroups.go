package model

import (
	"maps"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/reach"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// Target group attribute keys elbsim interprets (the others are stored and echoed).
const (
	AttrDeregistrationDelay = "deregistration_delay.timeout_seconds"
	AttrStickinessEnabled   = "stickiness.enabled"
	AttrStickinessType      = "stickiness.type"
	AttrStickinessDuration  = "stickiness.lb_cookie.duration_seconds"
)

// defaultAttributes are the attributes of a new ALB target group (ip/instance), with AWS's defaults.
var defaultAttributes = map[string]string{
	AttrDeregistrationDelay:                                                          "300",
	AttrStickinessEnabled:                                                            "false",
	AttrStickinessType:                                                               "lb_cookie",
	AttrStickinessDuration:                                                           "86400",
	"stickiness.app_cookie.cookie_name":                                              "",
	"stickiness.app_cookie.duration_seconds":                                         "86400",
	"load_balancing.algorithm.type":                                                  "round_robin",
	"load_balancing.algorithm.anomaly_mitigation":                                    "off",
	"load_balancing.cross_zone.enabled":                                              "use_load_balancer_configuration",
	"slow_start.duration_seconds":                                                    "0",
	"target_group_health.dns_failover.minimum_healthy_targets.count":                 "1",
	"target_group_health.dns_failover.minimum_healthy_targets.percentage":            "off",
	"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count":      "1",
	"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off",
}

// attributeCheck validates the value of one attribute key.
type attributeCheck func(v string) bool

func intIn(lo, hi int) attributeCheck {
	return func(v string) bool { n, err := strconv.Atoi(v); return err == nil && n >= lo && n <= hi }
}

func enum(vals ...string) attributeCheck {
	return func(v string) bool {
		for _, a := range vals {
			if v == a {
				return true
			}
		}
		return false
	}
}

func offOr(c attributeCheck) attributeCheck { return func(v string) bool { return v == "off" || c(v) } }

var attributeChecks = map[string]attributeCheck{
	AttrDeregistrationDelay:                                                          intIn(0, 3600),
	AttrStickinessEnabled:                                                            enum("true", "false"),
	AttrStickinessType:                                                               enum("lb_cookie", "app_cookie"),
	AttrStickinessDuration:                                                           intIn(1, maxStickySeconds),
	"stickiness.app_cookie.cookie_name":                                              func(v string) bool { return len(v) <= 256 },
	"stickiness.app_cookie.duration_seconds":                                         intIn(1, maxStickySeconds),
	"load_balancing.algorithm.type":                                                  enum("round_robin", "least_outstanding_requests", "weighted_random"),
	"load_balancing.algorithm.anomaly_mitigation":                                    enum("on", "off"),
	"load_balancing.cross_zone.enabled":                                              enum("true", "false", "use_load_balancer_configuration"),
	"slow_start.duration_seconds":                                                    func(v string) bool { return v == "0" || intIn(30, 900)(v) },
	"target_group_health.dns_failover.minimum_healthy_targets.count":                 offOr(intIn(1, 1000)),
	"target_group_health.dns_failover.minimum_healthy_targets.percentage":            offOr(intIn(1, 100)),
	"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count":      intIn(1, 1000),
	"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": offOr(intIn(1, 100)),
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// defaultHealthCheck is AWS's default for an HTTP target group of an ALB.
func defaultHealthCheck() HealthCheck {
	return HealthCheck{Enabled: true, Protocol: "HTTP", Port: "traffic-port", Path: "/",
		IntervalSeconds: 30, TimeoutSeconds: 5, HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: "200"}
}

var matcherRE = regexp.MustCompile(`^\d{3}(-\d{3})?(,\d{3}(-\d{3})?)*$`)

// healthCheckFields is the subset of fields shared by Create and ModifyTargetGroup.
type healthCheckFields struct {
	protocol, port, path        string
	enabled                     *bool
	interval, timeout, hth, uth *int32
	matcher                     *query.Matcher
}

// apply overlays the given fields on hc and validates the result.
func (f healthCheckFields) apply(hc HealthCheck) (HealthCheck, *query.Error) {
	if f.protocol != "" {
		if f.protocol != "HTTP" {
			return hc, query.Validation("Health check protocol '%s' is not supported by elbsim: use HTTP", f.protocol)
		}
		hc.Protocol = f.protocol
	}
	if f.port != "" {
		if f.port != "traffic-port" {
			n, err := strconv.Atoi(f.port)
			if err != nil || n < 1 || n > 65535 {
				return hc, query.Validation("Health check port '%s' must be 'traffic-port' or a port number 1-65535", f.port)
			}
		}
		hc.Port = f.port
	}
	if f.path != "" {
		if !strings.HasPrefix(f.path, "/") || len(f.path) > 1024 {
			return hc, query.Validation("Health check path '%s' must start with '/' and be at most 1024 characters", f.path)
		}
		hc.Path = f.path
	}
	if f.enabled != nil {
		hc.Enabled = *f.enabled
	}
	for _, x := range []struct {
		v      *int32
		dst    *int32
		lo, hi int32
		at     string
	}{
		{f.interval, &hc.IntervalSeconds, 5, 300, "healthCheckIntervalSeconds"},
		{f.timeout, &hc.TimeoutSeconds, 2, 120, "healthCheckTimeoutSeconds"},
		{f.hth, &hc.HealthyThreshold, 2, 10, "healthyThresholdCount"},
		{f.uth, &hc.UnhealthyThreshold, 2, 10, "unhealthyThresholdCount"},
	} {
		if x.v == nil {
			continue
		}
		if err := checkRange(*x.v, x.lo, x.hi, x.at); err != nil {
			return hc, err
		}
		*x.dst = *x.v
	}
	if f.matcher != nil {
		if f.matcher.GrpcCode != "" {
			return hc, query.Validation("gRPC matchers are not supported by elbsim; use HttpCode")
		}
		if !matcherRE.MatchString(f.matcher.HTTPCode) || !matcherCodesValid(f.matcher.HTTPCode) {
			return hc, query.Validation("Health check matcher HttpCode '%s' is invalid: use codes 200-499 as '200', '200,202' or '200-299'", f.matcher.HTTPCode)
		}
		hc.Matcher = f.matcher.HTTPCode
	}
	if hc.TimeoutSeconds >= hc.IntervalSeconds {
		return hc, query.Validation("Health check timeout '%d' must be smaller than the interval '%d'", hc.TimeoutSeconds, hc.IntervalSeconds)
	}
	return hc, nil
}

func matcherCodesValid(s string) bool {
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, b := atoiOr(lo, 0), atoiOr(lo, 0)
		if isRange {
			b = atoiOr(hi, 0)
		}
		if a < 200 || b > 499 || a > b {
			return false
		}
	}
	return true
}

// CreateTargetGroup creates a target group. Creating one with the name and
// settings of an existing group returns that group, as AWS does.
func (m *Model) CreateTargetGroup(in *query.CreateTargetGroupInput) (*query.TargetGroupsResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.TargetGroupsResult, *query.Error) {
		tg, err := tx.newTargetGroup(in, m)
		if err != nil {
			return nil, err
		}
		if arn, ok := tx.tgByName[in.Name]; ok {
			old := tx.TargetGroups[arn]
			if old.Protocol != tg.Protocol || old.Port != tg.Port || old.VpcID != tg.VpcID || old.TargetType != tg.TargetType {
				return nil, query.Client(query.CodeDuplicateTargetGroupName, "A target group with the same name '%s' exists, but with different settings", in.Name)
			}
			return &query.TargetGroupsResult{TargetGroups: []query.TargetGroup{tx.describeTG(old)}}, nil
		}
		if len(tx.TargetGroups) >= MaxTargetGroups {
			return nil, query.Client(query.CodeTooManyTargetGroups, "You have reached the limit of %d target groups", MaxTargetGroups)
		}
		tx.TargetGroups[tg.ARN] = tg
		return &query.TargetGroupsResult{TargetGroups: []query.TargetGroup{tx.describeTG(tg)}}, nil
	})
}

func (tx *State) newTargetGroup(in *query.CreateTargetGroupInput, m *Model) (*TargetGroup, *query.Error) {
	if err := checkName("Target group", in.Name); err != nil {
		return nil, err
	}
	tg := &TargetGroup{Name: in.Name, Protocol: in.Protocol, ProtocolVersion: in.ProtocolVersion, VpcID: in.VpcID,
		TargetType: in.TargetType, IPAddressType: in.IPAddressType, Tags: fromQueryTags(in.Tags)}
	if tg.TargetType == "" {
		tg.TargetType = "instance"
	}
	if err := oneOf(tg.TargetType, "targetType", "instance", "ip", "lambda", "alb"); err != nil {
		return nil, err
	}
	if tg.TargetType != "ip" && tg.TargetType != "instance" {
		return nil, query.Validation("Target type '%s' is not supported by elbsim: use 'ip' (or 'instance')", tg.TargetType)
	}
	if tg.Protocol == "" {
		return nil, query.Validation("A protocol must be specified for target groups of type '%s'", tg.TargetType)
	}
	if err := oneOf(tg.Protocol, "protocol", "HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE"); err != nil {
		return nil, err
	}
	if tg.Protocol != "HTTP" {
		return nil, query.Client(query.CodeUnsupportedProtocol, "Protocol '%s' is not supported by elbsim target groups: use HTTP", tg.Protocol)
	}
	if tg.ProtocolVersion == "" {
		tg.ProtocolVersion = "HTTP1"
	}
	if err := oneOf(tg.ProtocolVersion, "protocolVersion", "HTTP1", "HTTP2", "GRPC"); err != nil {
		return nil, err
	}
	if in.Port == nil {
		return nil, query.Validation("A port must be specified for target groups of type '%s'", tg.TargetType)
	}
	if err := checkRange(*in.Port, 1, 65535, "port"); err != nil {
		return nil, err
	}
	tg.Port = *in.Port
	if tg.VpcID == "" {
		tg.VpcID = defaultVpcID
	}
	if tg.IPAddressType == "" {
		tg.IPAddressType = "ipv4"
	}
	hc, err := healthCheckFields{in.HealthCheckProtocol, in.HealthCheckPort, in.HealthCheckPath, in.HealthCheckEnabled,
		in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds, in.HealthyThresholdCount, in.UnhealthyThresholdCount, in.Matcher}.apply(defaultHealthCheck())
	if err != nil {
		return nil, err
	}
	if !hc.Enabled {
		return nil, query.Validation("Health checks cannot be disabled for target groups with target type '%s'", tg.TargetType)
	}
	tg.HealthCheck = hc
	if err := checkTags(tg.Tags, "tags"); err != nil {
		return nil, err
	}
	tg.ID = newID(m.o.Rand)
	tg.ARN = tx.arnPrefix() + kindTargetGroup + "/" + tg.Name + "/" + tg.ID
	tg.Attributes = maps.Clone(defaultAttributes)
	tg.Seq = tx.nextSeq()
	return tg, nil
}

// ModifyTargetGroup changes health-check settings.
func (m *Model) ModifyTargetGroup(in *query.ModifyTargetGroupInput) (*query.TargetGroupsResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.TargetGroupsResult, *query.Error) {
		old, err := tx.tg(in.TargetGroupArn)
		if err != nil {
			return nil, err
		}
		hc, err := healthCheckFields{in.HealthCheckProtocol, in.HealthCheckPort, in.HealthCheckPath, in.HealthCheckEnabled,
			in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds, in.HealthyThresholdCount, in.UnhealthyThresholdCount, in.Matcher}.apply(old.HealthCheck)
		if err != nil {
			return nil, err
		}
		if !hc.Enabled {
			return nil, query.Validation("Health checks cannot be disabled for target groups with target type '%s'", old.TargetType)
		}
		tg := *old
		tg.HealthCheck = hc
		tx.TargetGroups[tg.ARN] = &tg
		return &query.TargetGroupsResult{TargetGroups: []query.TargetGroup{tx.describeTG(&tg)}}, nil
	})
}

// DeleteTargetGroup deletes a target group no rule forwards to. Deleting a
// group that does not exist succeeds, as AWS does.
func (m *Model) DeleteTargetGroup(in *query.DeleteTargetGroupInput) (*query.EmptyResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.EmptyResult, *query.Error) {
		if err := checkARN(in.TargetGroupArn, kindTargetGroup); err != nil {
			return nil, err
		}
		if _, ok := tx.TargetGroups[in.TargetGroupArn]; !ok {
			return &query.EmptyResult{}, nil
		}
		if lbs := tx.tgLBs[in.TargetGroupArn]; len(lbs) > 0 {
			return nil, query.Client(query.CodeResourceInUse, "Target group '%s' is currently in use by a listener or a rule of load balancer %s", in.TargetGroupArn, lbs[0])
		}
		delete(tx.TargetGroups, in.TargetGroupArn)
		return &query.EmptyResult{}, nil
	})
}

// ModifyTargetGroupAttributes changes attributes and answers all of them.
func (m *Model) ModifyTargetGroupAttributes(in *query.ModifyTargetGroupAttributesInput) (*query.AttributesResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.AttributesResult, *query.Error) {
		old, err := tx.tg(in.TargetGroupArn)
		if err != nil {
			return nil, err
		}
		if len(in.Attributes) == 0 {
			return nil, query.Validation("At least one attribute must be specified")
		}
		tg := *old
		tg.Attributes = maps.Clone(old.Attributes)
		for _, a := range in.Attributes {
			check, ok := attributeChecks[a.Key]
			if !ok {
				return nil, query.Validation("Target group attribute key '%s' is not recognized", a.Key)
			}
			if !check(a.Value) {
				return nil, query.Validation("Target group attribute '%s' has an invalid value '%s'", a.Key, a.Value)
			}
			tg.Attributes[a.Key] = a.Value
		}
		tx.TargetGroups[tg.ARN] = &tg
		return &query.AttributesResult{Attributes: attributesOf(&tg)}, nil
	})
}

func attributesOf(tg *TargetGroup) []query.TargetGroupAttribute {
	keys := make([]string, 0, len(tg.Attributes))
	for k := range tg.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]query.TargetGroupAttribute, len(keys))
	for i, k := range keys {
		out[i] = query.TargetGroupAttribute{Key: k, Value: tg.Attributes[k]}
	}
	return out
}

// targetsOf validates the targets of Register/DeregisterTargets (and
// DescribeTargetHealth) against tg and fills in the default port.
// targetsOfInput resolves the target group of a Register/DeregisterTargets
// request and validates its targets.
func (tx *State) targetsOfInput(in *query.TargetsInput, register bool, allowed reach.Ranges) (*TargetGroup, []Target, *query.Error) {
	tg, err := tx.tg(in.TargetGroupArn)
	if err != nil {
		return nil, nil, err
	}
	if len(in.Targets) == 0 {
		return nil, nil, query.Validation("At least one target must be specified")
	}
	ts, err := targetsOf(tg, in.Targets, register, allowed)
	if err != nil {
		return nil, nil, err
	}
	return tg, ts, nil
}

func targetsOf(tg *TargetGroup, in []query.TargetDescription, register bool, allowed reach.Ranges) ([]Target, *query.Error) {
	out := make([]Target, 0, len(in))
	for _, t := range in {
		if t.ID == "" {
			return nil, query.Validation("Every target needs an Id")
		}
		port := tg.Port
		if t.Port != nil {
			if err := checkRange(*t.Port, 1, 65535, "targets.member.port"); err != nil {
				return nil, err
			}
			port = *t.Port
		}
		if register {
			if err := checkTargetID(tg, t.ID, allowed); err != nil {
				return nil, err
			}
		}
		out = append(out, Target{ID: t.ID, Port: port, AvailabilityZone: t.AvailabilityZone})
	}
	return out, nil
}

// checkTargetID accepts only IPv4 targets elbsim may reach (loopback, or the
// ranges the model was given): elbsim probes and proxies to them for real, and
// must never reach beyond this machine.
func checkTargetID(tg *TargetGroup, id string, allowed reach.Ranges) *query.Error {
	if tg.TargetType == "instance" {
		return query.Client(query.CodeInvalidTarget, "The target '%s' is an instance id; elbsim cannot reach instances: create the target group with TargetType ip and register 127.x.y.z addresses", id)
	}
	ip := net.ParseIP(id)
	if ip == nil || ip.To4() == nil {
		return query.Client(query.CodeInvalidTarget, "The IP address '%s' is not a valid IPv4 address", id)
	}
	if !allowed.AllowsIP(id) {
		return query.Client(query.CodeInvalidTarget, "The IP address '%s' is not within the VPC of target group %s (elbsim targets must be in %s)", id, tg.ARN, allowed)
	}
	return nil
}

// RegisterTargets registers targets; registering a registered target again does nothing.
func (m *Model) RegisterTargets(in *query.TargetsInput) (*query.EmptyResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.EmptyResult, *query.Error) {
		old, ts, err := tx.targetsOfInput(in, true, m.o.TargetRanges)
		if err != nil {
			return nil, err
		}
		tg := *old
		tg.Targets = append([]Target(nil), old.Targets...)
		for _, t := range ts {
			if !tg.HasTarget(t.ID, t.Port) {
				tg.Targets = append(tg.Targets, t)
			}
		}
		if len(tg.Targets) > MaxTargetsPerGroup {
			return nil, query.Client(query.CodeTooManyTargets, "You've reached the limit on the number of targets registered to target group %s (%d)", tg.ARN, MaxTargetsPerGroup)
		}
		tx.TargetGroups[tg.ARN] = &tg
		return &query.EmptyResult{}, nil
	})
}

// DeregisterTargets deregisters targets; targets that are not registered are ignored.
func (m *Model) DeregisterTargets(in *query.TargetsInput) (*query.EmptyResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.EmptyResult, *query.Error) {
		old, ts, err := tx.targetsOfInput(in, false, nil)
		if err != nil {
			return nil, err
		}
		tg := *old
		tg.Targets = nil
		for _, cur := range old.Targets {
			drop := false
			for _, t := range ts {
				drop = drop || (t.ID == cur.ID && t.Port == cur.Port)
			}
			if !drop {
				tg.Targets = append(tg.Targets, cur)
			}
		}
		tx.TargetGroups[tg.ARN] = &tg
		return &query.EmptyResult{}, nil
	})
}

// ----- reads -----

func (st *State) tg(arn string) (*TargetGroup, *query.Error) {
	if err := checkARN(arn, kindTargetGroup); err != nil {
		return nil, err
	}
	tg, ok := st.TargetGroups[arn]
	if !ok {
		return nil, query.Client(query.CodeTargetGroupNotFound, "Target groups '%s' not found", arn)
	}
	return tg, nil
}

func (st *State) describeTG(tg *TargetGroup) query.TargetGroup {
	hc := tg.HealthCheck
	return query.TargetGroup{
		TargetGroupArn: tg.ARN, TargetGroupName: tg.Name, Protocol: tg.Protocol, ProtocolVersion: tg.ProtocolVersion,
		Port: ptr(tg.Port), VpcID: tg.VpcID, HealthCheckProtocol: hc.Protocol, HealthCheckPort: hc.Port,
		HealthCheckEnabled: hc.Enabled, HealthCheckIntervalSeconds: hc.IntervalSeconds, HealthCheckTimeoutSeconds: hc.TimeoutSeconds,
		HealthyThresholdCount: hc.HealthyThreshold, UnhealthyThresholdCount: hc.UnhealthyThreshold, HealthCheckPath: hc.Path,
		Matcher: &query.Matcher{HTTPCode: hc.Matcher}, LoadBalancerArns: st.tgLBs[tg.ARN], TargetType: tg.TargetType,
		IPAddressType: tg.IPAddressType,
	}
}

func (st *State) sortedTGs(keep func(*TargetGroup) bool) []*TargetGroup {
	var out []*TargetGroup
	for _, tg := range st.TargetGroups {
		if keep(tg) {
			out = append(out, tg)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// DescribeTargetGroups answers target groups by ARN, by name, by load balancer, or all.
func (st *State) DescribeTargetGroups(in *query.DescribeTargetGroupsInput) (*query.TargetGroupsResult, *query.Error) {
	given := 0
	for _, b := range []bool{in.LoadBalancerArn != "", len(in.TargetGroupArns) > 0, len(in.Names) > 0} {
		if b {
			given++
		}
	}
	if given > 1 {
		return nil, query.Validation("Specify at most one of LoadBalancerArn, TargetGroupArns and Names")
	}
	var tgs []*TargetGroup
	switch {
	case in.LoadBalancerArn != "":
		if _, err := st.lb(in.LoadBalancerArn); err != nil {
			return nil, err
		}
		tgs = st.sortedTGs(func(tg *TargetGroup) bool {
			for _, lb := range st.tgLBs[tg.ARN] {
				if lb == in.LoadBalancerArn {
					return true
				}
			}
			return false
		})
	case len(in.TargetGroupArns) > 0:
		want := map[string]bool{}
		for _, arn := range in.TargetGroupArns {
			if err := checkARN(arn, kindTargetGroup); err != nil {
				return nil, err
			}
			if _, ok := st.TargetGroups[arn]; !ok {
				return nil, query.Client(query.CodeTargetGroupNotFound, "One or more target groups not found")
			}
			want[arn] = true
		}
		tgs = st.sortedTGs(func(tg *TargetGroup) bool { return want[tg.ARN] })
	case len(in.Names) > 0:
		want := map[string]bool{}
		for _, n := range in.Names {
			if _, ok := st.tgByName[n]; !ok {
				return nil, query.Client(query.CodeTargetGroupNotFound, "One or more target groups not found")
			}
			want[n] = true
		}
		tgs = st.sortedTGs(func(tg *TargetGroup) bool { return want[tg.Name] })
	default:
		tgs = st.sortedTGs(func(*TargetGroup) bool { return true })
	}
	pg, next, err := page(tgs, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &query.TargetGroupsResult{NextMarker: next, TargetGroups: make([]query.TargetGroup, len(pg))}
	for i, tg := range pg {
		out.TargetGroups[i] = st.describeTG(tg)
	}
	return out, nil
}

// DescribeTargetGroupAttributes answers all attributes of a target group.
func (st *State) DescribeTargetGroupAttributes(in *query.DescribeTargetGroupAttributesInput) (*query.AttributesResult, *query.Error) {
	tg, err := st.tg(in.TargetGroupArn)
	if err != nil {
		return nil, err
	}
	return &query.AttributesResult{Attributes: attributesOf(tg)}, nil
}

// HealthTargets validates the Targets of a DescribeTargetHealth request against
// the group (default port filled in). An empty list means "all registered".
func (st *State) HealthTargets(tg *TargetGroup, in []query.TargetDescription) ([]Target, *query.Error) {
	return targetsOf(tg, in, false, nil)
}
