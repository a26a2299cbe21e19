package demo

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Problems lists what went against the demo's promise, in words; empty when
// every check passed: no failed request; each scenario reached the outcome
// it is meant to; for the canary every step verified (10, 25, 50 and 100,
// then the promotion) and only v2 answering afterwards; for the broken
// version no verified shift towards it, its verification timed out, the
// abort verified and only the previous version answering afterwards; for
// blue-green every verification passed, the switch among them, and only the
// new version answering afterwards; for the bad version of the analysis
// scenario its step analysis failed, no shift beyond 10 % verified, the
// abort verified, and every failed request its own answer before the
// abort.
func (r *Result) Problems() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if r.Interrupted {
		add("the demo was interrupted")
	}
	if n := r.unexpectedFailed(); n > 0 {
		add("%d of %d requests failed%s", n, r.Requests, r.canaryFailedText())
	}
	for i := range r.Scenarios {
		sc := &r.Scenarios[i]
		if sc.Outcome != sc.Expected {
			msg := fmt.Sprintf("%s: expected %s, got %s", sc.Name, sc.Expected, orDash(sc.Outcome))
			if sc.Err != "" {
				msg += ": " + sc.Err
			}
			add("%s", msg)
			continue
		}
		if sc.Requests == 0 {
			add("%s: no request was answered", sc.Name)
		}
		switch sc.Name {
		case ScenarioCanary:
			p = append(p, allVerified(sc)...)
			for _, w := range append(append([]int(nil), intWeights()...), 100) {
				if !hasStep(sc, func(s Step) bool {
					return s.Kind == string(v1alpha1.VerificationCanaryWeight) && s.Desired == w && s.Phase == string(v1alpha1.VerificationVerified)
				}) {
					add("%s: the shift to %d%% on %s was never verified", sc.Name, w, sc.To)
				}
			}
			if !hasStep(sc, func(s Step) bool {
				return s.Kind == string(v1alpha1.VerificationPromotion) && s.Phase == string(v1alpha1.VerificationVerified)
			}) {
				add("%s: the promotion was never verified", sc.Name)
			}
			p = append(p, onlyAfter(sc, sc.To, sc.From, "the promotion")...)
		case ScenarioAbort:
			if n := sc.ByVersion[sc.To]; n > 0 {
				add("%s: the broken %s answered %d requests", sc.Name, sc.To, n)
			}
			for _, s := range sc.Steps {
				if s.Desired > 0 && s.Phase == string(v1alpha1.VerificationVerified) {
					add("%s: a shift of %d%% to the broken %s was verified (%s)", sc.Name, s.Desired, sc.To, s.Label)
				}
			}
			if !hasStep(sc, func(s Step) bool { return s.Phase == string(v1alpha1.VerificationTimedOut) }) {
				add("%s: no verification of the broken %s timed out", sc.Name, sc.To)
			}
			if !hasStep(sc, func(s Step) bool {
				return s.Kind == string(v1alpha1.VerificationAbort) && s.Phase == string(v1alpha1.VerificationVerified)
			}) {
				add("%s: the abort (all traffic on %s) was never verified", sc.Name, sc.From)
			}
			p = append(p, onlyAfter(sc, sc.From, sc.To, "the abort")...)
		case ScenarioAnalysis:
			p = append(p, analysisProblems(sc)...)
		case ScenarioBlueGreen:
			p = append(p, allVerified(sc)...)
			if !hasStep(sc, func(s Step) bool { return s.Desired == 100 && s.Phase == string(v1alpha1.VerificationVerified) }) {
				add("%s: the switch to %s was never verified", sc.Name, sc.To)
			}
			p = append(p, onlyAfter(sc, sc.To, sc.From, "the switch")...)
		}
	}
	return p
}

// checked says what Problems checked, per scenario run.
func (r *Result) checked() []string {
	var out []string
	for _, sc := range r.Scenarios {
		switch sc.Name {
		case ScenarioCanary:
			out = append(out, fmt.Sprintf("every canary step to %s verified", sc.To))
		case ScenarioAbort:
			out = append(out, fmt.Sprintf("the broken %s never verified, aborted, traffic verified back on %s", sc.To, sc.From))
		case ScenarioAnalysis:
			out = append(out, fmt.Sprintf("the bad %s failed its step analysis, aborted at %d%%, traffic verified back on %s", sc.To, canaryWeights[0], sc.From))
		case ScenarioBlueGreen:
			out = append(out, fmt.Sprintf("the blue-green switch to %s verified", sc.To))
		}
	}
	return append(out, fmt.Sprintf("%d failed requests%s", r.unexpectedFailed(), r.canaryFailedText()))
}

// canaryFailed counts the failed requests the analysis scenarios' bad
// versions answered themselves (what the analysis judged them by).
func (r *Result) canaryFailed() int {
	n := 0
	for _, sc := range r.Scenarios {
		if sc.Name == ScenarioAnalysis {
			n += sc.CanaryFailed
		}
	}
	return n
}

// unexpectedFailed counts the failed requests but those.
func (r *Result) unexpectedFailed() int { return r.Failed - r.canaryFailed() }

func (r *Result) canaryFailedText() string {
	if n := r.canaryFailed(); n > 0 {
		return fmt.Sprintf(" (besides the bad canary's own %s before its analysis failed)", plural(n, "500"))
	}
	return ""
}

// analysisProblems: the bad version got weight (its answers are what the
// analysis judged), no shift beyond the first was verified, a run failed,
// the abort was verified, every failed request was the bad version's own
// answer, none after the abort, and only the previous version answered
// afterwards.
func analysisProblems(sc *ScenarioResult) []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if sc.ByVersion[sc.To] == 0 {
		add("%s: the bad %s never answered: the analysis had nothing to judge", sc.Name, sc.To)
	}
	for _, s := range sc.Steps {
		if s.Desired > int(canaryWeights[0]) && s.Phase == string(v1alpha1.VerificationVerified) {
			add("%s: a shift of %d%% to the bad %s was verified (%s)", sc.Name, s.Desired, sc.To, s.Label)
		}
	}
	if !slices.ContainsFunc(sc.Analysis, func(v AnalysisRunView) bool { return v.Phase == string(v1alpha1.AnalysisPhaseFailed) }) {
		add("%s: no analysis run of %s failed", sc.Name, sc.To)
	}
	if !hasStep(sc, func(s Step) bool {
		return s.Kind == string(v1alpha1.VerificationAbort) && s.Phase == string(v1alpha1.VerificationVerified)
	}) {
		add("%s: the abort (all traffic on %s) was never verified", sc.Name, sc.From)
	}
	if n := sc.Failed - sc.CanaryFailed; n > 0 {
		add("%s: %d failed requests were not the bad %s's own answers", sc.Name, n, sc.To)
	}
	if sc.FailedAfterEnd > 0 {
		add("%s: %d requests failed after the abort was verified", sc.Name, sc.FailedAfterEnd)
	}
	return append(p, onlyAfter(sc, sc.From, sc.To, "the abort")...)
}

// healthFirstText is how long the health-before-weight check took.
func healthFirstText(h *HealthCheck) string {
	if h == nil {
		return "-"
	}
	if h.Finished == 0 {
		return "pending"
	}
	return (h.Finished - h.Started).Round(100 * time.Millisecond).String()
}

func intWeights() []int {
	out := make([]int, 0, len(canaryWeights))
	for _, w := range canaryWeights {
		out = append(out, int(w))
	}
	return out
}

func hasStep(sc *ScenarioResult, f func(Step) bool) bool { return slices.ContainsFunc(sc.Steps, f) }

func allVerified(sc *ScenarioResult) []string {
	var p []string
	if len(sc.Steps) == 0 {
		p = append(p, sc.Name+": no verification was seen")
	}
	for _, s := range sc.Steps {
		if s.Phase != string(v1alpha1.VerificationVerified) {
			p = append(p, fmt.Sprintf("%s: %s: %s %s %s", sc.Name, s.Label, orDash(s.Phase), s.Reason, firstLine(s.Message)))
		}
	}
	return p
}

// onlyAfter: after the outcome, want answered and other did not.
func onlyAfter(sc *ScenarioResult, want, other, what string) []string {
	var p []string
	if sc.AfterEnd[want] == 0 {
		p = append(p, fmt.Sprintf("%s: no answer from %s after %s", sc.Name, want, what))
	}
	if n := sc.AfterEnd[other]; n > 0 {
		p = append(p, fmt.Sprintf("%s: %s still answered %d requests after %s", sc.Name, other, n, what))
	}
	return p
}

// WriteSummary writes the summary table of a run: one row per verified
// shift, one line per scenario, the totals and the checks.
func WriteSummary(w io.Writer, r *Result, color bool) error {
	paint := func(code, s string) string {
		if !color || code == "" {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	var b strings.Builder
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "SCENARIO\tSTEP\tDESIRED\tHEALTH FIRST\tVERIFICATION\tTOOK\tMEASURED\tREQUESTS\tFAILED\tTARGETS")
	for _, sc := range r.Scenarios {
		for _, s := range sc.Steps {
			took := "-"
			if s.Finished > 0 {
				took = s.Took().Round(100 * time.Millisecond).String()
			}
			measured := "-"
			if s.Measured >= 0 {
				measured = fmt.Sprintf("%.1f%% %s", s.Measured, sc.To)
			}
			phase := orDash(s.Phase)
			if s.Phase != string(v1alpha1.VerificationVerified) && s.Reason != "" {
				phase += " " + s.Reason
			}
			_, _ = fmt.Fprintf(tw, "%s\t%s\t%d%%\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", sc.Name, s.Label, s.Desired, healthFirstText(s.HealthFirst), phase, took, measured, s.Requests, s.Failed, orDash(s.Targets))
		}
	}
	_ = tw.Flush()
	writeAnalysisSummary(&b, r)
	b.WriteString("\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, sc := range r.Scenarios {
		outcome := orDash(sc.Outcome)
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\tanswered by %s\n", sc.Name, outcome, sc.Duration.Round(100*time.Millisecond), failedText(&sc), versionsText(sc.ByVersion))
	}
	_ = tw.Flush()
	_, _ = fmt.Fprintf(&b, "\n%d scenario(s) in %s: %d requests, %d failed; the controller made %.0f ELBv2 API calls\n",
		len(r.Scenarios), r.Duration.Round(100*time.Millisecond), r.Requests, r.Failed, r.ELBV2Calls)
	if r.ReportPath != "" {
		_, _ = fmt.Fprintf(&b, "report: %s\n", r.ReportPath)
	}
	if r.Dir != "" {
		_, _ = fmt.Fprintf(&b, "logs: %s\n", r.Dir)
	}
	if r.Interrupted {
		b.WriteString("\n" + paint(sgrYellow, "interrupted: the scenarios did not finish") + "\n")
	} else if p := r.Problems(); len(p) > 0 {
		b.WriteString("\n" + paint(sgrRed, "problems:") + "\n")
		for _, s := range p {
			b.WriteString("  - " + s + "\n")
		}
	} else {
		b.WriteString("\n" + paint(sgrGreen, "all checks passed: "+strings.Join(r.checked(), "; ")) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func versionsText(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, v := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", v, m[v]))
	}
	return strings.Join(parts, ", ")
}

// failedText is a scenario's requests and failures: "640 requests, 0
// failed", or for the analysis scenario "920 requests, 6 failed (6 the bad
// v4's own 500s, 0 after the abort)".
func failedText(sc *ScenarioResult) string {
	t := fmt.Sprintf("%d requests, %d failed", sc.Requests, sc.Failed)
	if sc.Name == ScenarioAnalysis && sc.Failed > 0 {
		t += fmt.Sprintf(" (%d the bad %s's own 500s, %d after the abort)", sc.CanaryFailed, sc.To, sc.FailedAfterEnd)
	}
	return t
}

// writeAnalysisSummary writes one row per metric of each AnalysisRun the
// scenarios saw (nothing when there was none).
func writeAnalysisSummary(b *strings.Builder, r *Result) {
	rows := 0
	for _, sc := range r.Scenarios {
		rows += len(sc.Analysis)
	}
	if rows == 0 {
		return
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "SCENARIO\tANALYSIS RUN\tKIND\tPHASE\tTOOK\tMETRIC\tMETRIC PHASE\tMEASUREMENTS\tLAST VALUE")
	for _, sc := range r.Scenarios {
		for _, v := range sc.Analysis {
			took := "-"
			if v.Finished > 0 {
				took = (v.Finished - v.Started).Round(100 * time.Millisecond).String()
			}
			if len(v.Metrics) == 0 {
				_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t-\t-\t-\t-\n", sc.Name, v.Name, v.Kind, v.Phase, took)
			}
			for i, m := range v.Metrics {
				run := []any{sc.Name, v.Name, v.Kind, v.Phase, took}
				if i > 0 {
					run = []any{"", "", "", "", ""}
				}
				_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", append(run, m.Name, m.Phase, countsText(m), orDash(shortValue(m.LastValue)))...)
			}
		}
	}
	_ = tw.Flush()
}
