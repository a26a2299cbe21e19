package demo

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// The report is one self-contained XHTML page (parseable as XML): a chart
// in inline SVG, the per-step and per-scenario tables, the checks and the
// events. No script, no external style sheet or font.

// Chart geometry (SVG user units).
const (
	chartW      = 960
	chartH      = 380
	chartLeft   = 48
	chartRight  = 16
	chartTop    = 34
	chartBottom = 56
)

// Series names, as the data-series attribute of their polylines.
const (
	SeriesDesired  = "desired"
	SeriesVerified = "verified"
	SeriesMeasured = "measured"
)

func writeReportFile(path string, r *Result) error {
	var b bytes.Buffer
	if err := WriteReport(&b, r); err != nil {
		return err
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write report %s: %w", path, err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// esc escapes text for XML content and attributes.
func esc(s string) string { return html.EscapeString(s) }

// WriteReport writes the HTML report of a run.
func WriteReport(w io.Writer, r *Result) error {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>albrollouts demo report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1040px;color:#1d2430;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#5b6472;margin:0 0 16px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#f4f6f8;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#137333}.bad{color:#b3261e}.warn{color:#9a6700}
.checks li{margin:2px 0}
svg{width:100%;height:auto;background:#fff;border:1px solid #e3e6ea;border-radius:6px}
svg text{font:11px system-ui,sans-serif;fill:#5b6472}
svg .band{fill:#f6f8fa}svg .band.alt{fill:#eef2f6}
svg .grid{stroke:#e3e6ea;stroke-width:1}
svg .series{fill:none;stroke-linejoin:round}
svg .desired{stroke:#1a73e8;stroke-width:2;stroke-dasharray:6 4}
svg .verified{stroke:#137333;stroke-width:3}
svg .measured{stroke:#e8710a;stroke-width:1.5}
svg .event line{stroke-width:1;stroke-dasharray:2 3}
svg .event.ok line{stroke:#137333}svg .event.bad line{stroke:#b3261e}
svg .event.ok circle{fill:#137333}svg .event.bad circle{fill:#b3261e}
svg .failure{stroke:#b3261e;stroke-width:2}
svg .scenario-label{font-weight:600;fill:#1d2430}
</style>
</head>
<body>
`)
	fmt.Fprintf(&b, "<h1>albrollouts demo</h1>\n<p class=\"sub\">%s · %s · %d scenario(s) · %d requests through the ALB, %d failed · the controller made %.0f ELBv2 API calls</p>\n",
		esc(r.Started.UTC().Format("2006-01-02 15:04:05 UTC")), esc(r.Duration.Round(100*time.Millisecond).String()), len(r.Scenarios), r.Requests, r.Failed, r.ELBV2Calls)
	writeChecks(&b, r)
	b.WriteString("<h2>Traffic over time</h2>\n")
	b.WriteString(`<p class="sub">Per scenario, the share of traffic (percent) for the scenario's new version: <b>desired</b> (where the controller is moving it), <b>verified</b> (what the ELBv2 API last confirmed the ALB forwards, with every target that gets traffic healthy) and <b>measured</b> (the new version's share of the answers the traffic generator got in the last second). Vertical marks are verification outcomes and analysis run outcomes (green: verified or Successful, red: timed out, failed or aborting); red crosses at the bottom are failed requests.</p>` + "\n")
	writeChart(&b, r)
	writeStepTable(&b, r)
	writeAnalysisTable(&b, r)
	writeScenarioTable(&b, r)
	writeEvents(&b, r)
	b.WriteString("</body>\n</html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeChecks(b *strings.Builder, r *Result) {
	p := r.Problems()
	if len(p) == 0 {
		fmt.Fprintf(b, `<p class="ok"><b>All checks passed:</b> every healthy step verified, outcomes as intended, zero failed requests%s.</p>`+"\n", esc(r.canaryFailedText()))
		return
	}
	b.WriteString(`<p class="bad"><b>Problems:</b></p><ul class="checks">` + "\n")
	for _, s := range p {
		fmt.Fprintf(b, "<li class=\"bad\">%s</li>\n", esc(s))
	}
	b.WriteString("</ul>\n")
}

// chartScale maps run time and percent to SVG coordinates.
type chartScale struct {
	t0, t1 float64 // seconds
}

func (c chartScale) x(at time.Duration) float64 {
	span := c.t1 - c.t0
	if span <= 0 {
		span = 1
	}
	return chartLeft + (at.Seconds()-c.t0)/span*(chartW-chartLeft-chartRight)
}

func (c chartScale) y(pct float64) float64 {
	pct = math.Max(0, math.Min(100, pct))
	return chartTop + (100-pct)/100*(chartH-chartTop-chartBottom)
}

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }

// writeChart draws the three series, one polyline per scenario and series
// with exactly one point per sample, the verification events and the
// failed requests.
func writeChart(b *strings.Builder, r *Result) {
	if len(r.Samples) == 0 {
		b.WriteString("<p>No samples were taken.</p>\n")
		return
	}
	c := chartScale{t0: r.Samples[0].At.Seconds(), t1: r.Samples[len(r.Samples)-1].At.Seconds()}
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="desired, verified and measured share of the new version over time" data-samples="%d">`+"\n", chartW, chartH, len(r.Samples))
	// Scenario bands and labels.
	groups := scenarioRuns(r.Samples)
	for i, g := range groups {
		x0, x1 := c.x(g.samples[0].At), c.x(g.samples[len(g.samples)-1].At)
		cls := "band"
		if i%2 == 1 {
			cls += " alt"
		}
		fmt.Fprintf(b, `<rect class="%s" x="%s" y="%d" width="%s" height="%d"/>`+"\n", cls, f1(x0), chartTop, f1(math.Max(x1-x0, 1)), chartH-chartTop-chartBottom)
		// Keep the caption inside the chart: a band at the right edge gets
		// it right-aligned (7 units a character is wide enough at 11px).
		caption := scenarioCaption(r, g.name)
		lx := math.Min(x0+4, float64(chartW-chartRight)-7*float64(len([]rune(caption))))
		fmt.Fprintf(b, `<text class="scenario-label" x="%s" y="%d">%s</text>`+"\n", f1(math.Max(lx, chartLeft)), chartTop-8, esc(caption))
	}
	// Grid and axes.
	for _, p := range []float64{0, 25, 50, 75, 100} {
		y := c.y(p)
		fmt.Fprintf(b, `<line class="grid" x1="%d" y1="%s" x2="%d" y2="%s"/><text x="%d" y="%s" text-anchor="end">%g%%</text>`+"\n", chartLeft, f1(y), chartW-chartRight, f1(y), chartLeft-6, f1(y+4), p)
	}
	step := tickStep(c.t1 - c.t0)
	for t := math.Ceil(c.t0/step) * step; t <= c.t1+1e-9; t += step {
		x := c.x(time.Duration(t * float64(time.Second)))
		fmt.Fprintf(b, `<text x="%s" y="%d" text-anchor="middle">%s</text>`+"\n", f1(x), chartH-chartBottom+16, esc(clockShort(t)))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">time since the demo started</text>`+"\n", (chartW+chartLeft)/2, chartH-chartBottom+32)
	// Series.
	for _, g := range groups {
		for _, series := range []string{SeriesDesired, SeriesVerified, SeriesMeasured} {
			pts := make([]string, 0, len(g.samples))
			for _, s := range g.samples {
				v := float64(s.Desired)
				switch series {
				case SeriesVerified:
					v = float64(s.Verified)
				case SeriesMeasured:
					v = s.Measured
				}
				pts = append(pts, f1(c.x(s.At))+","+f1(c.y(v)))
			}
			fmt.Fprintf(b, `<polyline class="series %s" data-series="%s" data-scenario="%s" points="%s"/>`+"\n", series, series, esc(g.name), strings.Join(pts, " "))
		}
	}
	// Verification events.
	for _, e := range r.Events {
		if !e.Verification {
			continue
		}
		cls := "ok"
		if e.Level != levelOK {
			cls = "bad"
		}
		x := c.x(e.At)
		fmt.Fprintf(b, `<g class="event %s" data-scenario="%s"><title>%s %s</title><line x1="%s" y1="%d" x2="%s" y2="%d"/><circle cx="%s" cy="%d" r="3.5"/></g>`+"\n",
			cls, esc(e.Scenario), esc(clock(e.At)), esc(e.Text), f1(x), chartTop, f1(x), chartH-chartBottom, f1(x), chartTop)
	}
	// Failed requests.
	fmt.Fprintf(b, `<g class="failures" data-count="%d">`, len(r.Failures))
	by := float64(chartH - chartBottom - 6)
	for _, f := range r.Failures {
		x := c.x(f.At)
		fmt.Fprintf(b, `<path class="failure" d="M%s %sl6 6m0 -6l-6 6"><title>%s</title></path>`, f1(x-3), f1(by-3), esc(f.Scenario+" "+f.String()))
	}
	b.WriteString("</g>\n")
	// Legend.
	lx, ly := chartLeft+4, chartH-10
	fmt.Fprintf(b, `<g class="legend"><line class="series desired" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d">desired</text>`, lx, ly-4, lx+24, ly-4, lx+30, ly)
	lx += 100
	fmt.Fprintf(b, `<line class="series verified" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d">verified</text>`, lx, ly-4, lx+24, ly-4, lx+30, ly)
	lx += 100
	fmt.Fprintf(b, `<line class="series measured" x1="%d" y1="%d" x2="%d" y2="%d"/><text x="%d" y="%d">measured</text>`, lx, ly-4, lx+24, ly-4, lx+30, ly)
	lx += 110
	fmt.Fprintf(b, `<text x="%d" y="%d">%d failed request(s) · %d samples every %s</text></g>`+"\n", lx, ly, len(r.Failures), len(r.Samples), esc(r.SampleInterval.String()))
	b.WriteString("</svg>\n")
}

// sampleRun is a maximal run of consecutive samples of one scenario.
type sampleRun struct {
	name    string
	samples []Sample
}

func scenarioRuns(samples []Sample) []sampleRun {
	var out []sampleRun
	for _, s := range samples {
		if len(out) == 0 || out[len(out)-1].name != s.Scenario {
			out = append(out, sampleRun{name: s.Scenario})
		}
		out[len(out)-1].samples = append(out[len(out)-1].samples, s)
	}
	return out
}

func scenarioCaption(r *Result, name string) string {
	for _, sc := range r.Scenarios {
		if sc.Name == name {
			return fmt.Sprintf("%s %s → %s", name, sc.From, sc.To)
		}
	}
	return name
}

// tickStep picks a time-axis step giving 5 to 12 ticks.
func tickStep(span float64) float64 {
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300} {
		if span/s <= 12 {
			return s
		}
	}
	return 600
}

func clockShort(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int((d % time.Minute).Seconds()))
}

func phaseClass(phase string) string {
	switch phase {
	case string(v1alpha1.VerificationVerified):
		return "ok"
	case string(v1alpha1.VerificationPending), "":
		return "warn"
	}
	return "bad"
}

func writeStepTable(b *strings.Builder, r *Result) {
	b.WriteString("<h2>Steps</h2>\n<p class=\"sub\">One row per traffic shift the controller verified through the ELBv2 API. Health first: how long the pods about to get more traffic took to be registered and healthy in their target group before the weights were written. Measured: the new version's share of the answers while the step was in force.</p>\n")
	b.WriteString("<table><thead><tr><th>scenario</th><th>step</th><th>desired</th><th>health first</th><th>verification</th><th>took</th><th>checks</th><th>measured</th><th>requests</th><th>failed</th><th>targets</th></tr></thead><tbody>\n")
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
			if s.Reason != "" {
				phase += " (" + s.Reason + ")"
			}
			title := ""
			if s.Message != "" {
				title = ` title="` + esc(s.Message) + `"`
			}
			fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td class=\"num\">%d%%</td><td class=\"num\">%s</td><td class=\"%s\"%s>%s</td><td class=\"num\">%s</td><td class=\"num\">%d</td><td class=\"num\">%s</td><td class=\"num\">%d</td><td class=\"num\">%d</td><td>%s</td></tr>\n",
				esc(sc.Name), esc(s.Label), s.Desired, esc(healthFirstText(s.HealthFirst)), phaseClass(s.Phase), title, esc(phase), esc(took), s.Attempts, esc(measured), s.Requests, s.Failed, esc(orDash(s.Targets)))
		}
	}
	b.WriteString("</tbody></table>\n")
}

func writeScenarioTable(b *strings.Builder, r *Result) {
	b.WriteString("<h2>Scenarios</h2>\n<table><thead><tr><th>scenario</th><th>what</th><th>outcome</th><th>duration</th><th>requests</th><th>failed</th><th>answered by</th><th>rollout message</th></tr></thead><tbody>\n")
	for _, sc := range r.Scenarios {
		cls := "ok"
		if sc.Outcome != sc.Expected {
			cls = "bad"
		}
		outcome := orDash(sc.Outcome)
		if sc.Err != "" {
			outcome += ": " + sc.Err
		}
		failed := fmt.Sprint(sc.Failed)
		if sc.Name == ScenarioAnalysis && sc.Failed > 0 {
			failed += fmt.Sprintf(" (%d the bad %s's own 500s, %d after the abort)", sc.CanaryFailed, sc.To, sc.FailedAfterEnd)
		}
		fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td class=\"%s\">%s</td><td class=\"num\">%s</td><td class=\"num\">%d</td><td class=\"num\">%s</td><td>%s</td><td>%s</td></tr>\n",
			esc(sc.Name), esc(sc.Title), cls, esc(outcome), esc(sc.Duration.Round(100*time.Millisecond).String()), sc.Requests, esc(failed), esc(versionsText(sc.ByVersion)), esc(sc.Message))
	}
	b.WriteString("</tbody></table>\n")
}

func writeEvents(b *strings.Builder, r *Result) {
	b.WriteString("<h2>Events</h2>\n<table><thead><tr><th>time</th><th>scenario</th><th>event</th></tr></thead><tbody>\n")
	for _, e := range r.Events {
		cls := ""
		switch e.Level {
		case levelOK:
			cls = ` class="ok"`
		case levelWarn:
			cls = ` class="warn"`
		case levelError:
			cls = ` class="bad"`
		}
		fmt.Fprintf(b, "<tr><td class=\"num\">%s</td><td>%s</td><td%s>%s</td></tr>\n", esc(clock(e.At)), esc(orDash(e.Scenario)), cls, esc(e.Text))
	}
	b.WriteString("</tbody></table>\n")
}

// writeAnalysisTable: one row per metric of each AnalysisRun (none without
// runs).
func writeAnalysisTable(b *strings.Builder, r *Result) {
	rows := 0
	for _, sc := range r.Scenarios {
		rows += len(sc.Analysis)
	}
	if rows == 0 {
		return
	}
	b.WriteString("<h2>Analysis runs</h2>\n<p class=\"sub\">The AnalysisRuns of the updates, measured by the controller's analysis controller: each metric's phase, its measurements by outcome, and the newest value (the provider's result as Argo Rollouts writes it).</p>\n")
	b.WriteString("<table><thead><tr><th>scenario</th><th>analysis run</th><th>kind</th><th>phase</th><th>took</th><th>metric</th><th>metric phase</th><th>measurements</th><th>last value</th></tr></thead><tbody>\n")
	for _, sc := range r.Scenarios {
		for _, v := range sc.Analysis {
			took := "-"
			if v.Finished > 0 {
				took = (v.Finished - v.Started).Round(100 * time.Millisecond).String()
			}
			n := max(len(v.Metrics), 1)
			title := ""
			if v.Message != "" {
				title = ` title="` + esc(v.Message) + `"`
			}
			fmt.Fprintf(b, "<tr><td rowspan=\"%d\">%s</td><td rowspan=\"%d\">%s</td><td rowspan=\"%d\">%s</td><td rowspan=\"%d\" class=\"%s\"%s>%s</td><td rowspan=\"%d\" class=\"num\">%s</td>",
				n, esc(sc.Name), n, esc(v.Name), n, esc(v.Kind), n, analysisClass(v.Phase), title, esc(v.Phase), n, esc(took))
			if len(v.Metrics) == 0 {
				b.WriteString("<td>-</td><td>-</td><td>-</td><td>-</td></tr>\n")
			}
			for i, m := range v.Metrics {
				if i > 0 {
					b.WriteString("<tr>")
				}
				mt := ""
				if m.Message != "" {
					mt = ` title="` + esc(m.Message) + `"`
				}
				fmt.Fprintf(b, "<td>%s</td><td class=\"%s\"%s>%s</td><td>%s</td><td>%s</td></tr>\n", esc(m.Name), analysisClass(m.Phase), mt, esc(m.Phase), esc(countsText(m)), esc(orDash(m.LastValue)))
			}
		}
	}
	b.WriteString("</tbody></table>\n")
}

func analysisClass(phase string) string {
	switch v1alpha1.AnalysisPhase(phase) {
	case v1alpha1.AnalysisPhaseSuccessful:
		return "ok"
	case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError:
		return "bad"
	}
	return "warn"
}
