// Package nodeagent is a small kubelet for the local environment. It registers one
// Node, binds every unscheduled pod to it, gives each pod its own loopback address
// (127.x.y.z) and really serves the pod's container ports there with the built-in
// demo app (internal/sim/demoapp). It reports pod status like the kubelet: phase, podIP,
// container statuses, and the Ready condition from real HTTP readiness probes and the
// pod's readiness gates. Deleting a pod stops it within its termination grace period
// (after its preStop hook's sleep, if any), then removes the pod object.
//
// The agent runs no image, but it answers as a kubelet would about which images
// exist and what they contain (images.go). It pulls from a catalogue of the images
// it emulates: albrollouts/demo:<version> runs the demo app; the others (nginx,
// argoproj/rollouts-demo, alpine, busybox, argoproj/load-tester, with the tags their
// registries have, and what Options.Images adds) run a generic HTTP stand-in on
// every declared TCP container port: the demo app's handler, answering 200 on every
// path, with the image's tag (or digest, or "latest") as its version and the same
// knobs (ERROR_RATE, LATENCY, HEALTH_FAIL, STARTUP_DELAY, the admin toggles).
// HEALTH_FAIL makes /healthz and every path the container's HTTP probes use answer
// 500. A container without declared ports serves nothing and is reported Running. An
// image reference that does not parse leaves the pod Pending with the waiting reason
// InvalidImageName.
//
// Pods are not ready at once; what a kubelet would wait for is waited for:
//
//   - Readiness probes (httpGet and tcpSocket really probe the pod; exec and grpc
//     pass) run on the kubelet's schedule: a tick every periodSeconds from the
//     container's start plus one probe when the container is reported running, each
//     skipped until initialDelaySeconds have passed; successThreshold and
//     failureThreshold consecutive results flip readiness. Liveness and startup
//     probes are not run. minReadySeconds is the ReplicaSet controller's business,
//     as on a real cluster.
//   - Lifecycle hooks are not run, their time is modelled (see hookDuration): a
//     postStart hook that sleeps (a sleep action, ["sleep","10"], ["sh","-c","sleep
//     10"]) keeps the container Waiting in ContainerCreating and the pod Pending for
//     that long, though the process already serves; a preStop sleep delays the
//     shutdown. Any other hook command succeeds at once.
//   - A container's command is not run either, but a short one is modelled (see
//     exitAfter): under restartPolicy Never or OnFailure (a Job's pod), sleep, true,
//     false and shell scripts of such commands with exit end after their sleeps
//     (real time) with their exit code, and the pod Succeeded or Failed (OnFailure
//     restarts a failed container after the crash loop back-off). A container
//     without a command, or with another one, runs until the pod is deleted.
//   - An image the catalogue does not have, or one matching the unpullable pattern
//     (Options.UnpullableImages, the environment variable
//     ALBROLLOUTS_UNPULLABLE_IMAGES, or DefaultUnpullableImages: "nonexistent",
//     "does-not-exist", "notfound" in the reference), is never pulled: after a
//     first attempt of 2 s (the registry's answer, in ContainerCreating) its
//     container cycles through ErrImagePull and ImagePullBackOff with the kubelet's
//     back-off and never runs (pull.go).
//   - A command the container's image does not have (command: [/bad-command])
//     fails the container's start: it cycles through RunContainerError and
//     CrashLoopBackOff with the kubelet's back-off, restartCount rising, lastState
//     Terminated (StartError, exit code 128), and never runs (crash.go); under
//     restartPolicy Never (a Job's pod) it is Terminated so at once and the pod
//     Failed.
//
// A TimeScale below 1 speeds up probe timings (initial delay, period), hook sleeps,
// image pull and restart back-offs and grace periods, so tests and demos need not
// wait real kubelet intervals. It does not speed up the clock of whoever watches the
// pods (a rollout's progressDeadlineSeconds): compare pod timing with that at 1.
package nodeagent

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// DefaultNodeName is the name of the Node the agent registers unless told otherwise.
const DefaultNodeName = "albrollouts-local"

// Options configures an Agent. The zero value is usable.
type Options struct {
	NodeName  string  // default DefaultNodeName
	PodCIDR   string  // loopback range for pod IPs; default DefaultPodCIDR
	TimeScale float64 // multiplier for probe timings, hook sleeps, pull and restart back-offs and grace periods; 0 or 1 = real time
	// UnpullableImages is a regular expression: images whose reference matches it
	// cannot be pulled (ErrImagePull, ImagePullBackOff), even from the catalogue.
	// Empty: the environment variable UnpullableImagesEnv, else
	// DefaultUnpullableImages; "-": none.
	UnpullableImages string
	// Images is a regular expression: images outside the catalogue (images.go)
	// whose reference matches it can be pulled too; every command runs in them.
	// Empty: the environment variable ImagesEnv; ".*" lets every image pull.
	Images string
	// HeartbeatInterval is how often the node Lease is renewed; default 10s.
	HeartbeatInterval time.Duration
}

// Agent is the node agent. Create it with New and add it to a manager with
// SetupWithManager; it runs while the manager runs.
type Agent struct {
	opts         Options
	ips          *IPAllocator
	unpullableRE *regexp.Regexp // nil: every catalogue image can be pulled
	imagesRE     *regexp.Regexp // images outside the catalogue that pull; nil: none
	probeClient  *http.Client
	client       client.Client
	reader       client.Reader // uncached, for the node's own objects
	events       recorder.EventRecorder

	// runCtx is cancelled by Stop; it cuts preStop sleeps short.
	runCtx    context.Context
	cancelRun context.CancelFunc

	mu       sync.Mutex
	pods     map[types.NamespacedName]*podRuntime
	nodeUp   chan struct{} // closed once the Node is registered
	notifyCh chan event.GenericEvent
}

// New validates the options and returns an agent.
func New(o Options) (*Agent, error) {
	if o.NodeName == "" {
		o.NodeName = DefaultNodeName
	}
	if o.PodCIDR == "" {
		o.PodCIDR = DefaultPodCIDR
	}
	if o.TimeScale < 0 {
		return nil, fmt.Errorf("node agent: time scale %g must not be negative", o.TimeScale)
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 10 * time.Second
	}
	ips, err := NewIPAllocator(o.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	unpullableRE, err := unpullablePattern(o.UnpullableImages)
	if err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	imagesRE, err := imagesPattern(o.Images)
	if err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	runCtx, cancelRun := context.WithCancel(context.Background())
	return &Agent{
		opts:         o,
		ips:          ips,
		unpullableRE: unpullableRE,
		imagesRE:     imagesRE,
		// Probes are not proxied, and like the kubelet's they do not reuse connections.
		probeClient: &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}},
		runCtx:      runCtx,
		cancelRun:   cancelRun,
		pods:        map[types.NamespacedName]*podRuntime{},
		nodeUp:      make(chan struct{}),
		notifyCh:    make(chan event.GenericEvent, 1024),
	}, nil
}

// NodeName returns the name of the node the agent registers.
func (a *Agent) NodeName() string { return a.opts.NodeName }

// SetupWithManager registers the pod controller and the node heartbeat with mgr.
func (a *Agent) SetupWithManager(mgr ctrl.Manager) error {
	a.client = mgr.GetClient()
	a.reader = mgr.GetAPIReader()
	a.events = mgr.GetEventRecorder("albrollouts-node-agent")
	if err := mgr.Add(manager.RunnableFunc(a.runNode)); err != nil {
		return fmt.Errorf("node agent: %w", err)
	}
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool {
		p, ok := o.(*corev1.Pod)
		return ok && (p.Spec.NodeName == "" || p.Spec.NodeName == a.opts.NodeName)
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodeagent").
		For(&corev1.Pod{}, builder.WithPredicates(ours)).
		WatchesRawSource(source.Channel(a.notifyCh, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(a)
}

// eventf records an event about pod, when the agent runs in a manager.
func (a *Agent) eventf(pod *corev1.Pod, eventType, reason, action, note string, args ...any) {
	if a.events != nil {
		a.events.Eventf(pod, nil, eventType, reason, action, note, args...)
	}
}

// notify asks for pod key to be reconciled again (a probe result changed).
func (a *Agent) notify(key types.NamespacedName) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	select {
	case a.notifyCh <- event.GenericEvent{Object: p}:
	case <-a.runCtx.Done():
	}
}

// Reconcile binds, starts, reports on and terminates one pod.
func (a *Agent) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var pod corev1.Pod
	if err := a.client.Get(ctx, req.NamespacedName, &pod); err != nil {
		if apierrors.IsNotFound(err) {
			a.forget(req.NamespacedName, "")
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if pod.Spec.NodeName == "" {
		return a.bind(ctx, &pod)
	}
	if pod.Spec.NodeName != a.opts.NodeName {
		return reconcile.Result{}, nil
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		// Finished: nothing runs any more; a deleted one goes at once, as the
		// kubelet removes terminated pods.
		a.forget(req.NamespacedName, pod.UID)
		if pod.DeletionTimestamp != nil {
			return reconcile.Result{}, client.IgnoreNotFound(a.deleteNow(ctx, &pod))
		}
		return reconcile.Result{}, nil
	}
	if pod.DeletionTimestamp != nil && !a.running(req.NamespacedName, pod.UID) {
		// Nothing runs for it (never started, or the agent restarted): remove it now.
		return reconcile.Result{}, client.IgnoreNotFound(a.deleteNow(ctx, &pod))
	}
	rt := a.runtimeFor(&pod)
	if pod.DeletionTimestamp != nil {
		a.terminate(&pod, rt)
		return reconcile.Result{}, nil
	}
	if rt.isTerminating() {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{}, a.updateStatus(ctx, &pod, rt)
}

// bind assigns an unscheduled pod to this node through the Binding subresource, as
// kube-scheduler would.
func (a *Agent) bind(ctx context.Context, pod *corev1.Pod) (reconcile.Result, error) {
	select {
	case <-a.nodeUp:
	default:
		return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
	}
	if pod.DeletionTimestamp != nil {
		// Never started: nothing to stop.
		return reconcile.Result{}, client.IgnoreNotFound(a.deleteNow(ctx, pod))
	}
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: a.opts.NodeName},
	}
	if err := a.client.SubResource("binding").Create(ctx, pod, b); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return reconcile.Result{}, nil // deleted or bound meanwhile; a new event follows
		}
		return reconcile.Result{}, fmt.Errorf("bind pod %s/%s to node %s: %w", pod.Namespace, pod.Name, a.opts.NodeName, err)
	}
	a.events.Eventf(pod, nil, corev1.EventTypeNormal, "Scheduled", "Binding",
		"Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, a.opts.NodeName)
	return reconcile.Result{}, nil
}

// runtimeFor returns the pod's runtime, starting it on first sight. A runtime left by
// an earlier pod of the same name (different UID) is stopped first.
func (a *Agent) runtimeFor(pod *corev1.Pod) *podRuntime {
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	a.mu.Lock()
	rt := a.pods[key]
	a.mu.Unlock()
	if rt != nil && rt.uid == pod.UID {
		return rt
	}
	if rt != nil {
		a.forget(key, rt.uid)
	}
	a.adoptIP(pod)
	rt = a.startPod(pod)
	a.mu.Lock()
	a.pods[key] = rt
	a.mu.Unlock()
	for _, c := range rt.containers {
		if c.stuck.Load() != nil {
			continue // its pull or crash loop reports
		}
		if c.waiting != nil {
			a.events.Eventf(pod, nil, corev1.EventTypeWarning, c.waiting.Reason, "Starting",
				"container %s: %s", c.spec.Name, c.waiting.Message)
		} else {
			a.events.Eventf(pod, nil, corev1.EventTypeNormal, "Started", "Starting",
				"Started container %s (%s) on %s", c.spec.Name, c.describe(), rt.ip)
		}
	}
	return rt
}

// running reports whether a runtime of the pod with this UID exists.
func (a *Agent) running(key types.NamespacedName, uid types.UID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	rt := a.pods[key]
	return rt != nil && rt.uid == uid
}

// adoptIP keeps the address a pod already had (after an agent restart), when free.
func (a *Agent) adoptIP(pod *corev1.Pod) {
	if pod.Status.PodIP == "" {
		return
	}
	if ip, err := netip.ParseAddr(pod.Status.PodIP); err == nil {
		_ = a.ips.Reserve(ip, string(pod.UID))
	}
}

// terminate starts the pod's shutdown; when it is over the pod object is deleted.
func (a *Agent) terminate(pod *corev1.Pod, rt *podRuntime) {
	if rt.isTerminating() {
		return
	}
	a.events.Eventf(pod, nil, corev1.EventTypeNormal, "Killing", "Killing", "Stopping pod %s/%s", pod.Namespace, pod.Name)
	p := pod.DeepCopy()
	a.startTermination(rt, p, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.deleteNow(ctx, p); err != nil && !apierrors.IsNotFound(err) && a.runCtx.Err() == nil {
			ctrl.Log.WithName("nodeagent").Error(err, "could not remove terminated pod", "pod", rt.key)
		}
	})
}

// deleteNow removes the pod object for good (grace period 0), only if it is still the
// same pod.
func (a *Agent) deleteNow(ctx context.Context, pod *corev1.Pod) error {
	uid := pod.UID
	return a.client.Delete(ctx, pod, client.GracePeriodSeconds(0), client.Preconditions{UID: &uid})
}

// forget stops and drops the runtime of key at once (the pod object is gone). If uid
// is set, only a runtime of that UID is dropped.
func (a *Agent) forget(key types.NamespacedName, uid types.UID) {
	a.mu.Lock()
	rt := a.pods[key]
	if rt == nil || (uid != "" && rt.uid != uid) {
		a.mu.Unlock()
		return
	}
	delete(a.pods, key)
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rt.stop(ctx)
	a.ips.Release(string(rt.uid))
}

// updateStatus writes the pod status if it differs from what the runtime shows.
func (a *Agent) updateStatus(ctx context.Context, pod *corev1.Pod, rt *podRuntime) error {
	want := desiredStatus(pod, rt)
	if equality.Semantic.DeepEqual(want, pod.Status) {
		return nil
	}
	p := pod.DeepCopy()
	p.Status = want
	if err := a.client.Status().Update(ctx, p); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil // a newer version of the pod is on its way to us
		}
		return fmt.Errorf("update status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// Stop stops every pod the agent runs, at once. Call it after the manager stopped.
func (a *Agent) Stop() {
	a.cancelRun()
	a.mu.Lock()
	keys := make([]types.NamespacedName, 0, len(a.pods))
	for k := range a.pods {
		keys = append(keys, k)
	}
	a.mu.Unlock()
	for _, k := range keys {
		a.forget(k, "")
	}
}
