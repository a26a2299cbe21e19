package elbsim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestAWSCLICloudWatch reads the ALB metrics of real traffic with the AWS
// CLI's `cloudwatch get-metric-data` and `list-metrics`. Debian's CLI 2.9
// sends the Query protocol. When another `aws` is on PATH it runs too (aws-cli
// 1.45 with botocore 1.43 sends awsJson1_0), and the protocol each one used is
// reported.
func TestAWSCLICloudWatch(t *testing.T) {
	clis := []string{awsCLI(t)}
	if p, err := exec.LookPath("aws"); err == nil && !sameFile(p, clis[0]) {
		clis = append(clis, p)
	}
	e := newEnv(t, elbsim.Options{})
	tr := sendALBTraffic(t, e)
	queries := fmt.Sprintf(`[
	  {"Id":"req","MetricStat":{"Metric":{"Namespace":"AWS/ApplicationELB","MetricName":"RequestCount","Dimensions":[{"Name":"LoadBalancer","Value":%[1]q},{"Name":"TargetGroup","Value":%[2]q}]},"Period":60,"Stat":"Sum"}},
	  {"Id":"errs","MetricStat":{"Metric":{"Namespace":"AWS/ApplicationELB","MetricName":"HTTPCode_Target_5XX_Count","Dimensions":[{"Name":"LoadBalancer","Value":%[1]q},{"Name":"TargetGroup","Value":%[2]q}]},"Period":60,"Stat":"Sum"}},
	  {"Id":"lbreq","MetricStat":{"Metric":{"Namespace":"AWS/ApplicationELB","MetricName":"RequestCount","Dimensions":[{"Name":"LoadBalancer","Value":%[1]q}]},"Period":10,"Stat":"Sum"}},
	  {"Id":"elb","MetricStat":{"Metric":{"Namespace":"AWS/ApplicationELB","MetricName":"HTTPCode_ELB_5XX_Count","Dimensions":[{"Name":"LoadBalancer","Value":%[1]q}]},"Period":60,"Stat":"Sum"}},
	  {"Id":"p99","MetricStat":{"Metric":{"Namespace":"AWS/ApplicationELB","MetricName":"TargetResponseTime","Dimensions":[{"Name":"LoadBalancer","Value":%[1]q},{"Name":"TargetGroup","Value":%[2]q}]},"Period":60,"Stat":"p99"}},
	  {"Id":"ratio","Expression":"FILL(errs, 0) / req","Label":"5xx ratio"}
	]`, tr.lb, tr.canary)
	start := tr.start.Add(-time.Minute).UTC().Format(time.RFC3339)
	end := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	for _, bin := range clis {
		t.Run("aws-cli-"+cliVersion(t, bin), func(t *testing.T) {
			home := t.TempDir()
			cw := func(args ...string) (map[string]any, string, error) {
				t.Helper()
				cmd := exec.Command(bin, append(append([]string{"cloudwatch"}, args...), "--endpoint-url", e.s.Endpoint(), "--output", "json")...)
				cmd.Env = append(envWithoutAWS(), "HOME="+home,
					"AWS_ACCESS_KEY_ID=AKIAELBSIMCLI", "AWS_SECRET_ACCESS_KEY=elbsim-cli-secret", "AWS_DEFAULT_REGION=us-east-1",
					"AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"),
					"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err != nil {
					return nil, stderr.String(), err
				}
				out := map[string]any{}
				if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
					t.Fatalf("aws cloudwatch %s: output is not JSON: %v\n%s", args[0], err, stdout.String())
				}
				return out, stderr.String(), nil
			}
			out, stderr, err := cw("get-metric-data", "--metric-data-queries", queries, "--start-time", start, "--end-time", end, "--scan-by", "TimestampAscending")
			if err != nil {
				t.Fatalf("get-metric-data: %v\n%s", err, stderr)
			}
			sums := map[string]float64{}
			for _, r := range out["MetricDataResults"].([]any) {
				m := r.(map[string]any)
				vs, _ := m["Values"].([]any)
				for _, v := range vs {
					sums[m["Id"].(string)] += v.(float64)
				}
				if ts, _ := m["Timestamps"].([]any); len(ts) != len(vs) {
					t.Errorf("%s: %d timestamps for %d values", m["Id"], len(ts), len(vs))
				}
			}
			for id, want := range map[string]float64{"req": 20, "errs": 5, "lbreq": 50, "elb": 2} {
				if sums[id] != want {
					t.Errorf("%s: %v, want %v (all: %v)", id, sums[id], want, sums)
				}
			}
			if sums["p99"] <= 0 || sums["ratio"] <= 0 || sums["ratio"] > 1 {
				t.Errorf("p99 %v, ratio %v: want positive, the ratio at most 1", sums["p99"], sums["ratio"])
			}
			lm, stderr, err := cw("list-metrics", "--namespace", "AWS/ApplicationELB", "--metric-name", "HTTPCode_Target_5XX_Count")
			if err != nil {
				t.Fatalf("list-metrics: %v\n%s", err, stderr)
			}
			if n := len(lm["Metrics"].([]any)); n != 2 { // the load balancer's and the canary's
				t.Errorf("list-metrics: %d metrics, want 2: %v", n, lm)
			}
			before := e.s.Stats().Actions["ListMetrics"].Protocols
			if _, stderr, err := cw("list-metrics", "--namespace", "AWS/ApplicationELB"); err != nil {
				t.Fatalf("list-metrics: %v\n%s", err, stderr)
			}
			for p, n := range e.s.Stats().Actions["ListMetrics"].Protocols {
				if n > before[p] {
					t.Logf("aws-cli %s speaks %s", cliVersion(t, bin), p)
					if strings.HasPrefix(cliVersion(t, bin), "2.9.") && p != "awsQuery" {
						t.Errorf("Debian's CLI 2.9 sent %s, want awsQuery", p)
					}
				}
			}
			e.s.Faults().DenyAction("GetMetricData")
			_, stderr, err = cw("get-metric-data", "--metric-data-queries", queries, "--start-time", start, "--end-time", end)
			e.s.Faults().AllowAction("GetMetricData")
			if err == nil || !strings.Contains(stderr, "AccessDenied") || !strings.Contains(stderr, "cloudwatch:GetMetricData") {
				t.Errorf("AccessDenied: err %v, stderr %s", err, stderr)
			}
			_, stderr, err = cw("get-metric-data", "--metric-data-queries", strings.Replace(queries, `"Period":10`, `"Period":7`, 1), "--start-time", start, "--end-time", end)
			if err == nil || !strings.Contains(stderr, "InvalidParameterValue") {
				t.Errorf("period 7: err %v, stderr %s", err, stderr)
			}
		})
	}
}

func sameFile(a, b string) bool {
	ra, errA := filepath.EvalSymlinks(a)
	rb, errB := filepath.EvalSymlinks(b)
	return errA == nil && errB == nil && ra == rb
}

// cliVersion is the CLI's version ("aws-cli/2.9.19" → "2.9.19").
func cliVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
	v, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(out)), "aws-cli/"), " ")
	return v
}
