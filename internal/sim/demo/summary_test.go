package demo

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

func verifiedStep(sc, kind, label string, desired int, at time.Duration) Step {
	return Step{Scenario: sc, Kind: kind, Label: label, Desired: desired, Phase: "Verified", Reason: "WeightsVerified",
		Started: at, Finished: at + time.Second, Attempts: 2, Measured: float64(desired), Requests: 40, Targets: "canary 1/1, stable 2/2 healthy"}
}

// goodResult is a run in which everything went as the demo promises.
func goodResult() *Result {
	canary := ScenarioResult{Name: ScenarioCanary, From: "v1", To: "v2", Outcome: OutcomePromoted, Expected: OutcomePromoted,
		Requests: 600, ByVersion: map[string]int{"v1": 350, "v2": 250}, AfterEnd: map[string]int{"v2": 40}, Duration: 30 * time.Second}
	for i, w := range []int{10, 25, 50, 100} {
		label := "setWeight " + []string{"10", "25", "50"}[min(i, 2)]
		if w == 100 {
			label = "100% on v2"
		}
		canary.Steps = append(canary.Steps, verifiedStep(ScenarioCanary, "CanaryWeight", label, w, time.Duration(10+5*i)*time.Second))
	}
	canary.Steps[0].HealthFirst = &HealthCheck{Started: 8 * time.Second, Finished: 9 * time.Second, Phase: PhasePassed}
	canary.Steps = append(canary.Steps, verifiedStep(ScenarioCanary, "Promotion", "promotion of v2", 100, 32*time.Second))
	abort := ScenarioResult{Name: ScenarioAbort, From: "v2", To: "v3", Outcome: OutcomeAborted, Expected: OutcomeAborted,
		Requests: 300, ByVersion: map[string]int{"v2": 300}, AfterEnd: map[string]int{"v2": 40}, Duration: 25 * time.Second,
		Steps: []Step{
			{Scenario: ScenarioAbort, Kind: "TargetHealth", Label: "v3 healthy before 10%", Phase: "TimedOut", Reason: "VerificationTimedOut",
				Message: "canary targets 0/1 healthy (127.5.0.3:8080 unhealthy Target.ResponseCodeMismatch) <&>", Started: 50 * time.Second, Finished: 65 * time.Second},
			verifiedStep(ScenarioAbort, "Abort", "abort: all traffic on v2", 0, 66*time.Second),
		}}
	bg := ScenarioResult{Name: ScenarioBlueGreen, From: "blue", To: "green", Outcome: OutcomeSwitched, Expected: OutcomeSwitched,
		Requests: 200, ByVersion: map[string]int{"blue": 100, "green": 100}, AfterEnd: map[string]int{"green": 40}, Duration: 20 * time.Second,
		Steps: []Step{verifiedStep(ScenarioBlueGreen, "BlueGreenSwitch", "switch to green", 100, 90*time.Second)}}
	r := &Result{Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Duration: 2 * time.Minute, Scenarios: []ScenarioResult{canary, abort, bg},
		Requests: 1100, ELBV2Calls: 120}
	for i := range 200 {
		sc := ScenarioCanary
		switch {
		case i >= 160:
			sc = ScenarioBlueGreen
		case i >= 100:
			sc = ScenarioAbort
		}
		r.Samples = append(r.Samples, Sample{At: time.Duration(i) * 500 * time.Millisecond, Scenario: sc, Desired: i % 101, Verified: i % 50,
			Measured: float64(i%100) + 0.5, MeasuredFresh: true, Requests: 10, Versions: map[string]int{"v1": 10}})
	}
	r.Events = []Event{
		{At: 11 * time.Second, Scenario: ScenarioCanary, Level: levelOK, Text: "verified setWeight 10", Verification: true},
		{At: 65 * time.Second, Scenario: ScenarioAbort, Level: levelError, Text: "v3 healthy before 10% timed out: <unhealthy> & \"more\"", Verification: true},
		{At: 66 * time.Second, Scenario: ScenarioAbort, Level: levelWarn, Text: "rollout aborted"},
	}
	return r
}

func TestProblemsOfAGoodRun(t *testing.T) {
	if p := goodResult().Problems(); len(p) != 0 {
		t.Fatalf("problems of a good run: %q", p)
	}
}

// Every promise the demo makes, broken one at a time, is reported.
func TestProblemsFindEachBrokenPromise(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(r *Result)
		want   string
	}{
		{"a failed request", func(r *Result) { r.Failed = 1 }, "1 of 1100 requests failed"},
		{"interrupted", func(r *Result) { r.Interrupted = true }, "interrupted"},
		{"canary not promoted", func(r *Result) { r.Scenarios[0].Outcome, r.Scenarios[0].Err = OutcomeFailed, "boom" }, "canary: expected promoted, got failed: boom"},
		{"a canary step not verified", func(r *Result) { r.Scenarios[0].Steps[1].Phase = "TimedOut" }, "canary: setWeight 25: TimedOut"},
		{"a canary step missing", func(r *Result) {
			r.Scenarios[0].Steps = slices.Delete(r.Scenarios[0].Steps, 2, 3)
		}, "the shift to 50% on v2 was never verified"},
		{"no promotion", func(r *Result) { r.Scenarios[0].Steps = r.Scenarios[0].Steps[:4] }, "canary: the promotion was never verified"},
		{"v1 answering after the promotion", func(r *Result) { r.Scenarios[0].AfterEnd["v1"] = 3 }, "canary: v1 still answered 3 requests after the promotion"},
		{"nobody answering after the promotion", func(r *Result) { r.Scenarios[0].AfterEnd = map[string]int{} }, "canary: no answer from v2 after the promotion"},
		{"no traffic at all", func(r *Result) { r.Scenarios[0].Requests = 0 }, "canary: no request was answered"},
		{"the broken version answered", func(r *Result) { r.Scenarios[1].ByVersion["v3"] = 2 }, "abort: the broken v3 answered 2 requests"},
		{"a shift to the broken version verified", func(r *Result) {
			r.Scenarios[1].Steps = append(r.Scenarios[1].Steps, verifiedStep(ScenarioAbort, "CanaryWeight", "setWeight 10", 10, time.Minute))
		}, "abort: a shift of 10% to the broken v3 was verified"},
		{"no timeout", func(r *Result) { r.Scenarios[1].Steps = r.Scenarios[1].Steps[1:] }, "abort: no verification of the broken v3 timed out"},
		{"abort not verified", func(r *Result) { r.Scenarios[1].Steps[1].Phase = "Pending" }, "abort: the abort (all traffic on v2) was never verified"},
		{"v3 after the abort", func(r *Result) { r.Scenarios[1].AfterEnd["v3"] = 1 }, "abort: v3 still answered 1 requests after the abort"},
		{"not aborted", func(r *Result) { r.Scenarios[1].Outcome = OutcomePromoted }, "abort: expected aborted, got promoted"},
		{"switch not verified", func(r *Result) { r.Scenarios[2].Steps[0].Phase = "TimedOut" }, "bluegreen: the switch to green was never verified"},
		{"blue after the switch", func(r *Result) { r.Scenarios[2].AfterEnd["blue"] = 4 }, "bluegreen: blue still answered 4 requests after the switch"},
		{"no verification at all", func(r *Result) { r.Scenarios[2].Steps = nil }, "bluegreen: no verification was seen"},
	}
	for _, c := range cases {
		r := goodResult()
		c.mutate(r)
		p := r.Problems()
		if !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, c.want) }) {
			t.Errorf("%s: problems %q lack %q", c.name, p, c.want)
		}
	}
}

func TestWriteSummary(t *testing.T) {
	r := goodResult()
	r.ReportPath = "demo-report.html"
	var b bytes.Buffer
	if err := WriteSummary(&b, r, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"SCENARIO", "HEALTH FIRST", "setWeight 10", "promotion of v2", "TimedOut VerificationTimedOut", "abort: all traffic on v2",
		"canary     promoted", "1100 requests, 0 failed", "120 ELBv2 API calls", "report: demo-report.html", "all checks passed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colours without a terminal:\n%s", out)
	}
	r.Failed = 2
	b.Reset()
	_ = WriteSummary(&b, r, true)
	if !strings.Contains(b.String(), "problems:") || !strings.Contains(b.String(), "2 of 1100 requests failed") || !strings.Contains(b.String(), "\x1b[31m") {
		t.Errorf("summary of a failed run:\n%s", b.String())
	}
}

func TestWriteSummaryInterrupted(t *testing.T) {
	r := goodResult()
	r.Interrupted = true
	r.Scenarios[2].Outcome = OutcomeInterrupted
	var b bytes.Buffer
	_ = WriteSummary(&b, r, false)
	if !strings.Contains(b.String(), "interrupted: the scenarios did not finish") || strings.Contains(b.String(), "problems:") || strings.Contains(b.String(), "all checks passed") {
		t.Errorf("summary of an interrupted run:\n%s", b.String())
	}
}
