// Package rolloutview renders Rollouts for people: the table of `albrollouts
// list`, the detailed view of `albrollouts status` (steps, weights, the
// verification of the last traffic shift, conditions, ReplicaSets and pods),
// and the objects themselves as JSON or YAML.
//
// Colours are used only when asked for (Style.Color; see ColorEnabled); the
// plain text is the same with or without them.
package rolloutview

import (
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"
)

// Style says how to render.
type Style struct {
	// Color adds ANSI colours.
	Color bool
}

// ColorEnabled says whether output to w should be coloured: only when w is a
// terminal, NO_COLOR is unset or empty (https://no-color.org) and TERM is not
// "dumb".
func ColorEnabled(w io.Writer) bool {
	return os.Getenv("NO_COLOR") == "" && IsTerminal(w)
}

// IsTerminal says whether w is a terminal that understands escape sequences
// (a terminal by golang.org/x/term, so not /dev/null, which is a character
// device too; TERM not "dumb").
func IsTerminal(w io.Writer) bool {
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Colours (SGR parameters).
const (
	red    = "31"
	green  = "32"
	yellow = "33"
	blue   = "34"
	grey   = "90"
	bold   = "1"
)

func (s Style) paint(code, text string) string {
	if !s.Color || code == "" || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// colorOf gives the colour of a phase, verification phase or condition status.
func colorOf(word string) string {
	switch word {
	case "Healthy", "Verified", "True", "yes", "Running", "Ready":
		return green
	case "Progressing", "Pending", "Unknown":
		return blue
	case "Paused", "Terminating", "ScaledDown":
		return yellow
	case "Degraded", "Failed", "TimedOut", "False", "no", "Error", "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull":
		return red
	}
	return ""
}

// cell is one table cell: its text and its colour.
type cell struct {
	text, color string
}

func c(text string) cell              { return cell{text: text} }
func colored(text, color string) cell { return cell{text: text, color: color} }
func word(text string) cell           { return cell{text: text, color: colorOf(text)} }

// table aligns cells in columns (measured without colour codes), two spaces
// apart; free rows are written as they are, indented.
type table struct {
	rows []tableRow
}

type tableRow struct {
	cells []cell
	free  string
}

func (t *table) row(cells ...cell) { t.rows = append(t.rows, tableRow{cells: cells}) }
func (t *table) line(s string)     { t.rows = append(t.rows, tableRow{free: s}) }

func (t *table) write(b *strings.Builder, indent string, st Style) {
	var widths []int
	for _, r := range t.rows {
		for i, cl := range r.cells {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cl.text))
		}
	}
	for _, r := range t.rows {
		if r.cells == nil {
			b.WriteString(indent + r.free + "\n")
			continue
		}
		var line strings.Builder
		line.WriteString(indent)
		for i, cl := range r.cells {
			line.WriteString(st.paint(cl.color, cl.text))
			if i < len(r.cells)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cl.text)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}
