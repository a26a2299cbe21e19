package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/coexist"
	"github.com/albrollouts/albrollouts/internal/elbv2"
)

func init() {
	register(func() *cobra.Command {
		var region, endpoint, dns, kubeconfig, instanceID string
		cmd := &cobra.Command{
			Use:   "doctor",
			Short: "Check that the AWS credentials may call every ELBv2 action the verifier needs",
			Long: `doctor calls each ELBv2 Describe action in config/iam-policy.json once, with the
credentials of the SDK's default chain (environment, shared config, IRSA / Pod Identity,
instance role), and prints which are allowed, denied (with the IAM statement to add) or
failing for another reason. With --load-balancer-dns it also checks that the load balancer
is found in the region. With --kubeconfig (or in a pod) it also reports whose Rollout CRD
is installed, the Argo Rollouts controllers running and which Rollouts each controller
takes (by the argo-rollouts.argoproj.io/controller-instance-id label). It exits non-zero
when an action is denied or failing, the load balancer is not found (another region, or
none with that name), or the cluster check finds a problem.`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
				defer cancel()
				p, err := elbv2.New(ctx, elbv2.Options{Region: region, EndpointURL: endpoint, MaxAttempts: 2})
				if err != nil {
					return err
				}
				awsErr := runDoctor(ctx, cmd.OutOrStdout(), p, endpoint, dns)
				return errors.Join(awsErr, runClusterDoctor(ctx, cmd.OutOrStdout(), kubeconfig, instanceID))
			},
		}
		cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "also check the cluster of this kubeconfig: whose Rollout CRD is installed, which Argo Rollouts controllers run, which Rollouts each controller takes (in a pod: the in-cluster config)")
		cmd.Flags().StringVar(&instanceID, "instance-id", "", "the albrollouts controller's --instance-id, for the cluster check")
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

// runClusterDoctor reports how albrollouts (with instanceID) and Argo
// Rollouts share the cluster of kubeconfig (in a pod: the in-cluster
// config; neither: skipped).
func runClusterDoctor(ctx context.Context, out io.Writer, kubeconfig, instanceID string) error {
	w := &printer{w: out}
	var cfg *rest.Config
	var err error
	switch {
	case kubeconfig != "":
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	case os.Getenv("KUBERNETES_SERVICE_HOST") != "":
		cfg, err = rest.InClusterConfig()
	default:
		w.printf("\nCluster: not checked (give --kubeconfig).\n")
		return w.err
	}
	if err != nil {
		return fmt.Errorf("kubernetes configuration: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: doctorScheme()})
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	r, err := coexist.Inspect(ctx, c, instanceID)
	if err != nil {
		return err
	}
	w.printf("\nCluster (%s):\n  Rollout CRD: %s\n", cfg.Host, r.CRD)
	if len(r.ArgoControllers) == 0 {
		w.printf("  Argo Rollouts controllers: none\n")
	}
	for _, a := range r.ArgoControllers {
		w.printf("  Argo Rollouts controller: %s\n", a)
	}
	w.printf("  albrollouts (%s) takes %d rollout(s)%s\n", describeInstanceID(instanceID), len(r.Ours), listed(r.Ours))
	for _, id := range slices.Sorted(maps.Keys(r.Argo)) {
		w.printf("  Argo Rollouts (%s) takes %d rollout(s)%s\n", describeInstanceID(id), len(r.Argo[id]), listed(r.Argo[id]))
	}
	if len(r.Nobody) > 0 {
		w.printf("  no controller found takes %d rollout(s) (their instance-id label names none running)%s\n", len(r.Nobody), listed(r.Nobody))
	}
	for _, p := range r.Problems {
		w.printf("  problem: %s\n", p)
	}
	if len(r.Problems) > 0 {
		return errors.Join(w.err, fmt.Errorf("the cluster check found %d problem(s) (see above)", len(r.Problems)))
	}
	return w.err
}

func describeInstanceID(id string) string {
	if id == "" {
		return "without --instance-id: rollouts without the instance-id label"
	}
	return "--instance-id " + id
}

// listed lists names after a colon, at most ten.
func listed(names []string) string {
	if len(names) == 0 {
		return ""
	}
	more := ""
	if len(names) > 10 {
		names, more = names[:10], fmt.Sprintf(", and %d more", len(names)-10)
	}
	return ": " + strings.Join(names, ", ") + more
}

func doctorScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(appsv1.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}
