// Package demoapp is the built-in demo application that the local node agent runs
// for pods whose image is albrollouts/demo:<version>, and, with the image's tag as its
// version, as the HTTP stand-in for any other image (see Config.ProbePaths).
//
// The app answers every path with 200, its version in the X-App-Version header and a
// JSON body naming the version, the pod and the pod IP, so that a test or a person can
// see which revision served a request. Its behaviour is set by environment variables
// of the container, the way a real image would read them:
//
//	ERROR_RATE     fraction 0..1 of main-path requests answered with 500
//	LATENCY        a Go duration added to every main-path request (e.g. 50ms)
//	HEALTH_FAIL    "true": /healthz (and the ProbePaths) answer 500, so readiness
//	               probes and ALB health checks fail
//	STARTUP_DELAY  a Go duration during which the app does not listen yet (slow start)
//
// Two admin endpoints change the behaviour of a running pod, so a demo can break one:
//
//	POST /admin/health-fail?on=true|false
//	POST /admin/error-rate?value=0.25
package demoapp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// ImageRepository is the image repository the node agent knows how to run.
const ImageRepository = "albrollouts/demo"

// HealthPath is the path of the health endpoint, meant for readiness probes and
// ALB health checks.
const HealthPath = "/healthz"

// VersionHeader is the response header that carries the app version.
const VersionHeader = "X-App-Version"

// PodHeader is the response header that carries the pod name.
const PodHeader = "X-Pod-Name"

// Environment variable names read by ConfigFromEnv.
const (
	EnvErrorRate    = "ERROR_RATE"
	EnvLatency      = "LATENCY"
	EnvHealthFail   = "HEALTH_FAIL"
	EnvStartupDelay = "STARTUP_DELAY"
)

// Config is the behaviour of one app instance.
type Config struct {
	Version      string        // reported in the X-App-Version header and the body
	PodName      string        // reported in the X-Pod-Name header and the body
	PodIP        string        // reported in the body
	ErrorRate    float64       // fraction 0..1 of main-path requests answered with 500
	Latency      time.Duration // added to every main-path request
	HealthFail   bool          // /healthz answers 500
	StartupDelay time.Duration // no listening until this long after Serve
	// ProbePaths are the paths the container's HTTP probes use, when it stands in
	// for an image other than the demo app: a generic manifest probes whatever path
	// its real app serves. They answer like every other path (200, the version, with
	// LATENCY and ERROR_RATE), except that while health fails (HEALTH_FAIL or the
	// admin toggle) they answer 500, as HealthPath does. Only the path is compared;
	// a query is ignored.
	ProbePaths []string
}

// ConfigFromEnv returns base with the knobs found in env applied. An invalid value is an
// error naming the variable, so the node agent can report it like a container
// configuration error.
func ConfigFromEnv(base Config, env map[string]string) (Config, error) {
	c := base
	if v, ok := env[EnvErrorRate]; ok && strings.TrimSpace(v) != "" {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
			return base, fmt.Errorf("%s=%q: want a fraction between 0 and 1, e.g. 0.05", EnvErrorRate, v)
		}
		c.ErrorRate = f
	}
	if v, ok := env[EnvLatency]; ok && strings.TrimSpace(v) != "" {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < 0 {
			return base, fmt.Errorf("%s=%q: want a non-negative Go duration, e.g. 50ms", EnvLatency, v)
		}
		c.Latency = d
	}
	if v, ok := env[EnvHealthFail]; ok && strings.TrimSpace(v) != "" {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return base, fmt.Errorf("%s=%q: want true or false", EnvHealthFail, v)
		}
		c.HealthFail = b
	}
	if v, ok := env[EnvStartupDelay]; ok && strings.TrimSpace(v) != "" {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < 0 {
			return base, fmt.Errorf("%s=%q: want a non-negative Go duration, e.g. 10s", EnvStartupDelay, v)
		}
		c.StartupDelay = d
	}
	return c, nil
}

// App is the HTTP handler of one demo app instance. Its knobs that can change at run
// time are atomics, so the handler needs no lock.
type App struct {
	cfg        Config
	probePaths map[string]bool
	healthFail atomic.Bool
	errorRate  atomic.Uint64 // math.Float64bits of the current error rate
}

// New returns an app with the given behaviour.
func New(cfg Config) *App {
	a := &App{cfg: cfg, probePaths: map[string]bool{}}
	for _, p := range cfg.ProbePaths {
		a.probePaths[probePath(p)] = true
	}
	a.healthFail.Store(cfg.HealthFail)
	a.errorRate.Store(math.Float64bits(cfg.ErrorRate))
	return a
}

// Config returns the configuration the app was created with.
func (a *App) Config() Config { return a.cfg }

// probePath is the path part of a probe's path, with the leading slash the kubelet adds.
func probePath(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// SetHealthFail makes /healthz and the probe paths fail (true) or succeed (false).
func (a *App) SetHealthFail(fail bool) { a.healthFail.Store(fail) }

// HealthFailing reports whether /healthz and the probe paths currently fail.
func (a *App) HealthFailing() bool { return a.healthFail.Load() }

// SetErrorRate changes the fraction of main-path requests answered with 500; values
// outside 0..1 are clamped.
func (a *App) SetErrorRate(rate float64) {
	a.errorRate.Store(math.Float64bits(math.Min(1, math.Max(0, rate))))
}

// ErrorRate returns the current error rate.
func (a *App) ErrorRate() float64 { return math.Float64frombits(a.errorRate.Load()) }

// Response is the JSON body of a main-path answer.
type Response struct {
	Version string `json:"version"`
	Pod     string `json:"pod"`
	PodIP   string `json:"podIP"`
	Path    string `json:"path"`
	Status  int    `json:"status"`
}

// ServeHTTP answers the health endpoint, the admin endpoints and, on every other
// path, the main answer (the probe paths fail instead while health fails).
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(VersionHeader, a.cfg.Version)
	w.Header().Set(PodHeader, a.cfg.PodName)
	switch {
	case r.URL.Path == HealthPath:
		a.serveHealth(w)
	case strings.HasPrefix(r.URL.Path, "/admin/"):
		a.serveAdmin(w, r)
	case a.probePaths[r.URL.Path] && a.healthFail.Load():
		http.Error(w, "unhealthy (HEALTH_FAIL)", http.StatusInternalServerError)
	default:
		a.serveMain(w, r)
	}
}

func (a *App) serveHealth(w http.ResponseWriter) {
	if a.healthFail.Load() {
		http.Error(w, "unhealthy (HEALTH_FAIL)", http.StatusInternalServerError)
		return
	}
	_, _ = fmt.Fprintln(w, "ok")
}

func (a *App) serveMain(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Latency > 0 {
		t := time.NewTimer(a.cfg.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	status := http.StatusOK
	if rate := a.ErrorRate(); rate > 0 && rand.Float64() < rate {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Response{
		Version: a.cfg.Version, Pod: a.cfg.PodName, PodIP: a.cfg.PodIP, Path: r.URL.Path, Status: status,
	})
}

func (a *App) serveAdmin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "admin endpoints need POST", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	switch r.URL.Path {
	case "/admin/health-fail":
		on, err := strconv.ParseBool(q.Get("on"))
		if err != nil {
			http.Error(w, "want ?on=true or ?on=false", http.StatusBadRequest)
			return
		}
		a.SetHealthFail(on)
		_, _ = fmt.Fprintf(w, "health-fail=%t\n", on)
	case "/admin/error-rate":
		f, err := strconv.ParseFloat(q.Get("value"), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
			http.Error(w, "want ?value=<fraction between 0 and 1>", http.StatusBadRequest)
			return
		}
		a.SetErrorRate(f)
		_, _ = fmt.Fprintf(w, "error-rate=%g\n", f)
	default:
		http.NotFound(w, r)
	}
}

// Server serves one App on a set of TCP addresses, like one running container.
type Server struct {
	app     *App
	addrs   []string
	started chan struct{} // closed once the listeners are up (or failed)
	stop    chan struct{} // closed by Shutdown
	srv     *http.Server
	err     atomic.Pointer[error]
	stopped atomic.Bool
}

// Serve starts serving app on addrs (host:port each) in the background. It binds the
// addresses only after the app's StartupDelay, as a slow-starting process would; until
// then connections are refused. A bind failure is reported by Err.
func Serve(app *App, addrs []string) *Server {
	s := &Server{
		app:     app,
		addrs:   append([]string(nil), addrs...),
		started: make(chan struct{}),
		stop:    make(chan struct{}),
		srv:     &http.Server{Handler: app, ReadHeaderTimeout: 10 * time.Second},
	}
	go s.run()
	return s
}

// App returns the app being served.
func (s *Server) App() *App { return s.app }

func (s *Server) run() {
	defer close(s.started)
	if d := s.app.cfg.StartupDelay; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.stop:
			t.Stop()
			return
		}
	}
	for _, addr := range s.addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.setErr(fmt.Errorf("demo app %s: listen on %s: %w", s.app.cfg.PodName, addr, err))
			_ = s.srv.Close()
			return
		}
		go func() { _ = s.srv.Serve(ln) }()
	}
}

func (s *Server) setErr(err error) { s.err.Store(&err) }

// Err returns the error that stopped the server from listening, if any.
func (s *Server) Err() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Listening reports whether the startup delay is over and all addresses are bound.
func (s *Server) Listening() bool {
	select {
	case <-s.started:
		return s.Err() == nil && !s.stopped.Load()
	default:
		return false
	}
}

// Shutdown stops listening at once and waits, until ctx ends, for requests in flight
// to finish; then it closes what is left. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.stopped.Swap(true) {
		return nil
	}
	close(s.stop)
	<-s.started
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil // requests still running at the end of the grace period were cut off, as SIGKILL would
	}
	return err
}
