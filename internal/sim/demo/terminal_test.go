package demo

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func testView() liveView {
	return liveView{
		Scenario: ScenarioCanary, Title: "canary v1 → v2", From: "v1", To: "v2", Elapsed: 12 * time.Second,
		Step: "setWeight 25", StepIndex: 2, StepCount: 7, Desired: 25, Verified: 10,
		Verification: "Pending WeightMismatch (2 checks): listener :80 rule 1: canary weight 10, want 25",
		Measured:     10, Window: map[string]int{"v1": 36, "v2": 4}, Rate: 20, Requests: 240,
		Targets: []TargetHealth{
			{Role: "stable", States: map[string]int{"healthy": 2}},
			{Role: "canary", States: map[string]int{"healthy": 1, "unhealthy": 1}, Reasons: []string{"Target.ResponseCodeMismatch"}},
		},
		Phase: "Progressing",
	}
}

// Not a terminal: plain lines, no escape sequence, a progress line only
// when something changed.
func TestTerminalPlain(t *testing.T) {
	var b bytes.Buffer
	term := newTerminal(&b, false, true, 100, time.Now())
	term.event(Event{At: 3 * time.Second, Scenario: ScenarioCanary, Level: levelOK, Text: "verified setWeight 10"})
	v := testView()
	term.show(v)
	term.show(v) // unchanged: no new line
	v.Verified = 25
	v.Verification = "Verified WeightsVerified (3 checks)"
	term.show(v)
	_, _ = term.lineWriter().Write([]byte("ALB x listener :80 is up\npartial"))
	term.close()
	out := b.String()
	if strings.Contains(out, "\x1b") {
		t.Fatalf("escape sequences without a terminal:\n%q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), out)
	}
	for i, want := range []string{"✓ verified setWeight 10", "desired 25% verified 10%", "desired 25% verified 25%", "ALB x listener :80 is up"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d %q lacks %q", i, lines[i], want)
		}
	}
	for _, want := range []string{"step 3/7 setWeight 25", "v2 10.0% v1 90.0%", "stable 2/2 healthy, canary 1/2 healthy (1 unhealthy Target.ResponseCodeMismatch)", "failed 0"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("progress line %q lacks %q", lines[1], want)
		}
	}
}

// A terminal: the live view is redrawn in place, log lines go above it, no
// line is wider than the terminal, and the cursor comes back at the end.
func TestTerminalLive(t *testing.T) {
	var b bytes.Buffer
	term := newTerminal(&b, true, true, 60, time.Now())
	term.show(testView())
	first := b.String()
	if !strings.HasPrefix(first, escHideCursor) {
		t.Errorf("cursor not hidden: %q", first[:min(len(first), 20)])
	}
	n := len(viewLines(testView()))
	for _, l := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(first, escHideCursor), "\n"), "\n") {
		if w := utf8.RuneCountInString(stripANSI(l)); w > 59 {
			t.Errorf("line of %d columns on a 60-column terminal: %q", w, stripANSI(l))
		}
	}
	b.Reset()
	term.event(Event{At: time.Second, Scenario: ScenarioCanary, Level: levelError, Text: "request failed: HTTP 503"})
	out := b.String()
	erase := "\x1b[" + strconv.Itoa(n) + "F" + escClearDown
	if !strings.HasPrefix(out, erase) {
		t.Errorf("event does not erase the live view first: %q", out[:min(len(out), 30)])
	}
	if !strings.Contains(out, "\x1b[31m") || !strings.Contains(stripANSI(out), "✗ request failed: HTTP 503\n▸ canary v1 → v2") {
		t.Errorf("event line then the view again: %q", stripANSI(out))
	}
	b.Reset()
	term.close()
	if got := b.String(); got != erase+escShowCursor {
		t.Errorf("close wrote %q", got)
	}
	b.Reset()
	term.event(Event{Text: "after close"})
	if strings.Contains(b.String(), "▸") {
		t.Errorf("the live view came back after close: %q", b.String())
	}
}

func isLetter(c byte) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			j := i + 1
			for j < len(s) && !isLetter(s[j]) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestBar(t *testing.T) {
	count := func(l line, r string) int { return strings.Count(l.plain(), r) }
	for _, c := range []struct{ desired, verified, full, pending int }{
		{0, 0, 0, 0}, {100, 100, 30, 0}, {25, 10, 3, 4}, {10, 25, 3, 4}, {50, 0, 0, 15},
	} {
		l := bar(c.desired, c.verified)
		if utf8.RuneCountInString(l.plain()) != barWidth {
			t.Errorf("bar(%d, %d) is %d wide", c.desired, c.verified, utf8.RuneCountInString(l.plain()))
		}
		if f, p := count(l, "█"), count(l, "▒"); f != c.full || p != c.pending {
			t.Errorf("bar(%d, %d) = %q: %d full, %d pending; want %d, %d", c.desired, c.verified, l.plain(), f, p, c.full, c.pending)
		}
	}
}

func TestLineRenderCutsToWidth(t *testing.T) {
	l := line{{"abc", sgrRed}, {"défghij", ""}}
	if got := l.render(false, 5); got != "abcd…" {
		t.Errorf("render(5) = %q", got)
	}
	if got := l.render(true, 100); got != "\x1b[31mabc\x1b[0mdéfghij" {
		t.Errorf("render(color) = %q", got)
	}
}
