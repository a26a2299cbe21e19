package demo

import (
	"encoding/json"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
	"github.com/albrollouts/albrollouts/internal/sim/localalb"
)

// Names of what the demo deploys.
const (
	Namespace = "demo"
	// CanaryApp is the canary Rollout (and its Ingress); the abort scenario
	// updates it too.
	CanaryApp = "demo"
	// BlueGreenApp is the blue-green Rollout (and its Ingress).
	BlueGreenApp = "demo-bluegreen"
	// readinessPath is what the pods' readiness probe asks. It keeps answering
	// when HEALTH_FAIL breaks the ALB health check (demoapp.HealthPath), which
	// is how the broken version passes readiness and fails the ALB.
	readinessPath = "/"
	replicas      = 2
)

// appSpec is what differs between the demo's versions of the app.
type appSpec struct {
	version    string
	healthFail bool
	// errorRate, when set, is the app's ERROR_RATE: the share of requests
	// it answers with 500 while passing every health check.
	errorRate string
	// analysis adds the step analysis (alb-canary-health) after the
	// canary's first setWeight.
	analysis bool
	// probeHealth makes the readiness probe ask the app's /healthz, as the
	// ALB health check does, instead of / (which ERROR_RATE would fail:
	// the pods would leave their Service and target group).
	probeHealth bool
	// timeout, when set, becomes the rollout's timeoutSeconds with this
	// version.
	timeout time.Duration
}

func image(version string) string { return demoapp.ImageRepository + ":" + version }

// podTemplate is the demo app at a version: readiness on /, the app's
// /healthz for the ALB.
func podTemplate(app string, s appSpec) corev1.PodTemplateSpec {
	probe := readinessPath
	if s.probeHealth {
		probe = demoapp.HealthPath
	}
	c := corev1.Container{
		Name:  "app",
		Image: image(s.version),
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: probe, Port: intstr.FromString("http")}},
			PeriodSeconds:    1,
			FailureThreshold: 2,
		},
	}
	if s.healthFail {
		c.Env = append(c.Env, corev1.EnvVar{Name: demoapp.EnvHealthFail, Value: "true"})
	}
	if s.errorRate != "" {
		c.Env = append(c.Env, corev1.EnvVar{Name: demoapp.EnvErrorRate, Value: s.errorRate})
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To(int64(10)),
			Containers:                    []corev1.Container{c},
		},
	}
}

func service(name, app string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
}

// ingress routes / to the root service's forward action, which the rollout
// writes. The health check is the app's /healthz: 5 s interval (scaled by the
// environment's time scale), 2 passes to become healthy.
func ingress(name, rootService string) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: name, Annotations: map[string]string{
			localalb.AnnotationHCPath:         demoapp.HealthPath,
			localalb.AnnotationHCInterval:     "5",
			localalb.AnnotationHCTimeout:      "2",
			localalb.AnnotationHealthyCount:   "2",
			localalb.AnnotationUnhealthyCount: "2",
			localalb.AnnotationTGAttrs:        "deregistration_delay.timeout_seconds=20",
		}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("alb"),
			Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{
					Path:     "/",
					PathType: ptr.To(networkingv1.PathTypePrefix),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: rootService, Port: networkingv1.ServiceBackendPort{Name: albannotation.UseAnnotation},
					}},
				}},
			}}}},
		},
	}
}

// pauseValue is a pause step's duration as the Rollout spec takes it.
func pauseValue(d time.Duration) *intstr.IntOrString {
	return ptr.To(intstr.FromString(d.String()))
}

// canaryWeights are the setWeight steps of the canary; 100 follows them.
var canaryWeights = []int32{10, 25, 50}

// analysisTemplate is the ClusterAnalysisTemplate of the analysis
// scenario: the one albrollouts ships (config/analysis), which the local
// environment installs, reading the ALB's CloudWatch metrics from elbsim.
const analysisTemplate = "alb-canary-health"

// analysisArgs are its timing for the demo: a measurement of the last 15 s
// in 5 s data points (elbsim publishes high-resolution periods), the first
// 2 s after the step starts, then every 3 s, 3 in all.
var analysisArgs = [][2]string{{"initial-delay", "2s"}, {"interval", "3s"}, {"count", "3"}, {"lookback", "15s"}, {"period", "5"}}

// analysisStep is the canary step that runs alb-canary-health on the
// canary's target group (status.alb, as Argo Rollouts writes it).
func analysisStep() v1alpha1.CanaryStep {
	a := v1alpha1.RolloutAnalysis{
		Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: analysisTemplate, ClusterScope: ptr.To(true)}},
		Args: []v1alpha1.AnalysisRunArgument{
			{Name: "load-balancer", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "status.alb.loadBalancer.fullName"}}},
			{Name: "canary-target-group", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "status.alb.canaryTargetGroup.fullName"}}},
		},
	}
	for _, kv := range analysisArgs {
		a.Args = append(a.Args, v1alpha1.AnalysisRunArgument{Name: kv[0], Value: kv[1]})
	}
	raw, err := json.Marshal(a)
	if err != nil {
		panic(err) // a fixed value
	}
	return v1alpha1.CanaryStep{Analysis: &runtime.RawExtension{Raw: raw}}
}

// canarySteps are the canary's steps: setWeight 10 → 25 → 50 with pauses,
// and with analysis the step analysis right after setWeight 10.
func canarySteps(pause time.Duration, analysis bool) []v1alpha1.CanaryStep {
	var steps []v1alpha1.CanaryStep
	for i, w := range canaryWeights {
		steps = append(steps, v1alpha1.CanaryStep{SetWeight: ptr.To(w)})
		if i == 0 && analysis {
			steps = append(steps, analysisStep())
		}
		steps = append(steps, v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: pauseValue(pause)}})
	}
	return steps
}

// canaryObjects are the Services, the Ingress and the canary Rollout at
// version s: steps 10 → 25 → 50 with pauses, then 100; every shift verified
// within timeout.
func canaryObjects(s appSpec, pause, timeout time.Duration) []client.Object {
	stable, canary, root := CanaryApp+"-stable", CanaryApp+"-canary", CanaryApp+"-root"
	steps := canarySteps(pause, s.analysis)
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: CanaryApp},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To(int32(replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": CanaryApp}},
			Template: podTemplate(CanaryApp, s),
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				CanaryService:              canary,
				StableService:              stable,
				Steps:                      steps,
				ScaleDownDelaySeconds:      ptr.To(int32(3)),
				AbortScaleDownDelaySeconds: ptr.To(int32(3)),
				TrafficRouting: &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{
					Ingress:     CanaryApp,
					RootService: root,
					ServicePort: 80,
					ALBVerification: v1alpha1.ALBVerification{
						VerifyTargetGroup: ptr.To(true),
						TimeoutSeconds:    ptr.To(int32(timeout / time.Second)),
					},
				}},
			}},
		},
	}
	return []client.Object{service(stable, CanaryApp), service(canary, CanaryApp), service(root, CanaryApp), ingress(CanaryApp, root), ro}
}

// blueGreenObjects are the Services, the Ingress and the blue-green Rollout
// whose switch is made in the ALB (the forward action of the root service),
// verified within timeout.
func blueGreenObjects(s appSpec, timeout time.Duration) []client.Object {
	active, preview, root := BlueGreenApp+"-active", BlueGreenApp+"-preview", BlueGreenApp+"-root"
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: BlueGreenApp},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To(int32(replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": BlueGreenApp}},
			Template: podTemplate(BlueGreenApp, s),
			Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
				ActiveService:              active,
				PreviewService:             preview,
				AutoPromotionEnabled:       ptr.To(true),
				ScaleDownDelaySeconds:      ptr.To(int32(3)),
				AbortScaleDownDelaySeconds: ptr.To(int32(3)),
				ALB: &v1alpha1.BlueGreenALB{
					Ingress:     BlueGreenApp,
					RootService: root,
					ServicePort: 80,
					ALBVerification: v1alpha1.ALBVerification{
						VerifyTargetGroup: ptr.To(true),
						TimeoutSeconds:    ptr.To(int32(timeout / time.Second)),
					},
				},
			}},
		},
	}
	return []client.Object{service(active, BlueGreenApp), service(preview, BlueGreenApp), service(root, BlueGreenApp), ingress(BlueGreenApp, root), ro}
}
