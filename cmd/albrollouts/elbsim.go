package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/reach"

	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
)

func init() {
	register(func() *cobra.Command {
		o := elbsim.Options{}
		var targetRanges []string
		cmd := &cobra.Command{
			Use:   "elbsim",
			Short: "Run elbsim, an AWS ELBv2 (ALB) emulator with a real data plane and health checks",
			Long: `elbsim answers the ELBv2 API (the AWS SDKs and CLI work against it), serves
every HTTP listener on a loopback port, routes requests by rule and weight to
targets it health-checks for real, and can inject AWS-like faults. The admin API
is under <endpoint>/_elbsim/ (stats, metrics, listeners, faults).`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				o.Log = cmd.ErrOrStderr()
				ranges, err := reach.Parse(targetRanges)
				if err != nil {
					return err
				}
				o.TargetRanges = ranges
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				return runElbsim(ctx, cmd, o)
			},
		}
		f := cmd.Flags()
		f.StringVar(&o.Listen, "listen", "127.0.0.1:4566", "loopback address of the API and admin API")
		f.StringVar(&o.Region, "region", "us-east-1", "AWS region to answer as")
		f.StringVar(&o.Account, "account", "123456789012", "AWS account id to answer as")
		f.Float64Var(&o.TimeScale, "time-scale", 1, "multiplier for health-check timing and the batching window (0.1 = ten times faster)")
		f.StringVar(&o.StrictAuth, "strict-auth", "", "KEY:SECRET: verify SigV4 signatures made with this key (default: accept any credentials)")
		f.StringVar(&o.StateFile, "state-file", "", "load state from this file on start (if it exists) and save it on exit")
		f.DurationVar(&o.PropagationDelay, "propagation-delay", 0, "delay before a change reaches the data plane and health checks")
		f.DurationVar(&o.DescribeDelay, "describe-delay", 0, "delay before Describe* calls show a change")
		f.BoolVar(&o.Batching, "batching", false, "apply AWS's 10-second change batching to the data plane")
		f.BoolVar(&o.Throttling, "throttling", false, "throttle like AWS (Describe*: burst 40, 10/s) with 400 Throttling")
		f.StringSliceVar(&targetRanges, "target-range", nil, "CIDR block, besides loopback, that targets may use; only ranges local to this machine (e.g. routed to lo in a private network namespace)")
		return cmd
	})
}

func runElbsim(ctx context.Context, cmd *cobra.Command, o elbsim.Options) error {
	s, err := elbsim.Start(ctx, o)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	_, _ = fmt.Fprintf(out, "elbsim: ELBv2 endpoint %s (region %s, account %s)\n", s.Endpoint(), o.Region, o.Account)
	_, _ = fmt.Fprintf(out, "  try:   AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws elbv2 describe-load-balancers --endpoint-url %s --region %s\n", s.Endpoint(), o.Region)
	_, _ = fmt.Fprintf(out, "  admin: %s/_elbsim/stats  %s/_elbsim/listeners  %s/_elbsim/metrics\n", s.Endpoint(), s.Endpoint(), s.Endpoint())
	<-ctx.Done()
	_, _ = fmt.Fprintln(out, "elbsim: shutting down")
	if err := s.Close(); err != nil {
		return err
	}
	if o.StateFile != "" {
		_, _ = fmt.Fprintf(out, "elbsim: state saved to %s\n", o.StateFile)
	}
	return nil
}
