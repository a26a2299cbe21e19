package query_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// FuzzDecode feeds request bodies to the decoder: whatever the input, it must
// not panic, and every rejection is a 4xx error. The corpus is seeded with the
// real bodies the aws-sdk-go-v2 client sends for every Action.
func FuzzDecode(f *testing.F) {
	for _, b := range sdkBodies(f) {
		f.Add(b)
	}
	f.Add("Action=CreateRule&Conditions.member.1.QueryStringConfig.Values.member.1.Key=&Priority=-5")
	f.Add("Action=DescribeTags&ResourceArns.member.99999999999999999999=x")
	f.Add("Action=ModifyRule&Actions=&Conditions.member.1=x&Actions.member.1.ForwardConfig=")
	f.Fuzz(func(t *testing.T, body string) {
		req, e := query.ParseForm(body)
		if e != nil {
			if e.Status < 400 || e.Status > 499 {
				t.Fatalf("ParseForm(%q): status %d", body, e.Status)
			}
			return
		}
		in, e := query.DecodeRequest(req)
		if e != nil {
			if e.Status < 400 || e.Status > 499 {
				t.Fatalf("DecodeRequest(%q): status %d %v", body, e.Status, e)
			}
			return
		}
		if in == nil {
			t.Fatalf("DecodeRequest(%q) returned neither input nor error", body)
		}
	})
}

// sdkBodies records the request bodies of elbsimtest.Exercise (every Action).
func sdkBodies(tb testing.TB) []string {
	s, err := elbsim.Start(context.Background(), elbsim.Options{TimeScale: 0.01})
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	rec := &recorder{}
	c := elbv2.NewFromConfig(aws.Config{Region: "us-east-1", HTTPClient: rec, Credentials: aws.AnonymousCredentials{}},
		func(o *elbv2.Options) { o.BaseEndpoint = aws.String(s.Endpoint()) })
	if err := elbsimtest.Exercise(context.Background(), c, "fuzz"); err != nil {
		tb.Fatal(err)
	}
	return rec.bodies
}

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
