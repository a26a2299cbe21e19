package demo

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/sim/localcluster"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// The end-to-end tests run the demo headless against a real local
// environment, on a pod range of their own so they never meet other
// end-to-end runs (127.1/127.3).
const e2ePodCIDR = "127.5.0.0/16"

// needBinaries skips with -short and waits for the control-plane binaries
// (another build may be putting them in place).
func needBinaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: needs the control plane (skipped with -short)")
	}
	dir := localcluster.DefaultBinDir()
	poll.Every(5*time.Second).Eventually(t, 20*time.Minute, "the control-plane binaries in "+dir, func() (bool, string) {
		missing := MissingBinaries(dir)
		return len(missing) == 0, fmt.Sprintf("%v missing: run `make k8s-bins`", missing)
	})
	return dir
}

// e2eOptions are fast settings for the 2-core CI machine: health checks 20
// times faster than real time, pauses ten times shorter.
func e2eOptions(t *testing.T, scenarios string, out *syncBuffer) Options {
	return Options{
		Scenario:      scenarios,
		Speed:         10,
		TimeScale:     0.05,
		LBLag:         time.Second,
		VerifyTimeout: time.Minute, // the healthy steps: generous on a loaded machine
		BrokenTimeout: 8 * time.Second,
		PodCIDR:       e2ePodCIDR,
		BinDir:        needBinaries(t),
		Out:           out,
	}
}

func keepDirOnFailure(t *testing.T, dir string) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
}

func TestDemoHeadless(t *testing.T) {
	var out syncBuffer
	o := e2eOptions(t, ScenarioAll, &out)
	dir, err := os.MkdirTemp("", "albrollouts-demo-test-")
	if err != nil {
		t.Fatal(err)
	}
	keepDirOnFailure(t, dir)
	o.Dir = dir
	o.ReportPath = filepath.Join(dir, "report", "demo-report.html")
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	res, err := Run(ctx, o)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if p := res.Problems(); len(p) > 0 {
		t.Errorf("problems: %q", p)
	}
	t.Logf("%d scenarios in %s: %d requests, %d failed, %d samples, %.0f ELBv2 calls",
		len(res.Scenarios), res.Duration.Round(100*time.Millisecond), res.Requests, res.Failed, len(res.Samples), res.ELBV2Calls)

	// Zero failed requests, checked on the raw numbers too, but the bad
	// canary's own 500s in the analysis scenario: every one of them a 500
	// answered by v4.
	if res.Failed != res.canaryFailed() {
		t.Errorf("%d failed requests, %d of them the bad canary's: %+v", res.Failed, res.canaryFailed(), res.Failures)
	}
	for _, f := range res.Failures {
		if f.Scenario != ScenarioAnalysis || f.Status != 500 || !strings.Contains(f.Body, `"version":"v4"`) {
			t.Errorf("a failed request that is not the bad canary's own answer: %s %s", f.Scenario, f.String())
		}
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Errorf("escape sequences on a non-terminal")
	}
	byName := map[string]*ScenarioResult{}
	for i := range res.Scenarios {
		byName[res.Scenarios[i].Name] = &res.Scenarios[i]
	}
	if sc := byName[ScenarioCanary]; sc == nil {
		t.Error("no canary scenario")
	} else {
		checkCanary(t, res, sc)
	}
	if sc := byName[ScenarioAbort]; sc == nil {
		t.Error("no abort scenario")
	} else {
		checkAbort(t, res, sc)
	}
	if sc := byName[ScenarioAnalysis]; sc == nil {
		t.Error("no analysis scenario")
	} else {
		checkAnalysis(t, res, sc)
	}
	if sc := byName[ScenarioBlueGreen]; sc == nil {
		t.Error("no blue-green scenario")
	} else {
		checkBlueGreen(t, res, sc)
	}

	// The report: written, well-formed, one point per sample in each series.
	doc, err := os.ReadFile(o.ReportPath)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	if res.ReportPath != o.ReportPath {
		t.Errorf("report path %q", res.ReportPath)
	}
	series, n, _ := chartSeries(t, doc)
	if n != len(res.Samples) || n == 0 {
		t.Errorf("chart holds %d samples, the run took %d", n, len(res.Samples))
	}
	for _, name := range []string{SeriesDesired, SeriesVerified, SeriesMeasured} {
		if len(series[name]) != len(res.Samples) {
			t.Errorf("series %s: %d points for %d samples", name, len(series[name]), len(res.Samples))
		}
	}
	checkStopped(t, res, dir)
}

// checkCanary: 10, 25, 50, 100 and the promotion, each verified before the
// next shift started; the verified share never ahead of the desired one;
// only v2 after the promotion.
func checkCanary(t *testing.T, res *Result, sc *ScenarioResult) {
	t.Helper()
	if sc.Outcome != OutcomePromoted {
		t.Fatalf("canary: %s %s", sc.Outcome, sc.Err)
	}
	want := []int{10, 25, 50, 100}
	var got []int
	for i, s := range sc.Steps {
		if s.Phase != string(v1alpha1.VerificationVerified) {
			t.Errorf("canary step %s: %s %s", s.Label, s.Phase, s.Message)
		}
		if s.Kind == string(v1alpha1.VerificationCanaryWeight) {
			got = append(got, s.Desired)
		}
		if i+1 < len(sc.Steps) && (s.Finished == 0 || s.Finished > sc.Steps[i+1].Started) {
			t.Errorf("canary step %s (verified at %s) not verified before %s started (%s)", s.Label, s.Finished, sc.Steps[i+1].Label, sc.Steps[i+1].Started)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("canary weights verified %v, want %v", got, want)
	}
	if last := sc.Steps[len(sc.Steps)-1]; last.Kind != string(v1alpha1.VerificationPromotion) {
		t.Errorf("last canary step %s, want the promotion", last.Label)
	}
	for _, s := range res.Samples {
		if s.Scenario == ScenarioCanary && s.Verified > s.Desired {
			t.Errorf("canary sample at %s: verified %d%% ahead of desired %d%%", s.At, s.Verified, s.Desired)
			break
		}
	}
	if sc.AfterEnd["v2"] == 0 || sc.AfterEnd["v1"] != 0 {
		t.Errorf("after the promotion: %v", sc.AfterEnd)
	}
	if sc.ByVersion["v1"] == 0 || sc.ByVersion["v2"] == 0 {
		t.Errorf("canary traffic %v", sc.ByVersion)
	}
}

// checkAbort: v3 never answered and never got a verified share; its
// health-before-weight verification timed out on the ALB health check; the
// abort was verified and only v2 answered afterwards.
func checkAbort(t *testing.T, res *Result, sc *ScenarioResult) {
	t.Helper()
	if sc.Outcome != OutcomeAborted {
		t.Fatalf("abort: %s %s", sc.Outcome, sc.Err)
	}
	for _, s := range res.Samples {
		if s.Scenario == ScenarioAbort && (s.Versions["v3"] > 0 || s.Verified > 0) {
			t.Errorf("abort sample at %s: v3 answered %d, verified share %d%%", s.At, s.Versions["v3"], s.Verified)
		}
	}
	if sc.ByVersion["v3"] != 0 {
		t.Errorf("v3 answered %d requests", sc.ByVersion["v3"])
	}
	var timedOut, aborted bool
	for _, s := range sc.Steps {
		switch {
		case s.Phase == string(v1alpha1.VerificationTimedOut):
			timedOut = true
			if !strings.Contains(s.Message, "Target.ResponseCodeMismatch") {
				t.Errorf("timed-out verification does not name the health check failure: %s", s.Message)
			}
		case s.Kind == string(v1alpha1.VerificationAbort) && s.Phase == string(v1alpha1.VerificationVerified):
			aborted = true
		}
	}
	if !timedOut || !aborted {
		t.Errorf("abort steps %+v", sc.Steps)
	}
	if sc.AfterEnd["v2"] == 0 || sc.AfterEnd["v3"] != 0 {
		t.Errorf("after the abort: %v", sc.AfterEnd)
	}
	if !strings.Contains(sc.Message, "RolloutAborted") {
		t.Errorf("rollout message %q", sc.Message)
	}
}

// checkAnalysis: the bad v4 got its 10 % (verified) and answered; its step
// analysis measured the ALB's 5xx ratio and failed; no larger share was
// verified; the abort was verified, nothing failed after it and only v2
// answered.
func checkAnalysis(t *testing.T, res *Result, sc *ScenarioResult) {
	t.Helper()
	if sc.Outcome != OutcomeAborted {
		t.Fatalf("analysis: %s %s", sc.Outcome, sc.Err)
	}
	var at10, aborted bool
	for _, s := range sc.Steps {
		switch {
		case s.Kind == string(v1alpha1.VerificationCanaryWeight) && s.Phase == string(v1alpha1.VerificationVerified):
			if s.Desired != 10 {
				t.Errorf("a shift to %d%% of the bad v4 verified", s.Desired)
			}
			at10 = true
		case s.Kind == string(v1alpha1.VerificationAbort) && s.Phase == string(v1alpha1.VerificationVerified):
			aborted = true
		}
	}
	if !at10 || !aborted {
		t.Errorf("analysis steps %+v", sc.Steps)
	}
	failed := slices.IndexFunc(sc.Analysis, func(v AnalysisRunView) bool {
		return v.Kind == "Step" && v.Phase == string(v1alpha1.AnalysisPhaseFailed) &&
			slices.ContainsFunc(v.Metrics, func(m MetricView) bool {
				return m.Name == "canary-5xx-ratio" && m.Phase == string(v1alpha1.AnalysisPhaseFailed) && m.LastValue != ""
			})
	})
	if failed < 0 {
		t.Errorf("no failed step analysis run with a failed canary-5xx-ratio measurement: %+v", sc.Analysis)
	}
	if sc.ByVersion["v4"] == 0 || sc.Failed != sc.CanaryFailed || sc.FailedAfterEnd != 0 {
		t.Errorf("v4 answered %d, %d failed (%d its own 500s, %d after the abort)", sc.ByVersion["v4"], sc.Failed, sc.CanaryFailed, sc.FailedAfterEnd)
	}
	if sc.AfterEnd["v2"] == 0 || sc.AfterEnd["v4"] != 0 {
		t.Errorf("after the abort: %v", sc.AfterEnd)
	}
	if !strings.Contains(sc.Message, "analysis") {
		t.Errorf("rollout message %q does not name the analysis", sc.Message)
	}
}

// checkBlueGreen: every verification passed, the switch among them, only
// green afterwards.
func checkBlueGreen(t *testing.T, res *Result, sc *ScenarioResult) {
	t.Helper()
	if sc.Outcome != OutcomeSwitched {
		t.Fatalf("bluegreen: %s %s", sc.Outcome, sc.Err)
	}
	switched := false
	for _, s := range sc.Steps {
		if s.Phase != string(v1alpha1.VerificationVerified) {
			t.Errorf("blue-green step %s: %s %s", s.Label, s.Phase, s.Message)
		}
		switched = switched || s.Desired == 100
	}
	if !switched {
		t.Errorf("no verified switch: %+v", sc.Steps)
	}
	if sc.AfterEnd["green"] == 0 || sc.AfterEnd["blue"] != 0 {
		t.Errorf("after the switch: %v", sc.AfterEnd)
	}
}

// Ctrl-C in the middle of a scenario: Run returns, and nothing it started
// is left: no control-plane process, nothing listening on the ELBv2 API, the
// ALB listeners or the pods.
func TestDemoInterruptStopsEverything(t *testing.T) {
	var out syncBuffer
	o := e2eOptions(t, ScenarioCanary, &out)
	dir, err := os.MkdirTemp("", "albrollouts-demo-test-")
	if err != nil {
		t.Fatal(err)
	}
	keepDirOnFailure(t, dir)
	o.Dir = dir
	o.ReportPath = filepath.Join(dir, "demo-report.html")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interruptedAt := make(chan Event, 1)
	o.OnEvent = func(e Event) {
		// The first verified canary step: in the middle of the scenario,
		// with traffic flowing and pods running.
		if e.Scenario == ScenarioCanary && e.Verification && e.Level == levelOK {
			select {
			case interruptedAt <- e:
				cancel()
			default:
			}
		}
	}
	res, err := Run(ctx, o)
	t.Logf("demo output:\n%s", out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	select {
	case e := <-interruptedAt:
		t.Logf("interrupted after %q", e.Text)
	default:
		t.Fatal("the scenario ended before the first verified step")
	}
	if !res.Interrupted || len(res.Scenarios) != 1 || res.Scenarios[0].Outcome != OutcomeInterrupted {
		t.Errorf("interrupted %t, scenarios %+v", res.Interrupted, res.Scenarios)
	}
	if res.Dir == "" {
		t.Errorf("the logs of an interrupted run are not kept")
	}
	if len(res.Addresses) < 3 {
		t.Errorf("addresses %v: want the ELBv2 API, the listener and the pods", res.Addresses)
	}
	checkStopped(t, res, dir)
}

// checkStopped: no process runs from dir, nothing accepts connections on
// the run's addresses, the pid file is gone.
func checkStopped(t *testing.T, res *Result, dir string) {
	t.Helper()
	if pids := processesUsing(dir); len(pids) > 0 {
		t.Errorf("processes still running from %s: %v", dir, pids)
	}
	for _, a := range res.Addresses {
		if c, err := net.DialTimeout("tcp", a, 2*time.Second); err == nil {
			_ = c.Close()
			t.Errorf("%s still accepts connections", a)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "albrollouts-local.pid")); err == nil {
		t.Errorf("pid file left in %s", dir)
	}
}

// processesUsing lists the live processes whose command line names dir.
func processesUsing(dir string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), dir) || !alive(pid) {
			continue
		}
		out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
	}
	return out
}
