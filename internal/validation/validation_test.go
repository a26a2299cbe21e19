package validation

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func ptr[T any](v T) *T { return &v }

// base returns a valid rollout without a strategy.
func base() *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: "default"},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "demo"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "demo"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "demo", Image: "albrollouts/demo:v1"}}},
			},
		},
	}
}

// canaryALB is a valid canary rollout with ALB traffic routing.
func canaryALB() *v1alpha1.Rollout {
	r := base()
	r.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{
		CanaryService: "demo-canary",
		StableService: "demo-stable",
		TrafficRouting: &v1alpha1.RolloutTrafficRouting{
			ALB: &v1alpha1.ALBTrafficRouting{
				Ingress:          "demo",
				ServicePort:      80,
				RootService:      "demo-root",
				StickinessConfig: &v1alpha1.StickinessConfig{Enabled: true, DurationSeconds: 3600},
				ALBVerification:  v1alpha1.ALBVerification{VerifyTargetGroup: ptr(true), TimeoutSeconds: ptr(int32(45))},
			},
			ManagedRoutes: []v1alpha1.ManagedRoute{{Name: "header-route"}},
		},
		Steps: []v1alpha1.CanaryStep{
			{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: ptr(int32(1))}},
			{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "header-route", Match: []v1alpha1.HeaderRoutingMatch{
				{HeaderName: "X-Canary", HeaderValue: &v1alpha1.StringMatch{Exact: "yes"}}}}},
			{SetWeight: ptr(int32(20))},
			{Pause: &v1alpha1.RolloutPause{Duration: ptr(intstr.FromString("30s"))}},
			{SetCanaryScale: &v1alpha1.SetCanaryScale{MatchTrafficWeight: true}},
			{SetWeight: ptr(int32(100))},
			{Pause: &v1alpha1.RolloutPause{}},
		},
	}
	return r
}

// blueGreenRollout is a valid blue-green rollout.
func blueGreenRollout() *v1alpha1.Rollout {
	r := base()
	r.Spec.Strategy.BlueGreen = &v1alpha1.BlueGreenStrategy{
		ActiveService:        "demo-active",
		PreviewService:       "demo-preview",
		AutoPromotionEnabled: ptr(false),
		ALB:                  &v1alpha1.BlueGreenALB{ALBVerification: v1alpha1.ALBVerification{TimeoutSeconds: ptr(int32(60))}},
	}
	return r
}

func TestRolloutValid(t *testing.T) {
	cases := map[string]*v1alpha1.Rollout{
		"canary with ALB": canaryALB(),
		"blue-green":      blueGreenRollout(),
		"basic canary without traffic routing": func() *v1alpha1.Rollout {
			r := base()
			r.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
				{SetWeight: ptr(int32(50))}, {Pause: &v1alpha1.RolloutPause{Duration: ptr(intstr.FromInt32(10))}}}}
			return r
		}(),
		"canary with ingresses": func() *v1alpha1.Rollout {
			r := canaryALB()
			r.Spec.Strategy.Canary.TrafficRouting.ALB.Ingress = ""
			r.Spec.Strategy.Canary.TrafficRouting.ALB.Ingresses = []string{"public", "internal"}
			return r
		}(),
		"canary with pingPong": func() *v1alpha1.Rollout {
			r := canaryALB()
			c := r.Spec.Strategy.Canary
			c.CanaryService, c.StableService = "", ""
			c.PingPong = &v1alpha1.PingPongSpec{PingService: "demo-ping", PongService: "demo-pong"}
			return r
		}(),
		"rootService equal to stableService": func() *v1alpha1.Rollout {
			r := canaryALB()
			r.Spec.Strategy.Canary.TrafficRouting.ALB.RootService = "demo-stable"
			return r
		}(),
		"maxSurge 0 with maxUnavailable 1": func() *v1alpha1.Rollout {
			r := canaryALB()
			r.Spec.Strategy.Canary.MaxSurge = ptr(intstr.FromInt32(0))
			r.Spec.Strategy.Canary.MaxUnavailable = ptr(intstr.FromInt32(1))
			return r
		}(),
		// As written: no template, no selector (both come from the Deployment).
		"workloadRef as written": func() *v1alpha1.Rollout {
			r := blueGreenRollout()
			r.Spec.Template, r.Spec.Selector = corev1.PodTemplateSpec{}, nil
			r.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "demo", ScaleDown: v1alpha1.ScaleDownOnSuccess}
			return r
		}(),
		// As the controller resolves it: the Deployment's template and selector.
		"workloadRef resolved": func() *v1alpha1.Rollout {
			r := blueGreenRollout()
			r.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "demo", ScaleDown: v1alpha1.ScaleDownProgressively}
			r.Spec.TemplateResolvedFromRef = true
			return r
		}(),
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			if errs := Rollout(r); len(errs) > 0 {
				t.Fatalf("valid spec rejected: %v", errs.ToAggregate())
			}
		})
	}
}

func TestRolloutInvalid(t *testing.T) {
	cases := []struct {
		name   string
		from   func() *v1alpha1.Rollout
		mutate func(r *v1alpha1.Rollout)
		path   string // field path of the expected error
		msg    string // substring of that error's message
	}{
		{"no strategy", base, func(r *v1alpha1.Rollout) {},
			"spec.strategy", "set strategy.canary or strategy.blueGreen"},
		{"another router only (the controller would have no traffic to move)", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.TrafficRouting.ALB = nil
			r.Spec.Strategy.Canary.TrafficRouting.Nginx = &runtime.RawExtension{Raw: []byte(`{"stableIngress":"x"}`)}
		}, "spec.strategy.canary.trafficRouting.alb", "only alb traffic routing is supported"},
		{"both strategies", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Strategy.BlueGreen = blueGreenRollout().Spec.Strategy.BlueGreen },
			"spec.strategy", "only one of strategy.canary and strategy.blueGreen"},
		{"negative replicas", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Replicas = ptr(int32(-1)) },
			"spec.replicas", "must be 0 or more"},
		{"missing selector", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Selector = nil },
			"spec.selector", "set a label selector"},
		{"empty selector", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Selector = &metav1.LabelSelector{} },
			"spec.selector", "empty selector would select every pod"},
		{"selector does not match template", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Template.Labels = map[string]string{"app": "other"} },
			"spec.template.metadata.labels", `selector "app=demo" does not match`},
		{"no containers", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Template.Spec.Containers = nil },
			"spec.template.spec.containers", "at least one container"},
		{"workloadRef with template", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "x"}
		}, "spec.template", "template must be empty for workload reference rollout"},
		{"workloadRef to a StatefulSet", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Template = corev1.PodTemplateSpec{}
			r.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "x"}
		}, "spec.workloadRef", `"apps/v1 StatefulSet": supported values: "apps/v1 Deployment"`},
		{"workloadRef without a name", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Template = corev1.PodTemplateSpec{}
			r.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment"}
		}, "spec.workloadRef.name", "name the Deployment"},
		{"workloadRef with an unknown scaleDown", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Template = corev1.PodTemplateSpec{}
			r.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "x", ScaleDown: "onSuccess"}
		}, "spec.workloadRef.scaleDown", `"onSuccess": supported values: "never", "onsuccess", "progressively"`},
		{"resolved workloadRef whose selector misses the template", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "x"}
			r.Spec.TemplateResolvedFromRef = true
			r.Spec.Template.Labels = map[string]string{"app": "other"}
		}, "spec.template.metadata.labels", `does not match the template's labels (the pod template of Deployment "x", spec.workloadRef)`},
		{"progress deadline not above minReadySeconds", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.MinReadySeconds = 30
			r.Spec.ProgressDeadlineSeconds = ptr(int32(30))
		}, "spec.progressDeadlineSeconds", "must be greater than minReadySeconds (30)"},
		{"ALB without canaryService", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Strategy.Canary.CanaryService = "" },
			"spec.strategy.canary.canaryService", "ALB traffic routing needs canaryService and stableService"},
		{"ALB without stableService", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Strategy.Canary.StableService = "" },
			"spec.strategy.canary.stableService", "ALB traffic routing needs canaryService and stableService"},
		{"same canary and stable service", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Strategy.Canary.CanaryService = "demo-stable" },
			"spec.strategy.canary.stableService", "must differ from canaryService"},
		{"invalid service name", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Strategy.Canary.CanaryService = "Demo_Canary" },
			"spec.strategy.canary.canaryService", "not a valid Service name"},
		{"rootService is the canary service", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.TrafficRouting.ALB.RootService = "demo-canary"
		}, "spec.strategy.canary.trafficRouting.alb.rootService", "must not be the canaryService"},
		{"pingPong with canary and stable services", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.PingPong = &v1alpha1.PingPongSpec{PingService: "ping", PongService: "pong"}
		}, "spec.strategy.canary.canaryService", "with pingPong, pingService and pongService take the canary and stable roles"},
		{"pingPong same services", canaryALB, func(r *v1alpha1.Rollout) {
			c := r.Spec.Strategy.Canary
			c.CanaryService, c.StableService = "", ""
			c.PingPong = &v1alpha1.PingPongSpec{PingService: "ping", PongService: "ping"}
		}, "spec.strategy.canary.pingPong.pongService", "must differ from pingService"},
		{"pingPong missing pong", canaryALB, func(r *v1alpha1.Rollout) {
			c := r.Spec.Strategy.Canary
			c.CanaryService, c.StableService = "", ""
			c.PingPong = &v1alpha1.PingPongSpec{PingService: "ping"}
		}, "spec.strategy.canary.pingPong.pongService", "needs both pingService and pongService"},
		{"pingPong without rootService", canaryALB, func(r *v1alpha1.Rollout) {
			c := r.Spec.Strategy.Canary
			c.CanaryService, c.StableService = "", ""
			c.TrafficRouting.ALB.RootService = ""
			c.PingPong = &v1alpha1.PingPongSpec{PingService: "ping", PongService: "pong"}
		}, "spec.strategy.canary.trafficRouting.alb.rootService", "pingPong with ALB needs rootService"},
		{"pingPong without ALB", base, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{PingPong: &v1alpha1.PingPongSpec{PingService: "ping", PongService: "pong"}}
		}, "spec.strategy.canary.trafficRouting.alb", "pingPong works only with trafficRouting.alb"},
		{"trafficRouting without router", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Strategy.Canary.TrafficRouting.ALB = nil },
			"spec.strategy.canary.trafficRouting.alb", "albrollouts supports alb"},
		{"neither ingress nor ingresses", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Strategy.Canary.TrafficRouting.ALB.Ingress = "" },
			"spec.strategy.canary.trafficRouting.alb.ingress", "set ingress (one Ingress) or ingresses (several)"},
		{"both ingress and ingresses", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.TrafficRouting.ALB.Ingresses = []string{"other"}
		}, "spec.strategy.canary.trafficRouting.alb.ingresses", "set only one of ingress and ingresses"},
		{"duplicate ingresses", canaryALB, func(r *v1alpha1.Rollout) {
			a := r.Spec.Strategy.Canary.TrafficRouting.ALB
			a.Ingress, a.Ingresses = "", []string{"a", "a"}
		}, "spec.strategy.canary.trafficRouting.alb.ingresses[1]", "Duplicate value"},
		{"servicePort missing", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Strategy.Canary.TrafficRouting.ALB.ServicePort = 0 },
			"spec.strategy.canary.trafficRouting.alb.servicePort", "must be the Service port (1-65535)"},
		{"timeoutSeconds 0", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.TrafficRouting.ALB.TimeoutSeconds = ptr(int32(0))
		}, "spec.strategy.canary.trafficRouting.alb.timeoutSeconds", "must be between 1 and 3600 seconds"},
		{"timeoutSeconds too long", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.TrafficRouting.ALB.TimeoutSeconds = ptr(int32(3601))
		}, "spec.strategy.canary.trafficRouting.alb.timeoutSeconds", "must be between 1 and 3600 seconds"},
		{"stickiness too long", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.TrafficRouting.ALB.StickinessConfig.DurationSeconds = 604801
		}, "spec.strategy.canary.trafficRouting.alb.stickinessConfig.durationSeconds", "must be between 1 and 604800 seconds"},
		{"weight above 100", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Strategy.Canary.Steps[2].SetWeight = ptr(int32(150)) },
			"spec.strategy.canary.steps[2].setWeight", "must be between 0 and 100"},
		{"empty step", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Strategy.Canary.Steps[2] = v1alpha1.CanaryStep{} },
			"spec.strategy.canary.steps[2]", "a step needs one action"},
		{"two actions in a step", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.Steps[2].Pause = &v1alpha1.RolloutPause{}
		}, "spec.strategy.canary.steps[2]", "a step takes exactly one action"},
		{"bad pause duration", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.Steps[3].Pause.Duration = ptr(intstr.FromString("soon"))
		}, "spec.strategy.canary.steps[3].pause.duration", "must be seconds (e.g. 30) or a duration with a unit"},
		{"negative pause duration", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.Steps[3].Pause.Duration = ptr(intstr.FromInt32(-5))
		}, "spec.strategy.canary.steps[3].pause.duration", "must be 0 or more seconds"},
		{"setCanaryScale with two fields", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.Steps[0].SetCanaryScale.Weight = ptr(int32(10))
		}, "spec.strategy.canary.steps[0].setCanaryScale", "set exactly one of weight, replicas or matchTrafficWeight"},
		{"setCanaryScale empty", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.Steps[0].SetCanaryScale = &v1alpha1.SetCanaryScale{}
		}, "spec.strategy.canary.steps[0].setCanaryScale", "set exactly one of weight, replicas or matchTrafficWeight"},
		{"setCanaryScale without traffic routing", base, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
				{SetCanaryScale: &v1alpha1.SetCanaryScale{Weight: ptr(int32(10))}}}}
		}, "spec.strategy.canary.steps[0].setCanaryScale", "setCanaryScale needs trafficRouting"},
		{"setHeaderRoute without name", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.Steps[1].SetHeaderRoute.Name = ""
		}, "spec.strategy.canary.steps[1].setHeaderRoute.name", "name the route"},
		{"setHeaderRoute not managed", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.Steps[1].SetHeaderRoute.Name = "other"
		}, "spec.strategy.canary.steps[1].setHeaderRoute.name", "not listed in trafficRouting.managedRoutes"},
		{"setHeaderRoute with prefix", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.Steps[1].SetHeaderRoute.Match[0].HeaderValue = &v1alpha1.StringMatch{Prefix: "y"}
		}, "spec.strategy.canary.steps[1].setHeaderRoute.match[0].headerValue", "ALB matches exact header values only"},
		{"setHeaderRoute without header name", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.Steps[1].SetHeaderRoute.Match[0].HeaderName = ""
		}, "spec.strategy.canary.steps[1].setHeaderRoute.match[0].headerName", "name the request header"},
		{"setHeaderRoute without traffic routing", base, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{
				{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "x"}}}}
		}, "spec.strategy.canary.steps[0].setHeaderRoute", "setHeaderRoute needs trafficRouting.alb"},
		{"maxSurge and maxUnavailable both 0", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.MaxSurge = ptr(intstr.FromInt32(0))
			r.Spec.Strategy.Canary.MaxUnavailable = ptr(intstr.FromString("0%"))
		}, "spec.strategy.canary.maxSurge", "cannot both be 0"},
		{"maxUnavailable over 100%", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.MaxUnavailable = ptr(intstr.FromString("150%"))
		}, "spec.strategy.canary.maxUnavailable", "must not exceed 100%"},
		{"maxSurge garbage", canaryALB, func(r *v1alpha1.Rollout) { r.Spec.Strategy.Canary.MaxSurge = ptr(intstr.FromString("lots")) },
			"spec.strategy.canary.maxSurge", "a number of pods or a percentage"},
		{"dynamicStableScale with scaleDownDelaySeconds", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.DynamicStableScale = true
			r.Spec.Strategy.Canary.ScaleDownDelaySeconds = ptr(int32(30))
		}, "spec.strategy.canary.dynamicStableScale", "cannot be combined with scaleDownDelaySeconds"},
		{"dynamicStableScale without traffic routing", base, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{DynamicStableScale: true}
		}, "spec.strategy.canary.dynamicStableScale", "only applies with trafficRouting"},
		{"duplicate managed route", canaryALB, func(r *v1alpha1.Rollout) {
			tr := r.Spec.Strategy.Canary.TrafficRouting
			tr.ManagedRoutes = append(tr.ManagedRoutes, tr.ManagedRoutes[0])
		}, "spec.strategy.canary.trafficRouting.managedRoutes[1].name", "Duplicate value"},
		{"blue-green without activeService", blueGreenRollout, func(r *v1alpha1.Rollout) { r.Spec.Strategy.BlueGreen.ActiveService = "" },
			"spec.strategy.blueGreen.activeService", "name the Service that sends production traffic"},
		{"blue-green preview equals active", blueGreenRollout, func(r *v1alpha1.Rollout) { r.Spec.Strategy.BlueGreen.PreviewService = "demo-active" },
			"spec.strategy.blueGreen.previewService", "must differ from activeService"},
		{"blue-green timeout 0", blueGreenRollout, func(r *v1alpha1.Rollout) { r.Spec.Strategy.BlueGreen.ALB.TimeoutSeconds = ptr(int32(0)) },
			"spec.strategy.blueGreen.alb.timeoutSeconds", "must be between 1 and 3600 seconds"},
		{"blue-green scale-down limit above history", blueGreenRollout, func(r *v1alpha1.Rollout) {
			r.Spec.RevisionHistoryLimit = ptr(int32(2))
			r.Spec.Strategy.BlueGreen.ScaleDownDelayRevisionLimit = ptr(int32(3))
		}, "spec.strategy.blueGreen.scaleDownDelayRevisionLimit", "must not exceed revisionHistoryLimit (2)"},
		{"blue-green negative preview replicas", blueGreenRollout, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.BlueGreen.PreviewReplicaCount = ptr(int32(-1))
		}, "spec.strategy.blueGreen.previewReplicaCount", "must be 0 or more"},
		{"blue-green ALB switch without preview", blueGreenRollout, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.BlueGreen.PreviewService = ""
			r.Spec.Strategy.BlueGreen.ALB.Ingress, r.Spec.Strategy.BlueGreen.ALB.ServicePort = "web", 80
		}, "spec.strategy.blueGreen.previewService", "needs previewService"},
		{"blue-green ALB switch without port", blueGreenRollout, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.BlueGreen.ALB.Ingresses = []string{"a", "b"}
		}, "spec.strategy.blueGreen.alb.servicePort", "must be the port"},
		{"blue-green rootService without ingress", blueGreenRollout, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.BlueGreen.ALB.RootService = "root"
		}, "spec.strategy.blueGreen.alb.rootService", "only applies with ingress or ingresses"},
		{"blue-green ALB root is preview", blueGreenRollout, func(r *v1alpha1.Rollout) {
			a := r.Spec.Strategy.BlueGreen.ALB
			a.Ingress, a.ServicePort, a.RootService = "web", 80, r.Spec.Strategy.BlueGreen.PreviewService
		}, "spec.strategy.blueGreen.alb.rootService", "must not be the previewService"},
		{"maxTrafficWeight above the ALB's", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.TrafficRouting.MaxTrafficWeight = ptr(int32(1000))
		}, "spec.strategy.canary.trafficRouting.maxTrafficWeight", "between 1 and 999"},
		{"setWeight above maxTrafficWeight", canaryALB, func(r *v1alpha1.Rollout) {
			r.Spec.Strategy.Canary.TrafficRouting.MaxTrafficWeight = ptr(int32(10))
		}, "spec.strategy.canary.steps[2].setWeight", "must be between 0 and 10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.from()
			tc.mutate(r)
			errs := Rollout(r)
			if len(errs) == 0 {
				t.Fatalf("invalid spec accepted; want %s: %q", tc.path, tc.msg)
			}
			for _, e := range errs {
				if e.Field == tc.path && strings.Contains(e.Error(), tc.msg) {
					return
				}
			}
			t.Fatalf("want an error at %s containing %q; got:\n%s", tc.path, tc.msg, errs.ToAggregate())
		})
	}
}

func TestPauseDuration(t *testing.T) {
	cases := []struct {
		in   intstr.IntOrString
		want time.Duration
		bad  bool
	}{
		{in: intstr.FromInt32(30), want: 30 * time.Second},
		{in: intstr.FromString("45"), want: 45 * time.Second},
		{in: intstr.FromString("1h"), want: time.Hour},
		{in: intstr.FromString("1m30s"), want: 90 * time.Second},
		{in: intstr.FromString("-1s"), bad: true},
		{in: intstr.FromString("1 hour"), bad: true},
	}
	for _, tc := range cases {
		got, err := PauseDuration(&tc.in)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("PauseDuration(%s) = %v, %v; want %v (error: %v)", tc.in.String(), got, err, tc.want, tc.bad)
		}
	}
}
