package query

// This file holds the request and response shapes of the ELBv2 operations elbsim
// serves. Field names are the wire names of the AWS API (2015-12-01); one struct
// tag drives both directions:
//
//   - encoding/xml writes responses from the `xml` tag ("Name>member" wraps a list
//     in <Name><member>…</member></Name> as the Query protocol does);
//   - Decode reads form bodies from the part of the tag before '>' and ',' ("Name"),
//     expecting Name.member.N for slices and Name.entry.N.key/value for maps.
//
// Optional numbers and booleans are pointers so that "absent" differs from zero
// (a weight of 0 is meaningful). Strings are plain: an empty string means absent.

// Tag is a resource tag.
type Tag struct {
	Key   string  `xml:"Key"`
	Value *string `xml:"Value,omitempty"`
}

// TargetGroupTuple is one target group of a weighted forward action.
type TargetGroupTuple struct {
	TargetGroupArn string `xml:"TargetGroupArn,omitempty"`
	Weight         *int32 `xml:"Weight,omitempty"`
}

// TargetGroupStickinessConfig is the stickiness of a forward action.
type TargetGroupStickinessConfig struct {
	Enabled         *bool  `xml:"Enabled,omitempty"`
	DurationSeconds *int32 `xml:"DurationSeconds,omitempty"`
}

// ForwardActionConfig is the weighted forward configuration of an action.
type ForwardActionConfig struct {
	TargetGroups                []TargetGroupTuple           `xml:"TargetGroups>member,omitempty"`
	TargetGroupStickinessConfig *TargetGroupStickinessConfig `xml:"TargetGroupStickinessConfig,omitempty"`
}

// FixedResponseActionConfig answers the request without a target.
type FixedResponseActionConfig struct {
	StatusCode  string `xml:"StatusCode,omitempty"`
	ContentType string `xml:"ContentType,omitempty"`
	MessageBody string `xml:"MessageBody,omitempty"`
}

// RedirectActionConfig redirects the request; "#{host}" style placeholders are kept as given.
type RedirectActionConfig struct {
	Protocol   string `xml:"Protocol,omitempty"`
	Port       string `xml:"Port,omitempty"`
	Host       string `xml:"Host,omitempty"`
	Path       string `xml:"Path,omitempty"`
	Query      string `xml:"Query,omitempty"`
	StatusCode string `xml:"StatusCode,omitempty"`
}

// Action is a listener or rule action. Authenticate* and JWT configs are not
// modelled: elbsim answers InvalidLoadBalancerAction for those action types.
type Action struct {
	Type                string                     `xml:"Type,omitempty"`
	TargetGroupArn      string                     `xml:"TargetGroupArn,omitempty"`
	ForwardConfig       *ForwardActionConfig       `xml:"ForwardConfig,omitempty"`
	FixedResponseConfig *FixedResponseActionConfig `xml:"FixedResponseConfig,omitempty"`
	RedirectConfig      *RedirectActionConfig      `xml:"RedirectConfig,omitempty"`
	Order               *int32                     `xml:"Order,omitempty"`
}

// ValuesConfig is the shape shared by the host-header, path-pattern,
// http-request-method and source-ip condition configs.
type ValuesConfig struct {
	Values []string `xml:"Values>member,omitempty"`
}

// HTTPHeaderConditionConfig matches a request header.
type HTTPHeaderConditionConfig struct {
	HTTPHeaderName string   `xml:"HttpHeaderName,omitempty"`
	Values         []string `xml:"Values>member,omitempty"`
}

// QueryStringKeyValuePair is one key/value of a query-string condition; an empty key matches any key.
type QueryStringKeyValuePair struct {
	Key   string `xml:"Key,omitempty"`
	Value string `xml:"Value,omitempty"`
}

// QueryStringConditionConfig matches query-string parameters.
type QueryStringConditionConfig struct {
	Values []QueryStringKeyValuePair `xml:"Values>member,omitempty"`
}

// RuleCondition is one condition of a rule.
type RuleCondition struct {
	Field                   string                      `xml:"Field,omitempty"`
	Values                  []string                    `xml:"Values>member,omitempty"`
	HostHeaderConfig        *ValuesConfig               `xml:"HostHeaderConfig,omitempty"`
	PathPatternConfig       *ValuesConfig               `xml:"PathPatternConfig,omitempty"`
	HTTPHeaderConfig        *HTTPHeaderConditionConfig  `xml:"HttpHeaderConfig,omitempty"`
	HTTPRequestMethodConfig *ValuesConfig               `xml:"HttpRequestMethodConfig,omitempty"`
	QueryStringConfig       *QueryStringConditionConfig `xml:"QueryStringConfig,omitempty"`
	SourceIPConfig          *ValuesConfig               `xml:"SourceIpConfig,omitempty"`
}

// Certificate is a listener certificate (accepted and echoed; elbsim serves HTTP only).
type Certificate struct {
	CertificateArn string `xml:"CertificateArn,omitempty"`
	IsDefault      *bool  `xml:"IsDefault,omitempty"`
}

// SubnetMapping names a subnet of a new load balancer.
type SubnetMapping struct {
	SubnetID     string `xml:"SubnetId,omitempty"`
	AllocationID string `xml:"AllocationId,omitempty"`
}

// Matcher is the health-check success code matcher.
type Matcher struct {
	HTTPCode string `xml:"HttpCode,omitempty"`
	GrpcCode string `xml:"GrpcCode,omitempty"`
}

// TargetDescription names a target: an IP address (or instance id) and a port.
type TargetDescription struct {
	ID               string `xml:"Id"`
	Port             *int32 `xml:"Port,omitempty"`
	AvailabilityZone string `xml:"AvailabilityZone,omitempty"`
}

// TargetGroupAttribute is one key/value attribute of a target group.
type TargetGroupAttribute struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// RulePriorityPair sets the priority of one rule.
type RulePriorityPair struct {
	RuleArn  string `xml:"RuleArn,omitempty"`
	Priority *int32 `xml:"Priority,omitempty"`
}

// ----- output objects -----

// LoadBalancerState is the provisioning state of a load balancer.
type LoadBalancerState struct {
	Code   string `xml:"Code"`
	Reason string `xml:"Reason,omitempty"`
}

// AvailabilityZone is one zone/subnet of a load balancer.
type AvailabilityZone struct {
	ZoneName string `xml:"ZoneName"`
	SubnetID string `xml:"SubnetId"`
}

// LoadBalancer is a load balancer as Describe* answers it.
type LoadBalancer struct {
	LoadBalancerArn       string             `xml:"LoadBalancerArn"`
	DNSName               string             `xml:"DNSName"`
	CanonicalHostedZoneID string             `xml:"CanonicalHostedZoneId"`
	CreatedTime           string             `xml:"CreatedTime"`
	LoadBalancerName      string             `xml:"LoadBalancerName"`
	Scheme                string             `xml:"Scheme"`
	VpcID                 string             `xml:"VpcId"`
	State                 LoadBalancerState  `xml:"State"`
	Type                  string             `xml:"Type"`
	AvailabilityZones     []AvailabilityZone `xml:"AvailabilityZones>member,omitempty"`
	SecurityGroups        []string           `xml:"SecurityGroups>member,omitempty"`
	IPAddressType         string             `xml:"IpAddressType"`
}

// Listener is a listener as Describe* answers it.
type Listener struct {
	ListenerArn     string        `xml:"ListenerArn"`
	LoadBalancerArn string        `xml:"LoadBalancerArn"`
	Port            int32         `xml:"Port"`
	Protocol        string        `xml:"Protocol"`
	Certificates    []Certificate `xml:"Certificates>member,omitempty"`
	SslPolicy       string        `xml:"SslPolicy,omitempty"`
	DefaultActions  []Action      `xml:"DefaultActions>member,omitempty"`
	AlpnPolicy      []string      `xml:"AlpnPolicy>member,omitempty"`
}

// Rule is a listener rule as Describe* answers it; Priority is "default" for the default rule.
type Rule struct {
	RuleArn    string          `xml:"RuleArn"`
	Priority   string          `xml:"Priority"`
	Conditions []RuleCondition `xml:"Conditions>member"`
	Actions    []Action        `xml:"Actions>member"`
	IsDefault  bool            `xml:"IsDefault"`
}

// TargetGroup is a target group as Describe* answers it.
type TargetGroup struct {
	TargetGroupArn             string   `xml:"TargetGroupArn"`
	TargetGroupName            string   `xml:"TargetGroupName"`
	Protocol                   string   `xml:"Protocol,omitempty"`
	ProtocolVersion            string   `xml:"ProtocolVersion,omitempty"`
	Port                       *int32   `xml:"Port,omitempty"`
	VpcID                      string   `xml:"VpcId,omitempty"`
	HealthCheckProtocol        string   `xml:"HealthCheckProtocol,omitempty"`
	HealthCheckPort            string   `xml:"HealthCheckPort,omitempty"`
	HealthCheckEnabled         bool     `xml:"HealthCheckEnabled"`
	HealthCheckIntervalSeconds int32    `xml:"HealthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  int32    `xml:"HealthCheckTimeoutSeconds"`
	HealthyThresholdCount      int32    `xml:"HealthyThresholdCount"`
	UnhealthyThresholdCount    int32    `xml:"UnhealthyThresholdCount"`
	HealthCheckPath            string   `xml:"HealthCheckPath,omitempty"`
	Matcher                    *Matcher `xml:"Matcher,omitempty"`
	LoadBalancerArns           []string `xml:"LoadBalancerArns>member"`
	TargetType                 string   `xml:"TargetType"`
	IPAddressType              string   `xml:"IpAddressType,omitempty"`
}

// TargetHealth is the health of one target.
type TargetHealth struct {
	State       string `xml:"State"`
	Reason      string `xml:"Reason,omitempty"`
	Description string `xml:"Description,omitempty"`
}

// TargetHealthDescription is one entry of DescribeTargetHealth.
type TargetHealthDescription struct {
	Target          TargetDescription `xml:"Target"`
	HealthCheckPort string            `xml:"HealthCheckPort,omitempty"`
	TargetHealth    TargetHealth      `xml:"TargetHealth"`
}

// TagDescription lists the tags of one resource.
type TagDescription struct {
	ResourceArn string `xml:"ResourceArn"`
	Tags        []Tag  `xml:"Tags>member"`
}

// ----- operation inputs and results -----

// CreateLoadBalancerInput is the input of CreateLoadBalancer.
type CreateLoadBalancerInput struct {
	Name           string          `xml:"Name"`
	Subnets        []string        `xml:"Subnets"`
	SubnetMappings []SubnetMapping `xml:"SubnetMappings"`
	SecurityGroups []string        `xml:"SecurityGroups"`
	Scheme         string          `xml:"Scheme"`
	Tags           []Tag           `xml:"Tags"`
	Type           string          `xml:"Type"`
	IPAddressType  string          `xml:"IpAddressType"`
}

// LoadBalancersResult is the result of CreateLoadBalancer and DescribeLoadBalancers.
type LoadBalancersResult struct {
	LoadBalancers []LoadBalancer `xml:"LoadBalancers>member"`
	NextMarker    string         `xml:"NextMarker,omitempty"`
}

// DescribeLoadBalancersInput is the input of DescribeLoadBalancers.
type DescribeLoadBalancersInput struct {
	LoadBalancerArns []string `xml:"LoadBalancerArns"`
	Names            []string `xml:"Names"`
	Marker           string   `xml:"Marker"`
	PageSize         *int32   `xml:"PageSize"`
}

// DeleteLoadBalancerInput is the input of DeleteLoadBalancer.
type DeleteLoadBalancerInput struct {
	LoadBalancerArn string `xml:"LoadBalancerArn"`
}

// EmptyResult is the result of operations that answer nothing but the request id.
type EmptyResult struct{}

// CreateListenerInput is the input of CreateListener.
type CreateListenerInput struct {
	LoadBalancerArn string        `xml:"LoadBalancerArn"`
	Protocol        string        `xml:"Protocol"`
	Port            *int32        `xml:"Port"`
	SslPolicy       string        `xml:"SslPolicy"`
	Certificates    []Certificate `xml:"Certificates"`
	DefaultActions  []Action      `xml:"DefaultActions"`
	AlpnPolicy      []string      `xml:"AlpnPolicy"`
	Tags            []Tag         `xml:"Tags"`
}

// ListenersResult is the result of CreateListener, ModifyListener and DescribeListeners.
type ListenersResult struct {
	Listeners  []Listener `xml:"Listeners>member"`
	NextMarker string     `xml:"NextMarker,omitempty"`
}

// DescribeListenersInput is the input of DescribeListeners.
type DescribeListenersInput struct {
	LoadBalancerArn string   `xml:"LoadBalancerArn"`
	ListenerArns    []string `xml:"ListenerArns"`
	Marker          string   `xml:"Marker"`
	PageSize        *int32   `xml:"PageSize"`
}

// ModifyListenerInput is the input of ModifyListener; absent fields are left unchanged.
type ModifyListenerInput struct {
	ListenerArn    string        `xml:"ListenerArn"`
	Port           *int32        `xml:"Port"`
	Protocol       string        `xml:"Protocol"`
	SslPolicy      string        `xml:"SslPolicy"`
	Certificates   []Certificate `xml:"Certificates"`
	DefaultActions []Action      `xml:"DefaultActions"`
	AlpnPolicy     []string      `xml:"AlpnPolicy"`
}

// DeleteListenerInput is the input of DeleteListener.
type DeleteListenerInput struct {
	ListenerArn string `xml:"ListenerArn"`
}

// CreateRuleInput is the input of CreateRule.
type CreateRuleInput struct {
	ListenerArn string          `xml:"ListenerArn"`
	Conditions  []RuleCondition `xml:"Conditions"`
	Priority    *int32          `xml:"Priority"`
	Actions     []Action        `xml:"Actions"`
	Tags        []Tag           `xml:"Tags"`
}

// RulesResult is the result of CreateRule, ModifyRule, DescribeRules and SetRulePriorities.
type RulesResult struct {
	Rules      []Rule `xml:"Rules>member"`
	NextMarker string `xml:"NextMarker,omitempty"`
}

// DescribeRulesInput is the input of DescribeRules.
type DescribeRulesInput struct {
	ListenerArn string   `xml:"ListenerArn"`
	RuleArns    []string `xml:"RuleArns"`
	Marker      string   `xml:"Marker"`
	PageSize    *int32   `xml:"PageSize"`
}

// ModifyRuleInput is the input of ModifyRule; nil lists are left unchanged.
type ModifyRuleInput struct {
	RuleArn    string          `xml:"RuleArn"`
	Conditions []RuleCondition `xml:"Conditions"`
	Actions    []Action        `xml:"Actions"`
}

// DeleteRuleInput is the input of DeleteRule.
type DeleteRuleInput struct {
	RuleArn string `xml:"RuleArn"`
}

// SetRulePrioritiesInput is the input of SetRulePriorities.
type SetRulePrioritiesInput struct {
	RulePriorities []RulePriorityPair `xml:"RulePriorities"`
}

// CreateTargetGroupInput is the input of CreateTargetGroup.
type CreateTargetGroupInput struct {
	Name                       string   `xml:"Name"`
	Protocol                   string   `xml:"Protocol"`
	ProtocolVersion            string   `xml:"ProtocolVersion"`
	Port                       *int32   `xml:"Port"`
	VpcID                      string   `xml:"VpcId"`
	HealthCheckProtocol        string   `xml:"HealthCheckProtocol"`
	HealthCheckPort            string   `xml:"HealthCheckPort"`
	HealthCheckEnabled         *bool    `xml:"HealthCheckEnabled"`
	HealthCheckPath            string   `xml:"HealthCheckPath"`
	HealthCheckIntervalSeconds *int32   `xml:"HealthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  *int32   `xml:"HealthCheckTimeoutSeconds"`
	HealthyThresholdCount      *int32   `xml:"HealthyThresholdCount"`
	UnhealthyThresholdCount    *int32   `xml:"UnhealthyThresholdCount"`
	Matcher                    *Matcher `xml:"Matcher"`
	TargetType                 string   `xml:"TargetType"`
	Tags                       []Tag    `xml:"Tags"`
	IPAddressType              string   `xml:"IpAddressType"`
}

// TargetGroupsResult is the result of CreateTargetGroup, ModifyTargetGroup and DescribeTargetGroups.
type TargetGroupsResult struct {
	TargetGroups []TargetGroup `xml:"TargetGroups>member"`
	NextMarker   string        `xml:"NextMarker,omitempty"`
}

// DescribeTargetGroupsInput is the input of DescribeTargetGroups.
type DescribeTargetGroupsInput struct {
	LoadBalancerArn string   `xml:"LoadBalancerArn"`
	TargetGroupArns []string `xml:"TargetGroupArns"`
	Names           []string `xml:"Names"`
	Marker          string   `xml:"Marker"`
	PageSize        *int32   `xml:"PageSize"`
}

// ModifyTargetGroupInput is the input of ModifyTargetGroup; absent fields are left unchanged.
type ModifyTargetGroupInput struct {
	TargetGroupArn             string   `xml:"TargetGroupArn"`
	HealthCheckProtocol        string   `xml:"HealthCheckProtocol"`
	HealthCheckPort            string   `xml:"HealthCheckPort"`
	HealthCheckPath            string   `xml:"HealthCheckPath"`
	HealthCheckEnabled         *bool    `xml:"HealthCheckEnabled"`
	HealthCheckIntervalSeconds *int32   `xml:"HealthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  *int32   `xml:"HealthCheckTimeoutSeconds"`
	HealthyThresholdCount      *int32   `xml:"HealthyThresholdCount"`
	UnhealthyThresholdCount    *int32   `xml:"UnhealthyThresholdCount"`
	Matcher                    *Matcher `xml:"Matcher"`
}

// DeleteTargetGroupInput is the input of DeleteTargetGroup.
type DeleteTargetGroupInput struct {
	TargetGroupArn string `xml:"TargetGroupArn"`
}

// DescribeTargetGroupAttributesInput is the input of DescribeTargetGroupAttributes.
type DescribeTargetGroupAttributesInput struct {
	TargetGroupArn string `xml:"TargetGroupArn"`
}

// ModifyTargetGroupAttributesInput is the input of ModifyTargetGroupAttributes.
type ModifyTargetGroupAttributesInput struct {
	TargetGroupArn string                 `xml:"TargetGroupArn"`
	Attributes     []TargetGroupAttribute `xml:"Attributes"`
}

// AttributesResult is the result of Describe/ModifyTargetGroupAttributes.
type AttributesResult struct {
	Attributes []TargetGroupAttribute `xml:"Attributes>member"`
}

// TargetsInput is the input of RegisterTargets and DeregisterTargets.
type TargetsInput struct {
	TargetGroupArn string              `xml:"TargetGroupArn"`
	Targets        []TargetDescription `xml:"Targets"`
}

// DescribeTargetHealthInput is the input of DescribeTargetHealth.
type DescribeTargetHealthInput struct {
	TargetGroupArn string              `xml:"TargetGroupArn"`
	Targets        []TargetDescription `xml:"Targets"`
	Include        []string            `xml:"Include"`
}

// TargetHealthResult is the result of DescribeTargetHealth.
type TargetHealthResult struct {
	TargetHealthDescriptions []TargetHealthDescription `xml:"TargetHealthDescriptions>member"`
}

// AddTagsInput is the input of AddTags.
type AddTagsInput struct {
	ResourceArns []string `xml:"ResourceArns"`
	Tags         []Tag    `xml:"Tags"`
}

// RemoveTagsInput is the input of RemoveTags.
type RemoveTagsInput struct {
	ResourceArns []string `xml:"ResourceArns"`
	TagKeys      []string `xml:"TagKeys"`
}

// DescribeTagsInput is the input of DescribeTags.
type DescribeTagsInput struct {
	ResourceArns []string `xml:"ResourceArns"`
}

// TagsResult is the result of DescribeTags.
type TagsResult struct {
	TagDescriptions []TagDescription `xml:"TagDescriptions>member"`
}
