package demo

import (
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/loadgen"
)

// Scenario names (--scenario).
const (
	ScenarioCanary    = "canary"
	ScenarioAbort     = "abort"
	ScenarioAnalysis  = "analysis"
	ScenarioBlueGreen = "bluegreen"
	ScenarioAll       = "all"
)

// Scenarios are the scenarios of --scenario all, in the order they run.
var Scenarios = []string{ScenarioCanary, ScenarioAbort, ScenarioAnalysis, ScenarioBlueGreen}

// Sample is one point of the demo's time series, taken every
// Options.SampleInterval while a scenario runs.
type Sample struct {
	// At is the time since the run started.
	At time.Duration `json:"at"`
	// Scenario is the scenario it belongs to.
	Scenario string `json:"scenario"`
	// Desired is the share of traffic (percent) the controller is moving to
	// the scenario's new version.
	Desired int `json:"desired"`
	// Verified is the new version's share as last verified on the ALB.
	Verified int `json:"verified"`
	// Measured is the new version's share (percent) of the successful answers
	// in the last second (this sample's window and the one before it); the
	// previous sample's value when none came (MeasuredFresh false).
	Measured      float64 `json:"measured"`
	MeasuredFresh bool    `json:"measuredFresh"`
	// Requests and Failed count the traffic generator's answers in the
	// window; Versions the successful ones per app version.
	Requests int            `json:"requests"`
	Failed   int            `json:"failed"`
	Versions map[string]int `json:"versions,omitempty"`
	// Targets is the health of each target group of the rollout, read
	// through the ELBv2 API.
	Targets []TargetHealth `json:"targets,omitempty"`
	// Phase is the rollout's phase.
	Phase string `json:"phase"`
}

// TargetHealth counts the targets of one target group by ELBv2 state.
type TargetHealth struct {
	Role    string         `json:"role"` // stable, canary, active, preview
	Service string         `json:"service"`
	States  map[string]int `json:"states"` // healthy, initial, unhealthy, draining, ...
	// Reasons are the reason codes of targets that are not healthy, e.g.
	// Target.ResponseCodeMismatch.
	Reasons []string `json:"reasons,omitempty"`
}

// Healthy is the number of healthy targets.
func (t TargetHealth) Healthy() int { return t.States["healthy"] }

// Total is the number of registered targets, draining ones included.
func (t TargetHealth) Total() int {
	n := 0
	for _, c := range t.States {
		n += c
	}
	return n
}

// Step is one verified traffic shift of a scenario: one verification the
// controller ran (status.verification, told apart by its fingerprint and
// start), with what the traffic generator measured while it was in force.
type Step struct {
	Scenario string `json:"scenario"`
	// Kind is the verification kind: CanaryWeight, TargetHealth, Promotion,
	// Abort, BlueGreenSwitch.
	Kind string `json:"kind"`
	// Label says what the step is for people: "setWeight 25", "abort", ...
	Label string `json:"label"`
	// Desired is the new version's share this verification expects.
	Desired int `json:"desired"`
	// Phase is the verification's outcome: Verified, TimedOut, Failed, or
	// Pending when the scenario ended first.
	Phase   string `json:"phase"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Started and Finished are times since the run started (Finished is 0
	// while pending).
	Started  time.Duration `json:"started"`
	Finished time.Duration `json:"finished,omitempty"`
	Attempts int32         `json:"attempts"`
	// Targets summarises the verification's target health ("canary 1/1,
	// stable 2/2 healthy").
	Targets string `json:"targets,omitempty"`
	// HealthFirst is the health-before-weight check that preceded this
	// shift: the pods about to get more traffic registered and healthy in
	// their target group (the ALB health-checks a group at weight 0 too),
	// before the controller wrote the weights. Nil when there was none.
	HealthFirst *HealthCheck `json:"healthFirst,omitempty"`
	// Measured is the new version's measured share while the step was in
	// force (from Finished, or Started, to the next step); -1 when no answer
	// came. Requests and Failed count the answers from Started to the next
	// step.
	Measured float64 `json:"measured"`
	Requests int     `json:"requests"`
	Failed   int     `json:"failed"`
}

// HealthCheck is a health-before-weight check (a TargetHealth verification).
type HealthCheck struct {
	Started  time.Duration `json:"started"`
	Finished time.Duration `json:"finished,omitempty"`
	// Phase is Verified when the status showed it so, Passed when the
	// controller went on to write the next weights (it does so in the same
	// status update in which the check passes, so the Verified phase is
	// never written), Pending while neither happened.
	Phase    string `json:"phase"`
	Attempts int32  `json:"attempts"`
	Targets  string `json:"targets,omitempty"`
}

// Passed phase of a HealthCheck: superseded by the shift it guarded.
const PhasePassed = "Passed"

// Took is how long the verification took (0 while pending).
func (s Step) Took() time.Duration {
	if s.Finished == 0 {
		return 0
	}
	return s.Finished - s.Started
}

// Event is something worth a line in the log and a mark on the chart.
type Event struct {
	At       time.Duration `json:"at"`
	Scenario string        `json:"scenario"`
	// Level is info, ok (a verification passed), warn or error.
	Level string `json:"level"`
	Text  string `json:"text"`
	// Verification is true for verification outcomes (marked on the chart).
	Verification bool `json:"verification,omitempty"`
}

// Event levels.
const (
	levelInfo  = "info"
	levelOK    = "ok"
	levelWarn  = "warn"
	levelError = "error"
)

// ScenarioResult is what one scenario did.
type ScenarioResult struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// From and To are the versions: the one serving before and the new one.
	From string `json:"from"`
	To   string `json:"to"`
	// Outcome is promoted, aborted, switched, interrupted or failed.
	Outcome string `json:"outcome"`
	// Expected is the outcome the scenario is meant to have.
	Expected string `json:"expected"`
	// Err explains a failed scenario.
	Err      string        `json:"error,omitempty"`
	Started  time.Duration `json:"started"`
	Duration time.Duration `json:"duration"`
	Steps    []Step        `json:"steps"`
	Requests int           `json:"requests"`
	Failed   int           `json:"failed"`
	// ByVersion counts the successful answers per version.
	ByVersion map[string]int `json:"byVersion"`
	// AfterEnd counts the successful answers per version after the rollout
	// reached its outcome (promotion, abort or switch verified).
	AfterEnd map[string]int `json:"afterEnd"`
	// Message is the rollout's status message at the end.
	Message string `json:"message,omitempty"`
	// Analysis are the AnalysisRuns of the update, as last seen.
	Analysis []AnalysisRunView `json:"analysis,omitempty"`
	// CanaryFailed counts the failed requests that were the new version's
	// own answers (HTTP 500 from it): the requests a bad canary took while
	// it had weight. FailedAfterEnd counts the failed requests after the
	// outcome was reached.
	CanaryFailed   int `json:"canaryFailed,omitempty"`
	FailedAfterEnd int `json:"failedAfterEnd,omitempty"`
}

// AnalysisRunView is one AnalysisRun of a scenario: its phase and each
// metric's results.
type AnalysisRunView struct {
	Name string `json:"name"`
	// Kind is the rollout-type label: Step, Background, PrePromotion,
	// PostPromotion.
	Kind    string `json:"kind"`
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
	// Started and Finished are times since the run started (Finished 0
	// while it runs).
	Started  time.Duration `json:"started"`
	Finished time.Duration `json:"finished,omitempty"`
	Metrics  []MetricView  `json:"metrics,omitempty"`
}

// MetricView is one metric's results in an AnalysisRun.
type MetricView struct {
	Name  string `json:"name"`
	Phase string `json:"phase"`
	// Measurements counts the measurements taken (Count + Error).
	Measurements int32 `json:"measurements"`
	Successful   int32 `json:"successful"`
	Failed       int32 `json:"failed"`
	Inconclusive int32 `json:"inconclusive"`
	Error        int32 `json:"error"`
	// Last is the newest measurement's phase and value.
	LastPhase string `json:"lastPhase,omitempty"`
	LastValue string `json:"lastValue,omitempty"`
	Message   string `json:"message,omitempty"`
}

// Outcomes.
const (
	OutcomePromoted    = "promoted"
	OutcomeAborted     = "aborted"
	OutcomeSwitched    = "switched"
	OutcomeInterrupted = "interrupted"
	OutcomeFailed      = "failed"
)

// Result is everything a demo run saw.
type Result struct {
	Started   time.Time        `json:"started"`
	Duration  time.Duration    `json:"duration"`
	Scenarios []ScenarioResult `json:"scenarios"`
	Samples   []Sample         `json:"samples"`
	Events    []Event          `json:"events"`
	// Failures are the failed requests (at most 200 per scenario kept).
	Failures []Failure `json:"failures,omitempty"`
	Requests int       `json:"requests"`
	Failed   int       `json:"failed"`
	// SampleInterval is the time between two samples.
	SampleInterval time.Duration `json:"sampleInterval"`
	// ELBV2Calls is the number of ELBv2 API calls the controller made.
	ELBV2Calls float64 `json:"elbv2Calls"`
	// ReportPath is where the HTML report was written ("" if not).
	ReportPath string `json:"reportPath,omitempty"`
	// Interrupted is true when the context was cancelled.
	Interrupted bool `json:"interrupted"`
	// Dir holds the environment's logs.
	Dir string `json:"dir"`
	// Addresses the run listened on (the ELBv2 API, ALB listeners, pods);
	// all closed once Run returns.
	Addresses []string `json:"addresses,omitempty"`
}

// Failure is a failed request of a scenario.
type Failure struct {
	Scenario string        `json:"scenario"`
	At       time.Duration `json:"at"`
	loadgen.Failure
}
