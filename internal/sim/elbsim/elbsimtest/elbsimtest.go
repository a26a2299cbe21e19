// Package elbsimtest starts an elbsim for a test and hands back a real
// aws-sdk-go-v2 ELBv2 client pointed at it.
package elbsimtest

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
)

// Start runs an elbsim with o (Listen defaults to 127.0.0.1:0) until the test
// ends, and returns it with an ELBv2 client using static credentials (the
// StrictAuth key when set) in o.Region (default us-east-1). The client ignores
// the environment's AWS configuration and uses the SDK's standard retryer.
func Start(t testing.TB, o elbsim.Options) (*elbsim.Server, *elasticloadbalancingv2.Client) {
	t.Helper()
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	s, err := elbsim.Start(context.Background(), o)
	if err != nil {
		t.Fatalf("start elbsim: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close elbsim: %v", err)
		}
	})
	return s, Client(s, o.Region, o.StrictAuth)
}

// config is an SDK configuration for region with keySecret's static credentials.
func config(region, keySecret string) aws.Config {
	key, secret, ok := strings.Cut(keySecret, ":")
	if !ok {
		key, secret = "AKIAELBSIMTEST", "elbsim-test-secret"
	}
	return aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
	}
}

// CloudWatchClient returns a CloudWatch client for s (GetMetricData and
// ListMetrics of AWS/ApplicationELB), signing like Client. It speaks the SDK's
// own protocol (RPC v2 CBOR); set Options.Protocol in optFns for another.
func CloudWatchClient(s *elbsim.Server, region, keySecret string, optFns ...func(*cloudwatch.Options)) *cloudwatch.Client {
	opts := append([]func(*cloudwatch.Options){func(o *cloudwatch.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint())
	}}, optFns...)
	return cloudwatch.NewFromConfig(config(region, keySecret), opts...)
}

// Client returns an ELBv2 client for s in region, signing with keySecret
// ("KEY:SECRET"; empty: a dummy key).
func Client(s *elbsim.Server, region, keySecret string, optFns ...func(*elasticloadbalancingv2.Options)) *elasticloadbalancingv2.Client {
	cfg := config(region, keySecret)
	opts := append([]func(*elasticloadbalancingv2.Options){func(o *elasticloadbalancingv2.Options) {
		o.BaseEndpoint = aws.String(s.Endpoint())
	}}, optFns...)
	return elasticloadbalancingv2.NewFromConfig(cfg, opts...)
}
