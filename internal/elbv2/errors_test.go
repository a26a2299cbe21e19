package elbv2_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awselbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// failingCredentials is a credentials provider whose every Retrieve fails,
// like the IRSA web-identity provider when STS refuses the role, or the
// instance-role provider when instance metadata does not answer.
type failingCredentials struct{ err error }

func (f failingCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, f.err
}

// timeoutError is what a dial to an unresponsive metadata endpoint returns.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var (
	// stsDenied is STS's answer when the role's trust policy does not admit
	// the service account's token.
	stsDenied = &smithy.GenericAPIError{Code: "AccessDenied", Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity", Fault: smithy.FaultClient}
	// imdsTimeout is the instance-role provider's error when IMDS is silent.
	imdsTimeout = &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(169, 254, 169, 254), Port: 80}, Err: timeoutError{}}
)

// Issue 12, bug 6: through the real SDK client, a denied STS call and a
// metadata timeout inside the credentials chain are credentials problems,
// not a missing ELBv2 permission or an unreachable ELBv2 endpoint. The
// request never leaves the client, so the endpoint is never contacted.
func TestCredentialFailuresAreNotELBv2Failures(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"STS AccessDenied", stsDenied, []string{"trust policy", "AccessDenied", "sts:AssumeRoleWithWebIdentity"}},
		{"IMDS timeout", imdsTimeout, []string{"credential endpoint did not answer", "i/o timeout"}},
		{"no provider answered", errors.New("no EC2 IMDS role found"), []string{"no AWS credentials", "no EC2 IMDS role found"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clients := map[string]*elbv2.Provider{}
			p, err := elbv2.New(context.Background(), elbv2.Options{Region: "us-east-1", EndpointURL: "http://127.0.0.1:1",
				Credentials: failingCredentials{tc.err}, MaxAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			clients["New"] = p
			// An SDK client built elsewhere, without our marker: the SDK's own
			// wording of an identity failure is recognised.
			api := awselbv2.New(awselbv2.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"),
				Credentials: failingCredentials{tc.err}, RetryMaxAttempts: 1})
			clients["NewWithAPI"] = elbv2.NewWithAPI(api, elbv2.Options{Region: "us-east-1"})
			for how, p := range clients {
				_, err := p.LoadBalancerByDNS(context.Background(), "k8s-demo-1.us-east-1.elb.amazonaws.com")
				var e *elbv2.Error
				if !errors.As(err, &e) || e.Kind != elbv2.KindCredentials {
					t.Fatalf("%s: err = %v (kind %s), want %s", how, err, elbv2.KindOf(err), elbv2.KindCredentials)
				}
				msg := e.Error()
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("%s: message %q lacks %q", how, msg, w)
					}
				}
				if strings.Contains(msg, "elasticloadbalancing:DescribeLoadBalancers") || strings.Contains(msg, "iam-policy.json") {
					t.Errorf("%s: message sends the operator to the ELBv2 policy: %s", how, msg)
				}
				if e.Retryable() {
					t.Errorf("%s: a credentials failure is reported as retryable without change", how)
				}
			}
		})
	}
}

// With working credentials, ELBv2's own AccessDenied still names the IAM
// action, and an endpoint that does not answer is AWSUnreachable: the
// credentials mark swallows neither.
func TestELBv2FailuresThroughTheSDK(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type>`+
			`<Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/albrollouts/pod is not authorized to perform: elasticloadbalancing:DescribeLoadBalancers</Message>`+
			`</Error><RequestId>1</RequestId></ErrorResponse>`)
	}))
	defer srv.Close()
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIATEST", SecretAccessKey: "secret", Source: "test"}, nil
	})
	for endpoint, want := range map[string]elbv2.Kind{srv.URL: elbv2.KindAccessDenied, "http://127.0.0.1:1": elbv2.KindNetwork} {
		p, err := elbv2.New(context.Background(), elbv2.Options{Region: "us-east-1", EndpointURL: endpoint, Credentials: creds, MaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.LoadBalancerByDNS(context.Background(), "k8s-demo-1.us-east-1.elb.amazonaws.com")
		if k := elbv2.KindOf(err); k != want {
			t.Fatalf("%s: err = %v (kind %s), want %s", endpoint, err, k, want)
		}
		if want == elbv2.KindAccessDenied && !strings.Contains(err.Error(), `add "elasticloadbalancing:DescribeLoadBalancers"`) {
			t.Fatalf("AccessDenied message: %v", err)
		}
	}
}
