// Package controller is the rollout controller: it takes argoproj.io/v1alpha1
// Rollouts through their canary steps or blue-green switch, moving traffic
// through an AWS Application Load Balancer only as fast as the ALB and its
// targets really follow.
//
// The reconciler is level-triggered. Every decision comes from what it
// observes: the Rollout (spec and status), its ReplicaSets and pods, the
// Services it points at ReplicaSets, the Ingresses whose ALB action annotation
// carries the weights, TargetGroupBindings, and the ELBv2 API (read through
// internal/verify). It performs at most a few changes per pass, writes the
// evidence that allowed them into the Rollout's status, and requeues with a
// computed delay; nothing sleeps. A controller restarted at any point re-derives
// where it stands from the same observations.
//
// The safety rules:
//   - a target group's weight is raised (or a header route added) only after
//     the pods that will serve it are registered and healthy in that group
//     (verified through the ELBv2 API);
//   - a Service's selector is moved only while its target group gets no
//     traffic (weights written but not yet verified count), or only narrowed;
//   - nothing is scaled down or evicted while a weight, a route or a Service
//     still depends on it;
//   - an error or a timed-out verification leaves traffic where it was last
//     verified (a timeout during an update aborts it, the same safe way);
//   - a gate that cannot be evaluated (analysis, experiment, plugin) pauses
//     the rollout until a user promotes (gates.go);
//   - an abort ends with all traffic verified on the stable version.
//
// The state machines (traffic.go, canary.go, bluegreen_traffic.go) decide;
// every write that changes who serves traffic goes through one guard
// (guard.go) that checks it against these rules on observed state and
// refuses it otherwise. The randomized simulation (simulation_test.go)
// checks the rules independently of both.
package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// ComponentName is the reporting controller of events, as Argo Rollouts names it.
const ComponentName = "rollouts-controller"

// Defaults of Options.
const (
	DefaultWorkers       = 10
	DefaultVerifyTimeout = verify.DefaultTimeout
)

// Verifier checks an ALB against a rollout's expectations; *verify.Verifier
// implements it, tests use a scripted fake.
type Verifier interface {
	Verify(ctx context.Context, in verify.Input) verify.Result
}

// Options configure the controller.
type Options struct {
	// InstanceID shards rollouts as Argo Rollouts' --instance-id does: with an
	// id, only rollouts labelled argo-rollouts.argoproj.io/controller-instance-id
	// with it; without, only rollouts without the label.
	InstanceID string
	// VerifyByDefault is --aws-verify-target-group: verification for rollouts
	// that leave verifyTargetGroup unset.
	VerifyByDefault bool
	// VerifyTimeout applies to rollouts without timeoutSeconds (default 30 s).
	VerifyTimeout time.Duration
	// Workers is the number of rollouts reconciled in parallel (default 10).
	Workers int
	// VerifyCallTimeout bounds one Verify call (default 20 s): a check that
	// waits longer for the ELBv2 rate limiter is retried on the next pass.
	VerifyCallTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Registerer receives the per-rollout metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Instrument, if set, wraps the reconciler the manager runs (Argo
	// Rollouts' rollout_reconcile metrics).
	Instrument func(reconcile.Reconciler) reconcile.Reconciler
	// SyncVerify calls Verify in the worker even when the verifier can
	// check in the background (an AsyncVerifier, as the controller's own):
	// the deterministic tests' mode. Off, no worker waits for an ELBv2
	// read (see async_verify.go).
	SyncVerify bool
}

func (o *Options) setDefaults() {
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = DefaultVerifyTimeout
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.VerifyCallTimeout <= 0 {
		o.VerifyCallTimeout = 20 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Reconciler reconciles Rollouts.
type Reconciler struct {
	client client.Client
	// live reads the Rollout itself from the API server, not the cache: the
	// pass that follows a status write must see that write.
	live     client.Reader
	verifier Verifier
	recorder events.EventRecorder
	opts     Options
	metrics  *rolloutMetrics

	// albLookups remembers, per rollout, when its load balancer was last
	// looked up for status.alb while it does not verify (best effort, not
	// state: a restart just looks again).
	albLookupsMu sync.Mutex
	albLookups   map[types.UID]time.Time

	// own remembers the controller's own writes to Rollouts, whose watch
	// events are not a reason for another pass.
	own ownWrites

	// async checks in the background (nil: Verify in the worker), and
	// watches are the rollouts' watches in it (async_verify.go).
	async   AsyncVerifier
	watches asyncWatches
}

// ownWrites remembers, per Rollout, the resourceVersions of the controller's
// latest writes to it (the revision annotation and the status). The watch
// drops the update events of those versions: a pass that wrote status has
// already asked for its next pass (RequeueAfter), and reacting to its own
// write would reconcile a pending rollout as fast as the API server answers.
// A write by anyone else (the CLI's promote or abort, kubectl) has another
// resourceVersion and is seen as usual.
type ownWrites struct {
	mu  sync.Mutex
	rvs map[types.UID][]string
}

// ownWritesKept bounds the versions remembered per Rollout: a pass writes at
// most two (annotation, status), and an event is dropped once matched.
const ownWritesKept = 4

func (w *ownWrites) wrote(uid types.UID, rv string) {
	if uid == "" || rv == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rvs == nil {
		w.rvs = map[types.UID][]string{}
	}
	l := append(w.rvs[uid], rv)
	if len(l) > ownWritesKept {
		l = l[len(l)-ownWritesKept:]
	}
	w.rvs[uid] = l
}

// consume reports whether rv is one of the controller's own writes of the
// Rollout, and forgets it.
func (w *ownWrites) consume(uid types.UID, rv string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.rvs[uid]
	i := slices.Index(l, rv)
	if i < 0 {
		return false
	}
	w.rvs[uid] = slices.Delete(l, i, i+1)
	return true
}

func (w *ownWrites) forget(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.rvs, uid)
}

// notOwnWrite passes every event but the update a Rollout's own status or
// annotation write caused.
func (r *Reconciler) notOwnWrite() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return !r.own.consume(e.ObjectNew.GetUID(), e.ObjectNew.GetResourceVersion())
		},
		DeleteFunc: func(e event.DeleteEvent) bool {
			r.own.forget(e.Object.GetUID())
			return true
		},
	}
}

// New returns a Reconciler. c should be a cached client (the manager's);
// verifier may be nil only if no rollout ever verifies.
func New(c client.Client, verifier Verifier, recorder events.EventRecorder, o Options) *Reconciler {
	o.setDefaults()
	r := &Reconciler{client: c, live: c, verifier: verifier, recorder: recorder, opts: o, metrics: newMetrics(o.Registerer), albLookups: map[types.UID]time.Time{}}
	if a, ok := verifier.(AsyncVerifier); ok && !o.SyncVerify {
		r.async = a
	}
	return r
}

// WithLiveReader makes the reconciler read Rollouts through r (the manager's
// API reader) instead of the cache.
func (r *Reconciler) WithLiveReader(reader client.Reader) *Reconciler {
	r.live = reader
	return r
}

// ours reports whether a rollout belongs to this controller instance.
func (r *Reconciler) ours(labels map[string]string) bool {
	id, has := labels[replicaset.InstanceIDLabel]
	if r.opts.InstanceID == "" {
		return !has
	}
	return has && id == r.opts.InstanceID
}

// SetupWithManager registers the controller and its watches: Rollouts, the
// ReplicaSets and AnalysisRuns they own, pods (through their ReplicaSet), the
// Services and Ingresses rollouts name, and the Deployments their workloadRef names.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.Rollout{}, indexServices, rolloutServices); err != nil {
		return fmt.Errorf("index rollouts by service: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.Rollout{}, indexIngresses, rolloutIngresses); err != nil {
		return fmt.Errorf("index rollouts by ingress: %w", err)
	}
	if err := idx.IndexField(ctx, &v1alpha1.Rollout{}, indexWorkloadRefs, rolloutWorkloadRefs); err != nil {
		return fmt.Errorf("index rollouts by workloadRef: %w", err)
	}
	mine := predicate.NewPredicateFuncs(func(o client.Object) bool { return r.ours(o.GetLabels()) })
	var rec reconcile.Reconciler = r
	if r.opts.Instrument != nil {
		rec = r.opts.Instrument(r)
	}
	b := ctrl.NewControllerManagedBy(mgr)
	if r.async != nil {
		// A watch's changed result brings its rollout back (async_verify.go).
		r.watches.events = make(chan event.GenericEvent, asyncEventBuffer)
		b = b.WatchesRawSource(source.Channel(r.watches.events, &handler.EnqueueRequestForObject{}))
	}
	return b.
		Named("rollout").
		For(&v1alpha1.Rollout{}, builder.WithPredicates(mine, r.notOwnWrite())).
		Owns(&appsv1.ReplicaSet{}).
		Owns(&v1alpha1.AnalysisRun{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.rolloutOfPod)).
		Watches(&corev1.Service{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsByIndex(indexServices))).
		Watches(&networkingv1.Ingress{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsByIndex(indexIngresses))).
		Watches(&appsv1.Deployment{}, handler.EnqueueRequestsFromMapFunc(r.rolloutsByIndex(indexWorkloadRefs)),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.opts.Workers}).
		Complete(rec)
}

const (
	indexServices  = "albrollouts.services"
	indexIngresses = "albrollouts.ingresses"
)

// rolloutServices lists the Services a rollout names.
func rolloutServices(o client.Object) []string {
	ro, ok := o.(*v1alpha1.Rollout)
	if !ok {
		return nil
	}
	var out []string
	if c := ro.Spec.Strategy.Canary; c != nil {
		out = append(out, c.CanaryService, c.StableService)
		if c.PingPong != nil {
			out = append(out, c.PingPong.PingService, c.PingPong.PongService)
		}
		if c.TrafficRouting != nil && c.TrafficRouting.ALB != nil {
			out = append(out, c.TrafficRouting.ALB.RootService)
		}
	}
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		out = append(out, bg.ActiveService, bg.PreviewService)
		if bg.ALB != nil {
			out = append(out, bg.ALB.RootService)
		}
	}
	return nonEmpty(out)
}

// rolloutIngresses lists the Ingresses a rollout names.
func rolloutIngresses(o client.Object) []string {
	ro, ok := o.(*v1alpha1.Rollout)
	if !ok {
		return nil
	}
	var out []string
	if c := ro.Spec.Strategy.Canary; c != nil && c.TrafficRouting != nil {
		out = append(out, c.TrafficRouting.ALB.IngressNames()...)
	}
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		out = append(out, bg.ALB.IngressNames()...)
	}
	return nonEmpty(out)
}

// rolloutAction is the annotation prefix and the action name a rollout
// writes its weights under ("" when it writes none).
func rolloutAction(ro *v1alpha1.Rollout) (prefix, action string) {
	if c := ro.Spec.Strategy.Canary; c != nil && c.TrafficRouting != nil && c.TrafficRouting.ALB != nil {
		return c.TrafficRouting.ALB.AnnotationPrefix, c.ActionService()
	}
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil && len(bg.ALB.IngressNames()) > 0 {
		if bg.ALB.RootService != "" {
			return bg.ALB.AnnotationPrefix, bg.ALB.RootService
		}
		return bg.ALB.AnnotationPrefix, bg.ActiveService
	}
	return "", ""
}

// ingressNames are the Ingresses whose action the rollout writes: those it
// names and those it still holds (observed.held), sorted after the named.
func (c *rolloutContext) ingressNames(named []string) []string {
	if len(named) == 0 {
		return nil
	}
	return append(slices.Clone(named), c.obs.held...)
}

func nonEmpty(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (r *Reconciler) rolloutsByIndex(index string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		var list v1alpha1.RolloutList
		if err := r.client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{index: o.GetName()}); err != nil {
			log.FromContext(ctx).Error(err, "listing rollouts for a watched object", "object", o.GetName())
			return nil
		}
		var out []reconcile.Request
		for _, ro := range list.Items {
			if r.ours(ro.Labels) {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ro.Namespace, Name: ro.Name}})
			}
		}
		return out
	}
}

// rolloutOfPod maps a pod to the rollout owning its ReplicaSet. The ReplicaSet
// is named <rollout>-<hash>; the owner reference says which rollout.
func (r *Reconciler) rolloutOfPod(ctx context.Context, o client.Object) []reconcile.Request {
	if _, ok := o.GetLabels()[replicaset.HashLabel]; !ok {
		return nil
	}
	for _, ref := range o.GetOwnerReferences() {
		if ref.Kind != "ReplicaSet" || ref.Controller == nil || !*ref.Controller {
			continue
		}
		var rs appsv1.ReplicaSet
		if err := r.client.Get(ctx, client.ObjectKey{Namespace: o.GetNamespace(), Name: ref.Name}, &rs); err != nil {
			return nil
		}
		for _, rref := range rs.OwnerReferences {
			if rref.Kind == replicaset.RolloutGVK.Kind && rref.Controller != nil && *rref.Controller {
				return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: rs.Namespace, Name: rref.Name}}}
			}
		}
	}
	return nil
}

// Reconcile brings one rollout a step closer to its desired state.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx).WithValues("rollout", req.NamespacedName)
	ctx = log.IntoContext(ctx, logger)
	var ro v1alpha1.Rollout
	if err := r.live.Get(ctx, req.NamespacedName, &ro); err != nil {
		if apierrors.IsNotFound(err) {
			r.metrics.forget(req.Namespace, req.Name)
			r.forgetWatches(req.NamespacedName, nil)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, err
	}
	if !r.ours(ro.Labels) || ro.DeletionTimestamp != nil {
		r.forgetWatches(req.NamespacedName, nil)
		return reconcile.Result{}, nil
	}
	obs, err := r.observe(ctx, &ro)
	if err != nil {
		return reconcile.Result{}, err
	}
	c := newRolloutContext(r, &ro, obs)
	runErr := c.syncWorkload(ctx, c.reconcile(ctx))
	if err := c.writeStatus(ctx); err != nil {
		if apierrors.IsConflict(err) {
			// Someone (the CLI, a user) changed the rollout meanwhile: start over
			// from what it says now.
			return reconcile.Result{RequeueAfter: 50 * time.Millisecond}, nil
		}
		return reconcile.Result{}, err
	}
	r.metrics.record(&ro, c.status)
	if runErr == nil {
		c.endPass()
	}
	if runErr != nil {
		if errors.Is(runErr, errUnsafeWrite) {
			// The guard refused a write (an event says which and why):
			// look again later, from what is observed then.
			return c.result(), nil
		}
		if apierrors.IsConflict(runErr) {
			return reconcile.Result{RequeueAfter: 200 * time.Millisecond}, nil
		}
		logger.Info("reconcile failed; retrying", "error", runErr.Error())
		return reconcile.Result{}, runErr
	}
	return c.result(), nil
}
