package model

import (
	"slices"
	"sort"
	"strings"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

const timeLayout = "2006-01-02T15:04:05.000Z"

// CreateLoadBalancer creates an application load balancer. Subnets are optional
// (elbsim invents two); creating one with the name and settings of an existing
// load balancer returns that one, as AWS does.
func (m *Model) CreateLoadBalancer(in *query.CreateLoadBalancerInput) (*query.LoadBalancersResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.LoadBalancersResult, *query.Error) {
		lb, err := tx.newLoadBalancer(in, m)
		if err != nil {
			return nil, err
		}
		if arn, ok := tx.lbByName[in.Name]; ok {
			old := tx.LoadBalancers[arn]
			if old.Scheme != lb.Scheme || old.Type != lb.Type {
				return nil, query.Client(query.CodeDuplicateLoadBalancerName, "A load balancer with the same name '%s' exists, but with different settings", in.Name)
			}
			return &query.LoadBalancersResult{LoadBalancers: []query.LoadBalancer{tx.describeLB(old)}}, nil
		}
		if len(tx.LoadBalancers) >= MaxLoadBalancers {
			return nil, query.Client(query.CodeTooManyLoadBalancers, "You have reached the limit of %d load balancers", MaxLoadBalancers)
		}
		tx.LoadBalancers[lb.ARN] = lb
		return &query.LoadBalancersResult{LoadBalancers: []query.LoadBalancer{tx.describeLB(lb)}}, nil
	})
}

func (tx *State) newLoadBalancer(in *query.CreateLoadBalancerInput, m *Model) (*LoadBalancer, *query.Error) {
	if err := checkName("Load balancer", in.Name); err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.Name, "internal-") {
		return nil, query.Validation("Load balancer name '%s' cannot begin with 'internal-'", in.Name)
	}
	lb := &LoadBalancer{Name: in.Name, Scheme: in.Scheme, Type: in.Type, IPAddressType: in.IPAddressType,
		SecurityGroups: append([]string(nil), in.SecurityGroups...), Tags: fromQueryTags(in.Tags)}
	if lb.Type == "" {
		lb.Type = "application"
	}
	if err := oneOf(lb.Type, "type", "application", "network", "gateway"); err != nil {
		return nil, err
	}
	if lb.Type != "application" {
		return nil, query.Validation("Load balancer type '%s' is not supported by elbsim: it emulates application load balancers", lb.Type)
	}
	if lb.Scheme == "" {
		lb.Scheme = "internet-facing"
	}
	if err := oneOf(lb.Scheme, "scheme", "internet-facing", "internal"); err != nil {
		return nil, err
	}
	if lb.IPAddressType == "" {
		lb.IPAddressType = "ipv4"
	}
	if err := oneOf(lb.IPAddressType, "ipAddressType", "ipv4", "dualstack", "dualstack-without-public-ipv4"); err != nil {
		return nil, err
	}
	if len(in.Subnets) > 0 && len(in.SubnetMappings) > 0 {
		return nil, query.Validation("Specify either Subnets or SubnetMappings, not both")
	}
	lb.Subnets = append([]string(nil), in.Subnets...)
	for _, sm := range in.SubnetMappings {
		lb.Subnets = append(lb.Subnets, sm.SubnetID)
	}
	if len(lb.Subnets) == 0 {
		lb.Subnets = []string{"subnet-0e1b5100000000001", "subnet-0e1b5100000000002"}
	}
	if len(lb.SecurityGroups) == 0 {
		lb.SecurityGroups = []string{defaultSecurityGroup}
	}
	if err := checkTags(lb.Tags, "tags"); err != nil {
		return nil, err
	}
	lb.ID = newID(m.o.Rand)
	lb.ARN = tx.arnPrefix() + kindLoadBalancer + "/app/" + lb.Name + "/" + lb.ID
	lb.DNSName = lb.Name + "-" + dnsDigits(m.o.Rand) + "." + tx.Region + ".elb.amazonaws.com"
	if lb.Scheme == "internal" {
		lb.DNSName = "internal-" + lb.DNSName
	}
	lb.VpcID = defaultVpcID
	lb.Created = m.o.Now().UTC()
	lb.Seq = tx.nextSeq()
	return lb, nil
}

// DeleteLoadBalancer deletes a load balancer with its listeners and rules (not
// its target groups). Deleting one that does not exist succeeds, as AWS does.
func (m *Model) DeleteLoadBalancer(in *query.DeleteLoadBalancerInput) (*query.EmptyResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.EmptyResult, *query.Error) {
		if err := checkARN(in.LoadBalancerArn, kindLoadBalancer); err != nil {
			return nil, err
		}
		if _, ok := tx.LoadBalancers[in.LoadBalancerArn]; !ok {
			return &query.EmptyResult{}, nil
		}
		for _, l := range tx.ListenersOf(in.LoadBalancerArn) {
			tx.deleteListener(l.ARN)
		}
		delete(tx.LoadBalancers, in.LoadBalancerArn)
		return &query.EmptyResult{}, nil
	})
}

func (st *State) lb(arn string) (*LoadBalancer, *query.Error) {
	if err := checkARN(arn, kindLoadBalancer); err != nil {
		return nil, err
	}
	lb, ok := st.LoadBalancers[arn]
	if !ok {
		return nil, query.Client(query.CodeLoadBalancerNotFound, "Load balancer '%s' not found", arn)
	}
	return lb, nil
}

func (st *State) describeLB(lb *LoadBalancer) query.LoadBalancer {
	azs := make([]query.AvailabilityZone, len(lb.Subnets))
	for i, s := range lb.Subnets {
		azs[i] = query.AvailabilityZone{ZoneName: st.Region + string("abcdef"[i%6]), SubnetID: s}
	}
	return query.LoadBalancer{
		LoadBalancerArn: lb.ARN, DNSName: lb.DNSName, CanonicalHostedZoneID: hostedZone(st.Region),
		CreatedTime: lb.Created.Format(timeLayout), LoadBalancerName: lb.Name, Scheme: lb.Scheme, VpcID: lb.VpcID,
		State: query.LoadBalancerState{Code: "active"}, Type: lb.Type, AvailabilityZones: azs,
		SecurityGroups: lb.SecurityGroups, IPAddressType: lb.IPAddressType,
	}
}

// DescribeLoadBalancers answers load balancers by ARN, by name, or all, oldest first.
func (st *State) DescribeLoadBalancers(in *query.DescribeLoadBalancersInput) (*query.LoadBalancersResult, *query.Error) {
	if len(in.LoadBalancerArns) > 0 && len(in.Names) > 0 {
		return nil, query.Validation("Load balancer names and load balancer ARNs cannot be specified at the same time")
	}
	var missing []string
	for _, arn := range in.LoadBalancerArns {
		if err := checkARN(arn, kindLoadBalancer); err != nil {
			return nil, err
		}
		if _, ok := st.LoadBalancers[arn]; !ok {
			return nil, query.Client(query.CodeLoadBalancerNotFound, "One or more load balancers not found")
		}
	}
	for _, n := range in.Names {
		if _, ok := st.lbByName[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, query.Client(query.CodeLoadBalancerNotFound, "Load balancers '[%s]' not found", strings.Join(missing, ", "))
	}
	var lbs []*LoadBalancer
	for _, lb := range st.LoadBalancers {
		if (len(in.LoadBalancerArns) == 0 || slices.Contains(in.LoadBalancerArns, lb.ARN)) &&
			(len(in.Names) == 0 || slices.Contains(in.Names, lb.Name)) {
			lbs = append(lbs, lb)
		}
	}
	sort.Slice(lbs, func(i, j int) bool { return lbs[i].Seq < lbs[j].Seq })
	pg, next, err := page(lbs, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &query.LoadBalancersResult{NextMarker: next, LoadBalancers: make([]query.LoadBalancer, len(pg))}
	for i, lb := range pg {
		out.LoadBalancers[i] = st.describeLB(lb)
	}
	return out, nil
}
