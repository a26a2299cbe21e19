package localalb

import (
	"regexp"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestTargetGroupNameShapeAndStability(t *testing.T) {
	stack := StackID{Namespace: "default", Name: "web"}
	name := TargetGroupName("c1", stack, "default", "web-stable", "uid-1", intstr.FromInt32(80), 8080)
	if !regexp.MustCompile(`^k8s-default-webstabl-[0-9a-f]{10}$`).MatchString(name) {
		t.Fatalf("name %q does not look like k8s-<ns8>-<svc8>-<hash10>", name)
	}
	if again := TargetGroupName("c1", stack, "default", "web-stable", "uid-1", intstr.FromInt32(80), 8080); again != name {
		t.Fatalf("name not stable: %q then %q", name, again)
	}
	for _, other := range []string{
		TargetGroupName("c2", stack, "default", "web-stable", "uid-1", intstr.FromInt32(80), 8080),
		TargetGroupName("c1", StackID{Name: "grp"}, "default", "web-stable", "uid-1", intstr.FromInt32(80), 8080),
		TargetGroupName("c1", stack, "default", "web-stable", "uid-2", intstr.FromInt32(80), 8080),
		TargetGroupName("c1", stack, "default", "web-stable", "uid-1", intstr.FromString("http"), 8080),
	} {
		if other == name {
			t.Errorf("different inputs gave the same name %q", name)
		}
	}
	long := TargetGroupName("c1", stack, "a-very-long-namespace-name", "an-even-longer-service-name", "u", intstr.FromInt32(80), 80)
	if len(long) > 32 {
		t.Errorf("name %q longer than 32 characters", long)
	}
}

func TestLoadBalancerName(t *testing.T) {
	implicit := LoadBalancerName("c1", StackID{Namespace: "demo", Name: "web.app"}, "internal")
	if !regexp.MustCompile(`^k8s-demo-webapp-[0-9a-f]{10}$`).MatchString(implicit) {
		t.Errorf("implicit group name %q", implicit)
	}
	explicit := LoadBalancerName("c1", StackID{Name: "shared-frontends-group"}, "internal")
	if !regexp.MustCompile(`^k8s-sharedfrontendsgr-[0-9a-f]{10}$`).MatchString(explicit) {
		t.Errorf("explicit group name %q", explicit)
	}
	if len(explicit) > 32 || len(implicit) > 32 {
		t.Errorf("load balancer names longer than 32 characters")
	}
}

func TestStackAndResourceTags(t *testing.T) {
	if got := (StackID{Namespace: "ns", Name: "ing"}).String(); got != "ns/ing" {
		t.Errorf("implicit stack %q", got)
	}
	if got := (StackID{Name: "grp"}).String(); got != "grp" {
		t.Errorf("explicit stack %q", got)
	}
	if got := TargetGroupResource("ns", "ing", "svc", intstr.FromInt32(80)); got != "ns/ing-svc:80" {
		t.Errorf("resource %q", got)
	}
	if got := TargetGroupResource("ns", "ing", "svc", intstr.FromString("http")); got != "ns/ing-svc:http" {
		t.Errorf("resource %q", got)
	}
}
