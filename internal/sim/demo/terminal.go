package demo

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// liveView is what the live view shows of the current step.
type liveView struct {
	Scenario, Title, From, To string
	Elapsed                   time.Duration
	Step                      string
	StepIndex, StepCount      int
	Desired, Verified         int
	Verification              string
	Measured                  float64
	MeasuredFresh             bool
	Window                    map[string]int // successful answers per version in the last sample
	WindowFailed              int
	Rate                      float64
	Requests, Failed          int
	Targets                   []TargetHealth
	Phase                     string
	// Analysis is the update's newest AnalysisRun in one line ("": none),
	// AnalysisPhase its phase.
	Analysis, AnalysisPhase string
}

// terminal shows the demo: on a terminal, log lines with a live view below
// them that is redrawn in place; elsewhere plain log lines only, with a
// progress line whenever the state changes (and at least every 5 s).
type terminal struct {
	mu      sync.Mutex
	out     io.Writer
	tty     bool
	color   bool
	width   int
	start   time.Time
	drawn   int // lines of the live view on screen
	last    *liveView
	hidden  bool
	cursor  bool // cursor hidden by us
	plainAt time.Time
	plainK  string
	partial []byte
}

func newTerminal(out io.Writer, tty, color bool, width int, start time.Time) *terminal {
	return &terminal{out: out, tty: tty, color: color && tty, width: width, start: start}
}

// ANSI sequences.
const (
	escHideCursor = "\x1b[?25l"
	escShowCursor = "\x1b[?25h"
	escClearDown  = "\x1b[J"
)

// SGR colours.
const (
	sgrGreen  = "32"
	sgrYellow = "33"
	sgrRed    = "31"
	sgrBlue   = "34"
	sgrGrey   = "90"
	sgrBold   = "1"
)

// seg is a piece of a line with its colour.
type seg struct{ text, color string }

type line []seg

func (l line) plain() string {
	var b strings.Builder
	for _, s := range l {
		b.WriteString(s.text)
	}
	return b.String()
}

// render paints the line, cut to width visible characters.
func (l line) render(color bool, width int) string {
	var b strings.Builder
	left := width
	for _, s := range l {
		if left <= 0 {
			break
		}
		text := s.text
		if n := utf8.RuneCountInString(text); n > left {
			r := []rune(text)
			text = string(r[:max(left-1, 0)]) + "…"
		}
		left -= utf8.RuneCountInString(text)
		if color && s.color != "" && text != "" {
			b.WriteString("\x1b[" + s.color + "m" + text + "\x1b[0m")
		} else {
			b.WriteString(text)
		}
	}
	return b.String()
}

func levelMark(level string) seg {
	switch level {
	case levelOK:
		return seg{"✓", sgrGreen}
	case levelWarn:
		return seg{"!", sgrYellow}
	case levelError:
		return seg{"✗", sgrRed}
	}
	return seg{"·", sgrGrey}
}

func clock(d time.Duration) string {
	d = d.Round(100 * time.Millisecond)
	return fmt.Sprintf("%2d:%04.1f", int(d.Minutes()), (d % time.Minute).Seconds())
}

func (t *terminal) eventLine(e Event) line {
	sc := e.Scenario
	if sc == "" {
		sc = "demo"
	}
	color := ""
	switch e.Level {
	case levelError:
		color = sgrRed
	case levelWarn:
		color = sgrYellow
	}
	return line{{clock(e.At), sgrGrey}, {" ", ""}, {fmt.Sprintf("%-9s", sc), sgrBlue}, {" ", ""}, levelMark(e.Level), {" " + e.Text, color}}
}

// event prints a log line (above the live view on a terminal).
func (t *terminal) event(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.eraseLocked()
	width := 1 << 20 // log lines are not cut: they stay in the scroll-back
	_, _ = io.WriteString(t.out, t.eventLine(e).render(t.color, width)+"\n")
	t.drawLocked()
}

// show updates the live view.
func (t *terminal) show(v liveView) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hidden = false
	t.last = &v
	if !t.tty {
		t.plainLocked(v)
		return
	}
	t.eraseLocked()
	t.drawLocked()
}

// hide removes the live view until the next show.
func (t *terminal) hide() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.eraseLocked()
	t.hidden = true
}

// close removes the live view and gives the cursor back.
func (t *terminal) close() {
	t.hide()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cursor {
		_, _ = io.WriteString(t.out, escShowCursor)
		t.cursor = false
	}
}

func (t *terminal) eraseLocked() {
	if t.drawn > 0 {
		_, _ = fmt.Fprintf(t.out, "\x1b[%dF%s", t.drawn, escClearDown)
		t.drawn = 0
	}
}

func (t *terminal) drawLocked() {
	if !t.tty || t.hidden || t.last == nil {
		return
	}
	if !t.cursor {
		_, _ = io.WriteString(t.out, escHideCursor)
		t.cursor = true
	}
	lines := viewLines(*t.last)
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.render(t.color, t.width-1))
		b.WriteString("\n")
	}
	_, _ = io.WriteString(t.out, b.String())
	t.drawn = len(lines)
}

// plainLocked prints a progress line when the state changed, or 5 s passed.
func (t *terminal) plainLocked(v liveView) {
	key := fmt.Sprintf("%s|%s|%d|%d|%s|%s|%s", v.Scenario, v.Step, v.Desired, v.Verified, v.Phase, strings.SplitN(v.Verification, " ", 2)[0], v.Analysis)
	now := time.Now()
	if key == t.plainK && now.Sub(t.plainAt) < 5*time.Second {
		return
	}
	t.plainK, t.plainAt = key, now
	text := fmt.Sprintf("%-9s   %s · desired %d%% verified %d%% · measured %s · targets %s · failed %d",
		v.Scenario, stepLabelText(v), v.Desired, v.Verified, measuredText(v), targetsText(v.Targets), v.Failed)
	if v.Analysis != "" {
		text += " · analysis " + v.Analysis
	}
	_, _ = io.WriteString(t.out, clock(time.Since(t.start))+" "+text+"\n")
}

func stepLabelText(v liveView) string {
	if v.StepCount > 0 {
		return fmt.Sprintf("step %d/%d %s", min(v.StepIndex+1, v.StepCount), v.StepCount, v.Step)
	}
	return v.Step
}

// measuredText is the traffic split of the last sample: "v2 24.6% v1 75.4%".
func measuredText(v liveView) string {
	total := 0
	for _, n := range v.Window {
		total += n
	}
	if total == 0 {
		return fmt.Sprintf("%s %.1f%% (no answers in the last second)", v.To, v.Measured)
	}
	versions := slices.Sorted(maps.Keys(v.Window))
	slices.SortStableFunc(versions, func(a, b string) int {
		switch {
		case a == v.To:
			return -1
		case b == v.To:
			return 1
		}
		return 0
	})
	if !slices.Contains(versions, v.To) {
		versions = append([]string{v.To}, versions...)
	}
	var parts []string
	for _, ver := range versions {
		parts = append(parts, fmt.Sprintf("%s %.1f%%", ver, 100*float64(v.Window[ver])/float64(total)))
	}
	return strings.Join(parts, " ")
}

// targetsText is the target health per group: "stable 2/2 healthy, canary
// 0/1 healthy (1 unhealthy Target.ResponseCodeMismatch)".
func targetsText(ts []TargetHealth) string {
	if len(ts) == 0 {
		return "-"
	}
	var parts []string
	for _, th := range ts {
		p := fmt.Sprintf("%s %d/%d healthy", th.Role, th.Healthy(), th.Total())
		var other []string
		for _, st := range slices.Sorted(maps.Keys(th.States)) {
			if st != "healthy" {
				other = append(other, fmt.Sprintf("%d %s", th.States[st], st))
			}
		}
		if len(other) > 0 {
			p += " (" + strings.Join(other, ", ")
			if len(th.Reasons) > 0 {
				p += " " + strings.Join(th.Reasons, ", ")
			}
			p += ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

const barWidth = 30

// bar draws the new version's share: verified (█), desired but not yet
// verified, or verified but no longer desired (▒), the rest (░).
func bar(desired, verified int) line {
	lo, hi := min(desired, verified), max(desired, verified)
	var a, b, c int
	for i := range barWidth {
		pos := (float64(i) + 0.5) * 100 / barWidth
		switch {
		case pos < float64(lo):
			a++
		case pos < float64(hi):
			b++
		default:
			c++
		}
	}
	return line{{strings.Repeat("█", a), sgrGreen}, {strings.Repeat("▒", b), sgrYellow}, {strings.Repeat("░", c), sgrGrey}}
}

// viewLines lays out the live view.
func viewLines(v liveView) []line {
	head := line{{"▸ " + v.Title, sgrBold}, {"  " + clock(v.Elapsed), sgrGrey}}
	steps := line{{"  step      ", sgrGrey}, {fmt.Sprintf("%-26s ", stepLabelText(v)), ""}}
	steps = append(steps, bar(v.Desired, v.Verified)...)
	vcolor := sgrYellow
	if v.Desired == v.Verified {
		vcolor = sgrGreen
	}
	steps = append(steps, seg{fmt.Sprintf("  desired %3d%%  ", v.Desired), ""}, seg{fmt.Sprintf("verified %3d%%", v.Verified), vcolor})
	verif := v.Verification
	if verif == "" {
		verif = "-"
	}
	vc := ""
	switch strings.SplitN(verif, " ", 2)[0] {
	case "Verified":
		vc = sgrGreen
	case "Pending":
		vc = sgrBlue
	case "TimedOut", "Failed":
		vc = sgrRed
	}
	failColor := sgrGreen
	if v.Failed > 0 {
		failColor = sgrRed
	}
	lines := []line{
		head,
		steps,
		{{"  verify    ", sgrGrey}, {verif, vc}},
		{{"  traffic   ", sgrGrey}, {fmt.Sprintf("%s   %.0f req/s   %d requests   ", measuredText(v), v.Rate, v.Requests), ""}, {fmt.Sprintf("failed %d", v.Failed), failColor}},
		{{"  targets   ", sgrGrey}, {targetsText(v.Targets), ""}},
	}
	if v.Analysis != "" {
		lines = append(lines, line{{"  analysis  ", sgrGrey}, {v.Analysis, analysisColor(v.AnalysisPhase)}})
	}
	return append(lines, line{{"  rollout   ", sgrGrey}, {orDash(v.Phase), phaseColor(v.Phase)}})
}

func analysisColor(p string) string {
	switch p {
	case "Successful":
		return sgrGreen
	case "Running", "Pending":
		return sgrBlue
	case "Inconclusive":
		return sgrYellow
	case "Failed", "Error":
		return sgrRed
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func phaseColor(p string) string {
	switch p {
	case "Healthy":
		return sgrGreen
	case "Progressing":
		return sgrBlue
	case "Paused":
		return sgrYellow
	case "Degraded":
		return sgrRed
	}
	return ""
}

// lineWriter is an io.Writer whose complete lines become log lines (the
// local environment's progress).
func (t *terminal) lineWriter() io.Writer { return lineWriterFunc(t.writeLines) }

type lineWriterFunc func(p []byte) (int, error)

func (f lineWriterFunc) Write(p []byte) (int, error) { return f(p) }

func (t *terminal) writeLines(p []byte) (int, error) {
	t.mu.Lock()
	t.partial = append(t.partial, p...)
	var lines []string
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		if s := strings.TrimSpace(string(t.partial[:i])); s != "" {
			lines = append(lines, s)
		}
		t.partial = t.partial[i+1:]
	}
	t.mu.Unlock()
	for _, s := range lines {
		t.event(Event{At: time.Since(t.start), Level: levelInfo, Text: s})
	}
	return len(p), nil
}
