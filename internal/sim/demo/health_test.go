package demo

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// fakeELBV2 serves target groups, their tags and target health from memory.
type fakeELBV2 struct {
	tags    map[string]string // ARN -> ingress.k8s.aws/resource
	health  map[string][]types.TargetHealthDescription
	fail    map[string]error
	lookups int
}

func (f *fakeELBV2) DescribeTargetGroups(_ context.Context, _ *elbv2.DescribeTargetGroupsInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error) {
	f.lookups++
	out := &elbv2.DescribeTargetGroupsOutput{}
	for _, arn := range slices.Sorted(maps.Keys(f.tags)) {
		out.TargetGroups = append(out.TargetGroups, types.TargetGroup{TargetGroupArn: aws.String(arn)})
	}
	return out, nil
}

func (f *fakeELBV2) DescribeTags(_ context.Context, in *elbv2.DescribeTagsInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error) {
	out := &elbv2.DescribeTagsOutput{}
	for _, arn := range in.ResourceArns {
		out.TagDescriptions = append(out.TagDescriptions, types.TagDescription{ResourceArn: aws.String(arn), Tags: []types.Tag{
			{Key: aws.String("elbv2.k8s.aws/cluster"), Value: aws.String("x")},
			{Key: aws.String("ingress.k8s.aws/resource"), Value: aws.String(f.tags[arn])},
		}})
	}
	return out, nil
}

func (f *fakeELBV2) DescribeTargetHealth(_ context.Context, in *elbv2.DescribeTargetHealthInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	arn := aws.ToString(in.TargetGroupArn)
	if err := f.fail[arn]; err != nil {
		return nil, err
	}
	return &elbv2.DescribeTargetHealthOutput{TargetHealthDescriptions: f.health[arn]}, nil
}

func target(state types.TargetHealthStateEnum, reason types.TargetHealthReasonEnum) types.TargetHealthDescription {
	return types.TargetHealthDescription{TargetHealth: &types.TargetHealth{State: state, Reason: reason}}
}

func TestHealthReader(t *testing.T) {
	f := &fakeELBV2{
		tags: map[string]string{
			"arn:stable": "demo/demo-demo-stable:80",
			"arn:canary": "demo/demo-demo-canary:80",
			"arn:other":  "demo/other-demo-stable:80", // another Ingress's group of the same Service
		},
		health: map[string][]types.TargetHealthDescription{
			"arn:stable": {target("healthy", ""), target("healthy", "")},
			"arn:canary": {target("unhealthy", "Target.ResponseCodeMismatch"), target("draining", "Target.DeregistrationInProgress"), target("unhealthy", "Target.ResponseCodeMismatch")},
			"arn:other":  {target("unhealthy", "Target.Timeout")},
		},
		fail: map[string]error{},
	}
	h := newHealthReader(f, "demo", "demo", serviceRole{"demo-stable", "stable"}, serviceRole{"demo-canary", "canary"})
	got, err := h.read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Role != "stable" || got[1].Role != "canary" {
		t.Fatalf("got %+v", got)
	}
	if got[0].Healthy() != 2 || got[0].Total() != 2 || len(got[0].Reasons) != 0 {
		t.Errorf("stable %+v", got[0])
	}
	if c := got[1]; c.Healthy() != 0 || c.Total() != 3 || c.States["unhealthy"] != 2 ||
		!slices.Equal(c.Reasons, []string{"Target.ResponseCodeMismatch", "Target.DeregistrationInProgress"}) {
		t.Errorf("canary %+v", c)
	}
	if targetsText(got) != "stable 2/2 healthy, canary 0/3 healthy (1 draining, 2 unhealthy Target.ResponseCodeMismatch, Target.DeregistrationInProgress)" {
		t.Errorf("text %q", targetsText(got))
	}
	// All found: no second lookup.
	if _, err := h.read(context.Background()); err != nil || f.lookups != 1 {
		t.Errorf("lookups %d, err %v", f.lookups, err)
	}
	// A group that went away is looked up again (at most once a second).
	f.fail["arn:canary"] = errors.New("TargetGroupNotFound")
	if _, err := h.read(context.Background()); err == nil {
		t.Error("no error for a failing DescribeTargetHealth")
	}
	if h.arns["demo-canary"] != "" {
		t.Error("the failing group is still cached")
	}
	h.lastLookup = h.lastLookup.Add(-2e9)
	delete(f.fail, "arn:canary")
	if got, err := h.read(context.Background()); err != nil || len(got) != 2 || f.lookups != 2 {
		t.Errorf("after a new lookup: %+v %v (lookups %d)", got, err, f.lookups)
	}
}

// Before the load-balancer controller made the canary's group, only the
// stable one is shown.
func TestHealthReaderMissingGroup(t *testing.T) {
	f := &fakeELBV2{tags: map[string]string{"arn:stable": "demo/demo-demo-stable:80"},
		health: map[string][]types.TargetHealthDescription{"arn:stable": {target("initial", "Elb.RegistrationInProgress")}}}
	h := newHealthReader(f, "demo", "demo", serviceRole{"demo-stable", "stable"}, serviceRole{"demo-canary", "canary"})
	got, err := h.read(context.Background())
	if err != nil || len(got) != 1 || got[0].States["initial"] != 1 {
		t.Errorf("got %+v %v", got, err)
	}
	// Looked up at most once a second while the group is missing.
	_, _ = h.read(context.Background())
	if f.lookups != 1 {
		t.Errorf("%d lookups", f.lookups)
	}
}
