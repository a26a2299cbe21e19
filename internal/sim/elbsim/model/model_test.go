package model

import (
	"bytes"
	"strings"
	"testing"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

func newTestModel(t *testing.T) (*Model, *[]int64) {
	t.Helper()
	var versions []int64
	m := New(Options{Rand: bytes.NewReader(bytes.Repeat([]byte{0xab}, 1<<16)), OnCommit: func(st *State) { versions = append(versions, st.Version) }})
	return m, &versions
}

func i32(v int32) *int32 { return &v }

// TestStatesAreImmutable: a published State never changes when the model moves on.
func TestStatesAreImmutable(t *testing.T) {
	m, versions := newTestModel(t)
	if _, err := m.CreateLoadBalancer(&query.CreateLoadBalancerInput{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	tgOut, err := m.CreateTargetGroup(&query.CreateTargetGroupInput{Name: "tg", Protocol: "HTTP", Port: i32(80), TargetType: "ip"})
	if err != nil {
		t.Fatal(err)
	}
	before := m.State()
	arn := tgOut.TargetGroups[0].TargetGroupArn
	if _, err := m.RegisterTargets(&query.TargetsInput{TargetGroupArn: arn, Targets: []query.TargetDescription{{ID: "127.0.0.2"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateLoadBalancer(&query.CreateLoadBalancerInput{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.AddTags(&query.AddTagsInput{ResourceArns: []string{arn}, Tags: []query.Tag{{Key: "k"}}}); err != nil {
		t.Fatal(err)
	}
	if len(before.TargetGroups[arn].Targets) != 0 || len(before.TargetGroups[arn].Tags) != 0 || len(before.LoadBalancers) != 1 {
		t.Fatalf("an old State changed: %+v", before.TargetGroups[arn])
	}
	if _, err := before.DescribeLoadBalancers(&query.DescribeLoadBalancersInput{Names: []string{"b"}}); err == nil || err.Code != query.CodeLoadBalancerNotFound {
		t.Fatalf("the old State's name index changed: %v", err)
	}
	if got := m.State().TargetGroups[arn]; len(got.Targets) != 1 || got.Targets[0].Port != 80 {
		t.Fatalf("registered target %+v (default port is the group's)", got.Targets)
	}
	if len(*versions) != 5 || (*versions)[4] != 5 {
		t.Fatalf("commit versions %v", *versions)
	}
	// A failed mutation commits nothing.
	if _, err := m.CreateLoadBalancer(&query.CreateLoadBalancerInput{Name: "bad name"}); err == nil {
		t.Fatal("accepted a bad name")
	}
	if len(*versions) != 5 {
		t.Fatal("a failed mutation was committed")
	}
}

func TestPage(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	p, next, err := page(items, "", i32(2))
	if err != nil || len(p) != 2 || next == "" {
		t.Fatalf("%v %q %v", p, next, err)
	}
	var all []int
	all = append(all, p...)
	for next != "" {
		p, next, err = page(items, next, i32(2))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p...)
	}
	if len(all) != 5 || all[4] != 5 {
		t.Fatalf("pages gave %v", all)
	}
	for _, bad := range []string{"x", "ZWxic2ltOi0x" /* elbsim:-1 */} {
		if _, _, err := page(items, bad, nil); err == nil {
			t.Errorf("marker %q accepted", bad)
		}
	}
}

func TestConditionValidation(t *testing.T) {
	ok := []query.RuleCondition{{Field: "path-pattern", PathPatternConfig: &query.ValuesConfig{Values: []string{"/a/*"}}},
		{Field: "http-header", HTTPHeaderConfig: &query.HTTPHeaderConditionConfig{HTTPHeaderName: "X", Values: []string{"1"}}}}
	out, err := normalizeConditions(ok)
	if err != nil || out[0].Values[0] != "/a/*" || out[0].PathPatternConfig.Values[0] != "/a/*" {
		t.Fatalf("%+v %v", out, err)
	}
	bad := map[string][]query.RuleCondition{
		"none":            nil,
		"unknown field":   {{Field: "cookie", Values: []string{"a"}}},
		"no values":       {{Field: "host-header"}},
		"both forms":      {{Field: "host-header", Values: []string{"a"}, HostHeaderConfig: &query.ValuesConfig{Values: []string{"b"}}}},
		"header no name":  {{Field: "http-header", HTTPHeaderConfig: &query.HTTPHeaderConditionConfig{Values: []string{"1"}}}},
		"bad cidr":        {{Field: "source-ip", SourceIPConfig: &query.ValuesConfig{Values: []string{"10.0.0.0/33"}}}},
		"lower method":    {{Field: "http-request-method", HTTPRequestMethodConfig: &query.ValuesConfig{Values: []string{"get"}}}},
		"two paths":       {{Field: "path-pattern", Values: []string{"/a"}}, {Field: "path-pattern", Values: []string{"/b"}}},
		"too many values": {{Field: "host-header", Values: []string{"a", "b", "c", "d", "e", "f"}}},
	}
	for name, cs := range bad {
		if _, err := normalizeConditions(cs); err == nil || err.Status != 400 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestHealthCheckValidation(t *testing.T) {
	m, _ := newTestModel(t)
	for name, in := range map[string]*query.CreateTargetGroupInput{
		"matcher 600":      {Matcher: &query.Matcher{HTTPCode: "200-600"}},
		"matcher text":     {Matcher: &query.Matcher{HTTPCode: "ok"}},
		"interval 4":       {HealthCheckIntervalSeconds: i32(4)},
		"threshold 11":     {HealthyThresholdCount: i32(11)},
		"path":             {HealthCheckPath: "health"},
		"port":             {HealthCheckPort: "70000"},
		"disabled":         {HealthCheckEnabled: new(bool)},
		"https":            {HealthCheckProtocol: "HTTPS"},
		"timeout=interval": {HealthCheckIntervalSeconds: i32(10), HealthCheckTimeoutSeconds: i32(10)},
	} {
		in.Name, in.Protocol, in.Port, in.TargetType = "tg", "HTTP", i32(80), "ip"
		if _, err := m.CreateTargetGroup(in); err == nil || err.Code != query.CodeValidationError {
			t.Errorf("%s: %v", name, err)
		}
	}
	out, err := m.CreateTargetGroup(&query.CreateTargetGroupInput{Name: "ok", Protocol: "HTTP", Port: i32(80), TargetType: "ip",
		Matcher: &query.Matcher{HTTPCode: "200,202-204"}})
	if err != nil || out.TargetGroups[0].Matcher.HTTPCode != "200,202-204" {
		t.Fatalf("%+v %v", out, err)
	}
}

func TestRestoreChecksRegion(t *testing.T) {
	m, _ := newTestModel(t)
	other := New(Options{Region: "eu-west-1"}).State()
	if err := m.Restore(other); err == nil || !strings.Contains(err.Message, "eu-west-1") {
		t.Fatalf("restoring another region's state: %v", err)
	}
}
