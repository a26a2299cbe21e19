package faults

import (
	"strings"
	"testing"
	"time"
)

type fakeNow struct{ t time.Time }

func (f *fakeNow) now() time.Time { return f.t }

func TestTokenBucketDescribe(t *testing.T) {
	clk := &fakeNow{t: time.Unix(0, 0)}
	f := New(Options{Throttling: true, Now: clk.now})
	allowed := func(action string, n int) int {
		ok := 0
		for range n {
			if f.Check(action).Err == nil {
				ok++
			}
		}
		return ok
	}
	if got := allowed("DescribeTargetHealth", 50); got != 40 {
		t.Fatalf("burst: %d of 50 allowed, want 40", got)
	}
	d := f.Check("DescribeRules")
	if d.Err == nil || d.Err.Code != "Throttling" || d.Err.Message != "Rate exceeded" || d.Err.Status != 400 {
		t.Fatalf("throttle answer %+v", d.Err)
	}
	if f.Check("CreateRule").Err != nil || f.Check("RegisterTargets").Err != nil {
		t.Fatal("other classes have their own buckets")
	}
	clk.t = clk.t.Add(time.Second)
	if got := allowed("DescribeLoadBalancers", 20); got != 10 {
		t.Fatalf("after 1 s: %d allowed, want the 10 refilled", got)
	}
	clk.t = clk.t.Add(time.Hour)
	if got := allowed("DescribeLoadBalancers", 50); got != 40 {
		t.Fatalf("a bucket never holds more than its burst: %d allowed", got)
	}
	f.SetThrottling(false)
	if got := allowed("DescribeLoadBalancers", 100); got != 100 {
		t.Fatalf("buckets off: %d of 100 allowed", got)
	}
	if err := f.SetBucket("nope", BucketConfig{Burst: 1}); err == nil {
		t.Fatal("SetBucket accepted an unknown class")
	}
}

func TestClassOf(t *testing.T) {
	for action, want := range map[string]string{
		"DescribeTargetHealth": ClassDescribe, "DescribeTags": ClassDescribe, "RegisterTargets": ClassRegistration,
		"DeregisterTargets": ClassRegistration, "ModifyRule": ClassMutating, "AddTags": ClassMutating,
		"GetMetricData": ClassCloudWatch, "ListMetrics": ClassCloudWatch,
	} {
		if got := ClassOf(action); got != want {
			t.Errorf("ClassOf(%s) = %s, want %s", action, got, want)
		}
	}
}

func TestForcedThrottleDenyAndLatency(t *testing.T) {
	var failing []string
	f := New(Options{Account: "111122223333", OnTargetFailing: func(ip string, port int32, on bool) {
		failing = append(failing, ip)
	}})
	f.ThrottleNext("ModifyRule", 2)
	for i, want := range []bool{true, true, false} {
		if got := f.Check("ModifyRule").Err != nil; got != want {
			t.Fatalf("call %d throttled=%v, want %v", i+1, got, want)
		}
	}
	f.ThrottleNext("ModifyRule", -1)
	for range 5 {
		if f.Check("ModifyRule").Err == nil {
			t.Fatal("ThrottleNext(-1) let a call through")
		}
	}
	f.ClearThrottling()
	f.DenyAction("DescribeTargetHealth")
	d := f.Check("DescribeTargetHealth")
	if d.Err == nil || d.Err.Status != 403 || d.Err.Code != "AccessDenied" ||
		!strings.Contains(d.Err.Message, "arn:aws:sts::111122223333:assumed-role/") ||
		!strings.Contains(d.Err.Message, "is not authorized to perform: elasticloadbalancing:DescribeTargetHealth because no identity-based policy allows the elasticloadbalancing:DescribeTargetHealth action") {
		t.Fatalf("AccessDenied: %+v", d.Err)
	}
	if f.Check("DescribeRules").Err != nil {
		t.Fatal("AccessDenied leaked to another action")
	}
	f.DenyAction("GetMetricData")
	if d := f.Check("GetMetricData"); d.Err == nil || d.Err.Status != 403 || d.Err.Code != "AccessDenied" ||
		!strings.Contains(d.Err.Message, "is not authorized to perform: cloudwatch:GetMetricData because no identity-based policy allows the cloudwatch:GetMetricData action") {
		t.Fatalf("AccessDenied on CloudWatch: %+v", d.Err)
	}
	f.AllowAction("GetMetricData")
	f.SetLatency("", 10*time.Millisecond)
	f.SetLatency("DescribeRules", 50*time.Millisecond)
	if f.Check("DescribeRules").Delay != 50*time.Millisecond || f.Check("CreateRule").Delay != 10*time.Millisecond {
		t.Fatal("latency per action and for all")
	}
	f.SetTargetFailing("127.0.0.7", 80, true)
	if st := f.Status(); len(st.FailingTargets) != 1 || len(st.AccessDenied) != 1 || st.Latency["*"] != "10ms" {
		t.Fatalf("status %+v", st)
	}
	f.Clear()
	st := f.Status()
	if len(st.FailingTargets)+len(st.AccessDenied)+len(st.Latency)+len(st.ForcedThrottle) != 0 || st.Throttling {
		t.Fatalf("after Clear: %+v", st)
	}
	if strings.Join(failing, ",") != "127.0.0.7,127.0.0.7" {
		t.Fatalf("OnTargetFailing calls: %v", failing)
	}
}
