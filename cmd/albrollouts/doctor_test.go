package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
)

// awsTestEnv gives the SDK's default chain static credentials and keeps it
// away from the machine's AWS configuration and the instance metadata service.
func awsTestEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAELBSIMTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "elbsim-test-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "")
}

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestDoctorAgainstElbsim(t *testing.T) {
	awsTestEnv(t)
	srv, _ := elbsimtest.Start(t, elbsim.Options{})

	out, err := runCLI(t, "doctor", "--region", "us-east-1", "--endpoint-url", srv.Endpoint())
	if err != nil {
		t.Fatalf("all allowed, got error %v\n%s", err, out)
	}
	if strings.Count(out, "allowed ") != 6 || !strings.Contains(out, "All actions allowed.") {
		t.Fatalf("output:\n%s", out)
	}

	srv.Faults().SetPrincipal("arn:aws:sts::123456789012:assumed-role/albrollouts/pod")
	srv.Faults().DenyAction("DescribeTargetHealth")
	srv.Faults().DenyAction("DescribeRules")
	out, err = runCLI(t, "doctor", "--region", "us-east-1", "--endpoint-url", srv.Endpoint())
	t.Log(out)
	if err == nil || !strings.Contains(err.Error(), "2 of 6 ELBv2 actions denied") {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{
		"denied   elasticloadbalancing:DescribeRules",
		"denied   elasticloadbalancing:DescribeTargetHealth",
		"allowed  elasticloadbalancing:DescribeTargetGroups",
		"assumed-role/albrollouts/pod",
		`"elasticloadbalancing:DescribeRules",`,
		`"elasticloadbalancing:DescribeTargetHealth"`,
		`"Effect": "Allow"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestDoctorWithLoadBalancer(t *testing.T) {
	awsTestEnv(t)
	srv, api := elbsimtest.Start(t, elbsim.Options{})
	lb, err := api.CreateLoadBalancer(context.Background(), &elasticloadbalancingv2.CreateLoadBalancerInput{Name: aws.String("k8s-demo-web")})
	if err != nil {
		t.Fatal(err)
	}
	dns := aws.ToString(lb.LoadBalancers[0].DNSName)
	out, err := runCLI(t, "doctor", "--region", "us-east-1", "--endpoint-url", srv.Endpoint(), "--load-balancer-dns", dns)
	if err != nil || !strings.Contains(out, "load balancer "+dns+": found arn:aws:elasticloadbalancing:us-east-1:") {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
	// Another region: the check fails and says so, the command exits
	// non-zero, and the hint names flags that exist.
	out, err = runCLI(t, "doctor", "--region", "eu-west-1", "--endpoint-url", srv.Endpoint(), "--load-balancer-dns", dns)
	if err == nil || !strings.Contains(out, "is in region us-east-1 but the ELBv2 client uses region eu-west-1") ||
		strings.Contains(out, "All actions allowed.\n") || !strings.Contains(out, "but the load balancer check failed") {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
	for _, flag := range []string{"--aws-region us-east-1", "--region us-east-1"} {
		if !strings.Contains(out, flag) {
			t.Errorf("the hint lacks %q:\n%s", flag, out)
		}
	}
	// Each flag the hint names exists on its command.
	root := newRootCmd()
	for cmdName, flag := range map[string]string{"controller": "aws-region", "doctor": "region", "verify": "region"} {
		c, _, err := root.Find([]string{cmdName})
		if err != nil || c.Flags().Lookup(flag) == nil {
			t.Errorf("the hint names --%s of %s, which it lacks (%v)", flag, cmdName, err)
		}
	}
}

func TestDoctorNeedsARegion(t *testing.T) {
	awsTestEnv(t)
	_, err := runCLI(t, "doctor", "--endpoint-url", "http://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "no AWS region") {
		t.Fatalf("err = %v", err)
	}
}
