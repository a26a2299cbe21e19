// Package localenv runs the whole local stand-in for EKS + the AWS Load Balancer
// Controller + ALB in one process: a real control plane (etcd, kube-apiserver,
// kube-controller-manager from internal/sim/localcluster, with the disruption controller,
// so PodDisruptionBudgets and evictions work), elbsim (the ELBv2 emulator), the node
// agent (pods served on loopback IPs by the demo app, with the kubelet's readiness
// probe timing, postStart/preStop sleeps, its catalogue of images that can be pulled
// and of the commands they have) and the local ALB controller (Ingress annotations ->
// elbsim). `albrollouts local up` and the e2e tests use it.
//
// Stop order matters: extra components (the rollout controller), then the node agent
// and the ALB controller, then elbsim, then the control plane (the API server waits
// ~20 s for clients that are still connected otherwise).
package localenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/reach"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/localalb"
	"github.com/albrollouts/albrollouts/internal/sim/localcluster"
	"github.com/albrollouts/albrollouts/internal/sim/nodeagent"
	"github.com/albrollouts/albrollouts/internal/sim/promserver"
)

// Defaults of the local environment.
const (
	DefaultElbsimListen = "127.0.0.1:4566"
	// DefaultPrometheusListen is where `local up --with-prometheus` serves Prometheus.
	DefaultPrometheusListen = "127.0.0.1:9090"
	DefaultRegion           = "us-east-1"
	// Dummy credentials: elbsim accepts any signature.
	DummyAccessKey = "AKIALOCALALBROLLOUTS"
	DummySecretKey = "local-albrollouts-secret"
	pidFileName    = "albrollouts-local.pid"
	kubeconfigName = "kubeconfig"
)

// Component is an extra part run with the environment (the rollout controller plugs
// in here). It runs until ctx is cancelled and must return then; an error returned
// earlier is logged and does not stop the environment.
type Component struct {
	Name string
	Run  func(ctx context.Context, env *Env) error
}

// Options configures Start. The zero value is usable (elbsim on a free port).
type Options struct {
	// Dir receives the kubeconfig, the pid file and the logs. Default DefaultDir().
	Dir string
	// ElbsimListen is the ELBv2 API address; default 127.0.0.1:0 (a free port).
	// The CLI uses DefaultElbsimListen.
	ElbsimListen string
	// TimeScale speeds up time-based behaviour: elbsim health checks and
	// deregistration delays, and the node agent's probes, preStop sleeps and grace
	// periods. 0 or 1 = real time; 0.1 = ten times faster.
	TimeScale float64
	// UnpullableImages is a regular expression for images the node agent cannot
	// pull: their containers stay Waiting in ErrImagePull / ImagePullBackOff.
	// Empty: $ALBROLLOUTS_UNPULLABLE_IMAGES, else nodeagent.DefaultUnpullableImages
	// (references containing "nonexistent", "does-not-exist" or "notfound"); "-": none.
	UnpullableImages string
	// Images is a regular expression for images outside the node agent's catalogue
	// that it can pull (they run the HTTP stand-in). Empty: $ALBROLLOUTS_IMAGES,
	// else none: only the catalogue's images pull (see nodeagent).
	Images string
	// LBLag delays applying Ingress changes in the local ALB controller.
	LBLag time.Duration
	// HealthPollInterval is how often the ALB controller re-reads target health for
	// pending readiness gates; default 1s.
	HealthPollInterval time.Duration
	// ClusterName is the elbv2.k8s.aws/cluster tag; default localalb.DefaultClusterName.
	ClusterName string
	// PodCIDR is the range of pod IPs; default nodeagent.DefaultPodCIDR (loopback).
	// A range outside 127.0.0.0/8 must be local to the machine (routed to lo in a
	// private network namespace); elbsim is then allowed to reach it too. Such
	// pods get real EndpointSlices, which kube-apiserver refuses for loopback IPs.
	PodCIDR string
	// BinDir holds the control-plane binaries; default localcluster.DefaultBinDir().
	BinDir string
	// CRDDirs are installed in the cluster. Default (nil): the CRDs the binary
	// embeds (package config: Rollout and TargetGroupBinding), from any directory.
	CRDDirs []string
	// Out receives progress lines for people: what came up, ALB listener URLs.
	// Default: discarded.
	Out io.Writer
	// Log receives the controllers' logs. Default: <Dir>/controllers.log.
	Log io.Writer
	// Components run alongside the environment; they stop first.
	Components []Component
	// WithPrometheus starts a real Prometheus server (Debian's prometheus
	// package) scraping elbsim's data-plane metrics every second; its data and
	// log are under <Dir>/prometheus.
	WithPrometheus bool
	// PrometheusListen is the address of Prometheus's HTTP API; default a free
	// loopback port. The CLI uses DefaultPrometheusListen.
	PrometheusListen string
}

// Env is a running local environment.
type Env struct {
	opts       Options
	cluster    *localcluster.Cluster
	sim        *elbsim.Server
	prom       *promserver.Server
	elbv2      *elbv2.Client
	agent      *nodeagent.Agent
	client     client.Client
	kubeconfig string
	logFile    *os.File

	mgrCancel  context.CancelFunc
	mgrDone    chan error
	compCancel context.CancelFunc
	compWG     sync.WaitGroup
	stopOnce   sync.Once
	stopErr    error
	out        *lockedWriter
}

// DefaultDir is $XDG_STATE_HOME/albrollouts/local when XDG_STATE_HOME is set, else
// ./.albrollouts-local.
func DefaultDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "albrollouts", "local")
	}
	return ".albrollouts-local"
}

// Start brings the environment up and returns when the control plane, elbsim, the
// node agent and the ALB controller are running. ctx bounds the start-up only.
func Start(ctx context.Context, o Options) (_ *Env, err error) {
	o, err = withDefaults(o)
	if err != nil {
		return nil, err
	}
	e := &Env{opts: o, out: &lockedWriter{w: o.Out}, mgrDone: make(chan error, 1)}
	defer func() {
		if err != nil {
			_ = e.Stop()
		}
	}()
	if err := e.prepareDir(); err != nil {
		return nil, err
	}
	e.printf("starting the control plane (etcd, kube-apiserver, kube-controller-manager)...\n")
	e.cluster, err = localcluster.Start(ctx, localcluster.Options{
		BinDir:            o.BinDir,
		CRDDirs:           e.opts.CRDDirs,
		ControllerManager: true,
		WorkDir:           filepath.Join(o.Dir, "cluster"),
	})
	if err != nil {
		return nil, err
	}
	if err := copyFile(e.cluster.KubeconfigPath(), e.kubeconfig); err != nil {
		return nil, err
	}
	if err := installAnalysisTemplates(ctx, e.cluster.RESTConfig()); err != nil {
		return nil, err
	}
	targetRanges, err := podTargetRanges(o.PodCIDR)
	if err != nil {
		return nil, err
	}
	e.sim, err = elbsim.Start(ctx, elbsim.Options{Listen: o.ElbsimListen, Region: DefaultRegion, TimeScale: o.TimeScale, TargetRanges: targetRanges})
	if err != nil {
		return nil, fmt.Errorf("start elbsim on %s: %w", o.ElbsimListen, err)
	}
	e.elbv2 = newELBV2Client(e.sim.Endpoint())
	if o.WithPrometheus {
		if err := e.startPrometheus(ctx); err != nil {
			return nil, err
		}
	}
	if err := e.startControllers(); err != nil {
		return nil, err
	}
	e.startComponents()
	return e, nil
}

func withDefaults(o Options) (Options, error) {
	if o.Dir == "" {
		o.Dir = DefaultDir()
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("local environment directory %q: %w", o.Dir, err)
	}
	o.Dir = abs
	if o.ElbsimListen == "" {
		o.ElbsimListen = "127.0.0.1:0"
	}
	if o.TimeScale < 0 {
		return o, fmt.Errorf("time scale %g must not be negative", o.TimeScale)
	}
	if p := o.UnpullableImages; p != "" && p != "-" {
		if _, err := regexp.Compile(p); err != nil {
			return o, fmt.Errorf("unpullable image pattern %q: %w", p, err)
		}
	}
	if p := o.Images; p != "" {
		if _, err := regexp.Compile(p); err != nil {
			return o, fmt.Errorf("image pattern %q: %w", p, err)
		}
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	return o, nil
}

// prepareDir creates Dir, refuses to run twice on it, writes the pid file and opens
// the controllers' log.
func (e *Env) prepareDir() error {
	dir := e.opts.Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if pid, alive := runningPID(dir); alive {
		return fmt.Errorf("a local environment (pid %d) already uses %s: stop it with `albrollouts local down --dir %s` or use another --dir", pid, dir, dir)
	}
	if err := os.WriteFile(filepath.Join(dir, pidFileName), []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	// A fresh cluster every time: stale pods and ALBs from an earlier run would not
	// match the new elbsim.
	if err := os.RemoveAll(filepath.Join(dir, "cluster")); err != nil {
		return fmt.Errorf("clean %s: %w", filepath.Join(dir, "cluster"), err)
	}
	e.kubeconfig = filepath.Join(dir, kubeconfigName)
	if e.opts.Log == nil {
		f, err := os.Create(filepath.Join(dir, "controllers.log"))
		if err != nil {
			return fmt.Errorf("create controller log: %w", err)
		}
		e.logFile = f
		e.opts.Log = f
	}
	return nil
}

func newELBV2Client(endpoint string) *elbv2.Client {
	cfg := aws.Config{
		Region:      DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider(DummyAccessKey, DummySecretKey, ""),
	}
	return elbv2.NewFromConfig(cfg, func(o *elbv2.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// startControllers runs the node agent and the ALB controller in one manager.
func (e *Env) startControllers() error {
	w := &lockedWriter{w: e.opts.Log}
	ctrl.SetLogger(funcr.New(func(prefix, args string) {
		_, _ = fmt.Fprintf(w, "%s %s %s\n", time.Now().Format("15:04:05.000"), prefix, args)
	}, funcr.Options{Verbosity: 1}))
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("build scheme: %w", err)
	}
	mgr, err := ctrl.NewManager(e.cluster.RESTConfig(), ctrl.Options{
		Scheme:     scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Logger:     ctrl.Log.WithName("localenv"),
	})
	if err != nil {
		return fmt.Errorf("create controller manager: %w", err)
	}
	e.agent, err = nodeagent.New(nodeagent.Options{PodCIDR: e.opts.PodCIDR, TimeScale: e.opts.TimeScale,
		UnpullableImages: e.opts.UnpullableImages, Images: e.opts.Images})
	if err != nil {
		return err
	}
	if err := e.agent.SetupWithManager(mgr); err != nil {
		return err
	}
	lb, err := localalb.New(localalb.Options{
		ELBV2:              e.elbv2,
		ClusterName:        e.opts.ClusterName,
		ReconcileLag:       e.opts.LBLag,
		HealthPollInterval: e.opts.HealthPollInterval,
		OnDeployed:         e.announce,
	})
	if err != nil {
		return err
	}
	if err := lb.SetupWithManager(mgr); err != nil {
		return err
	}
	e.client, err = client.New(e.cluster.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.mgrCancel = cancel
	go func() { e.mgrDone <- mgr.Start(ctx) }()
	return nil
}

func (e *Env) startComponents() {
	ctx, cancel := context.WithCancel(context.Background())
	e.compCancel = cancel
	log := ctrl.Log.WithName("localenv")
	for _, c := range e.opts.Components {
		e.compWG.Add(1)
		go func(c Component) {
			defer e.compWG.Done()
			if err := c.Run(ctx, e); err != nil && ctx.Err() == nil {
				log.Error(err, "component stopped", "component", c.Name)
				e.printf("component %s stopped: %v\n", c.Name, err)
			}
		}(c)
	}
}

// announce prints the listener URLs of an ALB once its listeners are bound.
func (e *Env) announce(d localalb.Deployed) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // for all the ports
		defer cancel()
		for _, port := range d.Ports {
			var url string
			err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
				var ok bool
				url, ok = e.sim.ListenerURL(d.DNSName, port)
				return ok, nil
			})
			if err == nil {
				e.printf("ALB %s (ingress %v) listener :%d is up: %s\n", d.DNSName, d.Ingresses, port, url)
			} else {
				e.printf("ALB %s (ingress %v) listener :%d has no URL yet; see `curl %s/_elbsim/listeners`\n", d.DNSName, d.Ingresses, port, e.sim.Endpoint())
			}
		}
	}()
}

func (e *Env) printf(format string, args ...any) { _, _ = fmt.Fprintf(e.out, format, args...) }

// RESTConfig returns an admin client configuration for the cluster.
func (e *Env) RESTConfig() *rest.Config { return e.cluster.RESTConfig() }

// Client returns an uncached controller-runtime client for the cluster.
func (e *Env) Client() client.Client { return e.client }

// KubeconfigPath returns the kubeconfig written to Dir.
func (e *Env) KubeconfigPath() string { return e.kubeconfig }

// Dir returns the environment's directory.
func (e *Env) Dir() string { return e.opts.Dir }

// ELBV2Endpoint returns the URL of elbsim's ELBv2 API (for --endpoint-url).
func (e *Env) ELBV2Endpoint() string { return e.sim.Endpoint() }

// ELBV2 returns an aws-sdk-go-v2 client for elbsim.
func (e *Env) ELBV2() *elbv2.Client { return e.elbv2 }

// Elbsim returns the running elbsim.
func (e *Env) Elbsim() *elbsim.Server { return e.sim }

// ListenerURL returns the data-plane URL of an ALB listener.
func (e *Env) ListenerURL(dnsName string, port int32) (string, bool) {
	return e.sim.ListenerURL(dnsName, port)
}

// NodeName returns the name of the node the node agent registered.
func (e *Env) NodeName() string { return e.agent.NodeName() }

// ClusterName returns the elbv2.k8s.aws/cluster tag value in use.
func (e *Env) ClusterName() string {
	if e.opts.ClusterName == "" {
		return localalb.DefaultClusterName
	}
	return e.opts.ClusterName
}

// Stop stops everything in order: components, node agent and ALB controller, pods,
// elbsim, control plane. It is safe to call more than once.
func (e *Env) Stop() error {
	e.stopOnce.Do(func() {
		var errs []error
		if e.compCancel != nil {
			e.compCancel()
			e.compWG.Wait()
		}
		if e.mgrCancel != nil {
			e.mgrCancel()
			if err := <-e.mgrDone; err != nil {
				errs = append(errs, fmt.Errorf("controllers: %w", err))
			}
		}
		if e.agent != nil {
			e.agent.Stop()
		}
		if e.prom != nil {
			if err := e.prom.Close(); err != nil {
				errs = append(errs, fmt.Errorf("prometheus: %w", err))
			}
		}
		if e.sim != nil {
			if err := e.sim.Close(); err != nil {
				errs = append(errs, fmt.Errorf("elbsim: %w", err))
			}
		}
		if e.cluster != nil {
			if err := e.cluster.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("control plane: %w", err))
			}
		}
		ctrl.SetLogger(logr.Discard())
		if e.logFile != nil {
			_ = e.logFile.Close()
		}
		if e.opts.Dir != "" {
			if pid, _ := readPID(e.opts.Dir); pid == os.Getpid() {
				_ = os.Remove(filepath.Join(e.opts.Dir, pidFileName))
			}
		}
		e.stopErr = errors.Join(errs...)
	})
	return e.stopErr
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.w == nil {
		return len(p), nil
	}
	return l.w.Write(p)
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("read kubeconfig: %w", err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// podTargetRanges is what elbsim may reach besides loopback: the pod range, when
// it lies outside 127.0.0.0/8.
func podTargetRanges(podCIDR string) (reach.Ranges, error) {
	if podCIDR == "" {
		return nil, nil
	}
	r, err := reach.Parse([]string{podCIDR})
	if err != nil {
		return nil, fmt.Errorf("pod range: %w", err)
	}
	if r[0].Addr().IsLoopback() {
		return nil, nil
	}
	return r, nil
}
