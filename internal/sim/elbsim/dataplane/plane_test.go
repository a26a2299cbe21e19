package dataplane

import (
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/health"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// staticBackend is a Backend whose routable targets the test sets.
type staticBackend struct {
	mu sync.Mutex
	m  map[string][]health.Target
}

func (b *staticBackend) Routable(arn string) []health.Target {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.m[arn])
}

func (b *staticBackend) set(arn string, ts ...health.Target) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string][]health.Target{}
	}
	b.m[arn] = ts
}

// app is a loopback HTTP server standing for one target: it answers its name
// on every path but /health, whose status the test controls.
type app struct {
	name         string
	srv          *httptest.Server
	hits         atomic.Int64 // non-health requests
	healthStatus atomic.Int32
	mu           sync.Mutex
	lastReq      *http.Request
}

func newApp(t testing.TB, name string) *app {
	t.Helper()
	a := &app{name: name}
	a.healthStatus.Store(http.StatusOK)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(int(a.healthStatus.Load()))
			return
		}
		a.hits.Add(1)
		a.mu.Lock()
		a.lastReq = r.Clone(r.Context())
		a.mu.Unlock()
		_, _ = io.WriteString(w, a.name)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) target(t testing.TB) health.Target { return targetOf(t, a.srv.Listener.Addr().String()) }

func targetOf(t testing.TB, hostport string) health.Target {
	t.Helper()
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return health.Target{ID: host, Port: int32(n)}
}

func newClient() *http.Client {
	return &http.Client{
		Transport:     &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get sends one request and returns status and body.
func get(t testing.TB, c *http.Client, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of %s: %v", req.URL, err)
	}
	return resp.StatusCode, string(body), resp.Header
}

func mustReq(t testing.TB, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newPlane(t testing.TB, b Backend) *Plane {
	t.Helper()
	p := New(Options{Backend: b})
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func forwardTo(groups ...WeightedGroup) ListenerConfig {
	return ListenerConfig{Port: 80, Protocol: "HTTP", Rules: []Rule{{IsDefault: true,
		Actions: []Action{{Type: ActionForward, Forward: groups}}}}}
}

func apply(t testing.TB, p *Plane, cfg ListenerConfig) string {
	t.Helper()
	url, err := p.Apply("listener-1", cfg)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return url
}

const (
	tgStable = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/stable/0000000000000001"
	tgCanary = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/canary/0000000000000002"
)

// blast sends n GET requests over `workers` connections and counts bodies by status 200; other statuses fail the test.
func blast(t *testing.T, url string, n, workers int) map[string]int {
	t.Helper()
	c := newClient()
	var mu sync.Mutex
	counts := map[string]int{}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				resp, err := c.Get(url + "/")
				if err != nil {
					errs <- err.Error()
					return
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					errs <- fmt.Sprintf("status %d, body %q, err %v", resp.StatusCode, body, err)
					return
				}
				mu.Lock()
				counts[string(body)]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	return counts
}

// binomialTolerance is 5 standard deviations of a Binomial(n, p) count.
func binomialTolerance(n int, p float64) float64 { return 5 * math.Sqrt(float64(n)*p*(1-p)) }

func TestWeightedDistributionOverRealHTTP(t *testing.T) {
	t.Parallel()
	stable, canary := newApp(t, "stable"), newApp(t, "canary")
	b := &staticBackend{}
	b.set(tgStable, stable.target(t))
	b.set(tgCanary, canary.target(t))
	p := newPlane(t, b)
	url := apply(t, p, forwardTo(WeightedGroup{tgStable, 90}, WeightedGroup{tgCanary, 10}))

	const n = 10000
	counts := blast(t, url, n, 8)
	tol := binomialTolerance(n, 0.9)
	if d := math.Abs(float64(counts["stable"]) - 0.9*n); d > tol {
		t.Fatalf("stable got %d of %d requests, want 9000 ± %.0f", counts["stable"], n, tol)
	}
	if counts["stable"]+counts["canary"] != n {
		t.Fatalf("counts %v do not add up to %d", counts, n)
	}
	st := p.Stats()
	if st[tgStable].Requests != int64(counts["stable"]) || st[tgCanary].Requests != int64(counts["canary"]) {
		t.Fatalf("Stats requests %d/%d, served %v", st[tgStable].Requests, st[tgCanary].Requests, counts)
	}
	if st[tgStable].ByStatus[200] != int64(counts["stable"]) {
		t.Fatalf("Stats ByStatus = %v, want 200: %d", st[tgStable].ByStatus, counts["stable"])
	}
	if got := st[tgCanary].ByTarget[canary.srv.Listener.Addr().String()]; got != int64(counts["canary"]) {
		t.Fatalf("Stats ByTarget = %v", st[tgCanary].ByTarget)
	}
}

func TestWeightZeroGetsNothing(t *testing.T) {
	t.Parallel()
	stable, canary := newApp(t, "stable"), newApp(t, "canary")
	b := &staticBackend{}
	b.set(tgStable, stable.target(t))
	b.set(tgCanary, canary.target(t))
	p := newPlane(t, b)
	url := apply(t, p, forwardTo(WeightedGroup{tgStable, 0}, WeightedGroup{tgCanary, 999}))
	counts := blast(t, url, 2000, 4)
	if counts["canary"] != 2000 || stable.hits.Load() != 0 {
		t.Fatalf("weight 0 received traffic: counts %v, stable hits %d", counts, stable.hits.Load())
	}
	if _, ok := p.Stats()[tgStable]; ok {
		t.Fatalf("weight-0 group has stats: %+v", p.Stats()[tgStable])
	}
	// All weights 0: nothing to forward to.
	apply(t, p, forwardTo(WeightedGroup{tgStable, 0}, WeightedGroup{tgCanary, 0}))
	if code, _, _ := get(t, newClient(), mustReq(t, url)); code != http.StatusServiceUnavailable {
		t.Fatalf("all weights 0: status %d, want 503", code)
	}
}

func TestRoundRobinWithinGroup(t *testing.T) {
	t.Parallel()
	a1, a2 := newApp(t, "one"), newApp(t, "two")
	b := &staticBackend{}
	b.set(tgStable, a1.target(t), a2.target(t))
	p := newPlane(t, b)
	url := apply(t, p, forwardTo(WeightedGroup{tgStable, 1}))
	counts := blast(t, url, 1000, 4)
	if counts["one"] != 500 || counts["two"] != 500 {
		t.Fatalf("round-robin over two targets: %v, want 500/500", counts)
	}
}

func TestNoRoutableTargetIs503(t *testing.T) {
	t.Parallel()
	canary := newApp(t, "canary")
	b := &staticBackend{}
	b.set(tgCanary, canary.target(t))
	p := newPlane(t, b) // tgStable has no routable target
	url := apply(t, p, forwardTo(WeightedGroup{tgStable, 1}))
	code, body, h := get(t, newClient(), mustReq(t, url+"/x"))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "503 Service Temporarily Unavailable") || h.Get("Server") != "awselb/2.0" {
		t.Fatalf("got %d %q (Server %q), want ALB's 503 page", code, body, h.Get("Server"))
	}
	st := p.Stats()[tgStable]
	if st.Requests != 1 || st.NoRoutableTarget != 1 || st.ByStatus[503] != 1 {
		t.Fatalf("Stats = %+v, want one 503 for no routable target", st)
	}
}

func TestTargetRefusingConnectionIs502(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := targetOf(t, l.Addr().String())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b := &staticBackend{}
	b.set(tgStable, closed)
	b.set(tgCanary, health.Target{ID: "192.0.2.1", Port: 80}) // never contacted: not loopback
	p := newPlane(t, b)
	for _, tg := range []string{tgStable, tgCanary} {
		url := apply(t, p, forwardTo(WeightedGroup{tg, 1}))
		code, body, _ := get(t, newClient(), mustReq(t, url))
		if code != http.StatusBadGateway || !strings.Contains(body, "502 Bad Gateway") {
			t.Fatalf("%s: got %d %q, want 502", tg, code, body)
		}
		if st := p.Stats()[tg]; st.ByStatus[502] != 1 {
			t.Fatalf("%s: Stats = %+v, want one 502", tg, st)
		}
	}
}

func TestForwardedHeadersReachTheTarget(t *testing.T) {
	t.Parallel()
	stable := newApp(t, "stable")
	b := &staticBackend{}
	b.set(tgStable, stable.target(t))
	p := newPlane(t, b)
	url := apply(t, p, forwardTo(WeightedGroup{tgStable, 1}))
	req := mustReq(t, url+"/path?q=1")
	req.Host = "app.example.com"
	req.Header.Set("X-Forwarded-For", "127.0.0.77")
	if code, body, _ := get(t, newClient(), req); code != 200 || body != "stable" {
		t.Fatalf("got %d %q", code, body)
	}
	stable.mu.Lock()
	r := stable.lastReq
	stable.mu.Unlock()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	want := map[string]string{
		"X-Forwarded-For":   "127.0.0.77, 127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Port":  port,
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !strings.HasPrefix(r.Header.Get("X-Amzn-Trace-Id"), "Root=1-") {
		t.Errorf("X-Amzn-Trace-Id = %q", r.Header.Get("X-Amzn-Trace-Id"))
	}
	if r.Host != "app.example.com" || r.URL.RequestURI() != "/path?q=1" {
		t.Errorf("target saw Host %q URI %q, want app.example.com /path?q=1", r.Host, r.URL.RequestURI())
	}
}

func TestStickinessPinsTheGroup(t *testing.T) {
	t.Parallel()
	stable, canary := newApp(t, "stable"), newApp(t, "canary")
	b := &staticBackend{}
	b.set(tgStable, stable.target(t))
	b.set(tgCanary, canary.target(t))
	p := newPlane(t, b)
	sticky := func(ws, wc int32) ListenerConfig {
		cfg := forwardTo(WeightedGroup{tgStable, ws}, WeightedGroup{tgCanary, wc})
		cfg.Rules[0].Actions[0].Stickiness = &Stickiness{Enabled: true, Duration: time.Hour}
		return cfg
	}
	url := apply(t, p, sticky(50, 50))
	c := newClient() // no cookie jar: the test carries the cookie itself
	code, first, h := get(t, c, mustReq(t, url))
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	cookies, err := http.ParseSetCookie(h.Get("Set-Cookie"))
	if err != nil || cookies.Name != CookieGroup {
		t.Fatalf("first response sets %q (%v), want an %s cookie", h.Values("Set-Cookie"), err, CookieGroup)
	}
	if len(h.Values("Set-Cookie")) != 2 {
		t.Fatalf("Set-Cookie = %q, want AWSALBTG and AWSALB", h.Values("Set-Cookie"))
	}
	for i := range 200 {
		req := mustReq(t, url)
		req.AddCookie(&http.Cookie{Name: CookieGroup, Value: cookies.Value})
		if _, body, _ := get(t, c, req); body != first {
			t.Fatalf("request %d with the cookie went to %q, pinned to %q", i, body, first)
		}
	}
	// Without the cookie both groups get traffic.
	counts := blast(t, url, 400, 4)
	if counts["stable"] == 0 || counts["canary"] == 0 {
		t.Fatalf("without cookies: %v, want both groups", counts)
	}
	// A cookie for a group whose weight dropped to 0 no longer pins.
	other, ws, wc := "canary", int32(0), int32(50) // the pinned group's weight drops to 0
	if first == "canary" {
		other, ws, wc = "stable", 50, 0
	}
	apply(t, p, sticky(ws, wc))
	req := mustReq(t, url)
	req.AddCookie(&http.Cookie{Name: CookieGroup, Value: cookies.Value})
	if _, body, _ := get(t, c, req); body != other {
		t.Fatalf("cookie for a weight-0 group: went to %q, want %q", body, other)
	}
}

func TestFixedResponseAndRedirect(t *testing.T) {
	t.Parallel()
	p := newPlane(t, &staticBackend{})
	url := apply(t, p, ListenerConfig{Port: 80, Rules: []Rule{
		{Priority: 1, Conditions: []Condition{{Field: FieldPathPattern, Values: []string{"/old/*"}}},
			Actions: []Action{{Type: ActionRedirect, Redirect: &Redirect{Path: "/new/#{path}", StatusCode: 301}}}},
		{IsDefault: true, Actions: []Action{{Type: ActionFixedResponse,
			FixedResponse: &FixedResponse{StatusCode: 404, ContentType: "application/json", Body: `{"error":"nope"}`}}}},
	}})
	c := newClient()
	code, body, h := get(t, c, mustReq(t, url+"/anything"))
	if code != 404 || body != `{"error":"nope"}` || h.Get("Content-Type") != "application/json" {
		t.Fatalf("fixed response: %d %q %q", code, body, h.Get("Content-Type"))
	}
	req := mustReq(t, url+"/old/page?x=1")
	req.Host = "app.example.com"
	code, _, h = get(t, c, req)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	if want := "http://app.example.com:" + port + "/new/old/page?x=1"; code != 301 || h.Get("Location") != want {
		t.Fatalf("redirect: %d Location %q, want 301 %q", code, h.Get("Location"), want)
	}
}

func TestReconfigureWhileServing(t *testing.T) {
	t.Parallel()
	stable, canary := newApp(t, "stable"), newApp(t, "canary")
	b := &staticBackend{}
	b.set(tgStable, stable.target(t))
	b.set(tgCanary, canary.target(t))
	p := newPlane(t, b)
	url := apply(t, p, forwardTo(WeightedGroup{tgStable, 100}))

	var stop atomic.Bool
	var served atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	c := newClient()
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				resp, err := c.Get(url)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != 200 || (string(body) != "stable" && string(body) != "canary") {
					errs <- fmt.Errorf("during reconfiguration: %d %q", resp.StatusCode, body)
					return
				}
				served.Add(1)
			}
		})
	}
	// Keep reconfiguring until plenty of requests were served in between.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < 200 || served.Load() < 2000; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("only %d requests served during reconfiguration", served.Load())
		}
		w := int32(i % 100)
		apply(t, p, forwardTo(WeightedGroup{tgStable, 100 - w}, WeightedGroup{tgCanary, w}))
		if i%20 == 0 { // an invalid configuration is refused and the old one keeps serving
			if _, err := p.Apply("listener-1", forwardTo(WeightedGroup{tgStable, -1})); err == nil {
				t.Error("Apply accepted weight -1")
			}
		}
	}
	apply(t, p, forwardTo(WeightedGroup{tgStable, 0}, WeightedGroup{tgCanary, 1}))
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	before := stable.hits.Load()
	counts := blast(t, url, 200, 4)
	if counts["canary"] != 200 || stable.hits.Load() != before {
		t.Fatalf("after the last Apply: %v, want all 200 on canary", counts)
	}
}

func TestRemoveAndClose(t *testing.T) {
	t.Parallel()
	p := New(Options{Backend: &staticBackend{}})
	url := apply(t, p, forwardTo(WeightedGroup{tgStable, 1}))
	if u, ok := p.URL("listener-1"); !ok || u != url {
		t.Fatalf("URL = %q, %v", u, ok)
	}
	url2, err := p.Apply("listener-2", forwardTo(WeightedGroup{tgStable, 1}))
	if err != nil || url2 == url {
		t.Fatalf("second listener: %q, %v", url2, err)
	}
	if again := apply(t, p, forwardTo(WeightedGroup{tgCanary, 1})); again != url {
		t.Fatalf("re-Apply moved the listener from %s to %s", url, again)
	}
	p.Remove("listener-1")
	if _, ok := p.URL("listener-1"); ok {
		t.Fatal("URL still known after Remove")
	}
	if _, err := newClient().Get(url); err == nil {
		t.Fatal("removed listener still answers")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := newClient().Get(url2); err == nil {
		t.Fatal("listener still answers after Close")
	}
	if _, err := p.Apply("listener-3", forwardTo(WeightedGroup{tgStable, 1})); err == nil {
		t.Fatal("Apply after Close succeeded")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestBindHostMustBeLoopback(t *testing.T) {
	t.Parallel()
	p := New(Options{BindHost: "0.0.0.0"})
	defer func() { _ = p.Close() }()
	if _, err := p.Apply("l", forwardTo(WeightedGroup{tgStable, 1})); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("Apply with BindHost 0.0.0.0: %v, want a loopback error", err)
	}
}

// TestHealthProberAsBackend drives the plane with the real prober: no traffic
// to initial targets, fail-open when every target is unhealthy, then only the
// healthy one.
func TestHealthProberAsBackend(t *testing.T) {
	t.Parallel()
	one, two := newApp(t, "one"), newApp(t, "two")
	one.healthStatus.Store(500)
	two.healthStatus.Store(500)
	pr := health.NewProber(health.Options{TimeScale: 0.01})
	t.Cleanup(pr.Close)
	pr.SetGroup(tgStable, health.Check{Enabled: true, Path: "/health", Interval: 30 * time.Second, Timeout: 25 * time.Second,
		HealthyThreshold: 2, UnhealthyThreshold: 3, Matcher: "200"}, 0)
	p := newPlane(t, pr)
	url := apply(t, p, forwardTo(WeightedGroup{tgStable, 1}))
	targets := []health.Target{one.target(t), two.target(t)}
	pr.Register(tgStable, targets)

	c := newClient()
	initial := func() bool {
		for _, s := range pr.Status(tgStable) {
			if s.State != health.StateInitial {
				return false
			}
		}
		return true
	}
	if initial() {
		code, _, _ := get(t, c, mustReq(t, url))
		if initial() && code != http.StatusServiceUnavailable {
			t.Fatalf("initial targets only: status %d, want 503", code)
		}
	}
	poll.Until(t, 30*time.Second, "both targets unhealthy", func() bool {
		st := pr.Status(tgStable)
		return len(st) == 2 && st[0].State == health.StateUnhealthy && st[1].State == health.StateUnhealthy
	})
	counts := blast(t, url, 100, 2)
	if counts["one"] != 50 || counts["two"] != 50 {
		t.Fatalf("fail-open: %v, want traffic to both unhealthy targets", counts)
	}
	two.healthStatus.Store(200)
	poll.Until(t, 30*time.Second, "target two healthy", func() bool { return pr.StatusOf(tgStable, targets[1]).State == health.StateHealthy })
	counts = blast(t, url, 100, 2)
	if counts["two"] != 100 {
		t.Fatalf("one healthy target: %v, want all on two", counts)
	}
}
