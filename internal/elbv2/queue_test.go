package elbv2_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/elbv2/fake"
)

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// Polling a goroutine's progress. (Product packages do not import the
	// harness's internal/sim/poll.)
	err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// A read that waited in the rate-limit queue shows the ALB as it was when it
// was sent: it serves a change written while it waited.
func TestReadCountsFromWhenItWasSent(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	l := f.AddListener(*lb.LoadBalancerArn, 80, "HTTP")
	p, clk, _ := newProvider(t, f)
	ctx := context.Background()
	p.StopTokens()
	done := make(chan error, 1)
	go func() {
		_, err := p.Rules(elbv2.WithNotBefore(ctx, clk.now()), l)
		done <- err
	}()
	waitFor(t, "the read to queue", func() bool { return p.Queued() == 1 })
	clk.add(time.Second)
	written := clk.now() // a change written while the read waits
	p.GrantTokens(1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rs, at, err := p.RulesAt(elbv2.WithNotBefore(ctx, written), l)
	if err != nil || len(rs) == 0 {
		t.Fatal(rs, err)
	}
	if !at.Equal(written) {
		t.Fatalf("read at %v, want when it left the queue (%v)", at, written)
	}
	if n := f.Calls(elbv2.OpDescribeRules); n != 1 {
		t.Fatalf("DescribeRules = %d, want 1: the queued read was sent after the change", n)
	}
	// A change written after the read was sent needs a new read.
	clk.add(time.Millisecond)
	p.GrantTokens(1)
	if _, err := p.Rules(elbv2.WithNotBefore(ctx, clk.now()), l); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls(elbv2.OpDescribeRules); n != 2 {
		t.Fatalf("DescribeRules = %d, want 2", n)
	}
}

// A re-read of a listener (PriorityPoll) that a verification of a newer
// change joins becomes that change's first read: it goes before first reads
// of later changes, and one call serves both.
func TestJoiningAQueuedReRead(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	la := f.AddListener(*lb.LoadBalancerArn, 80, "HTTP")
	lbB := f.AddLoadBalancer("b")
	lb2 := f.AddListener(*lbB.LoadBalancerArn, 80, "HTTP")
	p, clk, _ := newProvider(t, f)
	ctx := context.Background()
	b0 := clk.now()
	if _, err := p.Rules(elbv2.WithNotBefore(ctx, b0), la); err != nil {
		t.Fatal(err)
	}
	p.StopTokens()
	clk.add(time.Second)
	type res struct {
		who string
		err error
	}
	done := make(chan res, 3)
	read := func(who string, ctx context.Context, l string) {
		_, err := p.Rules(ctx, l)
		done <- res{who, err}
	}
	// A pending verification of change b0 re-reads listener A.
	go read("re-read of A", elbv2.WithMaxAge(elbv2.WithNotBefore(ctx, b0), time.Millisecond), la)
	waitFor(t, "the re-read to queue", func() bool { return p.Queued() == 1 })
	if prio, _, _ := p.QueueHead(); prio != elbv2.PriorityPoll {
		t.Fatalf("re-read queued at %v, want poll", prio)
	}
	// A first read of listener B for a change written later.
	b3 := clk.now()
	go read("first read of B", elbv2.WithNotBefore(ctx, b3), lb2)
	waitFor(t, "the second read to queue", func() bool { return p.Queued() == 2 })
	if prio, _, _ := p.QueueHead(); prio != elbv2.PriorityFirst {
		t.Fatalf("head at %v, want the first read of B", prio)
	}
	// A change on A written before b3 joins the re-read of A.
	b1 := b3.Add(-time.Millisecond)
	go read("first read of A", elbv2.WithNotBefore(ctx, b1), la)
	waitFor(t, "the re-read to be raised", func() bool {
		prio, since, _ := p.QueueHead()
		return prio == elbv2.PriorityFirst && since.Equal(b1)
	})
	p.GrantTokens(1)
	got := map[string]bool{}
	for range 2 {
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		got[r.who] = true
	}
	if !got["re-read of A"] || !got["first read of A"] {
		t.Fatalf("one token served %v, want both reads of A", got)
	}
	p.GrantTokens(1)
	if r := <-done; r.who != "first read of B" || r.err != nil {
		t.Fatalf("%+v", r)
	}
	if n := f.Calls(elbv2.OpDescribeRules); n != 3 {
		t.Fatalf("DescribeRules = %d, want 3 (A, A again for both, B)", n)
	}
}

// A bound later than the call (a clock ahead of ours) is taken as the
// call's start: the read is accepted, not repeated.
func TestBoundInTheFutureIsTheCallsStart(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	l := f.AddListener(*lb.LoadBalancerArn, 80, "HTTP")
	p, clk, _ := newProvider(t, f)
	if _, err := p.Rules(elbv2.WithNotBefore(context.Background(), clk.now().Add(time.Hour)), l); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls(elbv2.OpDescribeRules); n != 1 {
		t.Fatalf("DescribeRules = %d, want 1", n)
	}
}

// WithMaxAge: AnyAge reuses what was read after the bound however old it
// is; a short age re-reads.
func TestMaxAge(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	l := f.AddListener(*lb.LoadBalancerArn, 80, "HTTP")
	tg := f.AddTargetGroup(*lb.LoadBalancerArn, "tg", nil)
	p, clk, _ := newProvider(t, f)
	ctx := elbv2.WithNotBefore(context.Background(), clk.now())
	if _, err := p.Rules(ctx, l); err != nil {
		t.Fatal(err)
	}
	if _, err := p.TargetHealth(ctx, tg); err != nil {
		t.Fatal(err)
	}
	clk.add(5 * time.Minute)
	any := elbv2.WithMaxAge(ctx, elbv2.AnyAge)
	if _, err := p.Rules(any, l); err != nil {
		t.Fatal(err)
	}
	if _, err := p.TargetHealth(any, tg); err != nil {
		t.Fatal(err)
	}
	if r, h := f.Calls(elbv2.OpDescribeRules), f.Calls(elbv2.OpDescribeTargetHealth); r != 1 || h != 1 {
		t.Fatalf("DescribeRules %d, DescribeTargetHealth %d, want 1 each (any age)", r, h)
	}
	// Without it, the TTL applies.
	if _, err := p.Rules(ctx, l); err != nil {
		t.Fatal(err)
	}
	if r := f.Calls(elbv2.OpDescribeRules); r != 2 {
		t.Fatalf("DescribeRules = %d, want 2", r)
	}
	// Any age does not mean any bound: a later change needs a new read.
	clk.add(time.Second)
	if _, err := p.TargetHealth(elbv2.WithMaxAge(elbv2.WithNotBefore(context.Background(), clk.now()), elbv2.AnyAge), tg); err != nil {
		t.Fatal(err)
	}
	if h := f.Calls(elbv2.OpDescribeTargetHealth); h != 2 {
		t.Fatalf("DescribeTargetHealth = %d, want 2", h)
	}
}

// PollInterval grows with the number of resources being re-read.
func TestPollIntervalFollowsThePolledResources(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	var ls []string
	for i := range 20 {
		ls = append(ls, f.AddListener(*lb.LoadBalancerArn, int32(80+i), "HTTP"))
	}
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	p := elbv2.NewWithAPI(f, elbv2.Options{Region: "us-east-1", RateLimit: 8, Burst: 100, Now: clk.now})
	if d := p.PollInterval(); d != elbv2.DefaultCacheTTL {
		t.Fatalf("nothing polled: %v", d)
	}
	ctx := elbv2.WithNotBefore(context.Background(), clk.now())
	for _, l := range ls {
		if _, err := p.Rules(ctx, l); err != nil { // first reads
			t.Fatal(err)
		}
	}
	if d := p.PollInterval(); d != elbv2.DefaultCacheTTL {
		t.Fatalf("first reads count as polls: %v", d)
	}
	clk.add(elbv2.DefaultCacheTTL)
	for _, l := range ls {
		if _, err := p.Rules(ctx, l); err != nil { // re-reads of the same change
			t.Fatal(err)
		}
	}
	// 20 listeners at half of 8/s: each every 5 s.
	if d := p.PollInterval(); d != 5*time.Second {
		t.Fatalf("20 listeners polled: %v, want 5s", d)
	}
	clk.add(elbv2.DefaultStructureTTL + time.Second)
	if d := p.PollInterval(); d != elbv2.DefaultCacheTTL {
		t.Fatalf("after the polls stopped: %v", d)
	}
}

// Target-group lists of several load balancers come from one call when the
// account's groups fit in one page.
func TestTargetGroupsOfSeveralLoadBalancersInOneCall(t *testing.T) {
	f := fake.New()
	var lbs []string
	want := map[string][]string{}
	for i := range 3 {
		lb := *f.AddLoadBalancer(fmt.Sprintf("lb%d", i)).LoadBalancerArn
		lbs = append(lbs, lb)
		for j := range 2 {
			name := fmt.Sprintf("tg%d-%d", i, j)
			f.AddTargetGroup(lb, name, map[string]string{"ingress.k8s.aws/resource": "ns/" + name})
			want[lb] = append(want[lb], name)
		}
	}
	empty := *f.AddLoadBalancer("empty").LoadBalancerArn
	p, clk, _ := newProvider(t, f)
	ctx := context.Background()
	check := func(lb string) {
		t.Helper()
		tgs, err := p.TargetGroups(ctx, lb)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tg := range tgs {
			names = append(names, tg.Name)
			if tg.Tags["ingress.k8s.aws/resource"] != "ns/"+tg.Name {
				t.Errorf("%s has tags %v", tg.Name, tg.Tags)
			}
		}
		if fmt.Sprint(names) != fmt.Sprint(want[lb]) {
			t.Fatalf("groups of %s: %v, want %v", lb, names, want[lb])
		}
	}
	check(lbs[0]) // one load balancer: its own list
	check(lbs[1]) // a second one: the account's list, for every load balancer
	check(lbs[2])
	if n := f.Calls(elbv2.OpDescribeTargetGroups); n != 2 {
		t.Fatalf("DescribeTargetGroups = %d for 3 load balancers, want 2", n)
	}
	// A load balancer the scan shows no group for is asked directly.
	check(empty)
	if n := f.Calls(elbv2.OpDescribeTargetGroups); n != 3 {
		t.Fatalf("DescribeTargetGroups = %d, want 3", n)
	}
	// A group created since is seen once the list is refreshed.
	clk.add(elbv2.DefaultCacheTTL + time.Millisecond)
	f.AddTargetGroup(lbs[2], "tg2-new", nil)
	want[lbs[2]] = append(want[lbs[2]], "tg2-new")
	if !p.RefreshTargetGroups(lbs[2]) {
		t.Fatal("no refresh")
	}
	tgs, err := p.TargetGroups(ctx, lbs[2])
	if err != nil || len(tgs) != 3 {
		t.Fatalf("after refresh: %v %v", tgs, err)
	}
}

// An account with more groups than one page is not scanned again: each
// load balancer's list is one call.
func TestLargeAccountListsTargetGroupsPerLoadBalancer(t *testing.T) {
	f := fake.New()
	var lbs []string
	for i := range 5 {
		lb := *f.AddLoadBalancer(fmt.Sprintf("lb%d", i)).LoadBalancerArn
		lbs = append(lbs, lb)
		for j := range 90 {
			f.AddTargetGroup(lb, fmt.Sprintf("tg%d-%d", i, j), nil)
		}
	}
	p, _, _ := newProvider(t, f)
	for _, lb := range lbs {
		tgs, err := p.TargetGroups(context.Background(), lb)
		if err != nil || len(tgs) != 90 {
			t.Fatalf("%s: %d groups, %v", lb, len(tgs), err)
		}
	}
	// One per load balancer, plus the one scan that found 450 groups.
	if n := f.Calls(elbv2.OpDescribeTargetGroups); n != 6 {
		t.Fatalf("DescribeTargetGroups = %d, want 6", n)
	}
}

// A caller whose deadline comes while its read is still queued gets a
// Throttled error that says so; the read goes on and the next call uses it.
func TestDeadlineWhileQueuedIsThrottled(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	l := f.AddListener(*lb.LoadBalancerArn, 80, "HTTP")
	p, clk, _ := newProvider(t, f)
	p.StopTokens()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	bound := elbv2.WithNotBefore(context.Background(), clk.now())
	go func() {
		_, err := p.Rules(elbv2.WithNotBefore(ctx, clk.now()), l)
		errc <- err
	}()
	waitFor(t, "the read to queue", func() bool { return p.Queued() == 1 })
	cancel()
	err := <-errc
	if elbv2.KindOf(err) != elbv2.KindThrottled || !strings.Contains(err.Error(), "still queued for the client-side ELBv2 rate limit") {
		t.Fatalf("error %v, want Throttled: still queued", err)
	}
	p.GrantTokens(1)
	waitFor(t, "the read to finish", func() bool { return f.Calls(elbv2.OpDescribeRules) == 1 })
	if _, err := p.Rules(bound, l); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls(elbv2.OpDescribeRules); n != 1 {
		t.Fatalf("DescribeRules = %d, want 1: the abandoned read's answer is used", n)
	}
}

// A failed read is answered again for a second to verifications whose bound
// it meets, instead of being repeated by every check.
func TestFailedReadIsNotRepeatedAtOnce(t *testing.T) {
	f := fake.New()
	lb := f.AddLoadBalancer("a")
	tg := f.AddTargetGroup(*lb.LoadBalancerArn, "tg", nil)
	p, clk, _ := newProvider(t, f)
	principal := "arn:aws:sts::123456789012:assumed-role/albrollouts/pod"
	f.Fail(elbv2.OpDescribeTargetHealth, fake.AccessDenied(elbv2.OpDescribeTargetHealth, principal))
	bound := elbv2.WithNotBefore(context.Background(), clk.now())
	for range 10 {
		if _, err := p.TargetHealth(bound, tg); elbv2.KindOf(err) != elbv2.KindAccessDenied {
			t.Fatalf("err = %v", err)
		}
		clk.add(50 * time.Millisecond)
	}
	if n := f.Calls(elbv2.OpDescribeTargetHealth); n != 1 {
		t.Fatalf("DescribeTargetHealth = %d for 10 checks within 0.5 s, want 1", n)
	}
	// A second later it is asked again.
	clk.add(time.Second)
	_, _ = p.TargetHealth(bound, tg)
	if n := f.Calls(elbv2.OpDescribeTargetHealth); n != 2 {
		t.Fatalf("DescribeTargetHealth = %d, want 2", n)
	}
	// A change written after the failure is not answered by it.
	clk.add(time.Millisecond)
	_, _ = p.TargetHealth(elbv2.WithNotBefore(context.Background(), clk.now()), tg)
	if n := f.Calls(elbv2.OpDescribeTargetHealth); n != 3 {
		t.Fatalf("DescribeTargetHealth = %d, want 3", n)
	}
	// Without a bound (doctor), every call asks.
	_, _ = p.TargetHealth(context.Background(), tg)
	if n := f.Calls(elbv2.OpDescribeTargetHealth); n != 4 {
		t.Fatalf("DescribeTargetHealth = %d, want 4", n)
	}
	// The operator fixes IAM: within the second the failure is still the
	// answer, then the next check succeeds.
	f.ClearFailures()
	if _, err := p.TargetHealth(bound, tg); elbv2.KindOf(err) != elbv2.KindAccessDenied {
		t.Fatalf("err = %v, want the failure of 0 s ago", err)
	}
	clk.add(time.Second)
	if _, err := p.TargetHealth(bound, tg); err != nil {
		t.Fatal(err)
	}
}
