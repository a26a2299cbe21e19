package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/controller"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
	"github.com/albrollouts/albrollouts/internal/sim/loadgen"
	"github.com/albrollouts/albrollouts/internal/sim/localalb"
	"github.com/albrollouts/albrollouts/internal/sim/localenv"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// rolloutTimeout bounds a whole rollout in a test (several verified steps on
// a loaded 2-core machine).
const rolloutTimeout = 3 * time.Minute

// testController is one rollout controller process-in-a-goroutine, sharded to
// one test's namespace by instance id, so tests never see each other's
// rollouts and a test can kill and restart its controller.
type testController struct {
	t    *testing.T
	ns   string
	opts controller.ManagerOptions
	// reg holds this controller's metrics (the ELBv2 calls it made).
	reg *prometheus.Registry
	// userAgent, when set, is the controller's Kubernetes user agent, hence
	// the field manager its writes show in managedFields (otherwise the
	// test binary's, shared with the test's own writes).
	userAgent string
	cancel    context.CancelFunc
	done      chan error
}

// startController runs a controller for namespace ns (instance id ns),
// verifying every rollout by default.
func startController(t *testing.T, ns string, mutate ...func(*controller.ManagerOptions)) *testController {
	t.Helper()
	return startControllerAs(t, ns, "", mutate...)
}

// startControllerAs is startController with the controller's user agent
// (field manager) set to userAgent.
func startControllerAs(t *testing.T, ns, userAgent string, mutate ...func(*controller.ManagerOptions)) *testController {
	t.Helper()
	o := controller.ManagerOptions{
		Options:        controller.Options{InstanceID: ns, VerifyByDefault: true, Workers: 4},
		Namespace:      ns,
		AWSRegion:      localenv.DefaultRegion,
		AWSEndpointURL: env.ELBV2Endpoint(),
		// elbsim serves CloudWatch beside ELBv2 (cloudWatch analysis metrics).
		CloudWatchEndpointURL: env.ELBV2Endpoint(),
		ELBV2:                 elbv2.Options{Credentials: credentials.NewStaticCredentialsProvider(localenv.DummyAccessKey, localenv.DummySecretKey, "")},
	}
	for _, m := range mutate {
		m(&o)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpNamespace(t, ns)
		}
	})
	// A mutate may give the controller a registry of its own choosing
	// (controller-runtime's, which its /metrics serves).
	reg, ok := o.Registerer.(*prometheus.Registry)
	if !ok {
		reg = prometheus.NewRegistry()
	}
	c := &testController{t: t, ns: ns, opts: o, reg: reg, userAgent: userAgent}
	c.opts.Registerer = c.reg
	c.start()
	t.Cleanup(c.stop)
	return c
}

func (c *testController) start() {
	c.t.Helper()
	f, err := os.OpenFile(filepath.Join(env.Dir(), "controller-"+c.ns+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	o := c.opts
	o.Logger = logr.FromSlogHandler(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	cfg := env.RESTConfig()
	if c.userAgent != "" {
		cfg = rest.CopyConfig(cfg)
		cfg.UserAgent = c.userAgent
	}
	mgr, err := controller.NewManager(ctx, cfg, o)
	if err != nil {
		cancel()
		c.t.Fatalf("start controller: %v", err)
	}
	c.cancel, c.done = cancel, make(chan error, 1)
	go func() {
		c.done <- mgr.Start(ctx)
		_ = f.Close()
	}()
}

// stop kills the controller (as a crash would, between any two writes) and
// waits for it to be gone.
func (c *testController) stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	select {
	case err := <-c.done:
		if err != nil {
			c.t.Logf("controller of %s stopped: %v", c.ns, err)
		}
	case <-time.After(30 * time.Second):
		c.t.Errorf("controller of %s did not stop within 30s", c.ns)
	}
	c.cancel = nil
}

// elbv2Calls is the number of ELBv2 API calls this controller made (all
// operations and outcomes), read from its metrics.
func (c *testController) elbv2Calls() float64 {
	var n float64
	for _, v := range c.elbv2CallsByOperation() {
		n += v
	}
	return n
}

// elbv2CallsByOperation splits elbv2Calls by ELBv2 operation.
func (c *testController) elbv2CallsByOperation() map[string]float64 {
	mfs, err := c.reg.Gather()
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "albrollouts_elbv2_api_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			op := "unknown"
			for _, l := range m.GetLabel() {
				if l.GetName() == "operation" {
					op = l.GetValue()
				}
			}
			out[op] += m.GetCounter().GetValue()
		}
	}
	return out
}

// restart starts a new controller for the same namespace.
func (c *testController) restart() {
	c.stop()
	c.start()
}

// canaryApp describes a rollout with its Services and Ingress.
type canaryApp struct {
	name     string
	replicas int32
	version  string
	steps    []v1alpha1.CanaryStep
	// ingresses: how many Ingresses (default 1), named <name>, <name>-2, ...
	ingresses          int
	dynamicStableScale bool
	pingPong           bool
	managedRoutes      []string
	timeoutSeconds     int32
	env                map[string]string
	// readinessPath is the pods' readiness probe path (default /healthz, the
	// ALB health-check path too).
	readinessPath string
	// hcHealthy is the ALB healthy threshold (default 2).
	hcHealthy int
	// groupName puts the Ingresses in an ingress group (one ALB for several).
	groupName string
	// background is spec.strategy.canary.analysis (background analysis).
	background *runtime.RawExtension
	// unlabelled creates the rollout without the instance-id label (for a
	// controller started without --instance-id, e.g. Argo Rollouts').
	unlabelled bool
}

func (a canaryApp) ingressNames() []string {
	n := max(a.ingresses, 1)
	out := []string{a.name}
	for i := 2; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s-%d", a.name, i))
	}
	return out
}

// podTemplate is the demo app's pod template at version.
func podTemplate(app, version string, envs map[string]string, readinessPath string) corev1.PodTemplateSpec {
	if readinessPath == "" {
		readinessPath = demoapp.HealthPath
	}
	var ev []corev1.EnvVar
	for k, v := range envs {
		ev = append(ev, corev1.EnvVar{Name: k, Value: v})
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{
			// As on EKS, a pod behind an ALB keeps serving for a while after
			// it is deleted, until its deregistration has reached the ALB
			// (60 s here, 3 s at the suite's time scale; the load balancer
			// controller's lag is 2 s).
			TerminationGracePeriodSeconds: ptr.To(int64(90)),
			Containers: []corev1.Container{{
				Name:      "app",
				Image:     demoapp.ImageRepository + ":" + version,
				Env:       ev,
				Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 60}}},
				Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: readinessPath, Port: intstr.FromString("http")}},
					PeriodSeconds:    1,
					FailureThreshold: 2,
				},
			}},
		},
	}
}

// create makes the Services, Ingresses and the Rollout.
func (a canaryApp) create(t *testing.T, ns string) *v1alpha1.Rollout {
	t.Helper()
	stable, canary, root := a.name+"-stable", a.name+"-canary", a.name+"-root"
	cs := &v1alpha1.CanaryStrategy{
		Steps:                      a.steps,
		DynamicStableScale:         a.dynamicStableScale,
		AbortScaleDownDelaySeconds: ptr.To(int32(3)),
		Analysis:                   a.background,
		TrafficRouting: &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{
			ServicePort: 80, RootService: root,
		}},
	}
	if a.timeoutSeconds > 0 {
		cs.TrafficRouting.ALB.TimeoutSeconds = ptr.To(a.timeoutSeconds)
	}
	if !a.dynamicStableScale {
		cs.ScaleDownDelaySeconds = ptr.To(int32(3))
	}
	if a.pingPong {
		stable, canary = a.name+"-ping", a.name+"-pong"
		cs.PingPong = &v1alpha1.PingPongSpec{PingService: stable, PongService: canary}
	} else {
		cs.StableService, cs.CanaryService = stable, canary
	}
	for _, r := range a.managedRoutes {
		cs.TrafficRouting.ManagedRoutes = append(cs.TrafficRouting.ManagedRoutes, v1alpha1.ManagedRoute{Name: r})
	}
	names := a.ingressNames()
	if len(names) == 1 {
		cs.TrafficRouting.ALB.Ingress = names[0]
	} else {
		cs.TrafficRouting.ALB.Ingresses = names
	}
	for _, s := range []string{stable, canary, root} {
		svc := service(ns, s, a.name)
		svc.Spec.Ports[0].TargetPort = intstr.FromString("http")
		createAll(t, svc)
	}
	hc := a.hcHealthy
	if hc == 0 {
		hc = 2
	}
	for _, name := range names {
		ann := map[string]string{localalb.AnnotationHealthyCount: fmt.Sprint(hc)}
		if a.groupName != "" {
			ann[localalb.AnnotationGroupName] = a.groupName
		}
		createAll(t, ingress(ns, name, root, albannotation.UseAnnotation, ann))
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: a.name, Labels: map[string]string{replicaset.InstanceIDLabel: ns}},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To(a.replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": a.name}},
			Template: podTemplate(a.name, a.version, a.env, a.readinessPath),
			Strategy: v1alpha1.RolloutStrategy{Canary: cs},
		},
	}
	if a.unlabelled {
		ro.Labels = nil
	}
	createAll(t, ro)
	return ro
}

// getRollout reads a rollout.
func getRollout(t *testing.T, ns, name string) *v1alpha1.Rollout {
	t.Helper()
	var ro v1alpha1.Rollout
	if err := kc().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: name}, &ro); err != nil {
		t.Fatalf("get rollout %s/%s: %v", ns, name, err)
	}
	return &ro
}

// waitRollout polls a rollout until cond holds.
func waitRollout(t *testing.T, ns, name, what string, timeout time.Duration, cond func(*v1alpha1.Rollout) (bool, string)) *v1alpha1.Rollout {
	t.Helper()
	var ro *v1alpha1.Rollout
	poll.Slow.Eventually(t, timeout, fmt.Sprintf("rollout %s/%s %s", ns, name, what), func() (bool, string) {
		ro = getRollout(t, ns, name)
		ok, msg := cond(ro)
		return ok, fmt.Sprintf("%s [phase %s %q, step %v, stable %s, current %s, weights %s, verification %s]", msg, ro.Status.Phase, ro.Status.Message,
			ptr.Deref(ro.Status.CurrentStepIndex, -1), ro.Status.StableRS, ro.Status.CurrentPodHash, weightsText(ro), verificationText(ro))
	})
	return ro
}

func weightsText(ro *v1alpha1.Rollout) string {
	w := ro.Status.Canary.Weights
	if w == nil {
		return "-"
	}
	v := "unverified"
	if w.Verified != nil && *w.Verified {
		v = "verified"
	}
	return fmt.Sprintf("%d/%d %s", w.Canary.Weight, w.Stable.Weight, v)
}

func verificationText(ro *v1alpha1.Rollout) string {
	v := ro.Status.Verification
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%s %s %s: %s", v.Kind, v.Phase, v.Reason, v.Message)
}

// setBrokenVersion updates the rollout to version, whose pods pass their
// readiness probe (on /) but fail the ALB health check (HEALTH_FAIL: /healthz
// answers 500).
func setBrokenVersion(t *testing.T, ns, name, version string) {
	t.Helper()
	patchRollout(t, ns, name, `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"albrollouts/demo:`+version+`","env":[{"name":"HEALTH_FAIL","value":"true"}],`+
		`"ports":[{"name":"http","containerPort":8080}],"readinessProbe":{"httpGet":{"path":"/","port":"http"},"periodSeconds":1,"failureThreshold":2}}]}}}}`)
}

// aborted: the rollout aborted and is Degraded.
func aborted(ro *v1alpha1.Rollout) (bool, string) {
	return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && ro.Status.Abort, "not aborted"
}

// assertHealthCheckTimeout checks that the rollout's message says the
// verification timed out on targets failing the ALB health check.
func assertHealthCheckTimeout(t *testing.T, ro *v1alpha1.Rollout) {
	t.Helper()
	if !strings.Contains(ro.Status.Message, "VerificationTimedOut") {
		t.Errorf("message %q lacks VerificationTimedOut", ro.Status.Message)
	}
	// The broken version answers /healthz with a 500; on a loaded machine
	// the health check may time out first, which names the same failure.
	if !strings.Contains(ro.Status.Message, "Target.ResponseCodeMismatch") && !strings.Contains(ro.Status.Message, "Target.Timeout") {
		t.Errorf("message %q names no failed health check (Target.ResponseCodeMismatch or Target.Timeout)", ro.Status.Message)
	}
}

// onNewVersion: healthy, and stable is no longer old.
func onNewVersion(old string) func(*v1alpha1.Rollout) (bool, string) {
	return func(ro *v1alpha1.Rollout) (bool, string) {
		if ro.Status.StableRS == old {
			return false, "still on the old version"
		}
		return healthy(ro)
	}
}

// healthy: the current template is stable, Healthy, and its status was
// computed for the current generation.
func healthy(ro *v1alpha1.Rollout) (bool, string) {
	if ro.Status.ObservedGeneration != fmt.Sprint(ro.Generation) {
		return false, "generation not observed"
	}
	if ro.Status.Phase != v1alpha1.RolloutPhaseHealthy {
		return false, "not Healthy"
	}
	if ro.Status.StableRS == "" || ro.Status.StableRS != ro.Status.CurrentPodHash {
		return false, "stable is not the current template"
	}
	return true, ""
}

// setImage changes the rollout's image tag (a new version).
func setImage(t *testing.T, ns, name, version string) {
	t.Helper()
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	patch := fmt.Sprintf(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":%q}]`, demoapp.ImageRepository+":"+version)
	if err := kc().Patch(ctxT(t), ro, client.RawPatch(types.JSONPatchType, []byte(patch))); err != nil {
		t.Fatalf("set image %s: %v", version, err)
	}
}

func patchRollout(t *testing.T, ns, name, patch string) {
	t.Helper()
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := kc().Patch(ctxT(t), ro, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("patch rollout %s: %v", patch, err)
	}
}

func patchRolloutStatus(t *testing.T, ns, name, patch string) {
	t.Helper()
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := kc().Status().Patch(ctxT(t), ro, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("patch rollout status %s: %v", patch, err)
	}
}

// promote does what `kubectl argo rollouts promote` does on a paused canary.
func promote(t *testing.T, ns, name string) {
	t.Helper()
	patchRolloutStatus(t, ns, name, `{"status":{"pauseConditions":null}}`)
}

// rolloutURL waits for the ALB of the rollout's (first) Ingress and returns
// its port-80 listener URL.
func rolloutURL(t *testing.T, ns, ingressName string) string {
	t.Helper()
	return listenerURL(t, albOf(t, ns, ingressName))
}

// traffic runs a load generator through url for the rest of the test.
func traffic(t *testing.T, url string) *loadgen.Generator {
	t.Helper()
	g := loadgen.Start(loadgen.Options{URL: url + "/", Rate: 20})
	t.Cleanup(func() { g.Stop() })
	return g
}

// assertNoFailures checks the generator's report.
func assertNoFailures(t *testing.T, what string, rep loadgen.Report) {
	t.Helper()
	t.Logf("%s: %d requests in %s, %d failed, by version %v", what, rep.Total, rep.Duration.Round(time.Second), rep.Failed, rep.ByVersion)
	if rep.Total == 0 {
		t.Errorf("%s: no request was sent", what)
	}
	if rep.Failed > 0 {
		var lines []string
		for _, f := range rep.Failures {
			lines = append(lines, f.String())
		}
		t.Errorf("%s: %d of %d requests failed:\n%s", what, rep.Failed, rep.Total, strings.Join(lines, "\n"))
	}
}

// timeline records every status the rollout goes through (a raw watch sees
// every write).
type timeline struct {
	mu    sync.Mutex
	items []v1alpha1.RolloutStatus
	stop  func()
}

func watchRollout(t *testing.T, ns, name string) *timeline {
	t.Helper()
	wc, err := client.NewWithWatch(env.RESTConfig(), client.Options{Scheme: kc().Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := wc.Watch(ctx, &v1alpha1.RolloutList{}, client.InNamespace(ns))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tl := &timeline{stop: func() { cancel(); w.Stop() }}
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			if ro, ok := ev.Object.(*v1alpha1.Rollout); ok && ro.Name == name {
				tl.mu.Lock()
				tl.items = append(tl.items, *ro.Status.DeepCopy())
				tl.mu.Unlock()
			}
		}
	}()
	t.Cleanup(tl.stop)
	return tl
}

func (tl *timeline) statuses() []v1alpha1.RolloutStatus {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]v1alpha1.RolloutStatus(nil), tl.items...)
}

// firstIndex returns the index of the first status matching f, or -1.
func (tl *timeline) firstIndex(f func(*v1alpha1.RolloutStatus) bool) int {
	for i, s := range tl.statuses() {
		if f(&s) {
			return i
		}
	}
	return -1
}

// verifiedAt reports whether status s shows canary weight w verified.
func verifiedAt(s *v1alpha1.RolloutStatus, w int32) bool {
	x := s.Canary.Weights
	return x != nil && x.Canary.Weight == w && x.Verified != nil && *x.Verified
}

// dump writes an object as JSON to the test log (for failures).
func dump(t *testing.T, what string, v any) {
	t.Helper()
	b, _ := json.MarshalIndent(v, "", "  ")
	t.Logf("%s:\n%s", what, b)
}

// ingressOf reads an Ingress.
func ingressOf(t *testing.T, ns, name string) *networkingv1.Ingress {
	t.Helper()
	var ing networkingv1.Ingress
	if err := kc().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: name}, &ing); err != nil {
		t.Fatal(err)
	}
	return &ing
}

// waitOldScaledDown waits until the ReplicaSet of hash has no pods.
func waitOldScaledDown(t *testing.T, ns, name, hash string) {
	t.Helper()
	poll.Slow.Eventually(t, rolloutTimeout, "old ReplicaSet "+name+"-"+hash+" scaled down", func() (bool, string) {
		var rs appsv1.ReplicaSet
		if err := kc().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: name + "-" + hash}, &rs); err != nil {
			return false, err.Error()
		}
		return ptr.Deref(rs.Spec.Replicas, 1) == 0 && rs.Status.Replicas == 0, fmt.Sprintf("replicas %d, status %d", ptr.Deref(rs.Spec.Replicas, 1), rs.Status.Replicas)
	})
}

var (
	kcOnce   sync.Once
	kcClient client.Client
)

// kc is a client for the local cluster whose scheme knows Rollouts.
func kc() client.Client {
	kcOnce.Do(func() {
		scheme, err := controller.NewScheme()
		if err != nil {
			panic(err)
		}
		kcClient, err = client.New(env.RESTConfig(), client.Options{Scheme: scheme})
		if err != nil {
			panic(err)
		}
	})
	return kcClient
}

func createAll(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := kc().Create(ctxT(t), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

// dumpNamespace logs the pods, Services, ReplicaSets and Ingress annotations
// of a namespace, to explain a failure.
func dumpNamespace(t *testing.T, ns string) {
	ctx := context.Background()
	var pods corev1.PodList
	_ = kc().List(ctx, &pods, client.InNamespace(ns))
	for _, p := range pods.Items {
		t.Logf("pod %s hash=%s ip=%s phase=%s ready=%t deleting=%t", p.Name, p.Labels[replicaset.HashLabel], p.Status.PodIP, p.Status.Phase, podIsReady(&p), p.DeletionTimestamp != nil)
	}
	var svcs corev1.ServiceList
	_ = kc().List(ctx, &svcs, client.InNamespace(ns))
	for _, s := range svcs.Items {
		t.Logf("service %s selector=%v", s.Name, s.Spec.Selector)
	}
	var rss appsv1.ReplicaSetList
	_ = kc().List(ctx, &rss, client.InNamespace(ns))
	for _, rs := range rss.Items {
		t.Logf("replicaset %s replicas=%d ready=%d available=%d annotations=%v", rs.Name, ptr.Deref(rs.Spec.Replicas, 1), rs.Status.ReadyReplicas, rs.Status.AvailableReplicas, rs.Annotations)
	}
	var ings networkingv1.IngressList
	_ = kc().List(ctx, &ings, client.InNamespace(ns))
	for _, ing := range ings.Items {
		t.Logf("ingress %s annotations=%v", ing.Name, ing.Annotations)
	}
	var ros v1alpha1.RolloutList
	_ = kc().List(ctx, &ros, client.InNamespace(ns))
	for _, ro := range ros.Items {
		dump(t, "rollout "+ro.Name+" status", ro.Status)
	}
	var runs v1alpha1.AnalysisRunList
	_ = kc().List(ctx, &runs, client.InNamespace(ns))
	for _, run := range runs.Items {
		dump(t, "analysisrun "+run.Name+" args", run.Spec.Args)
		dump(t, "analysisrun "+run.Name+" status", run.Status)
	}
}

func podIsReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// loopbackPassOnly skips a rollout scenario in the second e2e pass (pods in a
// private network namespace): what it checks does not depend on the pod
// network, and the suite must stay within CI's time.
func loopbackPassOnly(t *testing.T) {
	t.Helper()
	if !podRange().Addr().IsLoopback() {
		t.Skip("rollout scenario: runs in the loopback pass only")
	}
}

// scenarioReport logs (and, with ALBROLLOUTS_E2E_REPORT set, appends to that
// file) the numbers of a scenario: requests, failures, wall time, ELBv2 calls
// and calls per verified verification.
func scenarioReport(t *testing.T, name string, start time.Time, rep loadgen.Report, ctl *testController, tl *timeline) {
	t.Helper()
	verified := map[string]bool{}
	for _, st := range tl.statuses() {
		if v := st.Verification; v != nil && v.Phase == v1alpha1.VerificationVerified {
			verified[v.Fingerprint+v.StartedAt.String()] = true
		}
	}
	calls := ctl.elbv2Calls()
	per := 0.0
	if len(verified) > 0 {
		per = calls / float64(len(verified))
	}
	line := fmt.Sprintf("scenario %-28s requests %5d failed %3d wall %6s elbv2-calls %5.0f verifications %3d calls/verification %5.1f",
		name, rep.Total, rep.Failed, time.Since(start).Round(100*time.Millisecond), calls, len(verified), per)
	byOp := ctl.elbv2CallsByOperation()
	for _, op := range slices.Sorted(maps.Keys(byOp)) {
		line += fmt.Sprintf(" %s %.0f", strings.TrimPrefix(op, "Describe"), byOp[op])
	}
	t.Log(line)
	if path := os.Getenv("ALBROLLOUTS_E2E_REPORT"); path != "" {
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
			_, _ = fmt.Fprintln(f, line)
			_ = f.Close()
		}
	}
}
