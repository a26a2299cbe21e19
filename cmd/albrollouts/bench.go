package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/sim/bench"
)

func init() {
	register(func() *cobra.Command {
		root := &cobra.Command{Use: "bench", Short: "Benchmarks against an in-process elbsim"}
		var cfg bench.Config
		var quiet bool
		verifyCmd := &cobra.Command{
			Use:   "verify",
			Short: "Cost and latency of verifying weight changes of many rollouts, ours vs the naive per-rollout call chain",
			Long: `verify starts elbsim in-process with AWS's Describe* limits (bucket 40, 10/s), builds
--rollouts rollouts on --albs ALBs, applies one weight change per rollout and measures,
for albrollouts' shared provider, for the naive per-rollout chain (DescribeLoadBalancers
scan, DescribeTargetGroups, DescribeTags, DescribeListeners, DescribeRules per check, new
client per check, every 10 s), and for albrollouts again while another client (the load
balancer controller) makes --lbc-rate Describe* calls per second in the same account, the
ELBv2 calls per verification, the throttled calls by Action and the time from the ALB
applying the change to Verified (p50, p99, max).`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if !quiet {
					cfg.Log = cmd.ErrOrStderr()
				}
				rep, err := bench.Run(cmd.Context(), cfg)
				if err != nil {
					return err
				}
				return rep.WriteTable(cmd.OutOrStdout())
			},
		}
		f := verifyCmd.Flags()
		f.IntVar(&cfg.Rollouts, "rollouts", 1000, "number of rollouts (CI smoke: 50)")
		f.IntVar(&cfg.ALBs, "albs", 10, "number of ALBs the rollouts are spread over")
		f.IntVar(&cfg.Listeners, "listeners", 2, "listeners per ALB")
		f.Float64Var(&cfg.TimeScale, "time-scale", 0.01, "elbsim health-check time scale")
		f.DurationVar(&cfg.Spread, "spread", 10*time.Second, "window over which the weight changes start")
		f.DurationVar(&cfg.MaxDuration, "max-duration", 10*time.Minute, "cap per phase")
		f.DurationVar(&cfg.NaiveInterval, "naive-interval", 10*time.Second, "re-check interval of the naive chain")
		f.Float64Var(&cfg.LBCRate, "lbc-rate", 2, "Describe* calls per second of the other client (the load balancer controller) in the third phase")
		f.BoolVar(&cfg.SkipNaive, "skip-naive", false, "leave out the naive phase")
		f.BoolVar(&cfg.SkipOurs, "skip-ours", false, "leave out albrollouts' first phase")
		f.BoolVar(&cfg.SkipShared, "skip-shared", false, "leave out the phase shared with the load balancer controller's calls")
		f.Float64Var(&cfg.Provider.RateLimit, "rate-limit", elbv2.DefaultRateLimit, "client-side ELBv2 calls per second")
		f.IntVar(&cfg.Provider.Burst, "burst", elbv2.DefaultBurst, "client-side ELBv2 burst")
		f.DurationVar(&cfg.Provider.CacheTTL, "cache-ttl", elbv2.DefaultCacheTTL, "provider cache TTL for rules and target health")
		f.BoolVar(&cfg.FreshHealthForAll, "fresh-health-for-all", false, "read every group with traffic healthy after each change (the rule before: a group whose weight falls is now judged on its last health read)")
		f.BoolVar(&quiet, "quiet", false, "no progress output on stderr")
		root.AddCommand(verifyCmd)
		return root
	})
}
