// Package controllercmd is the rollout controller's process: its flags, its
// logger and its Kubernetes configuration. `albrollouts controller` and the
// image's albrollouts-controller binary both run this one command, so that
// they take the same flags and behave the same.
package controllercmd

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/albrollouts/albrollouts/internal/controller"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/notify"
	"github.com/albrollouts/albrollouts/internal/version"
)

// flags are the flags of the controller command.
type flags struct {
	kubeconfig         string
	opts               controller.ManagerOptions
	cloudWatchEndpoint string
	logLevel           string
	logFormat          string
	// notifications and notificationsNamespace: Argo Rollouts' notifications.
	notifications          bool
	notificationsNamespace string
}

func (f *flags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config, else $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&f.opts.Namespace, "namespace", "", "only reconcile rollouts of this namespace (default: all namespaces)")
	fs.StringVar(&f.opts.InstanceID, "instance-id", "", "only reconcile rollouts labelled argo-rollouts.argoproj.io/controller-instance-id=<id> (default: only rollouts without that label)")
	fs.BoolVar(&f.opts.VerifyByDefault, "aws-verify-target-group", false, "verify every ALB traffic shift for rollouts that leave verifyTargetGroup unset")
	fs.DurationVar(&f.opts.VerifyTimeout, "verify-timeout", controller.DefaultVerifyTimeout, "verification timeout for rollouts without timeoutSeconds")
	fs.StringVar(&f.opts.AWSRegion, "aws-region", "", "AWS region of the load balancers (default: AWS_REGION / shared config)")
	fs.StringVar(&f.opts.AWSEndpointURL, "aws-endpoint-url", "", "ELBv2 endpoint override, e.g. an elbsim URL")
	fs.StringVar(&f.cloudWatchEndpoint, "aws-cloudwatch-endpoint-url", "", "CloudWatch endpoint override for cloudWatch analysis metrics, e.g. an elbsim URL (default: the SDK's, or AWS_ENDPOINT_URL_CLOUDWATCH)")
	fs.BoolVar(&f.opts.LeaderElect, "leader-elect", false, "elect a leader so that only one replica reconciles")
	fs.StringVar(&f.opts.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election lease (default: the pod's)")
	fs.StringVar(&f.opts.MetricsBindAddress, "metrics-bind-address", ":8080", "address of the Prometheus /metrics endpoint (0 = off)")
	fs.StringVar(&f.opts.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (0 = off)")
	fs.IntVar(&f.opts.Workers, "workers", controller.DefaultWorkers, "rollouts reconciled in parallel")
	fs.Float32Var(&f.opts.KubeQPS, "qps", controller.DefaultKubeQPS, "maximum requests per second to the Kubernetes API")
	fs.IntVar(&f.opts.KubeBurst, "burst", controller.DefaultKubeBurst, "maximum burst of requests to the Kubernetes API")
	fs.Float64Var(&f.opts.ELBV2.RateLimit, "aws-api-qps", elbv2.DefaultRateLimit, "ELBv2 calls per second the controller makes at most (client-side budget, shared by every rollout's verification); lower it when other tools share the account's Describe* limit")
	fs.IntVar(&f.opts.ELBV2.Burst, "aws-api-burst", elbv2.DefaultBurst, "ELBv2 calls the controller may make at once above --aws-api-qps")
	fs.BoolVar(&f.opts.VerifyInBackground, "verify-in-background", false, "run the ELBv2 checks in background watches, so that no reconcile worker waits for an ELBv2 read (experimental)")
	fs.BoolVar(&f.notifications, "notifications", true, "send Argo Rollouts' notifications: the rollouts' notifications.argoproj.io/subscribe.<trigger>.<service> annotations, the services, templates and triggers of the ConfigMap "+notify.ConfigMapName+" and Secret "+notify.SecretName+" (false: none, and neither is read)")
	fs.StringVar(&f.notificationsNamespace, "notifications-namespace", "", "namespace of the notification ConfigMap and Secret (default: the controller's: $POD_NAMESPACE, else the pod's, else "+notify.DefaultNamespace+")")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
}

// newLogger builds the process logger from --log-level and --log-format.
func newLogger(w io.Writer, level, format string) (logr.Logger, error) {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "info", "":
		l = slog.LevelInfo
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return logr.Logger{}, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "text", "":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return logr.Logger{}, fmt.Errorf("--log-format %q: use text or json", format)
	}
	return logr.FromSlogHandler(h), nil
}

// NewCommand returns the controller command, named "controller"; a binary that
// runs it alone renames it.
func NewCommand() *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the rollout controller (canary and blue-green over ALB, every traffic shift verified) and the analysis controller",
		Long: `controller reconciles argoproj.io/v1alpha1 Rollouts. It takes them through their canary
steps or blue-green switch, writes the AWS Load Balancer Controller's action annotation on
their Ingresses, and (with --aws-verify-target-group or verifyTargetGroup: true) moves on
only once the ELBv2 API shows the ALB forwarding the desired weights on every listener and
every target that gets traffic registered and healthy. In the same process the analysis
controller measures AnalysisRuns (prometheus, web, job and cloudWatch metrics, as Argo
Rollouts does). AWS credentials come from the SDK's default chain (environment, IRSA, EKS
Pod Identity, instance role).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd) },
	}
	f.register(cmd)
	return cmd
}

// run runs the controller until the command's context ends, SIGINT or SIGTERM.
func (f *flags) run(cmd *cobra.Command) error {
	logger, err := newLogger(cmd.ErrOrStderr(), f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	f.opts.Logger = logger
	if f.opts.ELBV2.RateLimit <= 0 || f.opts.ELBV2.Burst < 1 {
		return fmt.Errorf("--aws-api-qps %v, --aws-api-burst %d: both must be positive (defaults %v and %d)",
			f.opts.ELBV2.RateLimit, f.opts.ELBV2.Burst, elbv2.DefaultRateLimit, elbv2.DefaultBurst)
	}
	loading := clientcmd.NewDefaultClientConfigLoadingRules()
	loading.ExplicitPath = f.kubeconfig
	// With --kubeconfig, only that file: trying the in-cluster
	// configuration first would log an error outside a cluster.
	var cfg *rest.Config
	if f.kubeconfig == "" {
		cfg, err = ctrl.GetConfig()
	}
	if f.kubeconfig != "" || err != nil {
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loading, &clientcmd.ConfigOverrides{}).ClientConfig()
	}
	if err != nil {
		return fmt.Errorf("kubernetes configuration: %w", err)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f.opts.CloudWatchEndpointURL = f.cloudWatchEndpoint
	notificationsNS := ""
	if f.notifications {
		notificationsNS = notify.ControllerNamespace(f.notificationsNamespace)
		notify.RouteEngineLogs(logger)
		f.opts.Notifications = notify.Hook(notify.Options{Namespace: notificationsNS, Logger: logger.WithName("notifications")})
	}
	mgr, err := controller.NewManager(ctx, cfg, f.opts)
	if err != nil {
		return err
	}
	logger.Info("starting the rollout controller", "version", version.Version, "namespace", f.opts.Namespace, "instanceID", f.opts.InstanceID,
		"verifyByDefault", f.opts.VerifyByDefault, "verifyTimeout", f.opts.VerifyTimeout.String(), "notificationsNamespace", notificationsNS)
	return mgr.Start(ctx)
}
