package nodeagent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
)

// Waiting reasons the agent reports for containers it cannot run.
const (
	// ReasonInvalidImageName: the image reference does not parse (as the kubelet says).
	ReasonInvalidImageName = "InvalidImageName"
	// ReasonConfigError: an environment knob of the demo app has an invalid value.
	ReasonConfigError = "CreateContainerConfigError"
	// ReasonListenFailed: the demo app could not bind its port (another pod has it?).
	ReasonListenFailed = ReasonRunContainerError
	// ReasonContainerCreating: the container's postStart hook has not returned yet.
	ReasonContainerCreating = "ContainerCreating"
)

// podRuntime is what the agent runs for one pod: a loopback IP and, per container,
// a demo app server (the demo app itself, or the HTTP stand-in for another image)
// and its readiness prober. It lives from the first reconcile of a
// bound pod until the pod's termination finished.
type podRuntime struct {
	key       types.NamespacedName
	uid       types.UID
	ip        netip.Addr // invalid if the pod could not start (no IP is given then)
	startedAt metav1.Time
	cancel    context.CancelFunc // stops the probers, postStart hooks and pull loops
	// containers in spec order
	containers []*containerRuntime

	termMu      sync.Mutex
	terminating bool
	terminated  chan struct{} // closed when serving stopped for good
}

type containerRuntime struct {
	spec    corev1.Container
	version string
	standIn bool                          // the image is not the demo app: serve the generic HTTP stand-in
	server  *demoapp.Server               // nil if the container could not be started
	waiting *corev1.ContainerStateWaiting // why it could not be started
	prober  *prober                       // nil if the container has no readiness probe

	// stuck is the failure the container cycles through: its image pull
	// (ErrImagePull, ImagePullBackOff) or its start (RunContainerError,
	// CrashLoopBackOff); nil if it was started.
	stuck atomic.Pointer[stuckState]
	// running is closed when the container counts as running: at once, or when its
	// postStart hook finished. Nil when the container was never started.
	running chan struct{}

	// exited is how the container's command ended for good (see exitAfter and
	// runCommand), nil while it runs or if it never ends.
	exited atomic.Pointer[corev1.ContainerStateTerminated]
	// lastExit is the previous run's end, and crashWaiting is set during the
	// back-off before a restart (restartPolicy OnFailure); restarts counts them.
	lastExit     atomic.Pointer[corev1.ContainerStateTerminated]
	crashWaiting atomic.Pointer[corev1.ContainerStateWaiting]
	restarts     atomic.Int32
	restartedAt  atomic.Pointer[metav1.Time] // when it last restarted
}

// startPod creates the runtime of a pod: it validates every container, allocates an
// IP and starts serving. If an image reference does not parse, nothing is served
// and the pod stays Pending with the reason in its container statuses. A container
// whose image cannot be pulled (pull.go) or whose command its image does not have
// (crash.go) does not stop the others: the pod gets its IP, they run, and that
// container cycles through ErrImagePull and ImagePullBackOff, or RunContainerError
// and CrashLoopBackOff.
func (a *Agent) startPod(pod *corev1.Pod) *podRuntime {
	key := types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name}
	rt := &podRuntime{key: key, uid: pod.UID, startedAt: metav1.Now().Rfc3339Copy(), terminated: make(chan struct{})}
	ok := true
	images := make([]demoapp.Image, len(pod.Spec.Containers))
	for i := range pod.Spec.Containers {
		c := &containerRuntime{spec: pod.Spec.Containers[i]}
		img, err := demoapp.ParseImageRef(c.spec.Image)
		if err != nil {
			c.waiting = &corev1.ContainerStateWaiting{
				Reason:  ReasonInvalidImageName,
				Message: fmt.Sprintf("Failed to apply default image tag %q: %v", c.spec.Image, err),
			}
			ok = false
		} else {
			c.version, c.standIn = img.Version(), !img.IsDemo()
		}
		images[i] = img
		rt.containers = append(rt.containers, c)
	}
	if !ok {
		return rt
	}
	ip, err := a.ips.Allocate(string(pod.UID))
	if err != nil {
		for _, c := range rt.containers {
			c.waiting = &corev1.ContainerStateWaiting{Reason: "CreatePodSandboxError", Message: err.Error()}
		}
		return rt
	}
	rt.ip = ip
	ctx, cancel := context.WithCancel(context.Background())
	rt.cancel = cancel
	started := time.Now()
	notify := func() { a.notify(rt.key) }
	for i, c := range rt.containers {
		res := a.pull(images[i], c.spec.Image)
		if !res.ok {
			c.stuck.Store(pulling())
			go a.pullLoop(ctx, pod.DeepCopy(), c, images[i], res, notify)
			continue
		}
		if execErr := commandError(res.fs, c.spec.Command); execErr != "" {
			a.failStart(ctx, pod, c, execErr, notify)
			continue
		}
		a.startContainer(ctx, pod, rt, c, started)
	}
	return rt
}

// startContainer serves the container, runs its postStart hook (the time it takes)
// and starts its readiness prober. started is when the container started.
func (a *Agent) startContainer(ctx context.Context, pod *corev1.Pod, rt *podRuntime, c *containerRuntime, started time.Time) {
	env := map[string]string{}
	for _, e := range c.spec.Env {
		if e.ValueFrom == nil {
			env[e.Name] = e.Value
		}
	}
	base := demoapp.Config{Version: c.version, PodName: pod.Name, PodIP: rt.ip.String()}
	if c.standIn {
		base.ProbePaths = httpProbePaths(&c.spec)
	}
	cfg, err := demoapp.ConfigFromEnv(base, env)
	if err != nil {
		c.waiting = &corev1.ContainerStateWaiting{Reason: ReasonConfigError, Message: err.Error()}
		return
	}
	var addrs []string
	for _, p := range c.spec.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			addrs = append(addrs, net.JoinHostPort(rt.ip.String(), strconv.Itoa(int(p.ContainerPort))))
		}
	}
	// The process serves from its start; the kubelet reports it running only once
	// its postStart hook returned.
	c.server = demoapp.Serve(demoapp.New(cfg), addrs)
	c.running = make(chan struct{})
	var hook time.Duration
	if c.spec.Lifecycle != nil {
		hook = hookDuration(c.spec.Lifecycle.PostStart)
	}
	if hook == 0 {
		close(c.running)
	} else {
		go func() {
			if hook == neverEnds {
				<-ctx.Done()
				return
			}
			if sleepCtx(ctx, scaled(hook, a.opts.TimeScale, 0)) == nil {
				close(c.running)
				a.notify(rt.key)
			}
		}()
	}
	a.startCommand(ctx, pod, rt, c, started)
	if c.spec.ReadinessProbe != nil {
		c.prober = &prober{
			probe:     c.spec.ReadinessProbe,
			container: &c.spec,
			podIP:     rt.ip.String(),
			client:    a.probeClient,
			scale:     a.opts.TimeScale,
			startedAt: started,
			running:   c.running,
			onChange:  func() { a.notify(rt.key) },
		}
		go c.prober.run(ctx)
	}
}

// startCommand plays the container's command when it ends and the pod's restart
// policy lets the container end (Never, OnFailure).
func (a *Agent) startCommand(ctx context.Context, pod *corev1.Pod, rt *podRuntime, c *containerRuntime, started time.Time) {
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever && pod.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return
	}
	if run, code, ends := exitAfter(&c.spec); ends {
		go a.runCommand(ctx, rt, c, pod.Spec.RestartPolicy, run, code, started)
	}
}

// runCommand plays the container's command (see exitAfter): it runs for run (real
// time) from started and ends with code. Under restartPolicy Never, or when it
// succeeds, the container is terminated for good and stops serving; under
// OnFailure a failure restarts it after the crash loop back-off.
func (a *Agent) runCommand(ctx context.Context, rt *podRuntime, c *containerRuntime, policy corev1.RestartPolicy,
	run time.Duration, code int32, started time.Time) {
	backOff := crashBackOffInitial
	for {
		if sleepCtx(ctx, time.Until(started.Add(run))) != nil {
			return
		}
		reason := "Completed"
		if code != 0 {
			reason = "Error"
		}
		end := &corev1.ContainerStateTerminated{
			ExitCode: code, Reason: reason,
			StartedAt:  metav1.NewTime(started).Rfc3339Copy(),
			FinishedAt: metav1.Now().Rfc3339Copy(),
		}
		if code == 0 || policy != corev1.RestartPolicyOnFailure {
			c.exited.Store(end)
			if c.server != nil {
				sctx, cancel := context.WithTimeout(ctx, time.Second)
				_ = c.server.Shutdown(sctx)
				cancel()
			}
			a.notify(rt.key)
			return
		}
		c.lastExit.Store(end)
		c.restarts.Add(1)
		c.crashWaiting.Store(&corev1.ContainerStateWaiting{
			Reason:  ReasonCrashLoopBackOff,
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", backOff, c.spec.Name, rt.key.Name, rt.key.Namespace, rt.uid),
		})
		a.notify(rt.key)
		if sleepCtx(ctx, scaled(backOff, a.opts.TimeScale, minScaledProbeInterval)) != nil {
			return
		}
		backOff = min(2*backOff, crashBackOffMax)
		started = time.Now()
		t := metav1.NewTime(started).Rfc3339Copy()
		c.restartedAt.Store(&t)
		c.crashWaiting.Store(nil)
		a.notify(rt.key)
	}
}

// httpProbePaths are the paths of the container's HTTP probes (readiness, liveness,
// startup). The stand-in for a generic image fails them while its health fails,
// whatever path the manifest probes.
func httpProbePaths(c *corev1.Container) []string {
	var paths []string
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
		if p != nil && p.HTTPGet != nil {
			paths = append(paths, p.HTTPGet.Path)
		}
	}
	return paths
}

// describe names what runs in the container, for events.
func (c *containerRuntime) describe() string {
	if c.standIn {
		return fmt.Sprintf("HTTP stand-in for image %s, version %s", c.spec.Image, c.version)
	}
	return "demo app " + c.version
}

// isRunning reports whether the container is reported running: it serves and its
// postStart hook is over.
func (c *containerRuntime) isRunning() bool {
	if c.server == nil || c.running == nil || c.stuck.Load() != nil || c.exited.Load() != nil || c.crashWaiting.Load() != nil {
		return false
	}
	select {
	case <-c.running:
		return true
	default:
		return false
	}
}

// ready reports the readiness of a container: without a probe it is ready as soon as
// it runs (the kubelet's rule), with one when the probe says so.
func (c *containerRuntime) ready() bool {
	if !c.isRunning() || c.server.Err() != nil {
		return false
	}
	if c.prober == nil {
		return true
	}
	return c.prober.ready.Load()
}

// startTermination runs the pod's shutdown once: the preStop sleep (if any), then the
// demo app stops listening and gets what is left of the grace period for requests in
// flight. done is called when all of that is over.
func (a *Agent) startTermination(rt *podRuntime, pod *corev1.Pod, done func()) {
	rt.termMu.Lock()
	defer rt.termMu.Unlock()
	if rt.terminating {
		return
	}
	rt.terminating = true
	grace := 30 * time.Second
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	} else if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	grace = scaled(grace, a.opts.TimeScale, 0)
	// preStop hooks run in the containers that run (see hookDuration), in parallel.
	var preStop time.Duration
	for _, c := range rt.containers {
		if c.isRunning() && c.spec.Lifecycle != nil {
			preStop = max(preStop, hookDuration(c.spec.Lifecycle.PreStop))
		}
	}
	if preStop != neverEnds {
		preStop = scaled(preStop, a.opts.TimeScale, 0)
	}
	preStop = min(preStop, grace)
	if !rt.ip.IsValid() {
		preStop = 0 // nothing ever ran
	}
	go func() {
		deadline := time.Now().Add(grace)
		// The pod keeps serving during the preStop sleep, as the hook makes it do. An
		// agent shutdown cuts the sleep short.
		_ = sleepCtx(a.runCtx, preStop)
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		rt.stop(ctx)
		cancel()
		a.ips.Release(string(rt.uid))
		close(rt.terminated)
		done()
	}()
}

// stop shuts every container down within ctx and stops the probers.
func (rt *podRuntime) stop(ctx context.Context) {
	var wg sync.WaitGroup
	for _, c := range rt.containers {
		if c.server != nil {
			wg.Add(1)
			go func(s *demoapp.Server) {
				defer wg.Done()
				_ = s.Shutdown(ctx)
			}(c.server)
		}
	}
	wg.Wait()
	if rt.cancel != nil {
		rt.cancel()
	}
}

// isTerminating reports whether startTermination ran.
func (rt *podRuntime) isTerminating() bool {
	rt.termMu.Lock()
	defer rt.termMu.Unlock()
	return rt.terminating
}
