package verify

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// clocked is a fixture whose provider and verifier share a test clock and
// keep their caches across checks (default TTLs: rules and health 2 s,
// listeners 10 s), as in a controller.
type clocked struct {
	*fixture
	clk time.Time
	v   *Verifier
	p   *elbv2.Provider
	reg *prometheus.Registry
}

func newClocked(t *testing.T) *clocked {
	c := &clocked{fixture: newFixture(t), reg: prometheus.NewRegistry()}
	c.clk = c.now
	now := func() time.Time { return c.clk }
	c.p = elbv2.NewWithAPI(c.f, elbv2.Options{Region: "us-east-1", RateLimit: 1e6, Burst: 1e6, Now: now, Registerer: c.reg})
	c.v = New(c.p, Options{Now: now})
	return c
}

func (c *clocked) check(t *testing.T, in Input) Result {
	t.Helper()
	res := c.v.Verify(context.Background(), in)
	t.Logf("+%v %s %s: %s (next %v)", c.clk.Sub(in.DesiredAt), res.Outcome, res.Reason, res.Message, res.NextCheck)
	return res
}

// calls returns the fake's call counts since the last call of calls.
type callCounter struct {
	c    *clocked
	last map[string]int
}

func (c *clocked) counter() *callCounter {
	cc := &callCounter{c: c, last: map[string]int{}}
	cc.delta()
	return cc
}

func (cc *callCounter) delta() map[string]int {
	out := map[string]int{}
	for _, op := range elbv2.Operations {
		n := cc.c.f.Calls(op)
		if d := n - cc.last[op]; d != 0 {
			out[op] = d
		}
		cc.last[op] = n
	}
	return out
}

func wantCalls(t *testing.T, step string, got map[string]int, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: calls %v, want %v", step, got, want)
	}
	for op, n := range want {
		if got[op] != n {
			t.Fatalf("%s: calls %v, want %v", step, got, want)
		}
	}
}

// A pending check reads again only what blocks the verdict, at most once per
// poll interval, and says when that read is due; the check that says
// Verified reads whatever is older than the TTLs.
func TestPendingChecksReadOnlyWhatBlocks(t *testing.T) {
	c := newClocked(t)
	c.setWeights(0, 100)
	in := c.input(25, 75)
	in.DesiredAt = c.clk
	cc := c.counter()
	step := func(name string, d time.Duration, outcome Outcome, reason string, want map[string]int) Result {
		t.Helper()
		c.clk = c.clk.Add(d)
		res := c.check(t, in)
		wantResult(t, res, outcome, reason)
		wantCalls(t, name, cc.delta(), want)
		return res
	}
	poll := c.p.PollInterval()
	if poll != elbv2.DefaultCacheTTL {
		t.Fatalf("poll interval %v", poll)
	}
	// The first check reads the structure and the rules; no health while
	// the weights are not applied.
	res := step("first check", 0, Pending, ReasonWeightMismatch, map[string]int{
		elbv2.OpDescribeLoadBalancers: 1, elbv2.OpDescribeListeners: 1, elbv2.OpDescribeTargetGroups: 1, elbv2.OpDescribeTags: 1, elbv2.OpDescribeRules: 2})
	if res.NextCheck != poll {
		t.Fatalf("NextCheck %v, want the poll interval %v", res.NextCheck, poll)
	}
	// Before the poll interval: nothing is read, and the next check is due
	// when the rules may be read again.
	res = step("within the poll interval", 500*time.Millisecond, Pending, ReasonWeightMismatch, map[string]int{})
	if res.NextCheck != poll-500*time.Millisecond {
		t.Fatalf("NextCheck %v, want %v", res.NextCheck, poll-500*time.Millisecond)
	}
	step("poll", 1500*time.Millisecond, Pending, ReasonWeightMismatch, map[string]int{elbv2.OpDescribeRules: 2})
	// The load balancer controller applies the weights; the canary's new
	// targets are still initial.
	// (The listener list was read after the change, by the first check: no
	// other read of it is needed.)
	c.setWeights(25, 75)
	c.setHealth(c.canary, canaryTargets, elbv2.StateInitial, "Elb.InitialHealthChecking")
	step("weights applied", poll, Pending, ReasonTargetsNotHealthy, map[string]int{
		elbv2.OpDescribeRules: 2, elbv2.OpDescribeTargetHealth: 2})
	step("within the poll interval", time.Second, Pending, ReasonTargetsNotHealthy, map[string]int{})
	// Only the group that blocks is read again: not the rules, not the
	// stable group, not the listener list.
	step("health poll", time.Second, Pending, ReasonTargetsNotHealthy, map[string]int{elbv2.OpDescribeTargetHealth: 1})
	c.setHealth(c.canary, canaryTargets, elbv2.StateHealthy, "")
	// Healthy now: Verified needs the rules and the stable group's health
	// no older than the TTL, so they are read again.
	step("verified", poll, Verified, ReasonWeightsVerified, map[string]int{elbv2.OpDescribeTargetHealth: 2, elbv2.OpDescribeRules: 2})
}

// Verified is never said on answers older than the TTLs, even though a
// pending check may use them: what changed since is seen.
func TestVerifiedOnlyOnRecentAnswers(t *testing.T) {
	c := newClocked(t)
	in := c.input(25, 75)
	in.DesiredAt = c.clk
	wantResult(t, c.check(t, in), Verified, ReasonWeightsVerified)
	// The stable group loses a target; nothing else changes, and the same
	// desired state is checked again (a controller's next pass).
	c.setHealth(c.stable, stableTargets[:1], elbv2.StateHealthy, "")
	c.clk = c.clk.Add(3 * time.Second)
	wantResult(t, c.check(t, in), Pending, ReasonTargetsNotHealthy, "stable k8s-demo-stable-3c4d targets 1/2 healthy ("+stableTargets[1].String()+" not registered)")
	// Someone puts the old weights back on one listener.
	c.setHealth(c.stable, stableTargets, elbv2.StateHealthy, "")
	c.setListenerWeights(c.https, 0, 100)
	c.clk = c.clk.Add(3 * time.Second)
	wantResult(t, c.check(t, in), Pending, ReasonWeightMismatch, "listener :443 rule 3: canary k8s-demo-canary-1a2b weight 0, want 25")
}

// At the deadline the verdict rests on recent answers too: a check whose
// last answers showed a mismatch, made after the ALB converged, says
// Verified, not TimedOut.
func TestTimeoutOnlyOnRecentAnswers(t *testing.T) {
	c := newClocked(t)
	c.setWeights(0, 100)
	in := c.input(25, 75)
	in.DesiredAt = c.clk
	wantResult(t, c.check(t, in), Pending, ReasonWeightMismatch)
	c.setWeights(25, 75)
	c.clk = in.Deadline().Add(time.Millisecond)
	wantResult(t, c.check(t, in), Verified, ReasonWeightsVerified)
	c.setWeights(0, 100)
	c.clk = c.clk.Add(3 * time.Second)
	res := c.check(t, in)
	wantResult(t, res, TimedOut, ReasonVerificationTimedOut, "weight 0, want 25")
	if res.Cause != ReasonWeightMismatch {
		t.Fatalf("cause %s", res.Cause)
	}
}

// The reads of a check queue at the priority of what they are for: rules
// after a change as first reads, their re-reads as polls, health and the
// listener list of a check whose rules match as finishing reads, health
// read only for a timeout diagnosis last.
func TestReadsQueueByWhatTheyAreFor(t *testing.T) {
	c := newClocked(t)
	c.setWeights(0, 100)
	before := c.input(0, 100)
	before.DesiredAt = c.clk
	wantResult(t, c.check(t, before), Verified, ReasonWeightsVerified)
	c.clk = c.clk.Add(time.Second)
	in := c.input(25, 75)
	in.DesiredAt, in.Timeout = c.clk, 8*time.Second
	c.check(t, in)
	c.clk = c.clk.Add(2 * time.Second)
	c.check(t, in)
	c.clk = in.DesiredAt.Add(in.Timeout / 2)
	c.check(t, in)
	c.setWeights(25, 75)
	c.clk = c.clk.Add(2 * time.Second)
	wantResult(t, c.check(t, in), Verified, ReasonWeightsVerified)
	got := waitsByPriority(t, c.reg)
	for key, want := range map[string]int{
		"DescribeRules first":         4, // both listeners, once per change
		"DescribeRules poll":          6, // three re-reads of both
		"DescribeTargetHealth low":    2, // second half of the timeout, for the diagnosis
		"DescribeTargetHealth finish": 3, // stable for the first state, both for the second
		"DescribeListeners first":     1, // the list of the first check, cached
		"DescribeListeners finish":    1, // the list read after the second change, before Verified
	} {
		if got[key] != want {
			t.Errorf("%s: %d calls, want %d (all: %v)", key, got[key], want, got)
		}
	}
}

// waitsByPriority counts the provider's rate-limit waits by operation and priority.
func waitsByPriority(t *testing.T, reg *prometheus.Registry) map[string]int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		if mf.GetName() != "albrollouts_elbv2_rate_limit_wait_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var op, prio string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "operation":
					op = l.GetValue()
				case "priority":
					prio = l.GetValue()
				}
			}
			out[op+" "+prio] += int(m.GetHistogram().GetSampleCount())
		}
	}
	return out
}

// With two ingresses, one verified and one pending, the next check comes
// when the pending one's rules are read again, not at once.
func TestOneIngressDoneOnePendingComesBackAtThePollInterval(t *testing.T) {
	c := newClocked(t)
	lb2 := c.f.AddLoadBalancer("k8s-demo-web2")
	l2 := c.f.AddListener(*lb2.LoadBalancerArn, 443, "HTTPS")
	c2 := c.f.AddTargetGroup(*lb2.LoadBalancerArn, "k8s-demo-canary-2222", map[string]string{ResourceTag: "demo/web2-web-canary:80"})
	s2 := c.f.AddTargetGroup(*lb2.LoadBalancerArn, "k8s-demo-stable-2222", map[string]string{ResourceTag: "demo/web2-web-stable:80"})
	c.setHealth(c2, canaryTargets, elbv2.StateHealthy, "")
	c.setHealth(s2, stableTargets, elbv2.StateHealthy, "")
	c.f.SetRule(l2, "1", tg(c2, 0), tg(s2, 100))
	in := c.input(25, 75)
	in.DesiredAt = c.clk
	in.Ingresses = append(in.Ingresses, Ingress{Name: "web2", Hostname: *lb2.DNSName})
	res := c.check(t, in)
	wantResult(t, res, Pending, ReasonWeightMismatch, "ingress web2: listener :443 rule 1")
	if res.NextCheck != c.p.PollInterval() {
		t.Fatalf("NextCheck %v, want the poll interval %v", res.NextCheck, c.p.PollInterval())
	}
}

// Issue 16, item 14: the reads that finish a verification go first. When
// the rules matched long enough ago that a check about to say Verified must
// read them again (older than the TTL), that re-read queues as a finishing
// read, not as a poll behind every other rollout's first reads; it is not
// counted as polling either (which would stretch the poll interval).
func TestConfirmingRulesReadGoesFirst(t *testing.T) {
	c := newClocked(t)
	c.setWeights(0, 100)
	in := c.input(25, 75)
	in.DesiredAt = c.clk
	c.check(t, in) // rules not applied: first reads
	c.setWeights(25, 75)
	c.setHealth(c.canary, canaryTargets, elbv2.StateInitial, "Elb.InitialHealthChecking")
	c.clk = c.clk.Add(c.p.PollInterval())
	wantResult(t, c.check(t, in), Pending, ReasonTargetsNotHealthy) // rules re-read (poll), they match
	c.clk = c.clk.Add(c.p.PollInterval())
	wantResult(t, c.check(t, in), Pending, ReasonTargetsNotHealthy) // only the canary's health is re-read
	before := waitsByPriority(t, c.reg)
	c.setHealth(c.canary, canaryTargets, elbv2.StateHealthy, "")
	c.clk = c.clk.Add(c.p.PollInterval())
	wantResult(t, c.check(t, in), Verified, ReasonWeightsVerified)
	got := waitsByPriority(t, c.reg)
	for key := range got {
		got[key] -= before[key]
	}
	for key, want := range map[string]int{
		"DescribeRules finish":        2, // both listeners, read again before Verified
		"DescribeRules poll":          0,
		"DescribeRules first":         0,
		"DescribeTargetHealth poll":   1, // the canary, which blocked the pending check
		"DescribeTargetHealth finish": 1, // the stable group, read again before Verified
	} {
		if got[key] != want {
			t.Errorf("%s: %d calls, want %d (all: %v)", key, got[key], want, got)
		}
	}
}

// Issue 16, item 15 (engine side): DesiredAt is compared with the time each
// read was sent at full precision. In an A → B → A sequence within one
// second (a step, then an abort), the answers read for the first A, before
// the abort was written, never verify the abort, although they are younger
// than the TTL and show A. The same check with DesiredAt cut to whole
// seconds (as a metav1.Time in status is) would accept them and say
// Verified while the ALB still does B: the caller must keep sub-second
// precision.
func TestAReadSentBeforeDesiredAtNeverCountsSubSecond(t *testing.T) {
	c := newClocked(t)
	second := c.clk.Truncate(time.Second)
	c.clk = second.Add(200 * time.Millisecond)
	c.setWeights(0, 100)
	first := c.input(0, 100)
	first.DesiredAt = second.Add(100 * time.Millisecond)
	wantResult(t, c.check(t, first), Verified, ReasonWeightsVerified) // A, read at .200
	c.setWeights(25, 75)                                              // B written at .400, applied at .500
	abort := c.input(0, 100)
	abort.DesiredAt = second.Add(700 * time.Millisecond) // A again
	c.clk = second.Add(800 * time.Millisecond)
	cc := c.counter()
	wantResult(t, c.check(t, abort), Pending, ReasonWeightMismatch, "listener :80 rule 3: canary k8s-demo-canary-1a2b weight 25, want 0")
	if n := cc.delta()[elbv2.OpDescribeRules]; n != 2 {
		t.Fatalf("DescribeRules calls = %d, want 2: the answers read at .200 are from before the abort", n)
	}
	// The same sequence with the abort's DesiredAt cut to the second (on a
	// second verifier: the first one has read B by now): the answers read
	// at .200 count, and the abort "verifies" while the ALB does B.
	c2 := newClocked(t)
	c2.clk = second.Add(200 * time.Millisecond)
	c2.setWeights(0, 100)
	wantResult(t, c2.check(t, first), Verified, ReasonWeightsVerified)
	c2.setWeights(25, 75)
	cut := abort
	cut.DesiredAt = abort.DesiredAt.Truncate(time.Second)
	c2.clk = second.Add(800 * time.Millisecond)
	wantResult(t, c2.check(t, cut), Verified, ReasonWeightsVerified)
}

// Issue 16, item 14, the timeout side: a check that would say TimedOut
// reads again what is older than the TTLs, the health a timeout diagnosis
// names included; those reads finish the verification and go first too,
// not last as a diagnosis read of a pending check does. (The rate limit of
// 1/s makes the poll interval 4 s once both listeners are polled, longer
// than the 2 s TTL, so the confirming check has something to read.)
func TestTimedOutCheckReadsAgainAsFinishing(t *testing.T) {
	c := &clocked{fixture: newFixture(t), reg: prometheus.NewRegistry()}
	c.clk = c.now
	now := func() time.Time { return c.clk }
	c.p = elbv2.NewWithAPI(c.f, elbv2.Options{Region: "us-east-1", RateLimit: 1, Burst: 1e6, Now: now, Registerer: c.reg})
	c.v = New(c.p, Options{Now: now})
	c.setWeights(0, 100)
	in := c.input(25, 75)
	in.DesiredAt, in.Timeout = c.clk, 7*time.Second
	at := func(d time.Duration) Result {
		t.Helper()
		c.clk = in.DesiredAt.Add(d)
		return c.check(t, in)
	}
	at(0)
	at(2 * time.Second) // the rules are polled: the poll interval becomes 4 s
	if got := c.p.PollInterval(); got != 4*time.Second {
		t.Fatalf("poll interval %v, want 4s", got)
	}
	at(3500 * time.Millisecond) // second half: health read for the diagnosis (low)
	at(6 * time.Second)         // rules polled again; health younger than the poll interval
	before := waitsByPriority(t, c.reg)
	res := at(7100 * time.Millisecond)
	wantResult(t, res, TimedOut, ReasonVerificationTimedOut, "canary k8s-demo-canary-1a2b weight 0, want 25")
	got := waitsByPriority(t, c.reg)
	for key := range got {
		got[key] -= before[key]
	}
	for key, want := range map[string]int{
		"DescribeTargetHealth finish": 2, // canary and stable, 3.6 s old: read again before TimedOut
		"DescribeTargetHealth low":    0,
		"DescribeRules poll":          0, // 1.1 s old: fresh enough
		"DescribeRules finish":        0,
	} {
		if got[key] != want {
			t.Errorf("%s: %d calls, want %d (all: %v)", key, got[key], want, got)
		}
	}
}
