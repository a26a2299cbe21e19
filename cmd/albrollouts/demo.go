package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	"github.com/albrollouts/albrollouts/internal/rolloutview"
	"github.com/albrollouts/albrollouts/internal/sim/demo"
	"github.com/albrollouts/albrollouts/internal/sim/localcluster"
)

func init() {
	register(func() *cobra.Command {
		o := demo.Options{}
		script := ""
		cmd := &cobra.Command{
			Use:   "demo",
			Short: "Watch verified ALB rollouts with real traffic: a canary, a broken version aborted, a bad one caught by analysis, a blue-green switch",
			Long: `demo starts the local environment (a real Kubernetes control plane, elbsim, the node
agent and the local ALB controller) with the rollout controller in-process, deploys the
demo app as Rollouts behind ALB Ingresses with verification on, sends steady traffic
through the ALB listener and runs, with --scenario all:

  canary     v1 → v2 through 10 → 25 → 50 → 100 %, every step verified on the ALB
  abort      a broken v3 (pods pass readiness, fail the ALB health check): the
             verification times out, the rollout aborts, traffic verified back on v2
  analysis   a bad v4 that passes the ALB health check but fails 20 % of its requests:
             the step analysis alb-canary-health (CloudWatch, from elbsim) fails at
             10 %, the rollout aborts, traffic verified back on v2
  bluegreen  a blue-green Rollout switched from blue to green in the ALB, verified

It shows per step the desired and verified share of the new version, the share measured
from the traffic, target health and failed requests, then a summary table, and writes an
HTML report with a chart (--report). Ctrl-C stops it and everything it started.

Exit code 0 when every check passed, 1 when one failed or the demo could not run.
The control-plane binaries are built once (about 7 minutes) when missing, with
--k8s-bins-script (what make demo passes).`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := o.Validate(); err != nil {
					return usageErrorf("%v", err)
				}
				out := cmd.OutOrStdout()
				o.Out = out
				o.Terminal = rolloutview.IsTerminal(out)
				o.Color = rolloutview.ColorEnabled(out)
				o.Width = terminalWidth(out)
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				if o.BinDir == "" {
					o.BinDir = localcluster.DefaultBinDir()
				}
				if err := demo.EnsureBinaries(ctx, demo.BuildOptions{BinDir: o.BinDir, Script: script, Out: out, Terminal: o.Terminal}); err != nil {
					if ctx.Err() != nil {
						return fmt.Errorf("interrupted while building the control-plane binaries")
					}
					return err
				}
				// client-go's own log lines (e.g. a watch closed at shutdown)
				// would break the live view; the controllers log to a file.
				klog.SetLogger(logr.Discard())
				res, err := demo.Run(ctx, o)
				if res != nil {
					if werr := demo.WriteSummary(out, res, o.Color); werr != nil && err == nil {
						err = werr
					}
				}
				if err != nil {
					return err
				}
				if res.Interrupted {
					return fmt.Errorf("interrupted; everything the demo started is stopped")
				}
				if p := res.Problems(); len(p) > 0 {
					return fmt.Errorf("%d check(s) failed (see above)", len(p))
				}
				return nil
			},
		}
		f := cmd.Flags()
		f.StringVar(&o.Scenario, "scenario", demo.ScenarioAll, "canary, abort, analysis, bluegreen, several separated by commas, or all")
		f.StringVar(&o.ReportPath, "report", "demo-report.html", "write the HTML report here (\"\": none)")
		f.Float64Var(&o.Speed, "speed", 1, "divide the pauses between canary steps by this factor (4 = four times shorter)")
		f.Float64Var(&o.TimeScale, "time-scale", 0.2, "speed of health checks, probes and draining (0.2 = five times faster than real time)")
		f.DurationVar(&o.LBLag, "lb-lag", 0, "delay before the local ALB controller applies a change (default 1s)")
		f.DurationVar(&o.VerifyTimeout, "verify-timeout", 0, "the rollouts' verification timeout, whole seconds (default 30s)")
		f.DurationVar(&o.BrokenTimeout, "broken-timeout", 0, "the verification timeout set with the broken version: how long it takes to time out (default 15s)")
		f.StringVar(&o.PodCIDR, "pod-cidr", demo.DefaultPodCIDR, "loopback range of the pod IPs")
		f.StringVar(&o.Dir, "dir", "", "directory for the logs (default: a temporary one, removed when every check passes)")
		f.StringVar(&o.BinDir, "k8s-bins", "", "folder of etcd, kube-apiserver, kube-controller-manager (default $K8S_BINS or the build cache)")
		f.StringVar(&script, "k8s-bins-script", "", "build the missing control-plane binaries with this script (make demo passes hack/build-k8s-bins.sh)")
		_ = cmd.RegisterFlagCompletionFunc("scenario", cobra.FixedCompletions(append(append([]string(nil), demo.Scenarios...), demo.ScenarioAll), cobra.ShellCompDirectiveNoFileComp))
		return cmd
	})
}

// terminalWidth is the width of the terminal w writes to: $COLUMNS, else
// what the terminal says, else 100.
func terminalWidth(w io.Writer) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 20 {
		return n
	}
	f, ok := w.(*os.File)
	if !ok {
		return 100
	}
	var ws struct{ row, col, x, y uint16 }
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), uintptr(syscall.TIOCGWINSZ), uintptr(unsafe.Pointer(&ws))); errno != 0 || ws.col <= 20 {
		return 100
	}
	return int(ws.col)
}
