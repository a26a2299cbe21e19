package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/internal/controller"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/rolloutctl"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// Exit codes of verify (see docs/cli.md).
const (
	exitNotVerified = 5 // verify: the ALB does not (yet) do what the rollout expects
	exitCheckFailed = 6 // verify: the ELBv2 API could not be read (AccessDenied, region, network)
)

func init() {
	register(func() *cobra.Command {
		var (
			o        *rolloutctl.KubeOptions
			region   string
			endpoint string
			output   string
		)
		cmd := &cobra.Command{
			Use:   "verify NAME",
			Short: "Check once, with your AWS credentials, that the ALB does what the rollout expects now",
			Long: `verify reads the rollout, its Services, Ingresses and pods from the cluster, works
out what its ALB should be doing right now (the weights written in the Ingress action,
the pods each Service selects as targets, header routes), and asks the ELBv2 API, with
the credentials of your environment (AWS_PROFILE, SSO, ...), whether it does: every rule
of the action on every listener, and the health of every target that gets traffic. It
prints one line per target group and rule, and the verdict.

Exit codes: 0 verified; 5 not verified (the message says what differs); 6 the check
failed (AccessDenied, wrong region, network: the message says what to fix); 1 other
errors.`,
			Args: oneRollout,
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
				defer cancel()
				switch output {
				case "", "json", "yaml":
				default:
					return usageErrorf("--output %q: use json or yaml", output)
				}
				cl, err := connect(o)
				if err != nil {
					return err
				}
				obj, err := cl.Get(ctx, args[0])
				if err != nil {
					return err
				}
				cfg, _, err := o.RESTConfig()
				if err != nil {
					return err
				}
				scheme, err := controller.NewScheme()
				if err != nil {
					return err
				}
				kube, err := client.New(cfg, client.Options{Scheme: scheme})
				if err != nil {
					return err
				}
				now := time.Now()
				in, err := controller.Expectation(ctx, kube, obj.Rollout, now, time.Minute)
				if err != nil {
					return fmt.Errorf("rollout %s: %w", args[0], err)
				}
				p, err := elbv2.New(ctx, elbv2.Options{Region: region, EndpointURL: endpoint, MaxAttempts: 3})
				if err != nil {
					return &exitError{code: exitCheckFailed, err: err}
				}
				res := verify.New(p, verify.Options{}).Verify(ctx, in)
				if output != "" {
					if err := printResult(cmd.OutOrStdout(), output, res); err != nil {
						return err
					}
				} else {
					writeVerification(cmd.OutOrStdout(), styleFor(cmd.OutOrStdout()).Color, args[0], res)
				}
				switch res.Outcome {
				case verify.Verified:
					return nil
				case verify.Failed:
					return &exitError{code: exitCheckFailed, err: fmt.Errorf("the check failed (%s)", res.Reason)}
				default:
					return &exitError{code: exitNotVerified, err: fmt.Errorf("not verified (%s)", res.Reason)}
				}
			},
		}
		o = addKubeFlags(cmd, false)
		cmd.ValidArgsFunction = completeRolloutName(o)
		cmd.Flags().StringVar(&region, "region", "", "AWS region of the load balancers (default: AWS_REGION / shared config)")
		cmd.Flags().StringVar(&endpoint, "endpoint-url", "", "ELBv2 endpoint override, e.g. an elbsim URL")
		cmd.Flags().StringVarP(&output, "output", "o", "", "json or yaml: print the engine's result instead of the table")
		return cmd
	})
}

// writeVerification prints the table listener / rule / target group /
// desired / actual / targets healthy, and the verdict.
func writeVerification(w io.Writer, color bool, name string, res verify.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "INGRESS\tLISTENER\tRULE\tTARGET GROUP\tROLE\tSERVICE\tDESIRED\tACTUAL\tTARGETS HEALTHY")
	for _, g := range res.TargetGroups {
		role := string(g.Role)
		if g.Route != "" {
			role += " (route " + g.Route + ")"
		}
		targets := "not read"
		if g.HealthChecked {
			targets = fmt.Sprintf("%d/%d", g.Healthy, max(g.Expected, g.Healthy))
		}
		group := g.Name
		if group == "" {
			group = "(none)"
		}
		if len(g.Rules) == 0 {
			_, _ = fmt.Fprintf(tw, "%s\t-\t-\t%s\t%s\t%s\t%d%%\tnot in any rule\t%s\n", g.Ingress, group, role, g.Service, g.DesiredWeight, targets)
		}
		for _, r := range g.Rules {
			actual := fmt.Sprintf("%d of %d", r.Weight, r.Total)
			if r.Total > 0 {
				actual += fmt.Sprintf(" (%.0f%%)", 100*float64(r.Weight)/float64(r.Total))
			}
			if !r.Matches {
				actual += " MISMATCH"
			}
			_, _ = fmt.Fprintf(tw, "%s\t:%d %s\t%s\t%s\t%s\t%s\t%d%%\t%s\t%s\n", g.Ingress, r.ListenerPort, r.Protocol, r.Rule, group, role, g.Service, g.DesiredWeight, actual, targets)
		}
	}
	_ = tw.Flush()
	for _, g := range res.TargetGroups {
		for _, t := range g.NotHealthy {
			state := t.State
			if state == "" {
				state = "not registered"
			}
			_, _ = fmt.Fprintf(w, "  %s %s: %s %s %s\n", g.Name, t.String(), state, t.Reason, t.Description)
		}
	}
	verdict := string(res.Outcome)
	if color {
		code := "31"
		if res.Outcome == verify.Verified {
			code = "32"
		}
		verdict = "\x1b[" + code + "m" + verdict + "\x1b[0m"
	}
	_, _ = fmt.Fprintf(w, "\nrollout %s: %s (%s)\n", name, verdict, res.Reason)
	if res.Message != "" {
		_, _ = fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(res.Message, "; ", "\n  "))
	}
}

// printResult prints the engine's result for scripts.
func printResult(w io.Writer, format string, res verify.Result) error {
	out := struct {
		Outcome      verify.Outcome                  `json:"outcome"`
		Reason       string                          `json:"reason"`
		Message      string                          `json:"message"`
		TargetGroups []verify.TargetGroupObservation `json:"targetGroups"`
	}{res.Outcome, res.Reason, res.Message, res.TargetGroups}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if format == "yaml" {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return err
		}
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
