package elbsim_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/faults"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// quickRetries is the SDK's standard retryer with short backoffs, so tests do not wait seconds.
func quickRetries(maxAttempts int) func(*elbv2.Options) {
	return func(o *elbv2.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxBackoff = 20 * time.Millisecond
			so.MaxAttempts = maxAttempts
		})
	}
}

// TestThrottlingRetriedBySDK: throttles are answered as AWS does and the SDK's retryer recognises and retries them.
func TestThrottlingRetriedBySDK(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	c := elbsimtest.Client(e.s, "us-east-1", "", quickRetries(3))

	// Two forced throttles, then success: the SDK made 3 attempts.
	e.s.Faults().ThrottleNext("DescribeLoadBalancers", 2)
	out, err := c.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatalf("after 2 throttles the third attempt should succeed: %v", err)
	}
	attempts, ok := retry.GetAttemptResults(out.ResultMetadata)
	if !ok || len(attempts.Results) != 3 {
		t.Fatalf("SDK attempts: %+v", attempts)
	}
	if a := e.s.Stats().Actions["DescribeLoadBalancers"]; a.Calls != 3 || a.Throttled != 2 {
		t.Fatalf("elbsim counted %+v, want 3 calls, 2 throttled", a)
	}

	// Throttled on every call: the SDK gives up after MaxAttempts with the Throttling error.
	e.s.Faults().ThrottleNext("DescribeTargetGroups", -1)
	_, err = c.DescribeTargetGroups(e.ctx, &elbv2.DescribeTargetGroupsInput{})
	if apiCode(err) != "Throttling" || !strings.Contains(err.Error(), "Rate exceeded") {
		t.Fatalf("want Throttling 'Rate exceeded', got %v", err)
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
		t.Fatalf("the SDK does not classify %v as a throttle", err)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != 400 {
		t.Fatalf("throttle status: %v", err)
	}
	if a := e.s.Stats().Actions["DescribeTargetGroups"]; a.Calls != 3 || a.Throttled != 3 {
		t.Fatalf("elbsim counted %+v, want 3 throttled calls", a)
	}
}

// TestTokenBuckets: with Throttling on, Describe* calls get a burst of 40 (refilled at 10/s) and
// are then throttled; all Describe* share the bucket and mutations have their own.
func TestTokenBuckets(t *testing.T) {
	e := newEnv(t, elbsim.Options{Throttling: true})
	c := elbsimtest.Client(e.s, "us-east-1", "", quickRetries(1))
	var ok, throttled atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 60 {
				_, err := c.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{})
				switch apiCode(err) {
				case "":
					ok.Add(1)
				case "Throttling":
					throttled.Add(1)
				default:
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load() < 40 || throttled.Load() == 0 {
		t.Fatalf("%d calls allowed and %d throttled: want a burst of at least 40, then throttles", ok.Load(), throttled.Load())
	}
	if got := e.s.Stats().Actions["DescribeLoadBalancers"].Throttled; got != throttled.Load() {
		t.Fatalf("elbsim counted %d throttles, the client saw %d", got, throttled.Load())
	}
	// The bucket refills (10 tokens a second).
	poll.Until(t, 30*time.Second, "the Describe bucket to refill", func() bool {
		_, err := c.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{})
		return err == nil
	})

	// With a bucket that does not refill, sharing is deterministic.
	if err := e.s.Faults().SetBucket("describe", faults.BucketConfig{Burst: 2}); err != nil {
		t.Fatal(err)
	}
	tg := e.tg("buckets")
	for range 2 {
		if _, err := c.DescribeTargetGroups(e.ctx, &elbv2.DescribeTargetGroupsInput{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DescribeTargetHealth(e.ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn}); apiCode(err) != "Throttling" {
		t.Fatalf("all Describe* share a bucket; DescribeTargetHealth got %v", err)
	}
	if _, err := c.CreateLoadBalancer(e.ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("still-works")}); err != nil {
		t.Fatalf("mutations have their own bucket: %v", err)
	}
}

func TestAccessDenied(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	tg := e.tg("denied")
	adminPost(t, e.s.Endpoint()+"/_elbsim/faults/access-denied", `{"action":"DescribeTargetHealth"}`, 200)
	_, err := e.c.DescribeTargetHealth(e.ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
	want := "User: arn:aws:sts::123456789012:assumed-role/elbsim-caller/elbsim-session is not authorized to perform: elasticloadbalancing:DescribeTargetHealth because no identity-based policy allows the elasticloadbalancing:DescribeTargetHealth action"
	var re *awshttp.ResponseError
	if apiCode(err) != "AccessDenied" || !strings.Contains(err.Error(), want) || !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
		t.Fatalf("want 403 AccessDenied %q, got %v", want, err)
	}
	if a := e.s.Stats().Actions["DescribeTargetHealth"]; a.Calls != 1 {
		t.Fatalf("AccessDenied must not be retried; %d calls", a.Calls)
	}
	if _, err := e.c.DescribeTargetGroups(e.ctx, &elbv2.DescribeTargetGroupsInput{}); err != nil {
		t.Fatalf("other actions are allowed: %v", err)
	}
	adminDo(t, "DELETE", e.s.Endpoint()+"/_elbsim/faults/access-denied?action=DescribeTargetHealth", "", 200)
	if _, err := e.c.DescribeTargetHealth(e.ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn}); err != nil {
		t.Fatalf("after clearing: %v", err)
	}
	adminPost(t, e.s.Endpoint()+"/_elbsim/faults/access-denied", `{"action":"NoSuchAction"}`, 400)
}

func TestLatency(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	adminPost(t, e.s.Endpoint()+"/_elbsim/faults/latency", `{"action":"DescribeLoadBalancers","latency":"300ms"}`, 200)
	start := time.Now()
	if _, err := e.c.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("call took %v, want at least the injected 300ms", el)
	}
	var st struct {
		Latency map[string]string `json:"latency"`
	}
	if err := json.Unmarshal(adminDo(t, "GET", e.s.Endpoint()+"/_elbsim/faults", "", 200), &st); err != nil || st.Latency["DescribeLoadBalancers"] != "300ms" {
		t.Fatalf("fault status: %v %+v", err, st)
	}
	adminDo(t, "DELETE", e.s.Endpoint()+"/_elbsim/faults", "", 200)
	if len(e.s.Faults().Status().Latency) != 0 {
		t.Fatal("DELETE /_elbsim/faults left latency in place")
	}
}

func TestAdminThrottlingAPI(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	c := elbsimtest.Client(e.s, "us-east-1", "", quickRetries(1))
	adminPost(t, e.s.Endpoint()+"/_elbsim/faults/throttling", `{"action":"DescribeRules","count":1}`, 200)
	if _, err := c.DescribeRules(e.ctx, &elbv2.DescribeRulesInput{}); apiCode(err) != "Throttling" {
		t.Fatalf("forced throttle: %v", err)
	}
	adminPost(t, e.s.Endpoint()+"/_elbsim/faults/throttling", `{"enabled":true,"class":"describe","burst":2,"ratePerSecond":0}`, 200)
	for i := range 2 {
		if _, err := c.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{}); err != nil {
			t.Fatalf("call %d within a burst of 2: %v", i+1, err)
		}
	}
	if _, err := c.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{}); apiCode(err) != "Throttling" {
		t.Fatalf("third call: %v", err)
	}
	adminDo(t, "DELETE", e.s.Endpoint()+"/_elbsim/faults/throttling", "", 200)
	if _, err := c.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{}); err != nil {
		t.Fatalf("after DELETE: %v", err)
	}
	adminPost(t, e.s.Endpoint()+"/_elbsim/faults/throttling", `{}`, 400)
	adminPost(t, e.s.Endpoint()+"/_elbsim/faults/throttling", `not json`, 400)
	adminDo(t, "GET", e.s.Endpoint()+"/_elbsim/nothing-here", "", 404)
}

func adminPost(t *testing.T, url, body string, status int) []byte {
	t.Helper()
	return adminDo(t, "POST", url, body, status)
}

func adminDo(t *testing.T, method, url, body string, status int) []byte {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, b, status)
	}
	return b
}
