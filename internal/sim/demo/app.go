package demo

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	// timeout, when set, becomes the rollout's timeoutSeconds with this
	// version.
	timeout time.Duration
}

func image(version string) string { return demoapp.ImageRepository + ":" + version }

// podTemplate is the demo app at a version: readiness on /, the app's
// /healthz for the ALB.
func podTemplate(app string, s appSpec) corev1.PodTemplateSpec {
	c := corev1.Container{
		Name:  "app",
		Image: image(s.version),
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: readinessPath, Port: intstr.FromString("http")}},
			PeriodSeconds:    1,
			FailureThreshold: 2,
		},
	}
	if s.healthFail {
		c.Env = []corev1.EnvVar{{Name: demoapp.EnvHealthFail, Value: "true"}}
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

// canaryObjects are the Services, the Ingress and the canary Rollout at
// version s: steps 10 → 25 → 50 with pauses, then 100; every shift verified
// within timeout.
func canaryObjects(s appSpec, pause, timeout time.Duration) []client.Object {
	stable, canary, root := CanaryApp+"-stable", CanaryApp+"-canary", CanaryApp+"-root"
	var steps []v1alpha1.CanaryStep
	for _, w := range canaryWeights {
		steps = append(steps, v1alpha1.CanaryStep{SetWeight: ptr.To(w)}, v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: pauseValue(pause)}})
	}
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
