// Package notify sends Argo Rollouts' notifications: for each Kubernetes event
// the controllers record on a Rollout (or on an AnalysisRun a Rollout owns),
// the subscribers of the event's trigger (RolloutCompleted →
// on-rollout-completed) get the trigger's templates, rendered with the Rollout
// as .rollout, through github.com/argoproj/notifications-engine. The services,
// templates and triggers are Argo's: the ConfigMap
// argo-rollouts-notification-configmap and the Secret
// argo-rollouts-notification-secret in the controller's namespace; the
// subscriptions are the Rollouts' notifications.argoproj.io/subscribe.<trigger>.<service>
// annotations (and the ConfigMap's subscriptions).
//
// Recording an event never waits for a notification: the event is queued
// (a bounded queue; a full queue drops it, counted) and one worker sends.
// A ConfigMap that does not parse is logged and recorded as a Warning event on
// the ConfigMap; a send that fails is logged, recorded on the Rollout and
// counted (notification_send_error, as Argo's).
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/argoproj/notifications-engine/pkg/api"
	"github.com/argoproj/notifications-engine/pkg/services"
	"github.com/argoproj/notifications-engine/pkg/subscriptions"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Argo Rollouts' names of the notification configuration, read in the
// controller's namespace.
const (
	ConfigMapName = "argo-rollouts-notification-configmap"
	SecretName    = "argo-rollouts-notification-secret"
)

// DefaultQueueSize bounds the events waiting for their notifications.
const DefaultQueueSize = 1000

// Event reasons the notifier records itself (on the ConfigMap, on a Rollout).
const (
	ReasonInvalidConfig      = "NotificationConfigInvalid"
	ReasonNotificationFailed = "NotificationFailed"
)

// Options configure a Notifier.
type Options struct {
	// Namespace holds the ConfigMap and the Secret: the controller's.
	Namespace string
	// QueueSize bounds the events waiting to be notified (default
	// DefaultQueueSize); an event that finds the queue full is dropped.
	QueueSize int
	// Registerer receives the notification metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Logger; default: discards.
	Logger logr.Logger
}

// item is one recorded event waiting for its notifications.
type item struct {
	obj       client.Object // a deep copy: *v1alpha1.Rollout or *v1alpha1.AnalysisRun
	eventType string
	reason    string
}

// Notifier sends the notifications of the events recorded through the
// recorders it wraps (Wrap). It is a manager.Runnable: Start reads the
// configuration and sends until its context ends.
type Notifier struct {
	opts    Options
	log     logr.Logger
	reader  client.Reader
	factory api.Factory
	started []interface{ Start(<-chan struct{}) }
	synced  []cache.InformerSynced
	cms     cache.SharedIndexInformer
	queue   chan item
	metrics *metrics

	mu sync.Mutex
	// events records the notifier's own events (not notified).
	events events.EventRecorder
	// reportedRV is the resourceVersion of the ConfigMap last reported
	// invalid: each bad version is reported once.
	reportedRV *string
}

// New returns a Notifier reading its configuration with kube and the owners
// of AnalysisRuns with reader.
func New(kube kubernetes.Interface, reader client.Reader, o Options) (*Notifier, error) {
	if o.Namespace == "" {
		return nil, errors.New("notifications: no namespace for " + ConfigMapName)
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	log := o.Logger
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	n := &Notifier{opts: o, log: log, reader: reader, queue: make(chan item, o.QueueSize), metrics: m}
	// One informer per object, each limited to its name: the controller
	// needs to read only these two (RBAC resourceNames).
	cmf := namedInformers(kube, o.Namespace, ConfigMapName)
	sf := namedInformers(kube, o.Namespace, SecretName)
	n.cms = cmf.Core().V1().ConfigMaps().Informer()
	secrets := sf.Core().V1().Secrets().Informer()
	n.started = []interface{ Start(<-chan struct{}) }{cmf, sf}
	n.synced = []cache.InformerSynced{n.cms.HasSynced, secrets.HasSynced}
	settings := api.Settings{ConfigMapName: ConfigMapName, SecretName: SecretName, InitGetVars: initGetVars}
	n.factory = api.NewFactory(settings, o.Namespace, secrets, n.cms)
	return n, nil
}

func namedInformers(kube kubernetes.Interface, ns, name string) informers.SharedInformerFactory {
	return informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + name }))
}

// Setup builds a Notifier for mgr's controllers and adds it to mgr; wrap
// their recorders with its Wrap.
func Setup(mgr ctrl.Manager, o Options) (*Notifier, error) {
	kube, err := kubernetes.NewForConfig(mgr.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	if o.Logger.GetSink() == nil {
		o.Logger = mgr.GetLogger().WithName("notifications")
	}
	n, err := New(kube, mgr.GetClient(), o)
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(n); err != nil {
		return nil, err
	}
	return n, nil
}

// initGetVars gives templates and trigger conditions what Argo's give them:
// .rollout, .secrets, and time.Now / time.Parse.
func initGetVars(_ *api.Config, _ *corev1.ConfigMap, secret *corev1.Secret) (api.GetVars, error) {
	return func(obj map[string]any, _ services.Destination) map[string]any {
		return map[string]any{"rollout": obj, "secrets": secret.Data, "time": timeVars}
	}, nil
}

var timeVars = map[string]any{
	"Now": time.Now,
	"Parse": func(s string) time.Time {
		t, _ := time.Parse(time.RFC3339, s)
		return t
	},
}

// Start reads the configuration and sends the queued events' notifications
// until ctx ends.
func (n *Notifier) Start(ctx context.Context) error {
	for _, f := range n.started {
		f.Start(ctx.Done())
	}
	n.waitSynced(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case it := <-n.queue:
			n.process(ctx, it)
		}
	}
}

// waitSynced waits for the ConfigMap and Secret informers, saying so every
// 30 s (RBAC, most likely), until ctx ends.
func (n *Notifier) waitSynced(ctx context.Context) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ok := cache.WaitForCacheSync(wctx.Done(), n.synced...)
		cancel()
		if ok {
			return
		}
		if ctx.Err() == nil {
			n.log.Error(nil, "notifications wait: cannot read the ConfigMap and Secret yet (RBAC: get, list, watch on them in this namespace?)",
				"namespace", n.opts.Namespace, "configMap", ConfigMapName, "secret", SecretName)
		}
	}
}

// Wrap returns a recorder that records with inner and queues the event's
// notifications. The first recorder wrapped also records the notifier's own
// events.
func (n *Notifier) Wrap(inner events.EventRecorder) events.EventRecorder {
	n.mu.Lock()
	if n.events == nil {
		n.events = inner
	}
	n.mu.Unlock()
	return &recorder{inner: inner, n: n}
}

type recorder struct {
	inner events.EventRecorder
	n     *Notifier
}

func (r *recorder) Eventf(regarding, related runtime.Object, eventType, reason, action, note string, args ...any) {
	if r.inner != nil {
		r.inner.Eventf(regarding, related, eventType, reason, action, note, args...)
	}
	r.n.enqueue(regarding, eventType, reason)
}

// enqueue queues an event on a Rollout or an AnalysisRun, without waiting.
func (n *Notifier) enqueue(obj runtime.Object, eventType, reason string) {
	var cp client.Object
	switch o := obj.(type) {
	case *v1alpha1.Rollout:
		cp = o.DeepCopy()
	case *v1alpha1.AnalysisRun:
		if !fromAnalysisRun(reason) {
			return
		}
		cp = o.DeepCopy()
	default:
		return
	}
	select {
	case n.queue <- item{obj: cp, eventType: eventType, reason: reason}:
	default:
		n.metrics.dropped.Inc()
		n.log.Error(nil, "notification queue full: event not notified", "namespace", cp.GetNamespace(), "name", cp.GetName(), "reason", reason)
	}
}

// process sends the notifications of one event.
func (n *Notifier) process(ctx context.Context, it item) {
	ro := n.rolloutOf(ctx, it.obj)
	if ro == nil {
		return
	}
	triggers := Triggers(it.reason)
	if len(triggers) == 0 {
		return
	}
	a, err := n.factory.GetAPI()
	if err != nil || a == nil {
		n.invalidConfig(err)
		n.metrics.failed(ro, it)
		return
	}
	cfg := a.GetConfig()
	dests := cfg.GetGlobalDestinations(ro.Labels)
	dests.Merge(subscriptions.NewAnnotations(ro.Annotations).GetDestinations(cfg.DefaultTriggers, cfg.ServiceDefaultTriggers))
	var obj map[string]any
	for _, trigger := range triggers {
		for _, dest := range dests[trigger] {
			if obj == nil {
				if obj, err = toMap(ro); err != nil {
					n.log.Error(err, "notification: the rollout does not convert", "namespace", ro.Namespace, "name", ro.Name)
					return
				}
			}
			n.send(a, ro, it, trigger, dest, obj)
		}
	}
}

// rolloutOf is the Rollout an event is about: the object itself, or the
// Rollout that owns the AnalysisRun (nil: none, or gone).
func (n *Notifier) rolloutOf(ctx context.Context, obj client.Object) *v1alpha1.Rollout {
	switch o := obj.(type) {
	case *v1alpha1.Rollout:
		return o
	case *v1alpha1.AnalysisRun:
		ref := metav1.GetControllerOf(o)
		if ref == nil || ref.Kind != "Rollout" || n.reader == nil {
			return nil
		}
		var ro v1alpha1.Rollout
		if err := n.reader.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: ref.Name}, &ro); err != nil {
			n.log.V(1).Info("notification: the rollout of an analysis run is not readable", "namespace", o.Namespace, "run", o.Name, "rollout", ref.Name, "error", err.Error())
			return nil
		}
		return &ro
	}
	return nil
}

// send runs trigger for one destination and sends the templates of its
// conditions that hold. A condition without `when` always holds (as in
// Argo Rollouts, where every trigger is an event).
func (n *Notifier) send(a api.API, ro *v1alpha1.Rollout, it item, trigger string, dest services.Destination, obj map[string]any) {
	log := n.log.WithValues("namespace", ro.Namespace, "rollout", ro.Name, "trigger", trigger, "service", dest.Service, "recipient", dest.Recipient)
	res, err := a.RunTrigger(trigger, obj)
	if err != nil {
		if strings.Contains(err.Error(), "is not configured") {
			log.Info("notification not sent: the rollout subscribes to a trigger the ConfigMap does not define", "configMap", ConfigMapName)
			return
		}
		log.Error(err, "notification trigger failed")
		n.metrics.failed(ro, it)
		return
	}
	conds := a.GetConfig().Triggers[trigger]
	for i, c := range res {
		always := i < len(conds) && conds[i].When == ""
		if !c.Triggered && !always {
			continue
		}
		start := time.Now()
		err := a.Send(obj, c.Templates, dest)
		n.metrics.observe(ro, time.Since(start))
		if err != nil {
			log.Error(err, "notification send failed", "templates", c.Templates)
			n.metrics.failed(ro, it)
			n.record(ro, corev1.EventTypeWarning, ReasonNotificationFailed, "Notification %s to %s failed: %v", trigger, dest.Service, err)
			continue
		}
		log.V(1).Info("notification sent", "templates", c.Templates)
		n.metrics.succeeded(ro, it)
	}
}

// invalidConfig reports a configuration that does not parse: logged and
// recorded on the ConfigMap once per version of it.
func (n *Notifier) invalidConfig(err error) {
	if err == nil {
		err = errors.New("no configuration")
	}
	var cm *corev1.ConfigMap
	if obj, ok, _ := n.cms.GetStore().GetByKey(n.opts.Namespace + "/" + ConfigMapName); ok {
		cm, _ = obj.(*corev1.ConfigMap)
	}
	rv := ""
	if cm != nil {
		rv = cm.ResourceVersion
	}
	n.mu.Lock()
	first := n.reportedRV == nil || *n.reportedRV != rv
	n.reportedRV = &rv
	n.mu.Unlock()
	if !first {
		return
	}
	n.log.Error(err, "notifications are off until the configuration is fixed", "namespace", n.opts.Namespace, "configMap", ConfigMapName, "secret", SecretName)
	if cm != nil {
		n.record(cm, corev1.EventTypeWarning, ReasonInvalidConfig, "Invalid notification configuration: %v; no notification is sent until it is fixed", err)
	}
}

// record records the notifier's own event (not notified).
func (n *Notifier) record(obj runtime.Object, eventType, reason, format string, args ...any) {
	n.mu.Lock()
	r := n.events
	n.mu.Unlock()
	if r != nil {
		r.Eventf(obj, nil, eventType, reason, "Notify", format, args...)
	}
}

// toMap is the rollout as templates see it: its JSON form.
func toMap(ro *v1alpha1.Rollout) (map[string]any, error) {
	data, err := json.Marshal(ro)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	// Objects read from a cache may have no type.
	m["apiVersion"], m["kind"] = v1alpha1.GroupVersion.String(), "Rollout"
	return m, nil
}

// Hook is the controller manager's Notifications option: a Notifier set up
// with o for the manager (its registerer unless o has one), whose Wrap wraps
// the controllers' recorders.
func Hook(o Options) func(ctrl.Manager, prometheus.Registerer) (func(events.EventRecorder) events.EventRecorder, error) {
	return func(mgr ctrl.Manager, reg prometheus.Registerer) (func(events.EventRecorder) events.EventRecorder, error) {
		if o.Registerer == nil {
			o.Registerer = reg
		}
		n, err := Setup(mgr, o)
		if err != nil {
			return nil, err
		}
		return n.Wrap, nil
	}
}
