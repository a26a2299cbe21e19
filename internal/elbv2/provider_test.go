package elbv2_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/elbv2/fake"
)

// clock is a manual clock for the caches.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newProvider(t *testing.T, f *fake.ELBv2) (*elbv2.Provider, *clock, *prometheus.Registry) {
	t.Helper()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	reg := prometheus.NewRegistry()
	p := elbv2.NewWithAPI(f, elbv2.Options{Region: "us-east-1", RateLimit: 1e6, Burst: 1e6, Now: clk.now, Registerer: reg})
	return p, clk, reg
}

func TestLoadBalancerByDNSScansOnceAndPaginates(t *testing.T) {
	f := fake.New()
	var last string
	for i := range 450 {
		last = *f.AddLoadBalancer(fmt.Sprintf("lb-%d", i)).DNSName
	}
	p, _, _ := newProvider(t, f)
	ctx := context.Background()

	lb, err := p.LoadBalancerByDNS(ctx, strings.ToUpper(last)+".")
	if err != nil {
		t.Fatal(err)
	}
	if lb.Name != "lb-449" {
		t.Fatalf("found %q, want lb-449 (on the second page)", lb.Name)
	}
	if got := f.Calls(elbv2.OpDescribeLoadBalancers); got != 2 {
		t.Fatalf("DescribeLoadBalancers calls = %d, want 2 pages of 400", got)
	}
	for i := range 10 {
		if _, err := p.LoadBalancerByDNS(ctx, fmt.Sprintf("lb-%d-%d.us-east-1.elb.amazonaws.com", i, 1000001+i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.Calls(elbv2.OpDescribeLoadBalancers); got != 2 {
		t.Fatalf("cached lookups made calls: %d", got)
	}
}

func TestLoadBalancerNotFoundScansAtMostOncePerTTL(t *testing.T) {
	f := fake.New()
	f.AddLoadBalancer("a")
	p, clk, _ := newProvider(t, f)
	ctx := context.Background()
	for range 3 {
		_, err := p.LoadBalancerByDNS(ctx, "gone-1.us-east-1.elb.amazonaws.com")
		if elbv2.KindOf(err) != elbv2.KindLoadBalancerNotFound {
			t.Fatalf("err = %v, want LoadBalancerNotFound", err)
		}
		if !strings.Contains(err.Error(), "gone-1.us-east-1.elb.amazonaws.com") || !strings.Contains(err.Error(), "1 load balancers listed") {
			t.Fatalf("message lacks the DNS name or the count: %v", err)
		}
	}
	if got := f.Calls(elbv2.OpDescribeLoadBalancers); got != 1 {
		t.Fatalf("scans = %d, want 1 within the TTL", got)
	}
	clk.add(elbv2.DefaultCacheTTL)
	lb := f.AddLoadBalancer("late")
	if _, err := p.LoadBalancerByDNS(ctx, *lb.DNSName); err != nil {
		t.Fatalf("a load balancer created later is found after the TTL: %v", err)
	}
}

func TestRegionMismatchMakesNoCall(t *testing.T) {
	f := fake.New()
	p, _, _ := newProvider(t, f)
	_, err := p.LoadBalancerByDNS(context.Background(), "k8s-demo-123.eu-west-1.elb.amazonaws.com")
	var e *elbv2.Error
	if !errors.As(err, &e) || e.Kind != elbv2.KindRegionMismatch {
		t.Fatalf("err = %v, want RegionMismatch", err)
	}
	for _, want := range []string{"eu-west-1", "us-east-1", "--region eu-west-1"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("message %q lacks %q", e.Error(), want)
		}
	}
	if f.TotalCalls() != 0 {
		t.Fatalf("made %d calls", f.TotalCalls())
	}
}

func TestLoadBalancerDeletedInvalidatesCache(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	f.AddListener(*lb.LoadBalancerArn, 80, "HTTP")
	p, clk, _ := newProvider(t, f)
	ctx := context.Background()
	if _, err := p.LoadBalancerByDNS(ctx, *lb.DNSName); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Listeners(ctx, *lb.LoadBalancerArn); err != nil {
		t.Fatal(err)
	}
	f.DeleteLoadBalancer(*lb.LoadBalancerArn)
	clk.add(elbv2.DefaultStructureTTL)
	if _, err := p.Listeners(ctx, *lb.LoadBalancerArn); elbv2.KindOf(err) != elbv2.KindLoadBalancerNotFound {
		t.Fatalf("Listeners err = %v, want LoadBalancerNotFound", err)
	}
	if _, err := p.LoadBalancerByDNS(ctx, *lb.DNSName); elbv2.KindOf(err) != elbv2.KindLoadBalancerNotFound {
		t.Fatalf("after invalidation err = %v, want LoadBalancerNotFound", err)
	}
	if got := f.Calls(elbv2.OpDescribeLoadBalancers); got != 2 {
		t.Fatalf("DescribeLoadBalancers calls = %d, want a rescan after invalidation", got)
	}
}

func TestConcurrentReadsAreCoalesced(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	l := f.AddListener(*lb.LoadBalancerArn, 443, "HTTPS")
	tg := f.AddTargetGroup(*lb.LoadBalancerArn, "tg", nil)
	f.SetTargetHealth(tg, elbv2.TargetHealth{ID: "127.0.0.1", Port: 80, State: "healthy"})
	p, clk, _ := newProvider(t, f)
	release := make(chan struct{})
	f.OnCall(func(string) { <-release })

	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 100 {
		wg.Add(2)
		go func() { defer wg.Done(); _, err := p.Rules(context.Background(), l); errs <- err }()
		go func() { defer wg.Done(); _, err := p.TargetHealth(context.Background(), tg); errs <- err }()
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if r, h := f.Calls(elbv2.OpDescribeRules), f.Calls(elbv2.OpDescribeTargetHealth); r != 1 || h != 1 {
		t.Fatalf("100 concurrent readers made %d DescribeRules and %d DescribeTargetHealth calls, want 1 each", r, h)
	}
	clk.add(elbv2.DefaultCacheTTL)
	if _, err := p.Rules(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	if r := f.Calls(elbv2.OpDescribeRules); r != 2 {
		t.Fatalf("after the TTL DescribeRules calls = %d, want 2", r)
	}
}

func TestTargetGroupTagsBatchedAndCached(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	for i := range 45 {
		f.AddTargetGroup(*lb.LoadBalancerArn, fmt.Sprintf("tg-%d", i), map[string]string{"ingress.k8s.aws/resource": fmt.Sprintf("ns/ing-svc%d:80", i)})
	}
	p, clk, _ := newProvider(t, f)
	ctx := context.Background()
	tgs, err := p.TargetGroups(ctx, *lb.LoadBalancerArn)
	if err != nil {
		t.Fatal(err)
	}
	if len(tgs) != 45 || tgs[44].Tags["ingress.k8s.aws/resource"] != "ns/ing-svc44:80" {
		t.Fatalf("got %d groups, last tags %v", len(tgs), tgs[len(tgs)-1].Tags)
	}
	if got := f.Calls(elbv2.OpDescribeTags); got != 3 {
		t.Fatalf("DescribeTags calls = %d, want 3 batches of <=20", got)
	}
	clk.add(elbv2.DefaultStructureTTL)
	if _, err := p.TargetGroups(ctx, *lb.LoadBalancerArn); err != nil {
		t.Fatal(err)
	}
	if g, tg := f.Calls(elbv2.OpDescribeTargetGroups), f.Calls(elbv2.OpDescribeTags); g != 2 || tg != 3 {
		t.Fatalf("after the TTL: DescribeTargetGroups=%d (want 2), DescribeTags=%d (want 3: tags are cached longer)", g, tg)
	}
	// A refresh is honoured only for a list older than the cache TTL.
	if p.RefreshTargetGroups(*lb.LoadBalancerArn) {
		t.Fatal("refreshed a list read just now")
	}
	clk.add(elbv2.DefaultCacheTTL + time.Millisecond)
	if !p.RefreshTargetGroups(*lb.LoadBalancerArn) {
		t.Fatal("did not refresh a list older than the cache TTL")
	}
	if _, err := p.TargetGroups(ctx, *lb.LoadBalancerArn); err != nil {
		t.Fatal(err)
	}
	if g := f.Calls(elbv2.OpDescribeTargetGroups); g != 3 {
		t.Fatalf("DescribeTargetGroups=%d after a refresh, want 3", g)
	}
}

func TestErrorsAreClassifiedAndCounted(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	p, _, reg := newProvider(t, f)
	ctx := context.Background()
	principal := "arn:aws:sts::123456789012:assumed-role/albrollouts/i-0abc"

	f.FailNext(elbv2.OpDescribeListeners, fake.AccessDenied(elbv2.OpDescribeListeners, principal), 1)
	_, err := p.Listeners(ctx, *lb.LoadBalancerArn)
	var e *elbv2.Error
	if !errors.As(err, &e) || e.Kind != elbv2.KindAccessDenied {
		t.Fatalf("err = %v, want AccessDenied", err)
	}
	if e.Action != "elasticloadbalancing:DescribeListeners" || e.Principal != principal {
		t.Fatalf("action %q principal %q", e.Action, e.Principal)
	}
	for _, want := range []string{"elasticloadbalancing:DescribeListeners", principal, "config/iam-policy.json"} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("message %q lacks %q", e.Error(), want)
		}
	}

	f.FailNext(elbv2.OpDescribeListeners, fake.APIError("Throttling", "Rate exceeded"), 1)
	if _, err := p.Listeners(ctx, *lb.LoadBalancerArn); elbv2.KindOf(err) != elbv2.KindThrottled {
		t.Fatalf("err = %v, want Throttled", err)
	}
	if _, err := p.TargetHealth(ctx, "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gone/1"); elbv2.KindOf(err) != elbv2.KindTargetGroupNotFound {
		t.Fatalf("err = %v, want TargetGroupNotFound", err)
	}
	if _, err := p.Rules(ctx, "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/1/2"); elbv2.KindOf(err) != elbv2.KindListenerNotFound {
		t.Fatalf("err = %v, want ListenerNotFound", err)
	}
	f.FailNext(elbv2.OpDescribeListeners, errors.New("boom"), 1)
	if _, err := p.Listeners(ctx, *lb.LoadBalancerArn); elbv2.KindOf(err) != elbv2.KindOther {
		t.Fatalf("err = %v, want AWSError", err)
	}
	if _, err := p.Listeners(ctx, *lb.LoadBalancerArn); err != nil {
		t.Fatal(err)
	}

	want := `
# HELP albrollouts_elbv2_api_calls_total ELBv2 API calls made by the verifier, by operation and outcome (success, throttled, access_denied, not_found, error).
# TYPE albrollouts_elbv2_api_calls_total counter
albrollouts_elbv2_api_calls_total{operation="DescribeListeners",outcome="access_denied"} 1
albrollouts_elbv2_api_calls_total{operation="DescribeListeners",outcome="error"} 1
albrollouts_elbv2_api_calls_total{operation="DescribeListeners",outcome="success"} 1
albrollouts_elbv2_api_calls_total{operation="DescribeListeners",outcome="throttled"} 1
albrollouts_elbv2_api_calls_total{operation="DescribeRules",outcome="not_found"} 1
albrollouts_elbv2_api_calls_total{operation="DescribeTargetHealth",outcome="not_found"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "albrollouts_elbv2_api_calls_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "albrollouts_elbv2_api_call_duration_seconds"); n != 3 {
		t.Fatalf("duration series = %d, want 3 operations", n)
	}
}

func TestRateLimiterSpacesCalls(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	// 20 calls/s, burst 1: 5 calls need at least 4 intervals of 50 ms.
	p := elbv2.NewWithAPI(f, elbv2.Options{Region: "us-east-1", RateLimit: 20, Burst: 1, CacheTTL: time.Nanosecond, StructureTTL: time.Nanosecond})
	start := time.Now()
	for range 5 {
		if _, err := p.Listeners(context.Background(), *lb.LoadBalancerArn); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 190*time.Millisecond {
		t.Fatalf("5 calls at 20/s took %v, want >= 200ms", el)
	}
}

func TestRuleForwardShapes(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	l := f.AddListener(*lb.LoadBalancerArn, 80, "HTTP")
	f.SetRule(l, "3", elbv2.WeightedTargetGroup{ARN: "tg-a", Weight: 25}, elbv2.WeightedTargetGroup{ARN: "tg-b", Weight: 75})
	p, _, _ := newProvider(t, f)
	rs, err := p.Rules(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Priority != "3" || len(rs[0].Forward) != 2 || rs[0].Forward[1].Weight != 75 {
		t.Fatalf("rules = %+v", rs)
	}
	if !rs[1].IsDefault || rs[1].Forward != nil {
		t.Fatalf("default rule = %+v, want fixed-response without forward", rs[1])
	}
}

func TestRegionFromDNSName(t *testing.T) {
	for dns, want := range map[string]string{
		"k8s-demo-a1b2-1234567890.us-west-2.elb.amazonaws.com":     "us-west-2",
		"internal-k8s-demo-1234567890.eu-west-1.elb.amazonaws.com": "eu-west-1",
		"k8s-demo-123.cn-north-1.elb.amazonaws.com.cn":             "cn-north-1",
		"K8S-DEMO-123.AP-SOUTHEAST-2.ELB.AMAZONAWS.COM.":           "ap-southeast-2",
		"app.example.com": "",
		"":                "",
	} {
		got, ok := elbv2.RegionFromDNSName(dns)
		if got != want || ok != (want != "") {
			t.Errorf("RegionFromDNSName(%q) = %q, %v; want %q", dns, got, ok, want)
		}
	}
}

func TestNameFromARN(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/k8s-demo-canary-1a2b/0123": "k8s-demo-canary-1a2b",
		"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/k8s-demo/0123":        "k8s-demo",
		"something": "something",
	} {
		if got := elbv2.NameFromARN(arn); got != want {
			t.Errorf("NameFromARN(%q) = %q, want %q", arn, got, want)
		}
	}
}

func TestCheckPermissions(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	f.AddListener(*lb.LoadBalancerArn, 80, "HTTP")
	f.AddTargetGroup(*lb.LoadBalancerArn, "tg", nil)
	f.Fail(elbv2.OpDescribeTargetHealth, fake.AccessDenied(elbv2.OpDescribeTargetHealth, "arn:aws:iam::123456789012:role/x"))
	f.Fail(elbv2.OpDescribeTags, errors.New("connection reset"))
	p, _, _ := newProvider(t, f)
	got := map[string]string{}
	for _, c := range p.CheckPermissions(context.Background(), *lb.DNSName) {
		got[c.Operation] = c.State
	}
	want := map[string]string{
		elbv2.OpDescribeLoadBalancers: elbv2.PermissionAllowed, elbv2.OpDescribeListeners: elbv2.PermissionAllowed,
		elbv2.OpDescribeRules: elbv2.PermissionAllowed, elbv2.OpDescribeTargetGroups: elbv2.PermissionAllowed,
		elbv2.OpDescribeTags: elbv2.PermissionFailing, elbv2.OpDescribeTargetHealth: elbv2.PermissionDenied,
	}
	for op, w := range want {
		if got[op] != w {
			t.Errorf("%s: %s, want %s", op, got[op], w)
		}
	}
	// Without a load balancer, placeholders answer NotFound, which proves the permission.
	f.ClearFailures()
	for _, c := range p.CheckPermissions(context.Background(), "") {
		if c.State != elbv2.PermissionAllowed {
			t.Errorf("%s: %s (%v), want allowed", c.Operation, c.State, c.Err)
		}
	}
}

func TestNotBeforeForcesAFreshRead(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	l := f.AddListener(*lb.LoadBalancerArn, 80, "HTTP")
	p, clk, _ := newProvider(t, f)
	ctx := context.Background()
	if _, err := p.Rules(ctx, l); err != nil {
		t.Fatal(err)
	}
	written := clk.now()
	// Same instant: the cached read started at the write, so it counts.
	if _, err := p.Rules(elbv2.WithNotBefore(ctx, written), l); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls(elbv2.OpDescribeRules); n != 1 {
		t.Fatalf("DescribeRules = %d, want 1", n)
	}
	clk.add(time.Millisecond)
	written = clk.now()
	for range 3 {
		if _, err := p.Rules(elbv2.WithNotBefore(ctx, written), l); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.Calls(elbv2.OpDescribeRules); n != 2 {
		t.Fatalf("DescribeRules = %d, want 2: one fresh read after the write, then the cache", n)
	}
	// Listeners honour the bound (a listener added just before the change
	// must be seen); without a bound the cached list is reused.
	if _, err := p.Listeners(ctx, *lb.LoadBalancerArn); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Millisecond)
	if _, err := p.Listeners(ctx, *lb.LoadBalancerArn); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls(elbv2.OpDescribeListeners); n != 1 {
		t.Fatalf("DescribeListeners = %d, want 1 (cached, no bound)", n)
	}
	added := f.AddListener(*lb.LoadBalancerArn, 8443, "HTTPS")
	ls, err := p.Listeners(elbv2.WithNotBefore(ctx, clk.now()), *lb.LoadBalancerArn)
	if err != nil {
		t.Fatal(err)
	}
	if n := f.Calls(elbv2.OpDescribeListeners); n != 2 || len(ls) != 2 || ls[1].ARN != added {
		t.Fatalf("DescribeListeners = %d, listeners %+v: want a fresh read that shows :8443", n, ls)
	}
	// Target-group lists are exempt: a rule naming an unlisted group
	// triggers RefreshTargetGroups instead.
	if _, err := p.TargetGroups(ctx, *lb.LoadBalancerArn); err != nil {
		t.Fatal(err)
	}
	clk.add(time.Millisecond)
	if _, err := p.TargetGroups(elbv2.WithNotBefore(ctx, clk.now()), *lb.LoadBalancerArn); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls(elbv2.OpDescribeTargetGroups); n != 1 {
		t.Fatalf("DescribeTargetGroups = %d, want 1", n)
	}
}

// Issue 12, bug 5: coalesced callers share one error. It must not be
// changed after it is returned (go test -race), and every caller must read
// the same message naming the load balancer by its DNS name.
func TestDeletedLoadBalancerErrorIsTheSameForEveryCaller(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("web")
	f.AddListener(*lb.LoadBalancerArn, 80, "HTTP")
	p, _, _ := newProvider(t, f)
	ctx := context.Background()
	if _, err := p.LoadBalancerByDNS(ctx, *lb.DNSName); err != nil {
		t.Fatal(err)
	}
	f.DeleteLoadBalancer(*lb.LoadBalancerArn)
	release := make(chan struct{})
	f.OnCall(func(string) { <-release })
	const callers = 8
	errs := make([]error, callers)
	msgs := make([]string, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each caller reads the message at once, as a verification does.
			_, errs[i] = p.Listeners(ctx, *lb.LoadBalancerArn)
			if errs[i] != nil {
				msgs[i] = errs[i].Error()
			}
		}()
	}
	for range 100 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		if elbv2.KindOf(err) != elbv2.KindLoadBalancerNotFound {
			t.Fatalf("caller %d: %v, want LoadBalancerNotFound", i, err)
		}
		if msgs[i] != msgs[0] || err.Error() != msgs[0] {
			t.Fatalf("caller %d got %q (now %q), caller 0 got %q", i, msgs[i], err.Error(), msgs[0])
		}
	}
	for _, want := range []string{*lb.DNSName, "web", "no longer exists"} {
		if !strings.Contains(errs[0].Error(), want) {
			t.Errorf("message %q lacks %q", errs[0].Error(), want)
		}
	}
	// A later call, after the load balancer left the DNS cache, says the same.
	_, err := p.TargetGroups(ctx, *lb.LoadBalancerArn)
	if elbv2.KindOf(err) != elbv2.KindLoadBalancerNotFound || !strings.Contains(err.Error(), *lb.DNSName) {
		t.Fatalf("later call: %v", err)
	}
	t.Logf("%d callers, %d DescribeListeners calls: %v", callers, f.Calls(elbv2.OpDescribeListeners), errs[0])
}

// Issue 12: an empty tag answer (a group created a moment ago) is kept
// briefly, real tags for TagsTTL.
func TestEmptyTagsAreCachedBriefly(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	fresh := f.AddTargetGroup(*lb.LoadBalancerArn, "fresh", nil)
	f.AddTargetGroup(*lb.LoadBalancerArn, "tagged", map[string]string{"ingress.k8s.aws/resource": "ns/ing-svc:80"})
	p, clk, _ := newProvider(t, f)
	ctx := context.Background()
	if _, err := p.TargetGroups(ctx, *lb.LoadBalancerArn); err != nil {
		t.Fatal(err)
	}
	f.SetTags(fresh, map[string]string{"ingress.k8s.aws/resource": "ns/ing-new:80"})
	clk.add(elbv2.DefaultStructureTTL)
	tgs, err := p.TargetGroups(ctx, *lb.LoadBalancerArn)
	if err != nil {
		t.Fatal(err)
	}
	if got := tgs[0].Tags["ingress.k8s.aws/resource"]; got != "ns/ing-new:80" {
		t.Fatalf("tags of the new group after %v: %v, want the tags it got since", elbv2.DefaultStructureTTL, tgs[0].Tags)
	}
	if n := f.Calls(elbv2.OpDescribeTags); n != 2 {
		t.Fatalf("DescribeTags = %d, want 2 (the second for the formerly untagged group only)", n)
	}
}

func TestRuleConditionsAndLegacyForward(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	l := f.AddListener(*lb.LoadBalancerArn, 80, "HTTP")
	tg := f.AddTargetGroup(*lb.LoadBalancerArn, "tg", nil)
	f.SetRuleTargetGroup(l, "1", tg)
	conds := []elbv2.RuleCondition{
		{Field: elbv2.ConditionPathPattern, Values: []string{"/*"}},
		{Field: elbv2.ConditionHTTPHeader, HTTPHeaderName: "X-Canary", Values: []string{"1", "yes"}},
		{Field: elbv2.ConditionQueryString, Values: []string{"v=2", "beta"}},
	}
	if !f.SetRuleConditions(l, "1", conds...) {
		t.Fatal("rule not found")
	}
	p, _, _ := newProvider(t, f)
	rs, err := p.Rules(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs[0].Forward) != 1 || rs[0].Forward[0].ARN != tg || rs[0].Forward[0].Weight != 1 {
		t.Fatalf("legacy forward = %+v, want one group of weight 1", rs[0].Forward)
	}
	if fmt.Sprint(rs[0].Conditions) != fmt.Sprint(conds) {
		t.Fatalf("conditions = %+v, want %+v", rs[0].Conditions, conds)
	}
}

func TestFullNameFromARN(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/k8s-demo/50dc6c495c0c9188": "app/k8s-demo/50dc6c495c0c9188",
		"arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/k8s-demo-tg/73e2d6bc24d8a067":   "targetgroup/k8s-demo-tg/73e2d6bc24d8a067",
		"arn:aws:elasticloadbalancing:us-east-1:1:listener/app/k8s-demo/50dc/1234":            "",
		"something": "",
	} {
		if got := elbv2.FullNameFromARN(arn); got != want {
			t.Errorf("FullNameFromARN(%q) = %q, want %q", arn, got, want)
		}
	}
	if got := (elbv2.LoadBalancer{ARN: "arn:aws:elasticloadbalancing:r:1:loadbalancer/app/x/1"}).FullName(); got != "app/x/1" {
		t.Errorf("LoadBalancer.FullName = %q", got)
	}
	if got := (elbv2.TargetGroup{ARN: "arn:aws:elasticloadbalancing:r:1:targetgroup/x/1"}).FullName(); got != "targetgroup/x/1" {
		t.Errorf("TargetGroup.FullName = %q", got)
	}
}
