package elbsim_test

import (
	"errors"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
)

func TestStrictAuth(t *testing.T) {
	e := newEnv(t, elbsim.Options{StrictAuth: "AKIDGOOD:s3cr3t"})
	if _, err := e.c.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{}); err != nil {
		t.Fatalf("correctly signed call: %v", err)
	}
	for _, tc := range []struct{ creds, code string }{
		{"AKIDBAD:s3cr3t", "InvalidClientTokenId"},
		{"AKIDGOOD:wrong", "SignatureDoesNotMatch"},
	} {
		c := elbsimtest.Client(e.s, "us-east-1", tc.creds, quickRetries(1))
		_, err := c.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{})
		var re *awshttp.ResponseError
		if apiCode(err) != tc.code || !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
			t.Errorf("credentials %s: %v, want 403 %s", tc.creds, err, tc.code)
		}
	}
	status, _, body := post(t, e.s.Endpoint(), "POST", "Action=DescribeLoadBalancers&Version=2015-12-01")
	if status != 403 || !contains(body, "MissingAuthenticationToken") {
		t.Fatalf("unsigned request: %d %s", status, body)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
