package demo

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/albrollouts/albrollouts/internal/sim/localalb"
)

// ELBV2API is the part of the ELBv2 client the demo reads target health with.
type ELBV2API interface {
	DescribeTargetGroups(ctx context.Context, in *elbv2.DescribeTargetGroupsInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
	DescribeTags(ctx context.Context, in *elbv2.DescribeTagsInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error)
	DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
}

// serviceRole is a Service of the rollout and the traffic it carries.
type serviceRole struct{ service, role string }

// healthReader reads the health of the target groups of an Ingress's
// services through the ELBv2 API, as an operator would: the target groups
// are found by the AWS Load Balancer Controller's ingress.k8s.aws/resource
// tag, then DescribeTargetHealth is asked for each.
type healthReader struct {
	api      ELBV2API
	ns       string
	ingress  string
	services []serviceRole
	port     int

	arns       map[string]string // service -> target group ARN
	lastLookup time.Time
}

func newHealthReader(api ELBV2API, ns, ingress string, services ...serviceRole) *healthReader {
	return &healthReader{api: api, ns: ns, ingress: ingress, services: services, port: 80, arns: map[string]string{}}
}

// resourceTag is the tag value of a service's target group.
func (h *healthReader) resourceTag(service string) string {
	return fmt.Sprintf("%s/%s-%s:%d", h.ns, h.ingress, service, h.port)
}

// lookup maps the services to their target groups (at most once a second).
func (h *healthReader) lookup(ctx context.Context) error {
	if time.Since(h.lastLookup) < time.Second {
		return nil
	}
	h.lastLookup = time.Now()
	want := map[string]string{}
	for _, s := range h.services {
		want[h.resourceTag(s.service)] = s.service
	}
	var arns []string
	p := elbv2.NewDescribeTargetGroupsPaginator(h.api, &elbv2.DescribeTargetGroupsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("DescribeTargetGroups: %w", err)
		}
		for _, tg := range out.TargetGroups {
			arns = append(arns, aws.ToString(tg.TargetGroupArn))
		}
	}
	for chunk := range slices.Chunk(arns, 20) {
		out, err := h.api.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: chunk})
		if err != nil {
			return fmt.Errorf("DescribeTags: %w", err)
		}
		for _, d := range out.TagDescriptions {
			for _, t := range d.Tags {
				if aws.ToString(t.Key) != localalb.TagResource {
					continue
				}
				if svc, ok := want[aws.ToString(t.Value)]; ok {
					h.arns[svc] = aws.ToString(d.ResourceArn)
				}
			}
		}
	}
	return nil
}

// read returns the health of each service's target group that exists.
func (h *healthReader) read(ctx context.Context) ([]TargetHealth, error) {
	missing := false
	for _, s := range h.services {
		if h.arns[s.service] == "" {
			missing = true
		}
	}
	if missing {
		if err := h.lookup(ctx); err != nil {
			return nil, err
		}
	}
	var out []TargetHealth
	for _, s := range h.services {
		arn := h.arns[s.service]
		if arn == "" {
			continue
		}
		res, err := h.api.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
		if err != nil {
			delete(h.arns, s.service) // recreated? look it up again
			return out, fmt.Errorf("DescribeTargetHealth %s: %w", s.service, err)
		}
		th := TargetHealth{Role: s.role, Service: s.service, States: map[string]int{}}
		for _, d := range res.TargetHealthDescriptions {
			if d.TargetHealth == nil {
				continue
			}
			state := string(d.TargetHealth.State)
			th.States[state]++
			if r := string(d.TargetHealth.Reason); state != "healthy" && r != "" && !slices.Contains(th.Reasons, r) {
				th.Reasons = append(th.Reasons, r)
			}
		}
		out = append(out, th)
	}
	return out, nil
}
