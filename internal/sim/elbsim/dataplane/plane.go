// Package dataplane is elbsim's data plane: every ALB listener becomes a real
// HTTP server on a loopback port that routes requests like an Application Load
// Balancer and reverse-proxies them to the targets.
//
// Routing per request:
//   - rules by ascending priority, the default rule last; a rule matches when
//     all its conditions match, a condition when any of its values matches.
//     path-pattern (case-sensitive), host-header (case-insensitive, port
//     ignored), http-header (name and values case-insensitive), query-string
//     (keys and values case-insensitive, key optional) take the ALB wildcards
//     '*' and '?'; http-request-method is exact; source-ip takes CIDR blocks
//     and matches the connection's client address.
//   - forward: a target group is drawn by weight (weight 0 receives nothing),
//     then one of that group's Backend.Routable targets, round-robin. No
//     routable target: 503, as ALB. The target refuses the connection: 502.
//     With group stickiness the AWSALBTG cookie (and AWSALB, same meaning)
//     pins the client to the group first drawn, while that group still has a
//     weight above 0 and routable targets.
//   - fixed-response and redirect are answered by the listener itself.
//
// Proxied requests keep their Host header and get X-Forwarded-For (appended),
// X-Forwarded-Proto, X-Forwarded-Port (the loopback port the client connected
// to) and X-Amzn-Trace-Id. Responses the listener makes itself carry
// "Server: awselb/2.0". Only loopback targets are contacted; any other address
// answers 502.
//
// Reconfiguration (Apply) swaps an immutable compiled configuration
// atomically: each request sees either the old or the new rules, never a mix.
package dataplane

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/reach"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/health"
)

// Backend tells the data plane where a target group may send traffic
// (health.Prober implements it).
type Backend interface {
	Routable(tgARN string) []health.Target
}

// Options configures a Plane.
type Options struct {
	Backend  Backend
	BindHost string // loopback address listeners bind to; default 127.0.0.1
	// Rand draws weighted target groups; default the goroutine-safe global source.
	// A given source is used under a lock, for reproducible tests.
	Rand rand.Source
	// TargetRanges are the addresses proxied to besides loopback (see package
	// reach); a target outside them is answered 502 without being contacted.
	TargetRanges reach.Ranges
	// OnRequest, if set, is called once for every request a listener answers,
	// from the request's goroutine; it must be quick and safe for concurrent use.
	OnRequest func(Sample)
}

// Plane runs the listeners. It is safe for concurrent use.
type Plane struct {
	reach    reach.Ranges
	backend  Backend
	bindHost string
	proxy    *httputil.ReverseProxy
	trans    *http.Transport
	stats    *stats
	rr       sync.Map // target group ARN -> *atomic.Uint64 round-robin counter
	now      func() time.Time
	// onRequest receives a Sample per request (Options.OnRequest).
	onRequest func(Sample)

	randMu sync.Mutex
	rnd    *rand.Rand // nil: use the global source

	mu        sync.Mutex
	closed    bool
	listeners map[string]*listener
	wg        sync.WaitGroup // Serve goroutines
}

// listener is one bound loopback port serving one ALB listener.
type listener struct {
	plane *Plane
	srv   *http.Server
	url   string
	port  string // the bound port, for X-Forwarded-Port and redirects
	rt    atomic.Pointer[router]
}

// New returns a Plane with no listeners.
func New(o Options) *Plane {
	p := &Plane{
		reach:     o.TargetRanges,
		backend:   o.Backend,
		bindHost:  o.BindHost,
		stats:     newStats(),
		now:       time.Now,
		onRequest: o.OnRequest,
		listeners: map[string]*listener{},
	}
	if p.bindHost == "" {
		p.bindHost = "127.0.0.1"
	}
	if o.Rand != nil {
		p.rnd = rand.New(o.Rand)
	}
	p.trans = &http.Transport{
		Proxy:               nil, // never relay target traffic through an HTTP_PROXY
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     60 * time.Second, // ALB's default idle timeout
		DisableCompression:  true,             // pass bodies through untouched
	}
	p.proxy = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      p.trans,
		ModifyResponse: p.recordResponse,
		ErrorHandler:   p.proxyError,
	}
	return p
}

// Apply configures the listener, binding a free loopback port on its first
// Apply, and returns the listener's URL (http://127.0.0.1:PORT). Later Applies
// swap the rules atomically. An invalid configuration is rejected with an
// error naming the rule, and the previous configuration keeps serving.
func (p *Plane) Apply(listenerARN string, cfg ListenerConfig) (string, error) {
	rt, err := compile(cfg)
	if err != nil {
		return "", fmt.Errorf("listener %s: %w", listenerARN, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return "", fmt.Errorf("listener %s: the data plane is closed", listenerARN)
	}
	if l := p.listeners[listenerARN]; l != nil {
		l.rt.Store(rt)
		return l.url, nil
	}
	l, err := p.bindLocked(listenerARN, rt)
	if err != nil {
		return "", err
	}
	p.listeners[listenerARN] = l
	return l.url, nil
}

// bindLocked opens a free loopback port and starts serving rt on it.
func (p *Plane) bindLocked(listenerARN string, rt *router) (*listener, error) {
	host, err := netip.ParseAddr(p.bindHost)
	if err != nil || !host.IsLoopback() {
		return nil, fmt.Errorf("listener %s: bind host %q is not a loopback IP address; elbsim serves loopback only (e.g. 127.0.0.1)", listenerARN, p.bindHost)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host.String(), "0"))
	if err != nil {
		return nil, fmt.Errorf("listener %s: bind a loopback port on %s: %w", listenerARN, host, err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	l := &listener{plane: p, url: "http://" + ln.Addr().String(), port: port}
	l.rt.Store(rt) // before serving: a request must never see a listener without rules
	l.srv = &http.Server{
		Handler:           l,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = l.srv.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return l, nil
}

// Remove stops the listener and closes its port and connections.
func (p *Plane) Remove(listenerARN string) {
	p.mu.Lock()
	l := p.listeners[listenerARN]
	delete(p.listeners, listenerARN)
	p.mu.Unlock()
	if l != nil {
		_ = l.srv.Close() // the only error is the listener's own close error; nothing to do about it
	}
}

// URL returns the listener's URL, if it is bound.
func (p *Plane) URL(listenerARN string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l := p.listeners[listenerARN]; l != nil {
		return l.url, true
	}
	return "", false
}

// Close stops every listener and waits for them to end. Apply fails afterwards.
func (p *Plane) Close() error {
	p.mu.Lock()
	p.closed = true
	ls := p.listeners
	p.listeners = map[string]*listener{}
	p.mu.Unlock()
	var errs []error
	for arn, l := range ls {
		if err := l.srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close listener %s: %w", arn, err))
		}
	}
	p.wg.Wait()
	p.trans.CloseIdleConnections()
	return errors.Join(errs...)
}

// intN draws a number in [0, n).
func (p *Plane) intN(n int64) int64 {
	if p.rnd == nil {
		return rand.Int64N(n)
	}
	p.randMu.Lock()
	defer p.randMu.Unlock()
	return p.rnd.Int64N(n)
}

// nextIndex returns the round-robin position for a target group.
func (p *Plane) nextIndex(tgARN string) uint64 {
	c, ok := p.rr.Load(tgARN)
	if !ok {
		c, _ = p.rr.LoadOrStore(tgARN, new(atomic.Uint64))
	}
	return c.(*atomic.Uint64).Add(1) - 1
}

// proxied is what a proxied request carries in its context for the ReverseProxy hooks.
type proxied struct {
	tgARN  string
	target string // ip:port
	in     arrival
	sent   time.Time // when the request left for the target
}

type proxiedKey struct{}

func proxiedOf(ctx context.Context) *proxied {
	v, _ := ctx.Value(proxiedKey{}).(*proxied)
	return v
}
