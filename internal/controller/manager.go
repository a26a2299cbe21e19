package controller

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis"
	"github.com/albrollouts/albrollouts/internal/argometrics"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// ManagerOptions configure a controller process (the `albrollouts controller`
// flags).
type ManagerOptions struct {
	Options
	// VerifyInBackground runs the ELBv2 checks in the verifier's
	// background watches (Submit/Latest: no reconcile worker waits for an
	// ELBv2 read) instead of in the worker. Off by default until the end
	// to end scenarios and the demo pass on it (see docs/verification.md).
	VerifyInBackground bool
	// Namespace limits the controller to one namespace; empty watches all.
	Namespace string
	// AWSRegion and AWSEndpointURL configure the ELBv2 client (the SDK's
	// default chain supplies credentials: environment, IRSA, EKS Pod
	// Identity, instance role).
	AWSRegion      string
	AWSEndpointURL string
	// ELBV2 overrides the ELBv2 provider options (rate limit, caches).
	ELBV2 elbv2.Options
	// LeaderElect turns on leader election (lease albrollouts-controller-lock[-<instance-id>]).
	LeaderElect bool
	// LeaderElectionNamespace holds the lease; default: the pod's namespace.
	LeaderElectionNamespace string
	// MetricsBindAddress serves /metrics ("0" = off).
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz ("0" or "" = off).
	HealthProbeBindAddress string
	// Logger for the controller; default: controller-runtime's global logger.
	Logger logr.Logger
	// NoVerifier builds no ELBv2 client: rollouts that verify then report an
	// error. For clusters without AWS access where no rollout verifies.
	NoVerifier bool
	// KubeQPS and KubeBurst bound the client's requests to the Kubernetes
	// API (Argo Rollouts' --qps and --burst). Zero keeps the config's own
	// values, or DefaultKubeQPS and DefaultKubeBurst when it has none
	// (client-go would otherwise allow 5/s, which a few hundred rollouts
	// stepping at once exceed many times over).
	KubeQPS   float32
	KubeBurst int
	// CloudWatchEndpointURL overrides the CloudWatch endpoint of analysis
	// (the local environment's elbsim serves it beside ELBv2).
	CloudWatchEndpointURL string
	// NoAnalysis runs no analysis controller in the manager (AnalysisRuns
	// are then measured elsewhere, or not at all).
	NoAnalysis bool
	// Notifications, when set, is called once with the manager and the
	// metrics registerer before the controllers are set up; the function it
	// returns wraps the event recorders of the rollout and analysis
	// controllers (internal/notify: Argo Rollouts' notifications).
	Notifications func(ctrl.Manager, prometheus.Registerer) (func(events.EventRecorder) events.EventRecorder, error)
}

// Defaults of ManagerOptions.KubeQPS and KubeBurst, as Argo Rollouts'.
const (
	DefaultKubeQPS   = 40
	DefaultKubeBurst = 80
)

// The controller's verifier checks in the background.
var _ AsyncVerifier = (*verify.Verifier)(nil)

// NewScheme returns the scheme the controller reads and writes.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// NewManager builds a controller-runtime manager running the rollout
// controller, with one ELBv2 provider and one verifier for the process.
func NewManager(ctx context.Context, cfg *rest.Config, o ManagerOptions) (ctrl.Manager, error) {
	if !o.VerifyInBackground {
		o.SyncVerify = true
	}
	cfg = kubeClientConfig(cfg, o)
	scheme, err := NewScheme()
	if err != nil {
		return nil, fmt.Errorf("building the scheme: %w", err)
	}
	cacheOpts := cache.Options{}
	if o.Namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{o.Namespace: {}}
	}
	// Shard Rollouts by instance id at the informer, as Argo Rollouts does.
	var req *labels.Requirement
	if o.InstanceID != "" {
		req, err = labels.NewRequirement(replicaset.InstanceIDLabel, selection.Equals, []string{o.InstanceID})
	} else {
		req, err = labels.NewRequirement(replicaset.InstanceIDLabel, selection.DoesNotExist, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("instance id %q: %w", o.InstanceID, err)
	}
	cacheOpts.ByObject = map[client.Object]cache.ByObject{&v1alpha1.Rollout{}: {Label: labels.NewSelector().Add(*req)}}
	lease := "albrollouts-controller-lock"
	if o.InstanceID != "" {
		lease += "-" + o.InstanceID
	}
	if o.MetricsBindAddress == "" {
		o.MetricsBindAddress = "0"
	}
	logger := o.Logger
	if logger.GetSink() == nil {
		logger = ctrl.Log.WithName("albrollouts")
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsBindAddress},
		HealthProbeBindAddress:        o.HealthProbeBindAddress,
		LeaderElection:                o.LeaderElect,
		LeaderElectionID:              lease,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Controller:                    config.Controller{SkipNameValidation: ptr.To(true)},
		Logger:                        logger,
		GracefulShutdownTimeout:       ptr.To(10 * time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the controller manager: %w", err)
	}
	if o.HealthProbeBindAddress != "" && o.HealthProbeBindAddress != "0" {
		if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
			if !mgr.GetCache().WaitForCacheSync(req.Context()) {
				return fmt.Errorf("informer caches not synced")
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if o.Registerer == nil {
		o.Registerer = crmetrics.Registry
	}
	var verifier Verifier
	if !o.NoVerifier {
		po := o.ELBV2
		po.Region, po.EndpointURL, po.Registerer = o.AWSRegion, o.AWSEndpointURL, o.Registerer
		p, err := elbv2.New(ctx, po)
		if err != nil {
			return nil, fmt.Errorf("ELBv2 client: %w (set --aws-region, or run with verification off everywhere)", err)
		}
		v := verify.New(p, verify.Options{DefaultTimeout: o.VerifyTimeout, Registerer: o.Registerer})
		verifier = v
		// The controller checks in the background (unless SyncVerify):
		// stop every watch when the manager stops.
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			<-ctx.Done()
			v.Close()
			return nil
		})); err != nil {
			return nil, err
		}
	}
	// Argo Rollouts' metrics beside ours: gauges read from the cache at
	// scrape time, the reconcilers and the recorder instrumented.
	argo := argometrics.Register(o.Registerer, argometrics.Source{Reader: mgr.GetCache(), InstanceID: o.InstanceID,
		Elected: mgr.Elected(), Log: logger.WithName("metrics")})
	o.Instrument = argo.InstrumentRollouts
	wrap, err := recorderWrapper(mgr, o)
	if err != nil {
		return nil, err
	}
	recorder := argo.CountEvents(wrap(mgr.GetEventRecorder(ComponentName)))
	r := New(mgr.GetClient(), verifier, recorder, o.Options).WithLiveReader(mgr.GetAPIReader())
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	if !o.NoAnalysis {
		// The analysis controller measures the rollouts' AnalysisRuns in
		// the same process, sharded by the same instance id.
		if err := analysis.SetupWithManager(ctx, mgr, analysis.Options{InstanceID: o.InstanceID, Workers: o.Workers,
			AWSRegion: o.AWSRegion, AWSCredentials: o.ELBV2.Credentials, CloudWatchEndpointURL: o.CloudWatchEndpointURL,
			Logger: logger.WithName("analysis"), Instrument: argo.InstrumentAnalysisRuns, WrapRecorder: wrap}); err != nil {
			return nil, fmt.Errorf("the analysis controller: %w", err)
		}
	}
	return mgr, nil
}

// recorderWrapper is what wraps the controllers' event recorders: o's
// Notifications, or nothing.
func recorderWrapper(mgr ctrl.Manager, o ManagerOptions) (func(events.EventRecorder) events.EventRecorder, error) {
	none := func(r events.EventRecorder) events.EventRecorder { return r }
	if o.Notifications == nil {
		return none, nil
	}
	wrap, err := o.Notifications(mgr, o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	if wrap == nil {
		return none, nil
	}
	return wrap, nil
}

// kubeClientConfig is a copy of cfg with the request limits of o
// (ManagerOptions.KubeQPS, KubeBurst).
func kubeClientConfig(cfg *rest.Config, o ManagerOptions) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	switch {
	case o.KubeQPS > 0:
		cfg.QPS = o.KubeQPS
	case cfg.QPS == 0:
		cfg.QPS = DefaultKubeQPS
	}
	switch {
	case o.KubeBurst > 0:
		cfg.Burst = o.KubeBurst
	case cfg.Burst == 0:
		cfg.Burst = DefaultKubeBurst
	}
	return cfg
}
