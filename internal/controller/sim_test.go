package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/analysis"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// sim is an in-memory cluster for the reconciler: a fake API server, a
// ReplicaSet controller and kubelet that make pods ready at once, a load
// balancer controller that builds a model ALB per Ingress from its paths and
// annotations (late by lbLag passes, see simalb_test.go), and a verifier
// that hands the model ALB to the real engine (verify.Decide). After every
// pass it checks the safety invariants (see checkInvariants).
type sim struct {
	// runPhase is the outcome of the AnalysisRuns by kind (simanalysis_test.go).
	runPhase map[analysis.RunKind]v1alpha1.AnalysisPhase
	runsSeen []string

	t   *testing.T
	c   client.Client
	r   *Reconciler
	v   *simVerifier
	rec *events.FakeRecorder
	now time.Time
	ns  string

	// albs are the model load balancers by Ingress, tgs their target groups
	// by ARN (see simalb_test.go).
	albs map[string]*modelALB
	tgs  map[string]*modelTG
	// albWeights is the weights of the action actionName's rule on the ALB
	// of Ingress web (first listener), and 100 for each service a plain
	// path names: the view the tests read.
	albWeights map[string]int32
	registered map[string]map[string]bool // service → pod IP → registered
	// lbLag: passes before the load balancer controller applies a change
	// (1 unless a test says otherwise); listenerLag adds passes for one
	// listener port. pendingLB are the changes written, not applied yet.
	lbLag       int
	listenerLag map[int32]int
	pendingLB   []lbChange
	// lbStalledUntil: the load balancer controller sees no Ingress change
	// before this pass (lost events until its resync).
	lbStalledUntil int
	// verifyFault, when set, may fail a read with an ELBv2 error kind
	// ("" = no error): AWS errors and throttling.
	verifyFault func(verify.Input) elbv2.Kind
	// targetPorts and images: per pod IP, its target port and image.
	targetPorts map[string]int32
	images      map[string]string
	// unhealthyVersion: pods of this image fail the ALB health check.
	unhealthyVersion string
	// actionName is the service of the Ingress "web" whose action
	// albWeights shows (default web-root).
	actionName string
	// healthLag: passes from a target's registration until it passes the
	// ALB health check (0: at once).
	healthLag int
	regAt     map[string]map[string]int // service → pod IP → pass registered
	// podReadyLag: passes from a pod's creation until it turns ready
	// (0: ready at once), podReadyStagger more for each further pod a
	// ReplicaSet creates in the same pass; podBorn records the pass each
	// pod's lag counts from.
	podReadyLag, podReadyStagger int
	podBorn                      map[string]int
	// albHealthLag: Ingress → passes more before a target passes the
	// health check of that Ingress's load balancer (each ALB checks its own
	// target groups on its own schedule).
	albHealthLag map[string]int
	// failIngress: Ingress → ELBv2 error kind every read of its load
	// balancer fails with (the other load balancers read fine).
	failIngress map[string]elbv2.Kind
	// unhealthyIn: service → version whose pods fail that group's health
	// check only (another health-check path on that Service).
	unhealthyIn map[string]string
	// atomic: clients must never see two versions at once (blue-green in
	// the ALB); maxVersions is the most versions served at once so far.
	atomic      bool
	maxVersions int
	// lenient records broken invariants in violations instead of failing
	// (to show that a strategy breaks them).
	lenient    bool
	violations []string
	// plain are the services Ingress paths name directly, and whether
	// their group ever had a healthy target: the invariant holds for such a
	// group from then on (the load balancer routes a plain path as soon as
	// it exists, before the first pods are healthy).
	plain map[string]bool
	// exempt groups carry no production traffic (a preview path in
	// selector mode): the invariant does not apply to them.
	exempt map[string]bool
	// failVerify makes every read fail with this ELBv2 error kind.
	failVerify string
	// prefix is the annotation prefix the model load balancer controller reads.
	prefix string
	nextIP int
	passes int
	// names are the rollouts reconciled every pass (default web).
	names []string
	// writes counts the controller's writes; failWriteAt makes that one fail
	// (as if the controller died just before it).
	writes      int
	failWriteAt int
	// lastRolloutWrite is the last Rollout (status) the controller wrote;
	// rolloutAtIngressWrite what it had written of it when it last wrote an
	// Ingress (the write-ahead record of the traffic bound).
	lastRolloutWrite, rolloutAtIngressWrite *v1alpha1.Rollout
	// watchedWrites counts the writes whose watch events bring a rollout
	// back: all but its own writes to the Rollout, which the Rollout watch
	// drops (ownWrites).
	watchedWrites int
	inPass        bool
	history       []string
	// async, when set, is the background checker the controller uses
	// (simasync_test.go): it checks at each tick.
	async *simAsyncVerifier
}

var uidSeq int

func newSim(t *testing.T) *sim {
	t.Helper()
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	sp := &sim{}
	// A plain object tracker: the default one builds a REST mapper on every
	// write (half the simulator's time), for managed fields nobody reads here.
	tracker := clienttesting.NewObjectTracker(scheme, serializer.NewCodecFactory(scheme).UniversalDecoder())
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjectTracker(tracker).
		WithStatusSubresource(&v1alpha1.Rollout{}, &appsv1.ReplicaSet{}, &corev1.Pod{}).
		WithIndex(&v1alpha1.Rollout{}, indexServices, rolloutServices).
		WithIndex(&v1alpha1.Rollout{}, indexIngresses, rolloutIngresses).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				if err := sp.fail(obj); err != nil {
					return err
				}
				// The API server gives every object a UID; owner references rely on it.
				if obj.GetUID() == "" {
					uidSeq++
					obj.SetUID(types.UID(fmt.Sprintf("uid-%d", uidSeq)))
				}
				// and a creation time (the run history limits order runs by
				// it; a blue-green fast rollback goes to an older ReplicaSet).
				switch obj.(type) {
				case *v1alpha1.AnalysisRun, *appsv1.ReplicaSet:
				default:
					return c.Create(ctx, obj, opts...)
				}
				if obj.GetCreationTimestamp().Time.IsZero() {
					obj.SetCreationTimestamp(metav1.NewTime(sp.now))
				}
				return c.Create(ctx, obj, opts...)
			},
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				if err := sp.fail(obj); err != nil {
					return err
				}
				return c.Patch(ctx, obj, patch, opts...)
			},
			Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
				if err := sp.fail(obj); err != nil {
					return err
				}
				return c.Delete(ctx, obj, opts...)
			},
			SubResourceCreate: func(ctx context.Context, c client.Client, sub string, obj client.Object, sobj client.Object, opts ...client.SubResourceCreateOption) error {
				if err := sp.fail(obj); err != nil {
					return err
				}
				if sub == "eviction" {
					// No PodDisruptionBudget here: an eviction deletes the pod.
					return c.Delete(ctx, obj)
				}
				return c.SubResource(sub).Create(ctx, obj, sobj, opts...)
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
				if err := sp.fail(obj); err != nil {
					return err
				}
				return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
			},
		}).
		Build()
	s := sp
	*s = sim{t: t, c: c, ns: "ns", now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		albWeights: map[string]int32{}, registered: map[string]map[string]bool{}, lbLag: 1, listenerLag: map[int32]int{},
		albs: map[string]*modelALB{}, tgs: map[string]*modelTG{}, targetPorts: map[string]int32{}, images: map[string]string{}, names: []string{"web"},
		actionName: "web-root", regAt: map[string]map[string]int{}, unhealthyIn: map[string]string{}, plain: map[string]bool{}, exempt: map[string]bool{},
		albHealthLag: map[string]int{}, failIngress: map[string]elbv2.Kind{}, runPhase: map[analysis.RunKind]v1alpha1.AnalysisPhase{}}
	s.analysisTemplate()
	s.v = &simVerifier{s: s}
	s.rec = events.NewFakeRecorder(10000)
	s.r = New(c, s.v, s.rec, Options{VerifyByDefault: true, Now: func() time.Time { return s.now }})
	return s
}

// canaryRollout creates a canary rollout with ALB routing and its objects.
func (s *sim) canaryRollout(replicas int32, steps ...v1alpha1.CanaryStep) *v1alpha1.Rollout {
	s.t.Helper()
	ctx := context.Background()
	for _, name := range []string{"web-stable", "web-canary", "web-root"} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}},
		}}
		s.must(s.c.Create(ctx, svc))
	}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "web"}, Spec: networkingv1.IngressSpec{
		Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
			Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web-root", Port: networkingv1.ServiceBackendPort{Name: albannotation.UseAnnotation}}},
		}}}}}},
	}}
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{Hostname: "k8s-ns-web-123.us-east-1.elb.amazonaws.com"}}
	s.must(s.c.Create(ctx, ing))
	s.must(s.c.Status().Update(ctx, ing))
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "web", UID: types.UID("rollout-uid"), Generation: 1},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "demo:v1",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				CanaryService: "web-canary", StableService: "web-stable", Steps: steps,
				ScaleDownDelaySeconds: ptr.To(int32(30)), AbortScaleDownDelaySeconds: ptr.To(int32(30)),
				TrafficRouting: &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80, RootService: "web-root"}},
			}},
		},
	}
	s.must(s.c.Create(ctx, ro))
	return ro
}

func (s *sim) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatal(err)
	}
}

func (s *sim) rollout() *v1alpha1.Rollout {
	s.t.Helper()
	var ro v1alpha1.Rollout
	s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "web"}, &ro))
	return &ro
}

// update changes the rollout's spec (bumping the generation, as the API server does).
func (s *sim) update(f func(*v1alpha1.Rollout)) {
	s.t.Helper()
	ro := s.rollout()
	f(ro)
	ro.Generation++
	s.must(s.c.Update(context.Background(), ro))
}

// updateStatus changes the rollout's status as a user or the CLI would.
func (s *sim) updateStatus(f func(*v1alpha1.RolloutStatus)) {
	s.t.Helper()
	ro := s.rollout()
	f(&ro.Status)
	s.must(s.c.Status().Update(context.Background(), ro))
}

// step runs one reconcile pass, then the cluster's reaction, then checks the
// invariants. It advances the clock by the requeue delay (at least 100ms).
// steps runs n passes.
func (s *sim) steps(n int) {
	s.t.Helper()
	for range n {
		s.step()
	}
}

func (s *sim) step() reconcile.Result {
	s.t.Helper()
	s.passes++
	var res reconcile.Result
	for i, name := range s.names {
		r, err := s.reconcile(name)
		if err != nil {
			s.history = append(s.history, fmt.Sprintf("pass %d: reconcile %s error: %v", s.passes, name, err))
		}
		if i == 0 {
			res = r
		}
	}
	s.cluster()
	if s.async != nil {
		s.async.tick(s.now)
	}
	s.runAnalysis()
	s.checkInvariants()
	d := res.RequeueAfter
	if d <= 0 || d > 5*time.Second {
		d = time.Second
	}
	s.now = s.now.Add(max(d, 100*time.Millisecond))
	return res
}

// reconcile runs the controller once on one rollout, its writes counted
// (and failed at failWriteAt).
func (s *sim) reconcile(name string) (reconcile.Result, error) {
	s.inPass = true
	defer func() { s.inPass = false }()
	return s.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: s.ns, Name: name}})
}

// run steps until cond holds, failing after n passes.
func (s *sim) run(n int, what string, cond func(*v1alpha1.Rollout) bool) *v1alpha1.Rollout {
	s.t.Helper()
	for i := 0; i < n; i++ {
		s.step()
		if ro := s.rollout(); cond(ro) {
			return ro
		}
	}
	ro := s.rollout()
	s.t.Fatalf("after %d passes, not %s: phase %s %q, step %v, stable %s, current %s, weights %v, verification %+v\nALB weights %v registered %v\nhistory:\n%s",
		n, what, ro.Status.Phase, ro.Status.Message, ptr.Deref(ro.Status.CurrentStepIndex, -1), ro.Status.StableRS, ro.Status.CurrentPodHash,
		ro.Status.Canary.Weights, ro.Status.Verification, s.albWeights, s.registered, strings.Join(s.history, "\n"))
	return nil
}

func isHealthy(ro *v1alpha1.Rollout) bool {
	return ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS == ro.Status.CurrentPodHash && ro.Status.StableRS != ""
}

// podSeq is the order a pod was created in (its name ends with it).
func (s *sim) podSeq(p corev1.Pod) int {
	n, _ := strconv.Atoi(p.Name[strings.LastIndex(p.Name, "-")+1:])
	return n
}

// cluster plays the ReplicaSet controller, the kubelet and the load balancer
// controller for one round.
func (s *sim) cluster() {
	ctx := context.Background()
	var rss appsv1.ReplicaSetList
	s.must(s.c.List(ctx, &rss, client.InNamespace(s.ns)))
	var pods corev1.PodList
	s.must(s.c.List(ctx, &pods, client.InNamespace(s.ns)))
	for i := range rss.Items {
		rs := &rss.Items[i]
		want := int(ptr.Deref(rs.Spec.Replicas, 1))
		var mine []corev1.Pod
		for _, p := range pods.Items {
			if metav1.IsControlledBy(&p, rs) {
				mine = append(mine, p)
			}
		}
		if len(mine) > want {
			// The ReplicaSet controller deletes the pods it ranks first:
			// not ready before ready, then the newest (controller.ActivePods
			// ordering in kube-controller-manager).
			slices.SortStableFunc(mine, func(a, b corev1.Pod) int {
				if ra, rb := podReady(&a), podReady(&b); ra != rb {
					if ra {
						return 1
					}
					return -1
				}
				if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
					return c
				}
				return s.podSeq(b) - s.podSeq(a)
			})
		}
		for len(mine) > want {
			first := mine[0]
			s.must(s.c.Delete(ctx, &first))
			mine = mine[1:]
		}
		before := slices.Clone(mine)
		for len(mine) < want {
			s.nextIP++
			p := corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: fmt.Sprintf("%s-%d", rs.Name, s.nextIP), Labels: maps.Clone(rs.Spec.Template.Labels),
					CreationTimestamp: metav1.NewTime(s.now),
					OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}},
				Spec: *rs.Spec.Template.Spec.DeepCopy(),
			}
			s.must(s.c.Create(ctx, &p))
			ready := corev1.ConditionTrue
			if s.podReadyLag > 0 {
				ready = corev1.ConditionFalse
			}
			if s.podReadyLag > 0 {
				if s.podBorn == nil {
					s.podBorn = map[string]int{}
				}
				s.podBorn[p.Name] = s.passes + s.podReadyStagger*(len(mine)-len(before)) // until it first turns ready
			}
			p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.0.0.%d", s.nextIP),
				Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}
			s.must(s.c.Status().Update(ctx, &p))
			mine = append(mine, p)
		}
		ready := int32(0)
		for i := range mine {
			p := &mine[i]
			if born, ok := s.podBorn[p.Name]; ok && s.passes-born >= s.podReadyLag {
				delete(s.podBorn, p.Name)
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
				s.must(s.c.Status().Update(ctx, p))
			}
			if podReady(p) {
				ready++
			}
		}
		rs.Status = appsv1.ReplicaSetStatus{Replicas: int32(want), ReadyReplicas: ready, AvailableReplicas: ready, ObservedGeneration: rs.Generation}
		s.must(s.c.Status().Update(ctx, rs))
	}
	// The load balancer controller: registration follows the Services at
	// once; weights follow the annotation after lbLag passes.
	s.must(s.c.List(ctx, &pods, client.InNamespace(s.ns)))
	var svcs corev1.ServiceList
	s.must(s.c.List(ctx, &svcs, client.InNamespace(s.ns)))
	for _, p := range pods.Items {
		if p.Status.PodIP != "" && len(p.Spec.Containers) > 0 {
			s.images[p.Status.PodIP] = p.Spec.Containers[0].Image
		}
	}
	for _, svc := range svcs.Items {
		reg := map[string]bool{}
		at := map[string]int{}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		for _, p := range pods.Items {
			if sel.Matches(labels.Set(p.Labels)) && p.DeletionTimestamp == nil && p.Status.PodIP != "" {
				reg[p.Status.PodIP] = true
				if len(svc.Spec.Ports) > 0 {
					if port, ok := targetPort(&svc.Spec.Ports[0], &p); ok {
						s.targetPorts[p.Status.PodIP] = port
					}
				}
				at[p.Status.PodIP] = s.passes
				if prev, ok := s.regAt[svc.Name][p.Status.PodIP]; ok {
					at[p.Status.PodIP] = prev
				}
			}
		}
		s.registered[svc.Name] = reg
		s.regAt[svc.Name] = at
	}
	var ings networkingv1.IngressList
	s.must(s.c.List(ctx, &ings, client.InNamespace(s.ns)))
	s.loadBalancerController(ings.Items, svcs.Items)
	ro := s.rollout()
	line := fmt.Sprintf("pass %d t=%s: alb %v, svc %s, rs %s, phase %s %q", s.passes, s.now.Format("15:04:05.0"),
		s.albWeights, s.selectors(svcs.Items), s.replicaSetSizes(), ro.Status.Phase, ro.Status.Message)
	for _, cd := range ro.Status.Conditions {
		if cd.Type == v1alpha1.ConditionProgressing && cd.Message != ro.Status.Message && !strings.HasSuffix(ro.Status.Message, cd.Message) {
			line += fmt.Sprintf(" (progressing: %q)", cd.Message)
		}
	}
	s.history = append(s.history, line)
}

// replicaSetSizes is the history's view of the ReplicaSets: hash=spec/pods
// (pods counts the live ones, ready or not, that carry the hash).
func (s *sim) replicaSetSizes() string {
	live := map[string]int{}
	for _, p := range s.pods() {
		if p.DeletionTimestamp == nil {
			live[p.Labels[replicaset.HashLabel]]++
		}
	}
	var parts []string
	for _, rs := range s.replicaSets() {
		h := rs.Labels[replicaset.HashLabel]
		parts = append(parts, fmt.Sprintf("%s=%d/%d", h, ptr.Deref(rs.Spec.Replicas, 1), live[h]))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (s *sim) selectors(svcs []corev1.Service) string {
	var parts []string
	for _, svc := range svcs {
		parts = append(parts, svc.Name+"="+svc.Spec.Selector[replicaset.HashLabel])
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// fail counts a write of the controller and fails the one asked for.
func (s *sim) fail(obj client.Object) error {
	if !s.inPass {
		return nil
	}
	s.writes++
	if _, own := obj.(*v1alpha1.Rollout); !own {
		s.watchedWrites++
	}
	if s.writes == s.failWriteAt {
		if s.async != nil {
			s.async.restart(s.r) // the process that starts again has no watches
		}
		return fmt.Errorf("simulated crash before write %d", s.writes)
	}
	switch o := obj.(type) {
	case *v1alpha1.Rollout:
		s.lastRolloutWrite = o.DeepCopy()
	case *networkingv1.Ingress:
		s.rolloutAtIngressWrite = s.lastRolloutWrite
	}
	return nil
}

func (s *sim) pods() []corev1.Pod {
	var pods corev1.PodList
	s.must(s.c.List(context.Background(), &pods, client.InNamespace(s.ns)))
	return pods.Items
}

func (s *sim) replicaSets() []appsv1.ReplicaSet {
	var rss appsv1.ReplicaSetList
	s.must(s.c.List(context.Background(), &rss, client.InNamespace(s.ns)))
	return rss.Items
}

// replicasOf returns spec.replicas of the ReplicaSet with a hash (-1: none).
func (s *sim) replicasOf(hash string) int32 {
	for _, rs := range s.replicaSets() {
		if rs.Labels[replicaset.HashLabel] == hash {
			return ptr.Deref(rs.Spec.Replicas, 1)
		}
	}
	return -1
}

// canaryImage and stableImage are the images of the ReplicaSet the canary
// (stable) service selects.
func (s *sim) canaryImage() string { return s.serviceImage("web-canary") }
func (s *sim) stableImage() string { return s.serviceImage("web-stable") }

// serviceImage is the image of the ReplicaSet a service selects ("" when
// its selector names none).
func (s *sim) serviceImage(name string) string {
	var svc corev1.Service
	s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: name}, &svc))
	for _, rs := range s.replicaSets() {
		if rs.Labels[replicaset.HashLabel] == svc.Spec.Selector[replicaset.HashLabel] {
			return rs.Spec.Template.Spec.Containers[0].Image
		}
	}
	return ""
}

// healthyIn reports whether a pod IP is registered and healthy in a service's group.
func (s *sim) healthyIn(service, ip string) bool {
	if !s.registered[service][ip] || s.passes-s.regAt[service][ip] < s.healthLag {
		return false
	}
	if v := s.unhealthyIn[service]; v != "" && s.podOfVersion(ip, v) {
		return false
	}
	return s.unhealthyVersion == "" || !s.podOfVersion(ip, s.unhealthyVersion)
}

// healthyInGroup: the target ip passes the health check of target group
// arn, on its own load balancer (healthyIn, plus that ALB's extra lag).
func (s *sim) healthyInGroup(arn, ip string) bool {
	t := s.tgs[arn]
	return s.healthyIn(t.service, ip) && s.passes-s.regAt[t.service][ip] >= s.healthLag+s.albHealthLag[t.ingress]
}

func (s *sim) podOfVersion(ip, version string) bool {
	if img, ok := s.images[ip]; ok {
		return strings.HasSuffix(img, ":"+version)
	}
	var pods corev1.PodList
	s.must(s.c.List(context.Background(), &pods, client.InNamespace(s.ns)))
	for _, p := range pods.Items {
		if p.Status.PodIP == ip {
			return strings.HasSuffix(p.Spec.Containers[0].Image, ":"+version)
		}
	}
	return false
}

// checkInvariants fails the test when a rule of the model ALB (any listener,
// any Ingress, the action's, a header route's or a plain path's) sends
// traffic to a group without a healthy target, or, with atomic, when clients
// see two versions at once.
func (s *sim) checkInvariants() {
	s.t.Helper()
	for _, tr := range s.trafficRules() {
		for _, g := range tr.rule.rule.Forward {
			svc := s.tgs[g.ARN].service
			if g.Weight == 0 || s.exempt[svc] {
				continue
			}
			healthy := s.healthyTargets(g.ARN)
			if served, isPlain := s.plain[svc]; isPlain && !served {
				// A plain path routes as soon as it exists, before the
				// first pods are healthy: the invariant holds from then on.
				s.plain[svc] = healthy > 0
				continue
			}
			if healthy == 0 {
				msg := fmt.Sprintf("pass %d: %s sends weight %d to %s (%s), which has no healthy target (registered %v)",
					s.passes, tr, g.Weight, s.tgs[g.ARN].tg.Name, svc, s.registered[svc])
				if s.lenient {
					s.violations = append(s.violations, msg)
					continue
				}
				s.t.Fatalf("%s\nhistory:\n%s", msg, strings.Join(s.history, "\n"))
			}
		}
	}
	versions := s.servedVersions()
	s.maxVersions = max(s.maxVersions, len(versions))
	if s.atomic && len(versions) > 1 {
		s.t.Fatalf("pass %d: clients see versions %v at once (ALB %v)\nhistory:\n%s", s.passes, versions, s.albWeights, strings.Join(s.history, "\n"))
	}
}

// servedVersions are the images of the healthy targets of the groups that
// get traffic from some rule.
func (s *sim) servedVersions() []string {
	set := map[string]bool{}
	for _, tr := range s.trafficRules() {
		for _, g := range tr.rule.rule.Forward {
			if g.Weight == 0 {
				continue
			}
			svc := s.tgs[g.ARN].service
			for ip := range s.registered[svc] {
				if s.healthyInGroup(g.ARN, ip) {
					set[s.images[ip]] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// simVerifier is the verification engine's decision (verify.Decide, input
// validation included) over the model ALB as it is now: what the real
// Verifier decides once its reads are fresh.
type simVerifier struct {
	s      *sim
	calls  int
	inputs []verify.Input
}

func (v *simVerifier) Verify(_ context.Context, in verify.Input) verify.Result {
	v.calls++
	v.inputs = append(v.inputs, in)
	s := v.s
	res := verify.Decide(in, s.observe(in), s.now, verify.DefaultBackoff)
	if res.Reason == verify.ReasonInvalidInput {
		// The controller built an input the engine rejects: no step that
		// waits for it can ever complete.
		msg := fmt.Sprintf("pass %d: the engine rejects the controller's input: %s", s.passes, res.Message)
		if !s.lenient {
			s.t.Fatal(msg)
		}
		s.violations = append(s.violations, msg)
	}
	return res
}
