package elbsim_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
)

// TestAWSCLI drives elbsim with the AWS CLI (botocore) as an independent client.
func TestAWSCLI(t *testing.T) {
	awsBin := awsCLI(t)
	e := newEnv(t, elbsim.Options{})
	home := t.TempDir()
	cli := func(wantOK bool, args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(awsBin, append(append([]string{"elbv2"}, args...), "--endpoint-url", e.s.Endpoint(), "--output", "json")...)
		cmd.Env = append(envWithoutAWS(),
			"HOME="+home,
			"AWS_ACCESS_KEY_ID=AKIAELBSIMCLI", "AWS_SECRET_ACCESS_KEY=elbsim-cli-secret", "AWS_DEFAULT_REGION=us-east-1",
			"AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"),
			"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if wantOK != (err == nil) {
			t.Fatalf("aws elbv2 %s: err %v (want success %v)\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, wantOK, stdout.String(), stderr.String())
		}
		if !wantOK {
			return map[string]any{"stderr": stderr.String()}
		}
		out := map[string]any{}
		if stdout.Len() > 0 {
			if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
				t.Fatalf("aws elbv2 %s: output is not JSON: %v\n%s", args[0], err, stdout.String())
			}
		}
		return out
	}
	get := func(m map[string]any, path ...any) any {
		var cur any = m
		for _, p := range path {
			switch k := p.(type) {
			case string:
				cur = cur.(map[string]any)[k]
			case int:
				cur = cur.([]any)[k]
			}
		}
		return cur
	}

	lb := cli(true, "create-load-balancer", "--name", "cli-lb", "--tags", "Key=owner,Value=cli")
	lbARN := get(lb, "LoadBalancers", 0, "LoadBalancerArn").(string)
	if !strings.HasPrefix(lbARN, "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/cli-lb/") {
		t.Fatalf("LB ARN %s", lbARN)
	}
	tg := cli(true, "create-target-group", "--name", "cli-tg", "--protocol", "HTTP", "--port", "8080", "--target-type", "ip", "--health-check-path", "/healthz")
	tgARN := get(tg, "TargetGroups", 0, "TargetGroupArn").(string)
	tg2 := cli(true, "create-target-group", "--name", "cli-tg2", "--protocol", "HTTP", "--port", "8080", "--target-type", "ip")
	tg2ARN := get(tg2, "TargetGroups", 0, "TargetGroupArn").(string)
	l := cli(true, "create-listener", "--load-balancer-arn", lbARN, "--protocol", "HTTP", "--port", "80",
		"--default-actions", `[{"Type":"forward","ForwardConfig":{"TargetGroups":[{"TargetGroupArn":"`+tgARN+`","Weight":80},{"TargetGroupArn":"`+tg2ARN+`","Weight":20}]}}]`)
	lARN := get(l, "Listeners", 0, "ListenerArn").(string)
	cli(true, "create-rule", "--listener-arn", lARN, "--priority", "5",
		"--conditions", `[{"Field":"path-pattern","PathPatternConfig":{"Values":["/api/*"]}}]`,
		"--actions", `[{"Type":"fixed-response","FixedResponseConfig":{"StatusCode":"418","ContentType":"text/plain","MessageBody":"teapot"}}]`)
	cli(true, "register-targets", "--target-group-arn", tgARN, "--targets", "Id=127.0.0.1,Port=1")

	dlb := cli(true, "describe-load-balancers", "--names", "cli-lb")
	if get(dlb, "LoadBalancers", 0, "DNSName") != get(lb, "LoadBalancers", 0, "DNSName") || get(dlb, "LoadBalancers", 0, "State", "Code") != "active" {
		t.Fatalf("describe-load-balancers: %v", dlb)
	}
	dl := cli(true, "describe-listeners", "--load-balancer-arn", lbARN)
	if w := get(dl, "Listeners", 0, "DefaultActions", 0, "ForwardConfig", "TargetGroups", 1, "Weight"); w != float64(20) {
		t.Fatalf("describe-listeners weight %v", w)
	}
	dr := cli(true, "describe-rules", "--listener-arn", lARN)
	if get(dr, "Rules", 0, "Priority") != "5" || get(dr, "Rules", 1, "Priority") != "default" || get(dr, "Rules", 1, "IsDefault") != true {
		t.Fatalf("describe-rules: %v", dr)
	}
	dtg := cli(true, "describe-target-groups", "--load-balancer-arn", lbARN)
	if n := len(get(dtg, "TargetGroups").([]any)); n != 2 || get(dtg, "TargetGroups", 0, "HealthCheckPath") != "/healthz" {
		t.Fatalf("describe-target-groups: %v", dtg)
	}
	th := cli(true, "describe-target-health", "--target-group-arn", tgARN)
	if get(th, "TargetHealthDescriptions", 0, "Target", "Id") != "127.0.0.1" || get(th, "TargetHealthDescriptions", 0, "TargetHealth", "State") == nil {
		t.Fatalf("describe-target-health: %v", th)
	}
	tags := cli(true, "describe-tags", "--resource-arns", lbARN)
	if get(tags, "TagDescriptions", 0, "Tags", 0, "Value") != "cli" {
		t.Fatalf("describe-tags: %v", tags)
	}
	if out := cli(false, "describe-load-balancers", "--names", "missing"); !strings.Contains(out["stderr"].(string), "LoadBalancerNotFound") {
		t.Fatalf("error for a missing load balancer: %v", out)
	}
}

// envWithoutAWS is the process environment without AWS_* variables, so the
// caller's profile, region or endpoint settings cannot leak into the test.
func envWithoutAWS() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return out
}

// awsCLI finds the AWS CLI to test with: $ALBROLLOUTS_AWS_CLI, else Debian's
// awscli package (/usr/bin/aws, which `make test-deps` installs), else any aws
// on PATH. Without one the test is skipped, except in CI, where it must run.
func awsCLI(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("ALBROLLOUTS_AWS_CLI"), "/usr/bin/aws"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("aws"); err == nil {
		return p
	}
	msg := "the AWS CLI is not installed: run `make test-deps` (Debian: apt-get install -y awscli) or set ALBROLLOUTS_AWS_CLI"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
