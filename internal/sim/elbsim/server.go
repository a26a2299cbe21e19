package elbsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/reach"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/cloudwatch"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/cwproto"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/dataplane"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/faults"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/health"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/model"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// Options configures a Server.
type Options struct {
	Listen    string  // API address; default "127.0.0.1:0" (any free port). Must be a loopback address.
	Region    string  // default us-east-1
	Account   string  // default 123456789012
	TimeScale float64 // health-check timing multiplier (also scales the batching window); 0 or 1 = real time
	// StrictAuth "KEY:SECRET" makes elbsim verify SigV4 signatures made with that key;
	// empty accepts any credentials.
	StrictAuth string
	// StateFile is loaded on Start (if it exists) and written on Close.
	StateFile string
	// PropagationDelay delays every change on its way to the data plane and the health prober.
	PropagationDelay time.Duration
	// DescribeDelay delays every change before Describe* answers show it.
	DescribeDelay time.Duration
	// Batching applies AWS's 10-second change batching to the data plane (scaled by TimeScale).
	Batching bool
	// Throttling turns on the per-operation-class token buckets (Describe*: burst 40, 10/s).
	Throttling bool
	Log        io.Writer // default discard
	// TargetRanges are address ranges, besides loopback, that targets may use
	// and elbsim may contact: only ranges local to this machine, such as a pod
	// range that a private network namespace routes to its loopback interface.
	TargetRanges reach.Ranges
	// MetricsRetention is how long the CloudWatch metrics keep their
	// one-second data; default 3 hours (CloudWatch's high-resolution retention).
	MetricsRetention time.Duration

	clock clock // tests inject a fake clock; default real time
}

// Server is a running elbsim: the ELBv2 API and admin API on one HTTP port,
// the data plane on one loopback port per listener.
type Server struct {
	o       Options
	logger  *log.Logger
	model   *model.Model
	prober  *health.Prober
	plane   *dataplane.Plane
	faults  *faults.Injector
	applier *applier
	batch   *batcher
	auth    *verifier
	stats   *apiStats
	adminH  http.Handler
	cwStore *cloudwatch.Store
	cw      *cloudwatch.Service
	prom    *planeMetrics
	sampled chan struct{} // closed when the health sampler ends

	metricsOnce sync.Once
	metricsH    http.Handler

	visible atomic.Pointer[model.State] // what Describe* answers (DescribeDelay behind the model)
	// propagation is the current propagation delay (Options.PropagationDelay,
	// changed at run time with SetPropagationDelay).
	propagation atomic.Int64

	ln        net.Listener
	srv       *http.Server
	connMu    sync.Mutex
	fresh     map[net.Conn]bool // connections that have not sent a request yet
	stop      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start runs an elbsim until Close. It binds o.Listen, loads o.StateFile if it
// exists, and returns once the API answers. ctx bounds the start only; stop the
// server with Close.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Account == "" {
		o.Account = "123456789012"
	}
	if o.TimeScale <= 0 {
		o.TimeScale = 1
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.clock == nil {
		o.clock = realClock{}
	}
	if err := checkLoopback(o.Listen); err != nil {
		return nil, err
	}
	s := &Server{o: o, logger: log.New(o.Log, "", log.LstdFlags), stats: newAPIStats(), stop: make(chan struct{}), fresh: map[net.Conn]bool{}}
	s.adminH = s.adminHandler()
	s.propagation.Store(int64(o.PropagationDelay))
	if o.StrictAuth != "" {
		v, err := newVerifier(o.StrictAuth)
		if err != nil {
			return nil, err
		}
		s.auth = v
	}
	s.prober = health.NewProber(health.Options{TimeScale: o.TimeScale, TargetRanges: o.TargetRanges})
	s.cwStore = cloudwatch.NewStore(o.MetricsRetention)
	s.cw = cloudwatch.New(s.cwStore)
	s.prom = newPlaneMetrics()
	s.plane = dataplane.New(dataplane.Options{Backend: s.prober, TargetRanges: o.TargetRanges, OnRequest: s.onRequest})
	s.faults = faults.New(faults.Options{Account: o.Account, Throttling: o.Throttling, OnTargetFailing: s.prober.SetTargetFailing})
	s.applier = newApplier(s.prober, s.plane, s.logger.Printf)
	window := time.Duration(0)
	if o.Batching {
		window = time.Duration(float64(10*time.Second) * o.TimeScale)
	}
	s.batch = &batcher{clk: o.clock, window: window, release: s.propagate}
	s.model = model.New(model.Options{Region: o.Region, Account: o.Account, OnCommit: s.committed, TargetRanges: o.TargetRanges})
	s.visible.Store(s.model.State())
	go s.applier.run(s.stop)
	s.sampled = make(chan struct{})
	go s.sampleHealth(s.stop, s.sampled)

	if o.StateFile != "" {
		if err := s.loadState(o.StateFile); err != nil {
			_ = s.shutdownParts() // the load error is the one to report
			return nil, err
		}
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.Listen)
	if err != nil {
		_ = s.shutdownParts() // the listen error is the one to report
		return nil, fmt.Errorf("elbsim: listen on %s: %w (is another elbsim running? pick another --listen port)", o.Listen, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second, ConnState: s.trackConn}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Printf("elbsim: API server stopped: %v", err)
		}
	}()
	return s, nil
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("elbsim: listen address %q is not host:port: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("elbsim: listen address %q is not a loopback address: elbsim only binds 127.0.0.0/8 or ::1", addr)
	}
	return nil
}

// Endpoint is the URL to give the AWS SDK or CLI ("http://127.0.0.1:PORT").
// The admin API is under Endpoint()+"/_elbsim/".
func (s *Server) Endpoint() string { return "http://" + s.ln.Addr().String() }

// ListenerURL returns the data-plane URL of the listener on port of the load
// balancer with that DNS name, once the listener has reached the data plane
// (after PropagationDelay/batching); false until then or if there is none.
func (s *Server) ListenerURL(dnsName string, port int32) (string, bool) {
	l, ok := s.model.State().FindListener(dnsName, port)
	if !ok {
		return "", false
	}
	return s.applier.url(l.ARN)
}

// Faults returns the fault injector (AccessDenied, latency, throttling, failing targets).
func (s *Server) Faults() *faults.Injector { return s.faults }

// Close stops the API and data plane and the health checks, and writes the state file if one is set.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var errs []error
		// Shutdown would wait 5 s for connections that never sent a request
		// (HTTP clients dial spare ones); nothing is lost by closing them now.
		s.closeFreshConns()
		if err := s.srv.Shutdown(ctx); err != nil {
			_ = s.srv.Close() // requests still running after 5 s are cut off
			errs = append(errs, fmt.Errorf("elbsim: stop API server: requests still running after 5 s were cut off: %w", err))
		}
		if s.o.StateFile != "" {
			if err := s.saveState(s.o.StateFile); err != nil {
				errs = append(errs, err)
			}
		}
		if err := s.shutdownParts(); err != nil {
			errs = append(errs, err)
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if st == http.StateNew {
		s.fresh[c] = true
	} else {
		delete(s.fresh, c)
	}
}

func (s *Server) closeFreshConns() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for c := range s.fresh {
		_ = c.Close() // the connection carried nothing; a close error changes nothing
		delete(s.fresh, c)
	}
}

func (s *Server) shutdownParts() error {
	close(s.stop)
	<-s.applier.done
	<-s.sampled
	err := s.plane.Close()
	s.prober.Close()
	if err != nil {
		return fmt.Errorf("elbsim: stop data plane: %w", err)
	}
	return nil
}

// committed runs under the model's lock for every new State: it schedules the
// State's visibility to Describe* and its propagation to the data plane.
func (s *Server) committed(st *model.State) {
	if s.o.DescribeDelay <= 0 {
		s.show(st)
	} else {
		s.o.clock.AfterFunc(s.o.DescribeDelay, func() { s.show(st) })
	}
	s.batch.change(st)
}

// show makes st what Describe* answers, unless a newer State is already shown.
func (s *Server) show(st *model.State) {
	for {
		cur := s.visible.Load()
		if cur.Version >= st.Version || s.visible.CompareAndSwap(cur, st) {
			return
		}
	}
}

// propagate sends a released State to the data plane after the propagation delay.
func (s *Server) propagate(st *model.State) {
	d := s.PropagationDelay()
	if d <= 0 {
		s.applier.offer(st)
		return
	}
	s.o.clock.AfterFunc(d, func() { s.applier.offer(st) })
}

// PropagationDelay is how long a change takes to reach the data plane and
// the health prober after Describe* shows it.
func (s *Server) PropagationDelay() time.Duration { return time.Duration(s.propagation.Load()) }

// SetPropagationDelay changes the propagation delay for changes made from now
// on (changes already on their way keep theirs; the applier keeps the order).
func (s *Server) SetPropagationDelay(d time.Duration) { s.propagation.Store(int64(max(d, 0))) }

// ServeHTTP answers the ELBv2 API at "/" and the admin API under "/_elbsim/".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_elbsim/") || r.URL.Path == "/_elbsim" {
		s.adminH.ServeHTTP(w, r)
		return
	}
	s.serveAPI(w, r)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	reqID := query.NewRequestID()
	action := ""
	var call *cwproto.Call // set for a CloudWatch request, answered in its protocol
	writeErr := func(qe *query.Error) {
		if call != nil {
			call.WriteError(w, reqID, qe)
		} else {
			query.WriteError(w, reqID, qe)
		}
	}
	defer func() {
		if v := recover(); v != nil {
			s.logger.Printf("elbsim: BUG: panic answering %s: %v", action, v)
			writeErr(query.Errorf(http.StatusInternalServerError, query.CodeInternalFailure, "elbsim failed to answer %s; this is a bug in elbsim", action))
		}
	}()
	var qe *query.Error
	action, call, qe = s.handle(r, reqID, w)
	if qe != nil {
		s.stats.recordError(action, qe.Code)
		writeErr(qe)
	}
}

// handle runs one API call, ELBv2's or CloudWatch's; it writes the success
// response itself and returns the action, the CloudWatch call if it is one,
// and any error to answer.
func (s *Server) handle(r *http.Request, reqID string, w http.ResponseWriter) (string, *cwproto.Call, *query.Error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return "", nil, query.Errorf(http.StatusMethodNotAllowed, query.CodeInvalidAction, "elbsim answers the ELBv2 and CloudWatch APIs with POST (or GET) on /, not %s", r.Method)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, query.MaxBodyBytes))
	if err != nil {
		return "", nil, query.Validation("Could not read the request body (at most %d bytes): %v", query.MaxBodyBytes, err)
	}
	call, _ := cwproto.FromHTTP(r, body) // JSON or CBOR: CloudWatch's
	if s.auth != nil {
		if qe := s.auth.verify(r, body); qe != nil {
			return "", call, qe
		}
	}
	if call != nil {
		return call.Operation, call, s.handleCloudWatch(w, r, reqID, call)
	}
	form := string(body)
	if r.Method == http.MethodGet {
		form = r.URL.RawQuery
	}
	req, qe := query.ParseForm(form)
	if qe != nil {
		return "", nil, qe
	}
	if call, ok := cwproto.FromQuery(req); ok {
		return req.Action, call, s.handleCloudWatch(w, r, reqID, call)
	}
	return req.Action, nil, s.handleELBv2(w, r, reqID, req)
}

// handleELBv2 runs one ELBv2 call and writes its result.
func (s *Server) handleELBv2(w http.ResponseWriter, r *http.Request, reqID string, req *query.Request) *query.Error {
	if !query.Known(req.Action) {
		return query.Client(query.CodeInvalidAction, "The action %s is not valid for this web service.", req.Action)
	}
	s.stats.recordCall(req.Action)
	if qe := s.checkFaults(r, req.Action); qe != nil {
		return qe
	}
	in, qe := query.DecodeRequest(req)
	if qe != nil {
		return qe
	}
	out, qe := s.dispatch(req.Action, in)
	if qe != nil {
		return qe
	}
	query.WriteResult(w, req.Action, reqID, out)
	return nil
}

// checkFaults applies the injected faults to a call of action: it waits the
// added latency (or until the client leaves) and returns the throttling or
// AccessDenied error to answer, if any.
func (s *Server) checkFaults(r *http.Request, action string) *query.Error {
	d := s.faults.Check(action)
	if d.Delay > 0 {
		t := time.NewTimer(d.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if d.Err != nil && d.Err.Code == query.CodeThrottling {
		s.stats.recordThrottled(action)
	}
	return d.Err
}
