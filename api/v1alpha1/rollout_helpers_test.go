package v1alpha1

import (
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func ptr[T any](v T) *T { return &v }

func TestUnsupportedFields(t *testing.T) {
	const manifest = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: x}
spec:
  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: x}
  restartAt: "2024-01-01T00:00:00Z"
  strategy:
    canary:
      canaryService: c
      stableService: s
      minPodsPerReplicaSet: 2
      stableMetadata: {labels: {role: stable}}
      trafficRouting:
        maxTrafficWeight: 500
        nginx: {stableIngress: x}
        plugins: {"argoproj-labs/gatewayAPI": {httpRoute: x}}
        alb: {ingress: x, servicePort: 80}
      steps:
      - setWeight: 5
      - setMirrorRoute: {name: m, percentage: 10}
      - plugin: {name: p}
      - pause: {}
`
	r := &Rollout{}
	if err := yaml.UnmarshalStrict([]byte(manifest), r); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"spec.strategy.canary.minPodsPerReplicaSet",
		"spec.strategy.canary.steps[1].setMirrorRoute",
		"spec.strategy.canary.steps[2].plugin",
		"spec.strategy.canary.trafficRouting.nginx",
		"spec.strategy.canary.trafficRouting.plugins",
	}
	if got := r.UnsupportedFields(); !slices.Equal(got, want) {
		t.Errorf("UnsupportedFields() =\n%v\nwant\n%v", got, want)
	}

	// Preserved fields survive a round trip verbatim.
	out, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	again := &Rollout{}
	if err := yaml.UnmarshalStrict(out, again); err != nil {
		t.Fatal(err)
	}
	if got := string(again.Spec.Strategy.Canary.TrafficRouting.Plugins.Raw); got != `{"argoproj-labs/gatewayAPI":{"httpRoute":"x"}}` {
		t.Errorf("plugins after round trip: %s", got)
	}

	bg := &Rollout{Spec: RolloutSpec{Strategy: RolloutStrategy{BlueGreen: &BlueGreenStrategy{
		ActiveService:        "a",
		PrePromotionAnalysis: &runtime.RawExtension{Raw: []byte(`{"templates":[]}`)}, // implemented
		AntiAffinity:         &runtime.RawExtension{Raw: []byte(`{"requiredDuringSchedulingIgnoredDuringExecution":{}}`)},
		ActiveMetadata:       &runtime.RawExtension{Raw: []byte(`null`)}, // JSON null counts as unset
	}}}}
	if got := bg.UnsupportedFields(); !slices.Equal(got, []string{"spec.strategy.blueGreen.antiAffinity"}) {
		t.Errorf("blue-green UnsupportedFields() = %v", got)
	}
	if got := (&Rollout{}).UnsupportedFields(); got != nil {
		t.Errorf("empty rollout: %v", got)
	}
}

func TestALBVerification(t *testing.T) {
	canary := &Rollout{Spec: RolloutSpec{Strategy: RolloutStrategy{Canary: &CanaryStrategy{
		StableService: "stable",
		TrafficRouting: &RolloutTrafficRouting{ALB: &ALBTrafficRouting{
			Ingress: "web", ALBVerification: ALBVerification{VerifyTargetGroup: ptr(false), TimeoutSeconds: ptr(int32(45))},
		}},
	}}}}
	v := canary.ALBVerification()
	if v.Enabled(true) {
		t.Error("verifyTargetGroup: false must override the controller default")
	}
	if got := v.Timeout(30 * time.Second); got != 45*time.Second {
		t.Errorf("Timeout = %s, want 45s", got)
	}
	if canary.StrategyName() != StrategyCanary || canary.Spec.Strategy.Canary.ActionService() != "stable" {
		t.Error("canary strategy name or action service wrong")
	}
	canary.Spec.Strategy.Canary.TrafficRouting.ALB.RootService = "root"
	if got := canary.Spec.Strategy.Canary.ActionService(); got != "root" {
		t.Errorf("ActionService with rootService = %s", got)
	}
	if got := canary.Spec.Strategy.Canary.TrafficRouting.ALB.IngressNames(); !slices.Equal(got, []string{"web"}) {
		t.Errorf("IngressNames = %v", got)
	}

	bg := &Rollout{Spec: RolloutSpec{Strategy: RolloutStrategy{BlueGreen: &BlueGreenStrategy{ActiveService: "a"}}}}
	unset := bg.ALBVerification()
	if unset != nil || !unset.Enabled(true) || unset.Enabled(false) || unset.Timeout(30*time.Second) != 30*time.Second {
		t.Error("without an alb block the controller defaults apply")
	}
	if bg.StrategyName() != StrategyBlueGreen {
		t.Error("blue-green strategy name wrong")
	}
	var none *ALBTrafficRouting
	if none.IngressNames() != nil {
		t.Error("IngressNames of nil must be nil")
	}
}
