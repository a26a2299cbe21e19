package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/sim/localenv"
)

// runCLI runs bin/albrollouts (built by `make build`, which `make test`
// runs first) against the local environment and returns its output and
// exit code.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	bin, err := filepath.Abs("../../bin/albrollouts")
	if err != nil {
		t.Fatal(err)
	}
	if b := os.Getenv("ALBROLLOUTS_BIN"); b != "" {
		bin = b
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s is not built (make build): %v", bin, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.KubeconfigPath(), "AWS_ACCESS_KEY_ID="+localenv.DummyAccessKey,
		"AWS_SECRET_ACCESS_KEY="+localenv.DummySecretKey, "AWS_REGION="+localenv.DefaultRegion, "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	}
	t.Fatalf("run %v: %v", args, err)
	return "", -1
}

// `albrollouts verify NAME` from an operator's machine: verified (exit 0)
// on a healthy rollout, a weight mismatch (exit 5) when the ALB was changed
// behind the rollout's back, AccessDenied (exit 6) naming the IAM action.
// It changes elbsim for everyone, so it does not run in parallel.
func TestCLIVerify(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	ns := namespace(t, "cli-verify")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{setWeight(50)}}
	app.create(t, ns)
	waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy)
	verifyArgs := []string{"verify", "web", "-n", ns, "--endpoint-url", env.ELBV2Endpoint(), "--region", localenv.DefaultRegion}

	out, code := runCLI(t, verifyArgs...)
	if code != 0 || !strings.Contains(out, "Verified") || !strings.Contains(out, "web-stable") || !strings.Contains(out, "100 of 100") {
		t.Fatalf("verify on a healthy rollout: exit %d\n%s", code, out)
	}
	t.Logf("verify, healthy:\n%s", out)

	// Someone changes the rule behind the rollout's back.
	ctl.stop()
	lb := albOf(t, ns, "web")
	l := listenerOn(t, aws.ToString(lb.LoadBalancerArn), 80)
	rules := rulesOf(t, aws.ToString(l.ListenerArn))
	if len(rules) == 0 {
		t.Fatal("no rule")
	}
	r := rules[0]
	var tgs []elbv2types.TargetGroupTuple
	for _, tg := range r.Actions[0].ForwardConfig.TargetGroups {
		tgs = append(tgs, elbv2types.TargetGroupTuple{TargetGroupArn: tg.TargetGroupArn, Weight: aws.Int32(50)})
	}
	if _, err := env.ELBV2().ModifyRule(ctxT(t), &elbv2.ModifyRuleInput{RuleArn: r.RuleArn, Actions: []elbv2types.Action{{
		Type: elbv2types.ActionTypeEnumForward, ForwardConfig: &elbv2types.ForwardActionConfig{TargetGroups: tgs}}}}); err != nil {
		t.Fatal(err)
	}
	out, code = runCLI(t, verifyArgs...)
	if code != 5 || !strings.Contains(out, "WeightMismatch") || !strings.Contains(out, "MISMATCH") {
		t.Fatalf("verify after the rule changed: exit %d, want 5 and a mismatch\n%s", code, out)
	}
	t.Logf("verify, mismatch:\n%s", out)

	env.Elbsim().Faults().DenyAction("DescribeRules")
	t.Cleanup(func() { env.Elbsim().Faults().AllowAction("DescribeRules") })
	out, code = runCLI(t, verifyArgs...)
	if code != 6 || !strings.Contains(out, "elasticloadbalancing:DescribeRules") {
		t.Fatalf("verify with DescribeRules denied: exit %d, want 6 naming the action\n%s", code, out)
	}
	t.Logf("verify, AccessDenied:\n%s", out)
}
