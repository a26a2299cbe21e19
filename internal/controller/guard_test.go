package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// The guard's decisions on observed-state fixtures: a canary rollout "web"
// (4 replicas, stable v1, canary v2, retired v0), its Services web-stable,
// web-canary and web-root, and the Ingress web whose action carries the
// weights; or a blue-green one in selector mode.

// guardFixture is the observed state of one pass.
type guardFixture struct {
	ro  *v1alpha1.Rollout
	obs *observed
	st  v1alpha1.RolloutStatus
	ip  int
}

func newCanaryFixture() *guardFixture {
	f := &guardFixture{obs: &observed{services: map[string]*corev1.Service{}, ingresses: map[string]*networkingv1.Ingress{}, plainBackends: map[string]bool{}}}
	f.ro = &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: types.UID("rollout-uid")},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To(int32(4)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "demo",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}}},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				CanaryService: "web-canary", StableService: "web-stable",
				Steps: []v1alpha1.CanaryStep{weightStep(50), pauseStep("")},
				TrafficRouting: &v1alpha1.RolloutTrafficRouting{
					ALB:           &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80, RootService: "web-root"},
					ManagedRoutes: []v1alpha1.ManagedRoute{{Name: "hdr"}},
				},
			}},
		},
	}
	f.st.StableRS = "v1"
	f.st.CurrentStepIndex = ptr.To(int32(1))
	f.rs("v0", 1)
	f.rs("v1", 4)
	f.rs("v2", 2)
	f.svc("web-stable", "v1")
	f.svc("web-canary", "v2")
	f.svc("web-root", "")
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", Annotations: map[string]string{}}}
	f.obs.ingresses["web"] = ing
	return f
}

func newBlueGreenSelectorFixture() *guardFixture {
	f := newCanaryFixture()
	f.ro.Spec.Strategy = v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "web-active", PreviewService: "web-preview"}}
	delete(f.obs.services, "web-stable")
	delete(f.obs.services, "web-canary")
	f.svc("web-active", "v1")
	f.svc("web-preview", "v2")
	f.obs.plainBackends["web-active"] = true
	f.obs.plainBackends["web-preview"] = true
	return f
}

// rs adds a ReplicaSet of n available pods, all ready.
func (f *guardFixture) rs(hash string, n int32) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web-" + hash, Labels: map[string]string{replicaset.HashLabel: hash}},
		Spec:   appsv1.ReplicaSetSpec{Replicas: ptr.To(n), Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", replicaset.HashLabel: hash}}}},
		Status: appsv1.ReplicaSetStatus{Replicas: n, ReadyReplicas: n, AvailableReplicas: n}}
	f.obs.rss = append(f.obs.rss, rs)
	for i := int32(0); i < n; i++ {
		f.ip++
		f.obs.pods = append(f.obs.pods, corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("web-%s-%d", hash, i), Labels: map[string]string{"app": "web", replicaset.HashLabel: hash}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
			Status: corev1.PodStatus{PodIP: fmt.Sprintf("10.0.0.%d", f.ip),
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		})
	}
	return rs
}

// svc adds a Service selecting hash ("" = every pod of the rollout).
func (f *guardFixture) svc(name, hash string) {
	sel := map[string]string{"app": "web"}
	if hash != "" {
		sel[replicaset.HashLabel] = hash
	}
	f.obs.services[name] = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}}}}
}

// action writes the canary and stable weights on the Ingress.
func (f *guardFixture) action(canary, stable int32) {
	f.obs.ingresses["web"].Annotations[albannotation.ActionKey("", "web-root")] = forward(map[string]int32{"web-canary": canary, "web-stable": stable})
}

// route writes the header route hdr forwarding to the canary.
func (f *guardFixture) route() {
	ing := f.obs.ingresses["web"]
	ing.Annotations[albannotation.ActionKey("", "hdr")] = forward(map[string]int32{"web-canary": 100})
	ing.Annotations[albannotation.ConditionsKey("", "hdr")] = `[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"x-canary","values":["1"]}}]`
}

// bound records the traffic bound.
func (f *guardFixture) bound(canary, stable int32, routes ...string) {
	f.st.TrafficBound = &v1alpha1.TrafficBound{Weights: map[string]int32{"web-canary": canary, "web-stable": stable}, RouteServices: routes}
}

// healthChecked records a Verified health-only check of service's current
// targets, as moveWeight runs before raising it.
func (f *guardFixture) healthChecked(service string) {
	c := f.ctx()
	spec := &verifySpec{ingresses: []*networkingv1.Ingress{f.obs.ingresses["web"]}, actionName: "web-root", servicePort: 80}
	for _, s := range []string{"web-canary", "web-stable"} {
		svc := f.obs.services[s]
		spec.add(verify.RoleCanary, svc, svc.Spec.Selector[replicaset.HashLabel], 0, c.obs.podsSelectedBy(svc))
	}
	spec.beforeRaise(service, nil)
	f.st.Verification = &v1alpha1.VerificationStatus{Phase: v1alpha1.VerificationVerified, Kind: v1alpha1.VerificationTargetHealth, Fingerprint: spec.fingerprint()}
}

func forward(w map[string]int32) string {
	var d []albannotation.Destination
	for _, s := range []string{"web-canary", "web-stable", "web-other"} {
		if x, ok := w[s]; ok {
			d = append(d, albannotation.Destination{Service: s, Port: "80", Weight: x})
		}
	}
	v, err := albannotation.Forward(d, nil)
	if err != nil {
		panic(err)
	}
	return v
}

// ctx is the pass over the fixture (verifying unless told otherwise).
func (f *guardFixture) ctx() *rolloutContext {
	r := &Reconciler{opts: Options{VerifyByDefault: true}}
	r.opts.setDefaults()
	c := &rolloutContext{r: r, ro: f.ro, obs: f.obs, status: f.st.DeepCopy(), now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), newHash: "v2", mode: modeProgress}
	return c
}

func (f *guardFixture) noVerify() {
	off := ptr.To(false)
	if cs := f.ro.Spec.Strategy.Canary; cs != nil {
		cs.TrafficRouting.ALB.VerifyTargetGroup = off
	}
}

// rsOf returns the fixture's ReplicaSet of hash.
func (f *guardFixture) rsOf(hash string) *appsv1.ReplicaSet {
	return replicaset.FindByHash(f.obs.rss, hash)
}

func selector(hash string) map[string]string {
	sel := map[string]string{"app": "web"}
	if hash != "" {
		sel[replicaset.HashLabel] = hash
	}
	return sel
}

// verdict names the outcome of a check for the tables: "" allowed, else a
// word the refusal's text must contain.
func check(t *testing.T, u *unsafeWrite, want string) {
	t.Helper()
	switch {
	case want == "" && u != nil:
		t.Fatalf("refused, want allowed: %v", u)
	case want != "" && u == nil:
		t.Fatalf("allowed, want refused (%s)", want)
	case want != "" && !strings.Contains(u.Error(), want):
		t.Fatalf("refused for another reason: %v (want %q)", u, want)
	}
}

func TestGuardSelector(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *guardFixture)
		svc   string
		to    string // hash, "" = every pod
		want  string
	}{
		{"no traffic: weight 0 verified", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100) }, "web-canary", "v1", ""},
		{"weight 0 written, 50 not yet verified away", func(f *guardFixture) { f.action(0, 100); f.bound(50, 100) }, "web-canary", "v1", "weight up to 50"},
		{"weight written", func(f *guardFixture) { f.action(20, 80); f.bound(20, 80) }, "web-canary", "v1", "weight up to 20"},
		{"header route written (bug 2)", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100); f.route() }, "web-canary", "v1", "header route"},
		{"header route removed, not yet verified", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100, "web-canary") }, "web-canary", "v1", "header route"},
		{"narrowing under traffic", func(f *guardFixture) { f.svc("web-canary", ""); f.action(50, 50); f.bound(50, 50) }, "web-canary", "v2", ""},
		{"narrowing to no ready pod", func(f *guardFixture) {
			f.svc("web-canary", "")
			f.action(50, 50)
			f.bound(50, 50)
			for i := range f.obs.pods {
				if f.obs.pods[i].Labels[replicaset.HashLabel] == "v2" {
					f.obs.pods[i].Status.Conditions = nil
				}
			}
		}, "web-canary", "v2", "no ready pod"},
		{"retired version under traffic", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100) }, "web-stable", "v0", "retired ReplicaSet web-v0"},
		{"retired version without traffic", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100) }, "web-canary", "v0", ""},
		{"managed by another rollout (bug 5)", func(f *guardFixture) {
			f.action(0, 100)
			f.bound(0, 100)
			f.obs.services["web-canary"].Annotations = map[string]string{ManagedByAnnotation: "other"}
			f.obs.managedElsewhere = map[string]string{"web-canary": "other"}
		}, "web-canary", "v1", "managed by rollout other"},
		{"verifying, nothing recorded: any weight", func(f *guardFixture) { f.action(0, 100) }, "web-canary", "v1", "weight up to 100"},
		{"not verifying: written weights only", func(f *guardFixture) { f.noVerify(); f.action(0, 100); f.bound(50, 100) }, "web-canary", "v1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newCanaryFixture()
			tc.setup(f)
			c := f.ctx()
			check(t, c.vetSelector(c.obs.services[tc.svc], selector(tc.to), "move "+tc.svc), tc.want)
		})
	}
}

func TestGuardSelectorBlueGreenSelectorMode(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *guardFixture)
		svc   string
		to    string
		want  string
	}{
		{"switch to a fully available ReplicaSet", func(f *guardFixture) {}, "web-active", "v2", ""},
		{"switch to a ReplicaSet not fully available", func(f *guardFixture) { f.rsOf("v2").Status.AvailableReplicas = 1 }, "web-active", "v2", "not fully available"},
		{"widen while a retired version has pods (bug 4)", func(f *guardFixture) {}, "web-active", "", "retired ReplicaSet web-v0"},
		{"widen once the retired version is gone", func(f *guardFixture) {
			f.obs.pods = slicesDeleteFunc(f.obs.pods, func(p corev1.Pod) bool { return p.Labels[replicaset.HashLabel] == "v0" })
		}, "web-active", "", ""},
		{"narrow from widened", func(f *guardFixture) {
			f.svc("web-active", "")
			f.obs.pods = slicesDeleteFunc(f.obs.pods, func(p corev1.Pod) bool { return p.Labels[replicaset.HashLabel] == "v0" })
		}, "web-active", "v2", ""},
		{"preview is test traffic", func(f *guardFixture) { f.rsOf("v2").Status.AvailableReplicas = 0 }, "web-preview", "v1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newBlueGreenSelectorFixture()
			tc.setup(f)
			c := f.ctx()
			check(t, c.vetSelector(c.obs.services[tc.svc], selector(tc.to), "move "+tc.svc), tc.want)
		})
	}
}

func slicesDeleteFunc(pods []corev1.Pod, del func(corev1.Pod) bool) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if !del(p) {
			out = append(out, p)
		}
	}
	return out
}

func TestGuardIngress(t *testing.T) {
	key := albannotation.ActionKey("", "web-root")
	cases := []struct {
		name  string
		setup func(f *guardFixture)
		write func(n *networkingv1.Ingress)
		want  string
	}{
		{"raise after a health check of the group", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100); f.healthChecked("web-canary") },
			func(n *networkingv1.Ingress) {
				n.Annotations[key] = forward(map[string]int32{"web-canary": 20, "web-stable": 80})
			}, ""},
		{"raise without a health check", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100) },
			func(n *networkingv1.Ingress) {
				n.Annotations[key] = forward(map[string]int32{"web-canary": 20, "web-stable": 80})
			}, "before a check found"},
		{"raise after a health check of other targets", func(f *guardFixture) {
			f.action(0, 100)
			f.bound(0, 100)
			f.healthChecked("web-canary")
			f.rs("v2", 1) // one more canary pod since the check
		}, func(n *networkingv1.Ingress) {
			n.Annotations[key] = forward(map[string]int32{"web-canary": 20, "web-stable": 80})
		}, "before a check found"},
		{"raise to a group with no ready pod", func(f *guardFixture) {
			f.action(0, 100)
			f.bound(0, 100)
			f.svc("web-canary", "v3")
		}, func(n *networkingv1.Ingress) {
			n.Annotations[key] = forward(map[string]int32{"web-canary": 20, "web-stable": 80})
		}, "no ready pod"},
		{"lowering the canary raises the stable", func(f *guardFixture) { f.action(50, 50); f.bound(50, 50) },
			func(n *networkingv1.Ingress) {
				n.Annotations[key] = forward(map[string]int32{"web-canary": 10, "web-stable": 90})
			}, "service ns/web-stable"},
		{"lowering the canary after a check of the stable", func(f *guardFixture) { f.action(50, 50); f.bound(50, 50); f.healthChecked("web-stable") },
			func(n *networkingv1.Ingress) {
				n.Annotations[key] = forward(map[string]int32{"web-canary": 10, "web-stable": 90})
			}, ""},
		// The bound is the most a Service may get; a raise counts from the
		// least (what an Ingress carries now): the load balancer may apply
		// it, or may have (a hand edit, seed 1122 of the simulation).
		{"raising within the bound needs a check", func(f *guardFixture) { f.action(50, 50); f.bound(50, 100) },
			func(n *networkingv1.Ingress) {
				n.Annotations[key] = forward(map[string]int32{"web-canary": 10, "web-stable": 90})
			}, "service ns/web-stable"},
		{"back to a weight not yet verified away needs a check", func(f *guardFixture) { f.action(100, 0); f.bound(100, 100) },
			func(n *networkingv1.Ingress) {
				n.Annotations[key] = forward(map[string]int32{"web-canary": 0, "web-stable": 100})
			}, "service ns/web-stable"},
		{"back to a weight not yet verified away, checked", func(f *guardFixture) { f.action(100, 0); f.bound(100, 100); f.healthChecked("web-stable") },
			func(n *networkingv1.Ingress) {
				n.Annotations[key] = forward(map[string]int32{"web-canary": 0, "web-stable": 100})
			}, ""},
		{"weights that do not add up (bug 8)", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100) },
			func(n *networkingv1.Ingress) {
				n.Annotations[key] = forward(map[string]int32{"web-canary": 0, "web-stable": 90})
			}, "summing to 100"},
		{"another service", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100) },
			func(n *networkingv1.Ingress) {
				n.Annotations[key] = forward(map[string]int32{"web-other": 0, "web-stable": 100})
			}, "exactly services"},
		{"first write", func(f *guardFixture) {},
			func(n *networkingv1.Ingress) {
				n.Annotations[key] = forward(map[string]int32{"web-canary": 0, "web-stable": 100})
			}, ""},
		{"header route after a health check", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100); f.healthChecked("web-canary") },
			func(n *networkingv1.Ingress) {
				g := &guardFixture{obs: &observed{ingresses: map[string]*networkingv1.Ingress{"web": n}}}
				g.route()
			}, ""},
		{"header route without a health check", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100) },
			func(n *networkingv1.Ingress) {
				g := &guardFixture{obs: &observed{ingresses: map[string]*networkingv1.Ingress{"web": n}}}
				g.route()
			}, "header route hdr"},
		{"removing a header route", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100, "web-canary"); f.route() },
			func(n *networkingv1.Ingress) {
				delete(n.Annotations, albannotation.ActionKey("", "hdr"))
				delete(n.Annotations, albannotation.ConditionsKey("", "hdr"))
			}, ""},
		{"not verifying: ready pods suffice", func(f *guardFixture) { f.noVerify(); f.action(0, 100) },
			func(n *networkingv1.Ingress) {
				n.Annotations[key] = forward(map[string]int32{"web-canary": 20, "web-stable": 80})
			}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newCanaryFixture()
			tc.setup(f)
			c := f.ctx()
			old := c.obs.ingresses["web"]
			n := old.DeepCopy()
			tc.write(n)
			check(t, c.vetIngress(old, n), tc.want)
		})
	}
}

func TestGuardScale(t *testing.T) {
	cases := []struct {
		name  string
		setup func(f *guardFixture)
		hash  string
		to    int32
		want  string
	}{
		{"canary share of a verified weight", func(f *guardFixture) { f.action(10, 90); f.bound(10, 90) }, "v2", 1, ""},
		{"below the share of a verified weight", func(f *guardFixture) { f.action(50, 50); f.bound(50, 50) }, "v2", 1, "needs 2 pods"},
		{"lower weight written, not yet verified (bug 10)", func(f *guardFixture) { f.action(10, 90); f.bound(50, 90) }, "v2", 1, "needs 2 pods"},
		{"setCanaryScale sizes the canary", func(f *guardFixture) {
			f.ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: ptr.To(int32(1))}}, weightStep(50), pauseStep("")}
			f.st.CurrentStepIndex = ptr.To(int32(2))
			f.action(50, 50)
			f.bound(50, 50)
		}, "v2", 1, ""},
		{"a header route needs a pod", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100); f.route() }, "v2", 0, "needs 1 pods"},
		{"no traffic, no Service", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100); f.svc("web-canary", "v1") }, "v2", 0, ""},
		{"stable share (dynamicStableScale)", func(f *guardFixture) { f.action(50, 50); f.bound(50, 50) }, "v1", 2, ""},
		{"stable below its share", func(f *guardFixture) { f.action(50, 50); f.bound(50, 50) }, "v1", 1, "needs 2 pods"},
		{"another ReplicaSet keeps the Service served", func(f *guardFixture) {
			f.svc("web-canary", "")
			f.action(50, 50)
			f.bound(50, 50)
		}, "v2", 0, ""},
		{"scale up is free", func(f *guardFixture) { f.action(100, 0) }, "v2", 3, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newCanaryFixture()
			tc.setup(f)
			c := f.ctx()
			check(t, c.vetScale(f.rsOf(tc.hash), tc.to), tc.want)
		})
	}
}

func TestGuardEviction(t *testing.T) {
	cases := []struct {
		name   string
		setup  func(f *guardFixture)
		canary int32 // pods of v2
		want   string
	}{
		{"last ready pod of a weighted canary (bug 9)", func(f *guardFixture) { f.action(25, 75); f.bound(25, 75) }, 1, "last ready pod"},
		{"another ready pod stays", func(f *guardFixture) { f.action(25, 75); f.bound(25, 75) }, 2, ""},
		{"weight 0 verified", func(f *guardFixture) { f.action(0, 100); f.bound(0, 100) }, 1, ""},
		{"weight 0 written, not yet verified", func(f *guardFixture) { f.action(0, 100); f.bound(25, 100) }, 1, "last ready pod"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newCanaryFixture()
			f.obs.pods = slicesDeleteFunc(f.obs.pods, func(p corev1.Pod) bool { return p.Labels[replicaset.HashLabel] == "v2" })
			f.obs.rss = f.obs.rss[:2]
			f.rs("v2", tc.canary)
			tc.setup(f)
			c := f.ctx()
			pod := c.obs.podsOf("v2")[0]
			check(t, c.vetEviction(&pod), tc.want)
		})
	}
}

func TestGuardBound(t *testing.T) {
	f := newCanaryFixture()
	f.action(50, 50)
	f.bound(50, 50)
	c := f.ctx()
	// A write of 10 then of 0, neither verified: the bound keeps 50.
	n := c.obs.ingresses["web"].DeepCopy()
	n.Annotations[albannotation.ActionKey("", "web-root")] = forward(map[string]int32{"web-canary": 10, "web-stable": 90})
	c.growBound(n)
	route := &guardFixture{obs: &observed{ingresses: map[string]*networkingv1.Ingress{"web": n}}}
	route.route()
	c.growBound(n)
	if b := c.status.TrafficBound; b.Weights["web-canary"] != 50 || b.Weights["web-stable"] != 90 || len(b.RouteServices) != 1 {
		t.Fatalf("bound after writes %+v", b)
	}
	// A check that verifies 0/100 without routes resets it.
	spec := &verifySpec{actionName: "web-root", servicePort: 80}
	spec.add(verify.RoleCanary, c.obs.services["web-canary"], "v2", 0, nil)
	spec.add(verify.RoleStable, c.obs.services["web-stable"], "v1", 100, nil)
	spec.routes = append(spec.routes, routeSpec{name: "hdr", removed: true})
	c.boundVerified(spec, &v1alpha1.VerificationStatus{Phase: v1alpha1.VerificationVerified})
	if b := c.status.TrafficBound; b.Weights["web-canary"] != 0 || b.Weights["web-stable"] != 100 || len(b.RouteServices) != 0 {
		t.Fatalf("bound after verification %+v", b)
	}
	// A health-only check verifies no weight.
	c.status.TrafficBound = &v1alpha1.TrafficBound{Weights: map[string]int32{"web-canary": 50}}
	spec.healthOnly = true
	c.boundVerified(spec, &v1alpha1.VerificationStatus{Phase: v1alpha1.VerificationVerified})
	if c.status.TrafficBound.Weights["web-canary"] != 50 {
		t.Fatalf("a health-only check reset the bound: %+v", c.status.TrafficBound)
	}
}

// ----- the guard in the simulator -----

// passContext observes the simulated cluster as a pass does, for calling a
// chokepoint directly (a deliberately wrong decision).
func (s *sim) passContext() *rolloutContext {
	s.t.Helper()
	ro := s.rollout()
	obs, err := s.r.observe(context.Background(), ro)
	s.must(err)
	c := newRolloutContext(s.r, ro, obs)
	c.newHash = ro.Status.CurrentPodHash
	c.mode = c.canaryMode()
	return c
}

// A canary at 50 %, paused, and three wrong decisions made at the
// chokepoints: point the canary Service at the stable pods while its group
// has weight 50, scale the canary to zero under that weight, give the canary
// all of the traffic without a health check of its targets. The guard
// refuses all three with an event, nothing changes in the cluster, and the
// rollout goes on.
func TestGuardRefusesWrongDecisionsAtTheChokepoints(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(50), pauseStep(""))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	ro := s.run(80, "paused at 50%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	v2 := ro.Status.CurrentPodHash
	eventsText(s)
	ctx := context.Background()

	c := s.passContext()
	err := c.switchService(ctx, c.obs.services["web-canary"], v1, "canary")
	if !errors.Is(err, errUnsafeWrite) || s.selectorOf("web-canary") != v2 {
		t.Fatalf("moving the canary Service under weight 50: err %v, selector %s", err, s.selectorOf("web-canary"))
	}
	c = s.passContext()
	s.must(c.scale(ctx, replicaset.FindByHash(c.obs.rss, v2), 0))
	if got := s.replicasOf(v2); got != 2 {
		t.Fatalf("the canary under weight 50 was scaled to %d", got)
	}
	c = s.passContext()
	ing := c.obs.ingresses["web"]
	err = c.patchIngress(ctx, ing, func(n *networkingv1.Ingress) error {
		n.Annotations[albannotation.ActionKey("", "web-root")] = forward(map[string]int32{"web-canary": 100, "web-stable": 0})
		return nil
	})
	if !errors.Is(err, errUnsafeWrite) {
		t.Fatalf("raising the canary to 100 without a health check: err %v", err)
	}
	ev := eventsText(s)
	if n := strings.Count(ev, v1alpha1.ReasonUnsafeWriteRefused); n != 3 {
		t.Fatalf("%d refusal events, want 3:\n%s", n, ev)
	}
	for _, want := range []string{"point canary service web-canary at pods " + v1, "scale ReplicaSet web-" + v2 + " from 2 to 0", "write the action"} {
		if !strings.Contains(ev, want) {
			t.Fatalf("no refusal event says %q:\n%s", want, ev)
		}
	}
	for i := 0; i < 5; i++ {
		s.step()
	}
	if s.albWeights["web-canary"] != 50 {
		t.Fatalf("ALB %v after the refused writes", s.albWeights)
	}
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS == v2 })
}

// Issue 16, bug 10: from 50 % to 10 %, the canary kept its two pods until the
// ALB was verified to send 10 % (the load balancer lags three passes).
func TestGuardKeepsTheCanaryUntilItsLowerWeightIsVerified(t *testing.T) {
	s := newSim(t)
	s.lbLag = 3
	s.canaryRollout(4, weightStep(50), pauseStep("5s"), weightStep(10), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(200, "paused at 10%", func(ro *v1alpha1.Rollout) bool {
		if v2 := ro.Status.CurrentPodHash; s.albWeights["web-canary"] >= 50 {
			s.keepsReplicas(v2, 2, "while the ALB sends the canary 50%")
		}
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && ptr.Deref(ro.Status.CurrentStepIndex, 0) == 3
	})
	if got := s.replicasOf(s.rollout().Status.CurrentPodHash); got != 1 {
		t.Fatalf("canary at 10%% has %d replicas, want 1", got)
	}
}

// Issue 16, bug 9: restartAt while the canary (one pod of four, 25 %) gets
// traffic: its only pod is not evicted (the stable pods are), until the
// promotion takes the traffic off it; then the restart completes.
func TestGuardNeverEvictsTheLastPodOfAWeightedGroup(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	s.healthLag = 2
	setImage(s, "v2")
	ro := s.run(80, "paused at 25%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	v2 := ro.Status.CurrentPodHash
	canaryPod := ""
	for _, p := range s.pods() {
		if p.Labels[replicaset.HashLabel] == v2 {
			canaryPod = p.Name
		}
	}
	at := metav1.NewTime(s.now.Add(time.Second).Truncate(time.Second))
	s.now = s.now.Add(time.Second)
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.RestartAt = &at })
	// The canary pod may go only once a second canary pod is healthy in the
	// canary group (restartSurge); the group never lacks a healthy target.
	for i := 0; i < 40; i++ {
		s.step()
		healthy := 0
		for ip := range s.registered["web-canary"] {
			if s.healthyIn("web-canary", ip) {
				healthy++
			}
		}
		if healthy == 0 {
			t.Fatalf("pass %d: the canary group has no healthy target while it gets weight %d (pod %s was the only one)", s.passes, s.albWeights["web-canary"], canaryPod)
		}
	}
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(200, "promoted and restarted", func(ro *v1alpha1.Rollout) bool {
		return isHealthy(ro) && ro.Status.StableRS == v2 && ro.Status.RestartedAt != nil && !ro.Status.RestartedAt.Before(&at)
	})
}

// Issue 16, bug 2: a header route forwards to the canary group; an abort
// would re-point the canary Service at the stable pods while the route is in
// place (the state machine looks at the canary weight only). The guard
// refuses the selector move for as long as the route forwards there.
func TestGuardKeepsARoutedCanaryServiceInPlace(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4,
		v1alpha1.CanaryStep{SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: ptr.To(int32(1))}},
		v1alpha1.CanaryStep{SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "hdr", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "x-canary", HeaderValue: &v1alpha1.StringMatch{Exact: "1"}}}}},
		pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.TrafficRouting.ManagedRoutes = []v1alpha1.ManagedRoute{{Name: "hdr"}}
	})
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	ro := s.run(80, "paused with the header route", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	v2 := ro.Status.CurrentPodHash
	routed := func() bool {
		var ing networkingv1.Ingress
		s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "web"}, &ing))
		return ing.Annotations[albannotation.ActionKey("", "hdr")] != ""
	}
	if !routed() || s.selectorOf("web-canary") != v2 {
		t.Fatalf("at the pause: route %v, canary selector %s", routed(), s.selectorOf("web-canary"))
	}
	eventsText(s)
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	for i := 0; i < 40; i++ {
		s.step()
		if routed() && s.selectorOf("web-canary") != v2 {
			t.Fatalf("pass %d: the canary Service moved to %s while the header route forwards to it", s.passes, s.selectorOf("web-canary"))
		}
	}
	if routed() {
		if ev := eventsText(s); !strings.Contains(ev, v1alpha1.ReasonUnsafeWriteRefused) || !strings.Contains(ev, "header route") {
			t.Fatalf("the route stays and no refusal says why:\n%s", ev)
		}
	}
}

// An action written over an unverified one (A -> B -> A) is not counted
// verified (and B stays in the bound) when A is seen applied right away,
// only once a check whose reads were sent supersededSettle later sees A: the load balancer controller may
// still be applying B. (Found by the randomized simulation, seed 48.)
func TestGuardBoundSettlesASupersededWrite(t *testing.T) {
	f := newCanaryFixture()
	f.action(0, 100)
	f.bound(0, 100)
	c := f.ctx()
	now := c.now
	c.r.opts.Now = func() time.Time { return now }
	write := func(canary int32) {
		n := c.obs.ingresses["web"].DeepCopy()
		n.Annotations[albannotation.ActionKey("", "web-root")] = forward(map[string]int32{"web-canary": canary, "web-stable": 100 - canary})
		c.growBound(n)
		c.notePending(n)
	}
	write(100) // B, never verified
	write(0)   // A
	spec := &verifySpec{actionName: "web-root", servicePort: 80}
	spec.add(verify.RoleCanary, c.obs.services["web-canary"], "v2", 0, nil)
	spec.add(verify.RoleStable, c.obs.services["web-stable"], "v1", 100, nil)
	early := &v1alpha1.VerificationStatus{Phase: v1alpha1.VerificationPending, DesiredAt: ptr.To(metav1.NewMicroTime(now))}
	if !c.unsettled(spec, early) {
		t.Fatal("A seen applied right after B counts as verified")
	}
	b := c.status.TrafficBound
	if b.Weights["web-canary"] != 100 || b.SettleAt == nil {
		t.Fatalf("A verified right after B: the bound dropped B (%+v)", b)
	}
	if u := c.vetSelector(c.obs.services["web-canary"], selector("v3"), "move web-canary"); u == nil {
		t.Fatal("the canary Service may move while B may still land")
	}
	if c.settling(early, spec) {
		t.Fatal("a re-check is asked for before the settle time")
	}
	now = now.Add(supersededSettle)
	c.now = now
	if !c.settling(early, spec) {
		t.Fatal("no re-check at the settle time: the reads of the first check predate it")
	}
	late := &v1alpha1.VerificationStatus{Phase: v1alpha1.VerificationPending, DesiredAt: ptr.To(metav1.NewMicroTime(now))}
	if c.unsettled(spec, late) {
		t.Fatal("A seen applied by reads sent after the settle time does not count")
	}
	c.boundVerified(spec, late)
	if b := c.status.TrafficBound; b.Weights["web-canary"] != 0 || b.Superseded {
		t.Fatalf("A verified after the settle time: the bound still holds B (%+v)", b)
	}
}
