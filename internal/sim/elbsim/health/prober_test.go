package health

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// scale runs a 30 s interval in 300 ms and a 25 s timeout in 250 ms: generous
// enough that a loaded machine does not time out loopback probes by accident.
const scale = 0.01

// fastCheck is an enabled check with thresholds 2/2 that runs quickly at scale.
func fastCheck() Check {
	return Check{Enabled: true, Protocol: "HTTP", Port: TrafficPort, Path: "/health",
		Interval: 30 * time.Second, Timeout: 25 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: "200"}
}

// backend is a loopback HTTP server whose answers the test controls.
type backend struct {
	srv    *httptest.Server
	status atomic.Int32
	slow   atomic.Bool // block until the prober gives up
	hits   atomic.Int64
	mu     sync.Mutex
	paths  []string
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	b.status.Store(http.StatusOK)
	done := make(chan struct{})
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.mu.Lock()
		b.paths = append(b.paths, r.URL.Path)
		b.mu.Unlock()
		if b.slow.Load() {
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		w.WriteHeader(int(b.status.Load()))
	}))
	t.Cleanup(func() { close(done); b.srv.Close() })
	return b
}

func (b *backend) target(t *testing.T) Target {
	t.Helper()
	return targetOf(t, b.srv.Listener.Addr().String())
}

func targetOf(t *testing.T, hostport string) Target {
	t.Helper()
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return Target{ID: host, Port: int32(n)}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) Target {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return targetOf(t, addr)
}

func newProber(t *testing.T) *Prober {
	t.Helper()
	p := NewProber(Options{TimeScale: scale})
	t.Cleanup(p.Close)
	return p
}

func waitState(t *testing.T, p *Prober, arn string, tt Target, want State) Status {
	t.Helper()
	var s Status
	poll.Until(t, 30*time.Second, "target "+tt.ID+":"+strconv.Itoa(int(tt.Port))+" to become "+string(want), func() bool {
		s = p.StatusOf(arn, tt)
		return s.State == want
	})
	return s
}

const tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"

func TestInitialToHealthyAfterThresholdPasses(t *testing.T) {
	t.Parallel()
	p := newProber(t)
	b := newBackend(t)
	c := fastCheck()
	c.HealthyThreshold = 3
	p.SetGroup(tg, c, 0)
	tt := b.target(t)
	p.Register(tg, []Target{tt})

	s := p.StatusOf(tg, tt)
	if s.State != StateInitial || (s.Reason != ReasonRegistrationInProgress && s.Reason != ReasonInitialHealthChecking) {
		t.Fatalf("new target: got %+v, want initial", s)
	}
	if got := p.Routable(tg); len(got) != 0 {
		t.Fatalf("initial targets must not be routable, got %v", got)
	}
	s = waitState(t, p, tg, tt, StateHealthy)
	if s.Reason != "" || s.Description != "" {
		t.Fatalf("healthy target has reason %q / %q", s.Reason, s.Description)
	}
	if hits := b.hits.Load(); hits < 3 {
		t.Fatalf("healthy after %d probes, want at least the healthy threshold 3", hits)
	}
	if got := p.Routable(tg); len(got) != 1 || got[0] != tt {
		t.Fatalf("Routable = %v, want [%v]", got, tt)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, path := range b.paths {
		if path != "/health" {
			t.Fatalf("probe path %q, want /health", path)
		}
	}
}

func TestInitialShowsInitialHealthCheckingAfterFirstProbe(t *testing.T) {
	t.Parallel()
	p := newProber(t)
	b := newBackend(t)
	c := fastCheck()
	c.HealthyThreshold = 10 // stays initial for a while
	p.SetGroup(tg, c, 0)
	tt := b.target(t)
	p.Register(tg, []Target{tt})
	poll.Until(t, 30*time.Second, "first probe", func() bool { return b.hits.Load() >= 1 })
	poll.Until(t, 30*time.Second, "Elb.InitialHealthChecking", func() bool {
		s := p.StatusOf(tg, tt)
		return s.State == StateInitial && s.Reason == ReasonInitialHealthChecking && s.Description == descInitialHealthChecking
	})
}

func TestHealthyToUnhealthyReasons(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		breakIt  func(p *Prober, b *backend, tt Target)
		reason   string
		describe string
	}{
		{"response code mismatch", func(_ *Prober, b *backend, _ Target) { b.status.Store(500) },
			ReasonResponseCodeMismatch, "Health checks failed with these codes: [500]"},
		{"timeout", func(_ *Prober, b *backend, _ Target) { b.slow.Store(true) },
			ReasonTimeout, "Request timed out"},
		{"connection refused", func(_ *Prober, b *backend, _ Target) { b.srv.Close() },
			ReasonFailedHealthChecks, "Health checks failed"},
		{"fault injection", func(p *Prober, _ *backend, tt Target) { p.SetTargetFailing(tt.ID, tt.Port, true) }, ReasonResponseCodeMismatch, "Health checks failed with these codes: [500]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProber(t)
			b := newBackend(t)
			p.SetGroup(tg, fastCheck(), 0)
			tt := b.target(t)
			p.Register(tg, []Target{tt})
			waitState(t, p, tg, tt, StateHealthy)

			tc.breakIt(p, b, tt)
			s := waitState(t, p, tg, tt, StateUnhealthy)
			if s.Reason != tc.reason || s.Description != tc.describe {
				t.Fatalf("unhealthy with %q / %q, want %q / %q", s.Reason, s.Description, tc.reason, tc.describe)
			}
			// The only target is unhealthy: the group fails open to it.
			if got := p.Routable(tg); len(got) != 1 || got[0] != tt {
				t.Fatalf("fail-open Routable = %v, want [%v]", got, tt)
			}
		})
	}
}

func TestUnhealthyRecoversAfterThresholdPasses(t *testing.T) {
	t.Parallel()
	p := newProber(t)
	b := newBackend(t)
	p.SetGroup(tg, fastCheck(), 0)
	tt := b.target(t)
	p.SetTargetFailing(tt.ID, tt.Port, true)
	p.Register(tg, []Target{tt})
	s := waitState(t, p, tg, tt, StateUnhealthy) // initial -> unhealthy directly
	if s.Reason != ReasonResponseCodeMismatch {
		t.Fatalf("reason %q, want %q", s.Reason, ReasonResponseCodeMismatch)
	}
	if b.hits.Load() != 0 {
		t.Fatalf("a failing target must not be contacted, got %d hits", b.hits.Load())
	}
	p.SetTargetFailing(tt.ID, tt.Port, false)
	waitState(t, p, tg, tt, StateHealthy)
}

func TestInitialToUnhealthyOnRefusedConnection(t *testing.T) {
	t.Parallel()
	p := newProber(t)
	p.SetGroup(tg, fastCheck(), 0)
	tt := closedPort(t)
	p.Register(tg, []Target{tt})
	s := waitState(t, p, tg, tt, StateUnhealthy)
	if s.Reason != ReasonFailedHealthChecks {
		t.Fatalf("reason %q, want %q", s.Reason, ReasonFailedHealthChecks)
	}
}

func TestMatcherRangeAndHealthCheckPort(t *testing.T) {
	t.Parallel()
	p := newProber(t)
	traffic := closedPort(t) // the traffic port is closed; only the health port answers
	b := newBackend(t)
	b.status.Store(http.StatusNoContent)
	hc := b.target(t)
	c := fastCheck()
	c.Port = strconv.Itoa(int(hc.Port))
	c.Matcher = "200-299"
	p.SetGroup(tg, c, 0)
	tt := Target{ID: "127.0.0.1", Port: traffic.Port}
	p.Register(tg, []Target{tt})
	s := waitState(t, p, tg, tt, StateHealthy)
	if s.HealthCheckPort != c.Port {
		t.Fatalf("HealthCheckPort %q, want %q", s.HealthCheckPort, c.Port)
	}
	if st := p.Status(tg); len(st) != 1 || st[0].Target != tt {
		t.Fatalf("Status = %+v", st)
	}
}

func TestNonLoopbackTargetsAreNeverContacted(t *testing.T) {
	t.Parallel()
	p := newProber(t)
	p.SetGroup(tg, fastCheck(), 0)
	tt := Target{ID: "10.0.0.1", Port: 80}
	p.Register(tg, []Target{tt})
	s := waitState(t, p, tg, tt, StateUnhealthy)
	if s.Reason != ReasonFailedHealthChecks {
		t.Fatalf("reason %q, want %q", s.Reason, ReasonFailedHealthChecks)
	}
}

func TestDeregisterDrainsThenRemoves(t *testing.T) {
	t.Parallel()
	p := newProber(t)
	b := newBackend(t)
	p.SetGroup(tg, fastCheck(), 30*time.Second) // 300 ms at scale
	tt := b.target(t)
	p.Register(tg, []Target{tt})
	waitState(t, p, tg, tt, StateHealthy)

	p.Deregister(tg, []Target{tt})
	s := p.StatusOf(tg, tt)
	if s.State != StateDraining || s.Reason != ReasonDeregistrationInProgress {
		t.Fatalf("after Deregister: %+v, want draining", s)
	}
	if got := p.Routable(tg); len(got) != 0 {
		t.Fatalf("draining targets must not be routable, got %v", got)
	}
	if st := p.Status(tg); len(st) != 1 || st[0].State != StateDraining {
		t.Fatalf("Status must list draining targets, got %+v", st)
	}
	s = waitState(t, p, tg, tt, StateUnused)
	if s.Reason != ReasonNotRegistered {
		t.Fatalf("after draining: %+v, want unused/Target.NotRegistered", s)
	}
	if st := p.Status(tg); len(st) != 0 {
		t.Fatalf("Status after draining = %+v, want none", st)
	}
	poll.Until(t, 30*time.Second, "probe loop to end", func() bool { return p.loops.Load() == 0 })
}

func TestDrainingUsesClockAndReRegisterRestarts(t *testing.T) {
	t.Parallel()
	p := NewProber(Options{}) // real time scale: only the fake clock moves draining along
	t.Cleanup(p.Close)
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	p.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := fastCheck()
	c.Enabled = false // no probing needed for this test
	p.SetGroup(tg, c, 300*time.Second)
	tt := Target{ID: "127.0.0.1", Port: 8080}
	p.Register(tg, []Target{tt})
	p.Deregister(tg, []Target{tt})
	mu.Lock()
	now = now.Add(299 * time.Second)
	mu.Unlock()
	if s := p.StatusOf(tg, tt); s.State != StateDraining {
		t.Fatalf("before the delay: %+v, want draining", s)
	}
	p.Register(tg, []Target{tt}) // registering a draining target again brings it back
	if s := p.StatusOf(tg, tt); s.State != StateUnavailable {
		t.Fatalf("re-registered with checks disabled: %+v, want unavailable", s)
	}
	p.Deregister(tg, []Target{tt})
	mu.Lock()
	now = now.Add(300 * time.Second)
	mu.Unlock()
	if s := p.StatusOf(tg, tt); s.State != StateUnused || s.Reason != ReasonNotRegistered {
		t.Fatalf("after the delay: %+v, want unused/Target.NotRegistered", s)
	}
}

func TestNotRegistered(t *testing.T) {
	t.Parallel()
	p := newProber(t)
	tt := Target{ID: "127.0.0.9", Port: 80}
	for _, arn := range []string{tg, "arn:unknown"} {
		s := p.StatusOf(arn, tt)
		if s.State != StateUnused || s.Reason != ReasonNotRegistered || s.Description != descNotRegistered || s.HealthCheckPort != "80" {
			t.Fatalf("StatusOf(%s) = %+v, want unused/Target.NotRegistered", arn, s)
		}
	}
	p.SetGroup(tg, fastCheck(), 0)
	if s := p.StatusOf(tg, tt); s.Reason != ReasonNotRegistered {
		t.Fatalf("StatusOf = %+v, want Target.NotRegistered", s)
	}
}

func TestNotInUse(t *testing.T) {
	t.Parallel()
	p := newProber(t)
	b := newBackend(t)
	p.SetGroup(tg, fastCheck(), 30*time.Second)
	tt := b.target(t)
	p.Register(tg, []Target{tt})
	waitState(t, p, tg, tt, StateHealthy)

	p.SetInUse(tg, false)
	s := p.StatusOf(tg, tt)
	if s.State != StateUnused || s.Reason != ReasonNotInUse || s.Description != descNotInUse {
		t.Fatalf("not in use: %+v, want unused/Target.NotInUse", s)
	}
	if got := p.Routable(tg); len(got) != 0 {
		t.Fatalf("Routable of an unused group = %v, want none", got)
	}
	poll.Until(t, 30*time.Second, "probing to stop", func() bool { return p.loops.Load() == 0 })
	hits := b.hits.Load()

	p.SetInUse(tg, true) // back in use: initial health checks again
	if s := p.StatusOf(tg, tt); s.State != StateInitial {
		t.Fatalf("back in use: %+v, want initial", s)
	}
	waitState(t, p, tg, tt, StateHealthy)
	if b.hits.Load() <= hits {
		t.Fatal("no probes after the group came back into use")
	}

	// Deregistering from a group nobody uses removes the target at once.
	p.SetInUse(tg, false)
	p.Deregister(tg, []Target{tt})
	if st := p.Status(tg); len(st) != 0 {
		t.Fatalf("Status = %+v, want none", st)
	}
}

func TestHealthCheckDisabled(t *testing.T) {
	t.Parallel()
	p := newProber(t)
	b := newBackend(t)
	c := fastCheck()
	c.Enabled = false
	p.SetGroup(tg, c, 0)
	tt := b.target(t)
	down := closedPort(t)
	p.Register(tg, []Target{tt, down})
	for _, s := range p.Status(tg) {
		if s.State != StateUnavailable || s.Reason != ReasonHealthCheckDisabled {
			t.Fatalf("disabled checks: %+v, want unavailable/Target.HealthCheckDisabled", s)
		}
	}
	if got := p.Routable(tg); len(got) != 2 {
		t.Fatalf("with checks disabled every registered target is routable, got %v", got)
	}
	if p.loops.Load() != 0 || b.hits.Load() != 0 {
		t.Fatal("targets probed with health checks disabled")
	}
	c.Enabled = true
	p.SetGroup(tg, c, 0)
	waitState(t, p, tg, tt, StateHealthy)
	waitState(t, p, tg, down, StateUnhealthy)
	if got := p.Routable(tg); len(got) != 1 || got[0] != tt {
		t.Fatalf("Routable = %v, want only the healthy %v", got, tt)
	}
}

func TestFailOpenOverRealProbes(t *testing.T) {
	t.Parallel()
	p := newProber(t)
	a, b := newBackend(t), newBackend(t)
	p.SetGroup(tg, fastCheck(), 0)
	ta, tb := a.target(t), b.target(t)
	p.Register(tg, []Target{ta, tb})
	waitState(t, p, tg, ta, StateHealthy)
	waitState(t, p, tg, tb, StateHealthy)

	a.status.Store(503)
	waitState(t, p, tg, ta, StateUnhealthy)
	if got := p.Routable(tg); len(got) != 1 || got[0] != tb {
		t.Fatalf("one healthy: Routable = %v, want [%v]", got, tb)
	}
	p.SetTargetFailing(tb.ID, tb.Port, true)
	waitState(t, p, tg, tb, StateUnhealthy)
	if got := p.Routable(tg); len(got) != 2 {
		t.Fatalf("all unhealthy: Routable = %v, want both (fail-open)", got)
	}
}

// TestRoutableSelection checks the routing set on hand-built states, without probes.
func TestRoutableSelection(t *testing.T) {
	t.Parallel()
	tA, tB, tC := Target{"127.0.0.1", 1}, Target{"127.0.0.2", 1}, Target{"127.0.0.3", 1}
	mk := func(enabled, inUse bool, states ...State) *group {
		g := &group{check: Check{Enabled: enabled}, inUse: inUse, targets: map[Target]*target{}}
		for i, s := range states {
			tt := []Target{tA, tB, tC}[i]
			g.targets[tt] = &target{t: tt, state: s}
		}
		return g
	}
	cases := []struct {
		name string
		g    *group
		want []Target
	}{
		{"healthy only", mk(true, true, StateHealthy, StateUnhealthy, StateInitial), []Target{tA}},
		{"fail-open excludes initial and draining", mk(true, true, StateUnhealthy, StateInitial, StateDraining), []Target{tA}},
		{"fail-open to all unhealthy", mk(true, true, StateUnhealthy, StateUnhealthy, StateDraining), []Target{tA, tB}},
		{"only initial", mk(true, true, StateInitial, StateInitial), nil},
		{"only draining", mk(true, true, StateDraining), nil},
		{"empty", mk(true, true), nil},
		{"not in use", mk(true, false, StateHealthy), nil},
		{"checks disabled", mk(false, true, StateInitial, StateDraining, StateInitial), []Target{tA, tC}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.g.routable()
			if len(got) != len(tc.want) {
				t.Fatalf("routable = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("routable = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestStateMachine drives observe directly with AWS thresholds.
func TestStateMachine(t *testing.T) {
	t.Parallel()
	c := Check{HealthyThreshold: 3, UnhealthyThreshold: 2}
	pass := result{ok: true}
	fail := codeMismatch(500)
	steps := []struct {
		res   result
		state State
	}{
		{pass, StateInitial}, {fail, StateInitial}, {pass, StateInitial}, {pass, StateInitial}, {pass, StateHealthy},
		{fail, StateHealthy}, {pass, StateHealthy}, {fail, StateHealthy}, {fail, StateUnhealthy},
		{pass, StateUnhealthy}, {pass, StateUnhealthy}, {fail, StateUnhealthy}, {pass, StateUnhealthy},
		{pass, StateUnhealthy}, {pass, StateHealthy},
	}
	tr := newTarget(Target{"127.0.0.1", 80})
	for i, s := range steps {
		tr.observe(s.res, c)
		if tr.state != s.state {
			t.Fatalf("step %d: state %s, want %s", i, tr.state, s.state)
		}
	}
	tr = newTarget(Target{"127.0.0.1", 80})
	tr.observe(fail, c)
	tr.observe(fail, c)
	if tr.state != StateUnhealthy || tr.reason != ReasonResponseCodeMismatch {
		t.Fatalf("initial + 2 failures: %s/%s, want unhealthy/%s", tr.state, tr.reason, ReasonResponseCodeMismatch)
	}
}

func TestParseMatcher(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in      string
		match   []int
		nomatch []int
		wantErr bool
	}{
		{in: "200", match: []int{200}, nomatch: []int{201, 500}},
		{in: "200-299", match: []int{200, 204, 299}, nomatch: []int{300, 199}},
		{in: "200,202", match: []int{200, 202}, nomatch: []int{201}},
		{in: " 200, 300-399 ", match: []int{200, 302}, nomatch: []int{404}},
		{in: "", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "299-200", wantErr: true},
		{in: "100", wantErr: true},
		{in: "200,", wantErr: true},
		{in: "500", wantErr: true},
	}
	for _, tc := range cases {
		m, err := ParseMatcher(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("ParseMatcher(%q) succeeded, want an error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ParseMatcher(%q): %v", tc.in, err)
		}
		for _, c := range tc.match {
			if !m.Match(c) {
				t.Errorf("%q should match %d", tc.in, c)
			}
		}
		for _, c := range tc.nomatch {
			if m.Match(c) {
				t.Errorf("%q should not match %d", tc.in, c)
			}
		}
	}
}

func TestSnapshotRestore(t *testing.T) {
	t.Parallel()
	p := newProber(t)
	b := newBackend(t)
	p.SetGroup(tg, fastCheck(), time.Hour)
	tt, gone := b.target(t), Target{ID: "127.0.0.1", Port: 1}
	p.Register(tg, []Target{tt, gone})
	waitState(t, p, tg, tt, StateHealthy)
	p.Deregister(tg, []Target{gone})

	raw, err := json.Marshal(p.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap Snapshot
	if err := json.Unmarshal(raw, &snap); err != nil {
		t.Fatal(err)
	}
	q := newProber(t)
	q.Restore(snap)
	if s := q.StatusOf(tg, tt); s.State != StateHealthy {
		t.Fatalf("restored %+v, want healthy", s)
	}
	if s := q.StatusOf(tg, gone); s.State != StateDraining {
		t.Fatalf("restored %+v, want draining", s)
	}
	hits := b.hits.Load()
	poll.Until(t, 30*time.Second, "restored target to be probed", func() bool { return b.hits.Load() > hits })
}

func TestCloseStopsAllProbing(t *testing.T) {
	t.Parallel()
	p := NewProber(Options{TimeScale: scale})
	b := newBackend(t)
	b.slow.Store(true) // probes in flight when Close is called
	p.SetGroup(tg, fastCheck(), 0)
	ts := []Target{b.target(t)}
	for i := range 20 {
		ts = append(ts, Target{ID: "127.0.0." + strconv.Itoa(i+2), Port: 1})
	}
	p.Register(tg, ts)
	poll.Until(t, 30*time.Second, "probes in flight", func() bool { return b.hits.Load() > 0 })
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
	if n := p.loops.Load(); n != 0 {
		t.Fatalf("%d probe goroutines still running after Close", n)
	}
	// After Close the Prober still answers and ignores changes.
	p.Register(tg, []Target{{ID: "127.0.0.1", Port: 2}})
	p.SetGroup("other", fastCheck(), 0)
	if p.loops.Load() != 0 {
		t.Fatal("Register after Close started probing")
	}
	_ = p.Status(tg)
}
