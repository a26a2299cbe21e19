package elbsim_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
)

type wireError struct {
	Type      string `xml:"Error>Type"`
	Code      string `xml:"Error>Code"`
	Message   string `xml:"Error>Message"`
	RequestID string `xml:"RequestId"`
}

func post(t *testing.T, endpoint, method, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, endpoint+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// TestProtocolErrors sends hand-made requests: bad input is a 4xx XML error with a request id, never a 500.
func TestProtocolErrors(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	cases := []struct {
		name, method, body string
		status             int
		code, msg          string
	}{
		{"unknown action", "POST", "Action=DescribeEverything&Version=2015-12-01", 400, "InvalidAction", "DescribeEverything"},
		{"missing action", "POST", "Version=2015-12-01", 400, "MissingAction", ""},
		{"bad escape", "POST", "Action=DescribeLoadBalancers&Names.member.1=%zz", 400, "MalformedQueryString", ""},
		{"repeated parameter", "POST", "Action=DescribeLoadBalancers&Action=DescribeLoadBalancers", 400, "MalformedQueryString", ""},
		{"not a number", "POST", "Action=DescribeLoadBalancers&PageSize=ten", 400, "ValidationError", "PageSize"},
		{"index 0", "POST", "Action=DescribeLoadBalancers&Names.member.0=a", 400, "ValidationError", "index"},
		{"not a boolean", "POST", "Action=CreateTargetGroup&Name=x&Protocol=HTTP&Port=80&HealthCheckEnabled=yes", 400, "ValidationError", "true or false"},
		{"wrong version", "POST", "Action=DescribeLoadBalancers&Version=2012-06-01", 400, "InvalidAction", "2012-06-01"},
		{"missing required", "POST", "Action=CreateListener&Version=2015-12-01", 400, "ValidationError", ""},
		{"wrong method", "PUT", "Action=DescribeLoadBalancers", 405, "InvalidAction", "PUT"},
		{"body too large", "POST", "Action=DescribeLoadBalancers&Names.member.1=" + strings.Repeat("a", 1<<20+1), 400, "ValidationError", "body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := post(t, e.s.Endpoint(), tc.method, tc.body)
			var we wireError
			if err := xml.Unmarshal(body, &we); err != nil {
				t.Fatalf("error body is not XML: %v\n%s", err, body)
			}
			if status != tc.status || we.Code != tc.code || !strings.Contains(we.Message, tc.msg) || we.Type != "Sender" {
				t.Fatalf("got %d %s/%s %q, want %d %s mentioning %q", status, we.Type, we.Code, we.Message, tc.status, tc.code, tc.msg)
			}
			if we.RequestID == "" || h.Get("x-amzn-RequestId") != we.RequestID {
				t.Fatalf("request id header %q, body %q", h.Get("x-amzn-RequestId"), we.RequestID)
			}
		})
	}

	// GET with the parameters in the URL works too, and a success has the request id in both places.
	resp, err := http.Get(e.s.Endpoint() + "/?Action=DescribeLoadBalancers&Version=2015-12-01")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	var ok struct {
		XMLName   xml.Name
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal(body, &ok); err != nil || resp.StatusCode != 200 || ok.XMLName.Local != "DescribeLoadBalancersResponse" ||
		ok.RequestID == "" || resp.Header.Get("x-amzn-RequestId") != ok.RequestID || !bytes.Contains(body, []byte("<DescribeLoadBalancersResult>")) {
		t.Fatalf("GET: %d %v %s", resp.StatusCode, err, body)
	}
}

// TestNoServerErrorsOnMangledRequests replays real SDK request bodies of every
// Action with each parameter replaced by junk: elbsim must answer each with 200
// or a 4xx error, never a 5xx.
func TestNoServerErrorsOnMangledRequests(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	rec := &recorder{}
	c := elbv2.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: rec, Credentials: aws.AnonymousCredentials{}},
		func(o *elbv2.Options) { o.BaseEndpoint = aws.String(e.s.Endpoint()) })
	if err := elbsimtest.Exercise(e.ctx, c, "mangle"); err != nil {
		t.Fatal(err)
	}
	if len(rec.bodies) < 24 {
		t.Fatalf("recorded %d requests", len(rec.bodies))
	}
	junk := []string{"", "-1", "0", "99999999999999999999", "x", "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/x/0123456789abcdef", "true", strings.Repeat("z", 300)}
	n := 0
	for _, body := range rec.bodies {
		vals, err := url.ParseQuery(body)
		if err != nil {
			t.Fatal(err)
		}
		for k := range vals {
			if k == "Action" {
				continue
			}
			for _, j := range junk {
				m := url.Values{}
				for k2, v := range vals {
					m[k2] = v
				}
				m.Set(k, j)
				status, _, resp := post(t, e.s.Endpoint(), "POST", m.Encode())
				n++
				if status >= 500 {
					t.Fatalf("%s=%q in %s: HTTP %d\n%s", k, j, vals.Get("Action"), status, resp)
				}
			}
		}
	}
	t.Logf("%d mangled requests from %d recorded bodies, no 5xx", n, len(rec.bodies))
}

// recorder is an SDK HTTP client that keeps every request body.
type recorder struct{ bodies []string }

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	r.bodies = append(r.bodies, string(b))
	req.Body = io.NopCloser(bytes.NewReader(b))
	return http.DefaultClient.Do(req)
}
