// Package demo is `albrollouts demo` (what `make demo` runs): it starts the
// local environment (a real control plane, elbsim, the node agent and the
// local ALB controller) with the rollout controller in-process, deploys the
// demo app as Rollouts behind ALB Ingresses with verification on, sends
// steady traffic through the ALB listener, and runs four scenarios:
//
//   - canary: v1 → v2 through 10 → 25 → 50 → 100 % with short pauses, every
//     shift verified on the ALB before the next;
//   - abort: a broken v3 whose pods pass readiness but fail the ALB health
//     check; the health-before-weight verification times out, the rollout
//     aborts and all traffic is verified back on v2;
//   - analysis: a bad v4 that passes the ALB health check but answers 20 %
//     of its requests with 500; the step analysis after setWeight 10 (the
//     shipped ClusterAnalysisTemplate alb-canary-health, on the ALB's
//     CloudWatch metrics that elbsim serves) fails, the rollout aborts and
//     all traffic is verified back on the previous version;
//   - bluegreen: a blue-green Rollout of the same app switched in the ALB
//     (the forward action of its root service), verified.
//
// While they run it shows, per step, the desired and the verified share of
// the new version, the share measured from the traffic generator's answers,
// the target health read through the ELBv2 API, the AnalysisRuns (phase
// and metric results) and the failed requests: a
// live view on a terminal, plain lines otherwise. It ends with a summary
// table (WriteSummary), checks (Result.Problems) and an HTML report with an
// SVG chart (WriteReport).
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/controller"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
	"github.com/albrollouts/albrollouts/internal/sim/localenv"
)

// DefaultPodCIDR is the demo's pod range: loopback, apart from `local up`'s
// (127.1.0.0/16), so both can run at once.
const DefaultPodCIDR = "127.2.0.0/16"

// Options configure Run. The zero value runs every scenario at normal speed.
type Options struct {
	// Scenario is canary, abort, analysis, bluegreen, several of them separated by
	// commas (run in that order), or all (default).
	Scenario string
	// ReportPath receives the HTML report; "" writes none.
	ReportPath string
	// Speed divides the pauses between canary steps (default 1; 4 = four
	// times shorter pauses). It leaves health checks and verification alone.
	Speed float64
	// Pause is a canary pause at speed 1 (default 4s).
	Pause time.Duration
	// TimeScale speeds up health checks, probes and draining in the local
	// environment (default 0.2: five times faster than real time).
	TimeScale float64
	// LBLag is how long the local ALB controller takes to apply a change
	// (default 1s).
	LBLag time.Duration
	// VerifyTimeout is the rollouts' verification timeout (timeoutSeconds,
	// whole seconds; default 30s, the controller's default).
	VerifyTimeout time.Duration
	// BrokenTimeout is the timeout set together with the broken version:
	// how long its verification takes to time out (default 15s).
	BrokenTimeout time.Duration
	// PodCIDR is the pod range (default DefaultPodCIDR).
	PodCIDR string
	// Dir receives the logs; default a new temporary directory, removed
	// after a run whose checks pass and kept otherwise.
	Dir string
	// BinDir holds the control-plane binaries (default: localcluster's).
	BinDir string
	// Out receives the live view, the log lines and the environment's
	// progress. Default: discarded.
	Out io.Writer
	// Terminal draws a live view with ANSI escapes; otherwise plain lines.
	Terminal bool
	// Color colours the output (only with Terminal).
	Color bool
	// Width is the terminal's width in columns (default 100).
	Width int
	// SampleInterval is the time between two samples (default 500ms).
	SampleInterval time.Duration
	// Rate is the traffic generator's requests per second (default 40).
	Rate float64
	// StartTimeout bounds the start of the local environment (default 3m).
	StartTimeout time.Duration
	// OnEvent, when set, is called with every event as it happens (from
	// several goroutines; it must return quickly).
	OnEvent func(Event)
}

// Validate says what is wrong with the options (a bad scenario name, speed,
// time scale, lag or timeout), before anything starts.
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

func (o Options) withDefaults() (Options, error) {
	if o.Scenario == "" {
		o.Scenario = ScenarioAll
	}
	if _, err := scenarioList(o.Scenario); err != nil {
		return o, err
	}
	switch {
	case o.Speed == 0:
		o.Speed = 1
	case o.Speed < 0.1 || o.Speed > 1000:
		return o, fmt.Errorf("speed %g: use a factor between 0.1 and 1000 (2 = pauses twice as short)", o.Speed)
	}
	if o.Pause <= 0 {
		o.Pause = 4 * time.Second
	}
	if o.TimeScale == 0 {
		o.TimeScale = 0.2
	}
	if o.TimeScale < 0 || o.TimeScale > 1 {
		return o, fmt.Errorf("time scale %g: use a factor in (0, 1] (0.2 = health checks five times faster)", o.TimeScale)
	}
	if o.LBLag == 0 {
		o.LBLag = time.Second
	}
	if o.LBLag < 0 {
		return o, fmt.Errorf("load-balancer lag %s must not be negative", o.LBLag)
	}
	if o.VerifyTimeout == 0 {
		o.VerifyTimeout = 30 * time.Second
	}
	if o.BrokenTimeout == 0 {
		o.BrokenTimeout = 15 * time.Second
	}
	for _, d := range []time.Duration{o.VerifyTimeout, o.BrokenTimeout} {
		if d < time.Second || d > time.Hour {
			return o, fmt.Errorf("verification timeout %s: use 1s to 1h", d)
		}
	}
	if o.PodCIDR == "" {
		o.PodCIDR = DefaultPodCIDR
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Width <= 20 {
		o.Width = 100
	}
	if o.SampleInterval <= 0 {
		o.SampleInterval = 500 * time.Millisecond
	}
	if o.Rate <= 0 {
		o.Rate = 40
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 3 * time.Minute
	}
	return o, nil
}

// scenarioList expands --scenario: all, or names separated by commas, run
// in the order given.
func scenarioList(s string) ([]string, error) {
	if s == ScenarioAll {
		return Scenarios, nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(Scenarios, name) {
			return nil, fmt.Errorf("unknown scenario %q: use %s, %s, or several separated by commas", name, strings.Join(Scenarios, ", "), ScenarioAll)
		}
		if slices.Contains(out, name) {
			return nil, fmt.Errorf("scenario %q given twice", name)
		}
		out = append(out, name)
	}
	return out, nil
}

// run is one demo run.
type run struct {
	opts  Options
	start time.Time
	ui    *terminal
	env   *localenv.Env
	kc    client.WithWatch

	mu        sync.Mutex
	res       *Result
	scenarios []*ScenarioResult
	addrs     map[string]bool
}

func (r *run) since() time.Duration { return time.Since(r.start) }

func (r *run) event(scenario, level, text string, verification bool) {
	e := Event{At: r.since(), Scenario: scenario, Level: level, Text: text, Verification: verification}
	r.mu.Lock()
	r.res.Events = append(r.res.Events, e)
	r.mu.Unlock()
	r.ui.event(e)
	if r.opts.OnEvent != nil {
		r.opts.OnEvent(e)
	}
}

func (r *run) addSample(s Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.Samples = append(r.res.Samples, s)
}

func (r *run) samplesOf(scenario string) []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Sample
	for _, s := range r.res.Samples {
		if s.Scenario == scenario {
			out = append(out, s)
		}
	}
	return out
}

func (r *run) addAddress(a string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs[a] = true
}

// Run runs the demo. It returns the result also when it fails or ctx is
// cancelled (then Result.Interrupted is set); by then everything it started
// is stopped. The error says why the demo could not run at all (bad
// options, the environment did not start); how the scenarios went is in the
// result (Result.Problems).
func Run(ctx context.Context, o Options) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	names, _ := scenarioList(o.Scenario)
	r := &run{opts: o, start: time.Now(), addrs: map[string]bool{}}
	r.res = &Result{Started: r.start, SampleInterval: o.SampleInterval}
	r.ui = newTerminal(o.Out, o.Terminal, o.Color, o.Width, r.start)
	defer r.ui.close()
	res := r.res

	tempDir := o.Dir == ""
	if tempDir {
		if o.Dir, err = os.MkdirTemp("", "albrollouts-demo-"); err != nil {
			return nil, fmt.Errorf("create a directory for the demo's logs: %w", err)
		}
		r.opts.Dir = o.Dir
	}
	res.Dir = o.Dir

	err = r.runAll(ctx, names)
	res.Duration = r.since()
	res.Interrupted = ctx.Err() != nil
	r.mu.Lock()
	for _, sc := range r.scenarios {
		res.Scenarios = append(res.Scenarios, *sc)
		res.Requests += sc.Requests
		res.Failed += sc.Failed
	}
	for a := range r.addrs {
		res.Addresses = append(res.Addresses, a)
	}
	slices.Sort(res.Addresses)
	r.mu.Unlock()
	if err != nil {
		return res, err
	}
	if o.ReportPath != "" && len(res.Samples) > 0 {
		if err := writeReportFile(o.ReportPath, res); err != nil {
			return res, err
		}
		res.ReportPath = o.ReportPath
	}
	if tempDir && !res.Interrupted && len(res.Problems()) == 0 {
		_ = os.RemoveAll(o.Dir)
		res.Dir = ""
	}
	return res, nil
}

// runAll starts the environment, runs the scenarios and stops everything.
func (r *run) runAll(ctx context.Context, names []string) (err error) {
	reg := prometheus.NewRegistry()
	comp := localenv.Component{Name: "rollout-controller", Run: func(ctx context.Context, env *localenv.Env) error {
		mgr, err := controller.NewManager(ctx, env.RESTConfig(), controller.ManagerOptions{
			Options:        controller.Options{VerifyByDefault: true, Registerer: reg},
			Namespace:      Namespace,
			AWSRegion:      localenv.DefaultRegion,
			AWSEndpointURL: env.ELBV2Endpoint(),
			// elbsim serves CloudWatch beside ELBv2: the analysis
			// scenario's metrics are the ALB's own.
			CloudWatchEndpointURL: env.ELBV2Endpoint(),
			ELBV2:                 elbv2.Options{Credentials: credentials.NewStaticCredentialsProvider(localenv.DummyAccessKey, localenv.DummySecretKey, "")},
			Logger:                ctrl.Log.WithName("rollout-controller"),
		})
		if err != nil {
			return err
		}
		return mgr.Start(ctx)
	}}
	r.event("", levelInfo, fmt.Sprintf("starting the local environment: control plane, elbsim, node agent, ALB controller, rollout controller (time scale %g, load-balancer lag %s; logs in %s)",
		r.opts.TimeScale, r.opts.LBLag, r.opts.Dir), false)
	startCtx, cancel := context.WithTimeout(ctx, r.opts.StartTimeout)
	defer cancel()
	started := time.Now()
	env, err := localenv.Start(startCtx, localenv.Options{
		Dir:                r.opts.Dir,
		TimeScale:          r.opts.TimeScale,
		LBLag:              r.opts.LBLag,
		HealthPollInterval: 200 * time.Millisecond,
		PodCIDR:            r.opts.PodCIDR,
		BinDir:             r.opts.BinDir,
		Out:                r.ui.lineWriter(),
		Components:         []localenv.Component{comp},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("start the local environment: %w (logs in %s)", err, r.opts.Dir)
	}
	r.env = env
	if u, perr := url.Parse(env.ELBV2Endpoint()); perr == nil {
		r.addAddress(u.Host)
	}
	defer func() {
		r.ui.hide()
		r.event("", levelInfo, "stopping the local environment", false)
		stopped := time.Now()
		if serr := env.Stop(); serr != nil && err == nil {
			err = fmt.Errorf("stop the local environment: %w", serr)
		}
		r.event("", levelInfo, fmt.Sprintf("stopped in %s", time.Since(stopped).Round(100*time.Millisecond)), false)
		r.res.ELBV2Calls = elbv2Calls(reg)
	}()
	r.event("", levelInfo, fmt.Sprintf("local environment up in %s", time.Since(started).Round(100*time.Millisecond)), false)
	scheme, err := controller.NewScheme()
	if err != nil {
		return err
	}
	if r.kc, err = client.NewWithWatch(env.RESTConfig(), client.Options{Scheme: scheme}); err != nil {
		return fmt.Errorf("client for the local cluster: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	if err := r.kc.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("create namespace %s: %w", Namespace, err)
	}
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		r.scenario(ctx, name)
	}
	return nil
}

func elbv2Calls(reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "albrollouts_elbv2_api_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			n += m.GetCounter().GetValue()
		}
	}
	return n
}

// scenario runs one scenario and records its result.
func (r *run) scenario(ctx context.Context, name string) {
	sc := &ScenarioResult{Name: name, Started: r.since(), ByVersion: map[string]int{}, AfterEnd: map[string]int{}}
	r.mu.Lock()
	r.scenarios = append(r.scenarios, sc)
	r.mu.Unlock()
	var err error
	switch name {
	case ScenarioCanary:
		err = r.runPlan(ctx, sc, r.canaryPlan())
	case ScenarioAbort:
		err = r.runPlan(ctx, sc, r.abortPlan())
	case ScenarioAnalysis:
		err = r.runPlan(ctx, sc, r.analysisPlan())
	case ScenarioBlueGreen:
		err = r.runPlan(ctx, sc, r.blueGreenPlan())
	}
	sc.Duration = r.since() - sc.Started
	switch {
	case ctx.Err() != nil:
		sc.Outcome = OutcomeInterrupted
		r.event(name, levelWarn, "interrupted", false)
	case err != nil:
		sc.Outcome, sc.Err = OutcomeFailed, err.Error()
		r.event(name, levelError, "scenario failed: "+err.Error(), false)
	default:
		r.event(name, levelOK, fmt.Sprintf("%s: %s in %s", name, sc.Outcome, sc.Duration.Round(100*time.Millisecond)), false)
	}
}

func (r *run) pause() time.Duration {
	return time.Duration(float64(r.opts.Pause) / r.opts.Speed).Round(time.Millisecond)
}

// scenarioPlan is what one scenario does: update an app from one version to
// another and wait for an outcome, watching the given services' traffic.
type scenarioPlan struct {
	app, from, to, expected, title string
	services                       []serviceRole
	spec                           appSpec
	note                           string // logged once the update is written
	timeout                        time.Duration
	// goal says what is awaited, once the version the app really runs
	// (from) is known; done tells it from the rollout.
	goal func(from string) string
	done func(t *tracker) func(ro *v1alpha1.Rollout, newHash string) bool
}

// canaryPlan: v1 → v2 through 10 → 25 → 50 → 100, every step verified.
func (r *run) canaryPlan() scenarioPlan {
	from, to := "v1", "v2"
	return scenarioPlan{
		app: CanaryApp, from: from, to: to, expected: OutcomePromoted,
		title:    fmt.Sprintf("canary %s → %s: 10 → 25 → 50 → 100 %%, every step verified", from, to),
		services: []serviceRole{{CanaryApp + "-stable", "stable"}, {CanaryApp + "-canary", "canary"}},
		spec:     appSpec{version: to},
		note:     fmt.Sprintf("image %s set; steps setWeight 10, 25, 50 with pauses of %s, then 100", image(to), r.pause()),
		timeout:  3*time.Minute + 4*r.pause(),
		goal:     func(string) string { return "promoted to " + to + " with all traffic verified" },
		done:     promotedVerified,
	}
}

// abortPlan: a broken v3 (readiness passes, the ALB health check fails)
// never gets traffic; the verification times out, the rollout aborts and
// all traffic is verified back on the previous version.
func (r *run) abortPlan() scenarioPlan {
	from, to := "v2", "v3"
	return scenarioPlan{
		app: CanaryApp, from: from, to: to, expected: OutcomeAborted,
		title:    fmt.Sprintf("broken %s: pods pass readiness (%s) but fail the ALB health check (%s)", to, readinessPath, demoapp.HealthPath),
		services: []serviceRole{{CanaryApp + "-stable", "stable"}, {CanaryApp + "-canary", "canary"}},
		spec:     appSpec{version: to, healthFail: true, timeout: r.opts.BrokenTimeout},
		note:     fmt.Sprintf("image %s with %s=true set, and a verification timeout of %s", image(to), demoapp.EnvHealthFail, r.opts.BrokenTimeout),
		timeout:  r.opts.BrokenTimeout + 3*time.Minute,
		goal:     func(from string) string { return "aborted with all traffic verified back on " + from },
		done:     func(*tracker) func(*v1alpha1.Rollout, string) bool { return abortedVerified },
	}
}

// analysisErrorRate is the share of its requests the analysis scenario's
// bad version answers with 500.
const analysisErrorRate = "0.2"

// analysisPlan: a bad v4 passes readiness and the ALB health check but
// answers 20 % of its requests with 500. The shift to 10 % is verified
// (its targets are healthy); the step analysis after it, the shipped
// alb-canary-health on the ALB's CloudWatch metrics, sees the canary's 5xx
// ratio and fails; the rollout aborts and all traffic is verified back on
// the previous version.
func (r *run) analysisPlan() scenarioPlan {
	from, to := "v2", "v4"
	return scenarioPlan{
		app: CanaryApp, from: from, to: to, expected: OutcomeAborted,
		title:    fmt.Sprintf("bad %s: passes the ALB health check, fails %s%% of its requests; a step analysis catches it", to, percentText(analysisErrorRate)),
		services: []serviceRole{{CanaryApp + "-stable", "stable"}, {CanaryApp + "-canary", "canary"}},
		spec:     appSpec{version: to, errorRate: analysisErrorRate, analysis: true, probeHealth: true},
		note: fmt.Sprintf("image %s with %s=%s set (readiness on %s, as the ALB health check); steps setWeight 10, then the step analysis %s (the canary target group's 5xx ratio and p99 from CloudWatch, served by elbsim: %s), then 25, 50",
			image(to), demoapp.EnvErrorRate, analysisErrorRate, demoapp.HealthPath, analysisTemplate, analysisArgsText()),
		timeout: 3*time.Minute + 4*r.pause(),
		goal:    func(from string) string { return "aborted by the analysis with all traffic verified back on " + from },
		done:    func(*tracker) func(*v1alpha1.Rollout, string) bool { return abortedVerified },
	}
}

// percentText is a fraction as a percentage: "0.2" → "20".
func percentText(fraction string) string {
	f, err := strconv.ParseFloat(fraction, 64)
	if err != nil {
		return fraction
	}
	return strconv.FormatFloat(100*f, 'f', -1, 64)
}

func analysisArgsText() string {
	var parts []string
	for _, kv := range analysisArgs {
		parts = append(parts, kv[0]+" "+kv[1])
	}
	return strings.Join(parts, ", ")
}

// blueGreenPlan: a blue-green Rollout of the demo app switched from blue to
// green in the ALB, verified.
func (r *run) blueGreenPlan() scenarioPlan {
	from, to := "blue", "green"
	return scenarioPlan{
		app: BlueGreenApp, from: from, to: to, expected: OutcomeSwitched,
		title:    fmt.Sprintf("blue-green %s → %s, switched in the ALB and verified", from, to),
		services: []serviceRole{{BlueGreenApp + "-active", "active"}, {BlueGreenApp + "-preview", "preview"}},
		spec:     appSpec{version: to},
		note:     fmt.Sprintf("image %s set; preview first, then the switch in the ALB", image(to)),
		timeout:  3 * time.Minute,
		goal:     func(string) string { return "switched to " + to + " with all traffic verified" },
		done:     promotedVerified,
	}
}

// runPlan runs a scenario's plan: the app at its starting version, traffic
// tracked, the update written, the outcome awaited, a few more samples.
func (r *run) runPlan(ctx context.Context, sc *ScenarioResult, p scenarioPlan) error {
	sc.From, sc.To, sc.Expected, sc.Title = p.from, p.to, p.expected, p.title
	r.event(sc.Name, levelInfo, "▶ "+sc.Title, false)
	from, err := r.ensureApp(ctx, sc, p.app, sc.From)
	if err != nil {
		return err
	}
	sc.From = from
	t, err := r.track(ctx, sc, p.app, p.services...)
	if err != nil {
		return err
	}
	defer r.finish(t, sc)
	if err := r.update(ctx, t, p.app, p.spec); err != nil {
		return err
	}
	r.event(sc.Name, levelInfo, p.note, false)
	if err := t.waitFor(ctx, p.timeout, p.goal(sc.From), p.done(t)); err != nil {
		return err
	}
	sc.Outcome = p.expected
	t.markEnd()
	t.waitSamples(ctx, lingerSamples)
	return nil
}

// lingerSamples are taken after an outcome, so the chart shows the end state.
const lingerSamples = 4

// promotedVerified: the new version is stable, the rollout Healthy for its
// generation, and all traffic on the new version verified.
func promotedVerified(t *tracker) func(ro *v1alpha1.Rollout, h string) bool {
	return func(ro *v1alpha1.Rollout, h string) bool {
		t.mu.Lock()
		verified := t.verified
		t.mu.Unlock()
		return h != "" && ro.Status.StableRS == h && upToDate(ro) && ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && verified == 100
	}
}

// abortedVerified: aborted, and the abort's verification (all traffic on
// stable) passed.
func abortedVerified(ro *v1alpha1.Rollout, h string) bool {
	v := ro.Status.Verification
	return h != "" && ro.Status.Abort && upToDate(ro) && v != nil && v.Kind == v1alpha1.VerificationAbort && v.Phase == v1alpha1.VerificationVerified
}

func upToDate(ro *v1alpha1.Rollout) bool { return observedGeneration(ro) == ro.Generation }

// healthy: the current template is stable and Healthy.
func healthy(ro *v1alpha1.Rollout) bool {
	return upToDate(ro) && ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.StableRS != "" && ro.Status.StableRS == ro.Status.CurrentPodHash
}

// versionOf is the version (image tag) of a rollout's first container.
func versionOf(ro *v1alpha1.Rollout) string {
	if cs := ro.Spec.Template.Spec.Containers; len(cs) > 0 {
		if img, err := demoapp.ParseImageRef(cs[0].Image); err == nil {
			return img.Version()
		}
	}
	return "?"
}

// ensureApp makes sure the rollout exists and is Healthy: it deploys it at
// version when absent. It returns the version it runs.
func (r *run) ensureApp(ctx context.Context, sc *ScenarioResult, name, version string) (string, error) {
	var ro v1alpha1.Rollout
	err := r.kc.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: name}, &ro)
	created := false
	switch {
	case apierrors.IsNotFound(err):
		created = true
		var objs []client.Object
		kind := "canary"
		if name == BlueGreenApp {
			kind = "blue-green"
			objs = blueGreenObjects(appSpec{version: version}, r.opts.VerifyTimeout)
		} else {
			objs = canaryObjects(appSpec{version: version}, r.pause(), r.opts.VerifyTimeout)
		}
		r.event(sc.Name, levelInfo, fmt.Sprintf("deploying %s as a %s Rollout %q (%d pods) behind ALB Ingress %q, verification on", image(version), kind, name, replicas, name), false)
		for _, o := range objs {
			if err := r.kc.Create(ctx, o); err != nil {
				return "", fmt.Errorf("create %T %s/%s: %w", o, Namespace, o.GetName(), err)
			}
		}
	case err != nil:
		return "", fmt.Errorf("read rollout %s/%s: %w", Namespace, name, err)
	}
	start := time.Now()
	var last *v1alpha1.Rollout
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 3*time.Minute, true, func(context.Context) (bool, error) {
		var ro v1alpha1.Rollout
		if err := r.kc.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: name}, &ro); err != nil {
			return false, nil //nolint:nilerr // transient; the deadline reports it
		}
		last = &ro
		return healthy(&ro) || settledAbort(&ro), nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("rollout %s/%s is not Healthy within 3m (%s)", Namespace, name, describeRollout(last))
	}
	v := versionOf(last)
	if !healthy(last) {
		// An earlier scenario's update was aborted: the stable version
		// serves, and the next update starts from it.
		if v, err = r.stableVersion(ctx, last); err != nil {
			return "", err
		}
		r.event(sc.Name, levelInfo, fmt.Sprintf("%s runs %s (the update to %s was aborted, all traffic verified on %s)", name, v, versionOf(last), v), false)
		return v, nil
	}
	if created {
		r.event(sc.Name, levelOK, fmt.Sprintf("%s is Healthy on %s, traffic verified (%s)", name, v, time.Since(start).Round(100*time.Millisecond)), false)
	} else {
		r.event(sc.Name, levelInfo, fmt.Sprintf("%s runs %s, Healthy", name, v), false)
	}
	return v, nil
}

// settledAbort: an aborted update whose traffic is verified back on stable.
func settledAbort(ro *v1alpha1.Rollout) bool {
	v := ro.Status.Verification
	return upToDate(ro) && ro.Status.Abort && ro.Status.StableRS != "" && v != nil && v.Phase == v1alpha1.VerificationVerified
}

// stableVersion is the version of the rollout's stable ReplicaSet.
func (r *run) stableVersion(ctx context.Context, ro *v1alpha1.Rollout) (string, error) {
	var rss appsv1.ReplicaSetList
	if err := r.kc.List(ctx, &rss, client.InNamespace(Namespace), client.MatchingLabels{replicaset.HashLabel: ro.Status.StableRS}); err != nil {
		return "", fmt.Errorf("read the stable ReplicaSet of %s/%s: %w", Namespace, ro.Name, err)
	}
	for _, rs := range rss.Items {
		if cs := rs.Spec.Template.Spec.Containers; len(cs) > 0 && metav1.IsControlledBy(&rs, ro) {
			if img, err := demoapp.ParseImageRef(cs[0].Image); err == nil {
				return img.Version(), nil
			}
		}
	}
	return "", fmt.Errorf("rollout %s/%s: no stable ReplicaSet %s", Namespace, ro.Name, ro.Status.StableRS)
}

// track waits for the ALB of the rollout's Ingress, and starts traffic
// through its listener and the tracker.
func (r *run) track(ctx context.Context, sc *ScenarioResult, name string, services ...serviceRole) (*tracker, error) {
	u, err := r.listenerURL(ctx, name)
	if err != nil {
		return nil, err
	}
	t := r.newTracker(sc, name, u, newHealthReader(r.env.ELBV2(), Namespace, name, services...))
	if err := t.start(ctx); err != nil {
		t.stop()
		return nil, err
	}
	r.event(sc.Name, levelInfo, fmt.Sprintf("traffic: %g requests/s through the ALB listener %s", r.opts.Rate, u), false)
	return t, nil
}

// listenerURL waits for the Ingress's ALB and returns its port-80 listener.
func (r *run) listenerURL(ctx context.Context, ingressName string) (string, error) {
	var u, why string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		var ing networkingv1.Ingress
		if err := r.kc.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: ingressName}, &ing); err != nil {
			why = err.Error()
			return false, nil
		}
		if len(ing.Status.LoadBalancer.Ingress) == 0 || ing.Status.LoadBalancer.Ingress[0].Hostname == "" {
			why = "no load balancer hostname in its status yet"
			return false, nil
		}
		var ok bool
		u, ok = r.env.ListenerURL(ing.Status.LoadBalancer.Ingress[0].Hostname, 80)
		why = "the ALB's listener :80 is not up yet"
		return ok, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("ingress %s/%s: no ALB listener within 1m: %s", Namespace, ingressName, why)
	}
	if p, perr := url.Parse(u); perr == nil {
		r.addAddress(p.Host)
	}
	return u, nil
}

// update sets the rollout's pod template to s.
func (r *run) update(ctx context.Context, t *tracker, name string, s appSpec) error {
	var ro v1alpha1.Rollout
	if err := r.kc.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: name}, &ro); err != nil {
		return fmt.Errorf("read rollout %s/%s: %w", Namespace, name, err)
	}
	t.setUpdate(ro.Generation + 1)
	spec := map[string]any{"template": podTemplate(name, s)}
	if ro.Spec.Strategy.Canary != nil {
		// The scenario's steps (with or without the step analysis),
		// whatever an earlier scenario left.
		canary := map[string]any{"steps": canarySteps(r.pause(), s.analysis)}
		if s.timeout > 0 {
			canary["trafficRouting"] = map[string]any{"alb": map[string]any{"timeoutSeconds": int32(s.timeout / time.Second)}}
		}
		spec["strategy"] = map[string]any{"canary": canary}
	} else if s.timeout > 0 {
		spec["strategy"] = map[string]any{"blueGreen": map[string]any{"alb": map[string]any{"timeoutSeconds": int32(s.timeout / time.Second)}}}
	}
	patch, err := json.Marshal(map[string]any{"spec": spec})
	if err != nil {
		return err
	}
	obj := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: name}}
	if err := r.kc.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("update rollout %s/%s to %s: %w", Namespace, name, image(s.version), err)
	}
	t.setUpdate(obj.Generation)
	return nil
}

// finish stops the tracker and completes the scenario's numbers.
func (r *run) finish(t *tracker, sc *ScenarioResult) {
	rep := t.stop()
	sc.Requests, sc.Failed = rep.Total, rep.Failed
	for v, n := range rep.ByVersion {
		sc.ByVersion[v] = n
	}
	own := fmt.Sprintf(`"version":%q`, sc.To)
	for _, f := range rep.Failures {
		if f.Status == http.StatusInternalServerError && strings.Contains(f.Body, own) {
			sc.CanaryFailed++
		}
		r.mu.Lock()
		r.res.Failures = append(r.res.Failures, Failure{Scenario: sc.Name, At: f.Time.Sub(r.start), Failure: f})
		r.mu.Unlock()
	}
	samples := r.samplesOf(sc.Name)
	t.mu.Lock()
	endAt := t.endAt
	if t.ro != nil {
		sc.Message = t.ro.Status.Message
	}
	t.mu.Unlock()
	if endAt > 0 {
		for _, s := range samples {
			if s.At > endAt {
				for v, n := range s.Versions {
					sc.AfterEnd[v] += n
				}
				sc.FailedAfterEnd += s.Failed
			}
		}
	}
	stepNumbers(sc, samples)
	var pods corev1.PodList
	lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.kc.List(lctx, &pods, client.InNamespace(Namespace)); err == nil {
		for _, p := range pods.Items {
			if p.Status.PodIP != "" {
				r.addAddress(net.JoinHostPort(p.Status.PodIP, "8080"))
			}
		}
	}
}

// stepNumbers fills each step's measured share, requests and failures from
// the samples taken while it was in force.
func stepNumbers(sc *ScenarioResult, samples []Sample) {
	for i := range sc.Steps {
		s := &sc.Steps[i]
		end := time.Duration(1<<63 - 1)
		if i+1 < len(sc.Steps) {
			end = sc.Steps[i+1].Started
		}
		from := s.Started
		if s.Finished > 0 {
			from = s.Finished
		}
		var okNew, ok, okAll, newAll int
		for _, x := range samples {
			if x.At <= s.Started || x.At > end {
				continue
			}
			s.Requests += x.Requests
			s.Failed += x.Failed
			n := x.Versions[sc.To]
			total := 0
			for _, c := range x.Versions {
				total += c
			}
			okAll += total
			newAll += n
			if x.At > from {
				ok += total
				okNew += n
			}
		}
		switch {
		case ok > 0:
			s.Measured = 100 * float64(okNew) / float64(ok)
		case okAll > 0:
			s.Measured = 100 * float64(newAll) / float64(okAll)
		default:
			s.Measured = -1
		}
	}
}
