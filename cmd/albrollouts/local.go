package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/sim/localenv"
	"github.com/albrollouts/albrollouts/internal/sim/nodeagent"
)

// rolloutControllerComponent runs the rollout controller inside `local up
// --with-controller`. The controller's command file sets it; nil means this build
// has no controller yet.
var rolloutControllerComponent *localenv.Component

func init() {
	register(func() *cobra.Command {
		local := &cobra.Command{
			Use:   "local",
			Short: "Run a local stand-in for EKS + the AWS Load Balancer Controller + ALB",
			Long: `local runs, in one process, a real Kubernetes control plane (etcd, kube-apiserver,
kube-controller-manager), elbsim (an ELBv2 emulator with a real data plane), a node
agent that runs pods on loopback IPs (image albrollouts/demo:<version> runs the demo
app, any other image a generic HTTP stand-in on its declared ports), and a local ALB
controller that turns Ingresses of class alb into elbsim load balancers. The CRDs
come from the binary, so it runs from any directory.`,
		}
		local.AddCommand(newLocalUpCmd(), newLocalDownCmd())
		return local
	})
}

func newLocalUpCmd() *cobra.Command {
	o := localenv.Options{}
	withController := false
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the local environment in the foreground (Ctrl-C stops it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			if withController {
				if rolloutControllerComponent == nil {
					_, _ = fmt.Fprintln(out, "note: --with-controller: the rollout controller is not part of this build yet; starting without it")
				} else {
					o.Components = append(o.Components, *rolloutControllerComponent)
				}
			}
			o.Out = out
			return runLocalUp(ctx, out, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Dir, "dir", localenv.DefaultDir(), "directory for the kubeconfig, pid file, demo manifest and logs")
	f.StringVar(&o.ElbsimListen, "elbsim-listen", localenv.DefaultElbsimListen, "loopback address of the ELBv2 API (elbsim)")
	f.Float64Var(&o.TimeScale, "time-scale", 1, "speed of health checks, probes, draining and grace periods (0.1 = ten times faster)")
	f.DurationVar(&o.LBLag, "lb-lag", 0, "delay before the local ALB controller applies an Ingress change (the real one takes seconds)")
	f.StringVar(&o.ClusterName, "cluster-name", "", "value of the elbv2.k8s.aws/cluster tag (default albrollouts-local)")
	f.StringVar(&o.PodCIDR, "pod-cidr", "", "range of pod IPs: loopback (default 127.1.0.0/16), or a range local to this machine, e.g. routed to lo in a private network namespace (then EndpointSlices are published)")
	f.StringVar(&o.UnpullableImages, "unpullable-images", "", "regular expression of image references that cannot be pulled (ErrImagePull, ImagePullBackOff); default $"+nodeagent.UnpullableImagesEnv+", else references containing nonexistent, does-not-exist or notfound; - for none")
	f.BoolVar(&withController, "with-controller", false, "also run the rollout controller")
	f.BoolVar(&o.WithPrometheus, "with-prometheus", false, "also run a Prometheus server (Debian's prometheus package) scraping elbsim's data-plane metrics every second")
	f.StringVar(&o.PrometheusListen, "prometheus-listen", localenv.DefaultPrometheusListen, "loopback address of Prometheus's HTTP API, with --with-prometheus")
	return cmd
}

func runLocalUp(ctx context.Context, out io.Writer, o localenv.Options) error {
	start := time.Now()
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	env, err := localenv.Start(startCtx, o)
	if err != nil {
		return err
	}
	demo := filepath.Join(env.Dir(), "demo.yaml")
	if err := os.WriteFile(demo, []byte(localenv.DemoManifest), 0o644); err != nil {
		_ = env.Stop()
		return fmt.Errorf("write demo manifest: %w", err)
	}
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(out, format, args...) }
	p("\nlocal environment is up (%s). Logs: %s\n\n", time.Since(start).Round(100*time.Millisecond), env.Dir())
	p("  export KUBECONFIG=%s\n", env.KubeconfigPath())
	p("  kubectl apply -f %s        # demo app v1 + v2 behind an ALB, 90/10\n", demo)
	p("  kubectl get pods,ingress -o wide\n\n")
	p("  ELBv2 API (elbsim): %s\n", env.ELBV2Endpoint())
	p("  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s \\\n    aws elbv2 describe-load-balancers --endpoint-url %s --region %s\n\n",
		localenv.DummyAccessKey, localenv.DummySecretKey, env.ELBV2Endpoint(), localenv.DefaultRegion)
	if u := env.PrometheusURL(); u != "" {
		p("  Prometheus: %s (scrapes %s/_elbsim/metrics every second)\n", u, env.ELBV2Endpoint())
		p("  curl -s %s/api/v1/query --data-urlencode 'query=sum by (target_group, code_class) (rate(elbsim_alb_requests_total[30s]))'\n\n", u)
	}
	p("ALB listener URLs are printed below as they come up (also: curl %s/_elbsim/listeners).\n", env.ELBV2Endpoint())
	p("Press Ctrl-C to stop.\n\n")
	<-ctx.Done()
	p("\nstopping the local environment...\n")
	if err := env.Stop(); err != nil {
		return err
	}
	p("stopped\n")
	return nil
}

func newLocalDownCmd() *cobra.Command {
	dir := ""
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop a local environment started with `local up` (from another terminal)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := localenv.StopRunning(dir, 90*time.Second); err != nil {
				return err
			}
			_, _ = fmt.Fprintln(cmd.OutOrStdout(), "local environment stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", localenv.DefaultDir(), "directory the environment was started with")
	return cmd
}
