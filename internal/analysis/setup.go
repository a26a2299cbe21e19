package analysis

import (
	"context"
	"fmt"
	"reflect"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/go-logr/logr"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis/cloudwatch"
	"github.com/albrollouts/albrollouts/internal/analysis/job"
	"github.com/albrollouts/albrollouts/internal/analysis/prometheus"
	"github.com/albrollouts/albrollouts/internal/analysis/web"
)

// ControllerName names the analysis controller (its events' reporter and logs).
const ControllerName = "albrollouts-analysis"

// InstanceIDLabel shards runs between controllers, as it shards Rollouts
// (--instance-id).
const InstanceIDLabel = "argo-rollouts.argoproj.io/controller-instance-id"

// DefaultWorkers is how many runs are measured in parallel.
const DefaultWorkers = 10

// Options configure the analysis controller.
type Options struct {
	// InstanceID: only runs labelled with it are measured; empty: only runs
	// without the label (as the rollout controller shards Rollouts).
	InstanceID string
	// Workers is how many runs are reconciled in parallel (default 10).
	Workers int
	// AWSRegion is the region of CloudWatch and of SigV4 signing for Amazon
	// Managed Prometheus (default: the SDK's chain, AWS_REGION).
	AWSRegion string
	// AWSCredentials override the SDK's default credential chain.
	AWSCredentials aws.CredentialsProvider
	// CloudWatchEndpointURL overrides the CloudWatch endpoint, e.g. the local
	// environment's emulator (the SDK also reads AWS_ENDPOINT_URL_CLOUDWATCH).
	CloudWatchEndpointURL string
	// Providers replace the providers built from the options (tests).
	Providers *Providers
	// Clock is the controller's clock (tests); nil: the real one.
	Clock clock.PassiveClock
	// Logger; default: the manager's, named analysis.
	Logger logr.Logger
	// Instrument, if set, wraps the reconciler (Argo Rollouts'
	// analysis_run_reconcile metrics).
	Instrument func(reconcile.Reconciler) reconcile.Reconciler
	// WrapRecorder, when set, wraps the controller's event recorder
	// (notifications).
	WrapRecorder func(events.EventRecorder) events.EventRecorder
}

// NewProviders builds the providers of a controller: web and Prometheus
// over HTTP, CloudWatch and SigV4 signing from the AWS SDK's configuration,
// Jobs through the manager's clients.
func NewProviders(ctx context.Context, mgr ctrl.Manager, o Options) (Providers, error) {
	var loadOpts []func(*config.LoadOptions) error
	if o.AWSRegion != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.AWSRegion))
	}
	if o.AWSCredentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(o.AWSCredentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return Providers{}, fmt.Errorf("AWS configuration for the CloudWatch and Prometheus (SigV4) analysis providers: %w", err)
	}
	return Providers{
		Prometheus: &prometheus.Provider{Signer: prometheus.AWSSigner{Base: &awsCfg}},
		Web:        &web.Provider{},
		CloudWatch: cloudwatch.New(awsCfg, cloudwatch.Options{EndpointURL: o.CloudWatchEndpointURL}),
		Job:        &job.Provider{Client: mgr.GetClient(), Reader: mgr.GetAPIReader()},
	}, nil
}

// SetupWithManager adds the analysis controller to mgr: it measures every
// AnalysisRun of the manager's namespaces (and instance id) until it ends.
// The rollout controller runs in the same manager and creates the runs.
func SetupWithManager(ctx context.Context, mgr ctrl.Manager, o Options) error {
	providers := o.Providers
	if providers == nil {
		p, err := NewProviders(ctx, mgr, o)
		if err != nil {
			return err
		}
		providers = &p
	}
	log := o.Logger
	if log.GetSink() == nil {
		log = mgr.GetLogger().WithName("analysis")
	}
	workers := o.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	var rec events.EventRecorder = mgr.GetEventRecorder(ControllerName)
	if o.WrapRecorder != nil {
		rec = o.WrapRecorder(rec)
	}
	var r reconcile.Reconciler = NewReconciler(mgr.GetClient(), mgr.GetAPIReader(), rec, *providers, o.Clock, log)
	if o.Instrument != nil {
		r = o.Instrument(r)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("analysisrun").
		For(&v1alpha1.AnalysisRun{}, builder.WithPredicates(instancePredicate(o.InstanceID), notOwnWrites())).
		Watches(&batchv1.Job{},
			handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &v1alpha1.AnalysisRun{}, handler.OnlyControllerOwner()),
			builder.WithPredicates(jobFinished())).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(r)
}

// instancePredicate passes runs of this controller's instance id.
func instancePredicate(id string) predicate.Predicate {
	return predicate.NewPredicateFuncs(func(o client.Object) bool {
		v, ok := o.GetLabels()[InstanceIDLabel]
		if id == "" {
			return !ok
		}
		return v == id
	})
}

// notOwnWrites passes a run's creation and the updates that change what it
// must do (its spec, its labels, its deletion), not the controller's own
// status writes: the reconciler schedules itself (RequeueAfter), so it
// never reacts to what it wrote.
func notOwnWrites() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			oldRun, ok1 := e.ObjectOld.(*v1alpha1.AnalysisRun)
			newRun, ok2 := e.ObjectNew.(*v1alpha1.AnalysisRun)
			if !ok1 || !ok2 {
				return true
			}
			return !equality.Semantic.DeepEqual(oldRun.Spec, newRun.Spec) ||
				!reflect.DeepEqual(oldRun.Labels, newRun.Labels) ||
				!oldRun.DeletionTimestamp.Equal(newRun.DeletionTimestamp)
		},
		DeleteFunc: func(event.DeleteEvent) bool { return false },
	}
}

// jobFinished passes a measurement Job that completed or failed.
func jobFinished() predicate.Predicate {
	done := func(o client.Object) bool {
		j, ok := o.(*batchv1.Job)
		if !ok {
			return false
		}
		for _, c := range j.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return done(e.Object) },
		UpdateFunc:  func(e event.UpdateEvent) bool { return done(e.ObjectNew) && !done(e.ObjectOld) },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
