package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

func init() {
	register(func() *cobra.Command {
		var region, endpoint, dns string
		cmd := &cobra.Command{
			Use:   "doctor",
			Short: "Check that the AWS credentials may call every ELBv2 action the verifier needs",
			Long: `doctor calls each ELBv2 Describe action in config/iam-policy.json once, with the
credentials of the SDK's default chain (environment, shared config, IRSA / Pod Identity,
instance role), and prints which are allowed, denied (with the IAM statement to add) or
failing for another reason. With --load-balancer-dns it also checks that the load balancer
is found in the region. It exits non-zero when an action is denied or failing, or the
load balancer is not found (another region, or none with that name).`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
				defer cancel()
				p, err := elbv2.New(ctx, elbv2.Options{Region: region, EndpointURL: endpoint, MaxAttempts: 2})
				if err != nil {
					return err
				}
				return runDoctor(ctx, cmd.OutOrStdout(), p, endpoint, dns)
			},
		}
		cmd.Flags().StringVar(&region, "region", "", "AWS region of the load balancers (default: AWS_REGION / shared config)")
		cmd.Flags().StringVar(&endpoint, "endpoint-url", "", "ELBv2 endpoint override, e.g. an elbsim URL")
		cmd.Flags().StringVar(&dns, "load-balancer-dns", "", "DNS name of an ALB (an Ingress status hostname) to check against")
		return cmd
	})
}

// runDoctor prints one line per action and the fix for denied ones.
func runDoctor(ctx context.Context, out io.Writer, p *elbv2.Provider, endpoint, dns string) error {
	w := &printer{w: out}
	where := "region " + p.Region()
	if endpoint != "" {
		where += ", endpoint " + endpoint
	}
	w.printf("ELBv2 permissions (%s):\n", where)
	var lbErr error
	if dns != "" {
		if lb, err := p.LoadBalancerByDNS(ctx, dns); err != nil {
			lbErr = fmt.Errorf("load balancer %s: %w", dns, err)
			w.printf("  load balancer %s: %v\n", dns, err)
		} else {
			w.printf("  load balancer %s: found %s\n", dns, lb.ARN)
		}
	}
	var denied []string
	failing := 0
	for _, c := range p.CheckPermissions(ctx, dns) {
		switch c.State {
		case elbv2.PermissionAllowed:
			w.printf("  %-8s %s\n", c.State, c.Action)
		default:
			w.printf("  %-8s %s: %v\n", c.State, c.Action, c.Err)
		}
		if c.State == elbv2.PermissionDenied {
			denied = append(denied, c.Action)
		}
		if c.State == elbv2.PermissionFailing {
			failing++
		}
	}
	if len(denied) > 0 {
		w.printf("\nFix: add this statement to the IAM policy of the controller's role (config/iam-policy.json has the whole policy):\n%s\n",
			elbv2.PolicyStatement(denied))
		return errors.Join(w.err, fmt.Errorf("%d of %d ELBv2 actions denied", len(denied), len(elbv2.Operations)))
	}
	if failing > 0 {
		return errors.Join(w.err, fmt.Errorf("%d ELBv2 actions could not be checked (see above)", failing))
	}
	if lbErr != nil {
		// Every action answered, but not for the load balancer asked
		// about: the controller would not verify it either.
		w.printf("All actions allowed, but the load balancer check failed (see above).\n")
		return errors.Join(w.err, lbErr)
	}
	w.printf("All actions allowed.\n")
	return w.err
}

// printer writes formatted output and keeps the first write error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
