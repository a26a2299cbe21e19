package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// The parts of govulncheck's JSON messages (golang.org/x/vuln's
// internal/govulncheck, protocol v1.0.0) that report reads.
type message struct {
	Config *struct {
		ScannerVersion string     `json:"scanner_version"`
		DB             string     `json:"db"`
		DBLastModified *time.Time `json:"db_last_modified"`
		GoVersion      string     `json:"go_version"`
		ScanLevel      string     `json:"scan_level"`
	} `json:"config"`
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *finding `json:"finding"`
}

type finding struct {
	OSV          string   `json:"osv"`
	FixedVersion string   `json:"fixed_version"`
	Trace        []*frame `json:"trace"`
}

// frame is one step of a finding's trace: the vulnerable symbol first, the
// project's code last.
type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
		Column   int    `json:"column"`
	} `json:"position"`
}

// reached is one vulnerability in one module that the project's code calls.
type reached struct {
	id, module, version, fixed string
	example                    string // one call from the project's code
	depth                      int    // the example's trace's length
	traces                     int
}

func (r *reached) stdlib() bool { return r.module == "stdlib" || r.module == "toolchain" }

// scan is what report gathers from govulncheck's messages.
type scan struct {
	header    string
	summaries map[string]string   // OSV ID -> summary
	reached   map[string]*reached // "ID module" -> the vulnerability reached
	imported  map[string]bool     // OSV IDs of packages imported
	required  map[string]bool     // OSV IDs of modules required
}

// report prints the reachable vulnerabilities of govulncheck's JSON stream in
// and reports whether any fails the check.
func report(in io.Reader, out io.Writer, failStdlib bool) (failed bool, err error) {
	s := &scan{summaries: map[string]string{}, reached: map[string]*reached{}, imported: map[string]bool{}, required: map[string]bool{}}
	dec := json.NewDecoder(in)
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return false, fmt.Errorf("reading govulncheck's JSON: %w", err)
		}
		if err := s.add(&m); err != nil {
			return false, err
		}
	}
	if s.header == "" {
		return false, errors.New("no config message: is this govulncheck -format json output?")
	}
	var b strings.Builder
	failed = s.print(&b, failStdlib)
	_, err = io.WriteString(out, b.String())
	return failed, err
}

func (s *scan) add(m *message) error {
	switch {
	case m.Config != nil:
		c := m.Config
		if c.ScanLevel != "symbol" {
			return fmt.Errorf("scan level %q: report needs govulncheck's default symbol scan", c.ScanLevel)
		}
		s.header = fmt.Sprintf("vulncheck: govulncheck %s, %s, database %s", c.ScannerVersion, c.GoVersion, c.DB)
		if c.DBLastModified != nil {
			s.header += " (updated " + c.DBLastModified.UTC().Format(time.DateOnly) + ")"
		}
	case m.OSV != nil:
		s.summaries[m.OSV.ID] = m.OSV.Summary
	case m.Finding != nil && len(m.Finding.Trace) > 0:
		f := m.Finding
		switch top := f.Trace[0]; {
		case top.Function != "":
			key := f.OSV + " " + top.Module
			r := s.reached[key]
			if r == nil {
				r = &reached{id: f.OSV, module: top.Module, version: top.Version, fixed: f.FixedVersion}
				s.reached[key] = r
			}
			r.traces++
			// The shortest trace, the first by text among those: govulncheck
			// sends them in no fixed order.
			if ex := example(f.Trace); r.example == "" || len(f.Trace) < r.depth || len(f.Trace) == r.depth && ex < r.example {
				r.example, r.depth = ex, len(f.Trace)
			}
		case top.Package != "":
			s.imported[f.OSV] = true
		default:
			s.required[f.OSV] = true
		}
	}
	return nil
}

// print writes the header, a line and an example per vulnerability reached
// (the required modules' first), and a count; it reports whether any fails.
func (s *scan) print(b *strings.Builder, failStdlib bool) (failed bool) {
	b.WriteString(s.header + "\n")
	var all []*reached
	for _, r := range s.reached {
		all = append(all, r)
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.stdlib() != b.stdlib() {
			return !a.stdlib()
		}
		return a.id+" "+a.module < b.id+" "+b.module
	})
	nModules, nStdlib := 0, 0
	for _, r := range all {
		verdict := "FAIL"
		if r.stdlib() {
			nStdlib++
			if !failStdlib {
				verdict = "WARN"
			}
		} else {
			nModules++
		}
		failed = failed || verdict == "FAIL"
		fixed := "no fixed version"
		if r.fixed != "" {
			fixed = "fixed in " + goVersion(r, r.fixed)
		}
		paths := "call paths"
		if r.traces == 1 {
			paths = "call path"
		}
		fmt.Fprintf(b, "%s %s %s@%s, %s: %s\n", verdict, r.id, r.module, goVersion(r, r.version), fixed, s.summaries[r.id])
		fmt.Fprintf(b, "     %s (%d %s)\n", r.example, r.traces, paths)
	}
	stdlibNote := "failed"
	if !failStdlib {
		stdlibNote = "warned only: a newer Go fixes them, see docs/development.md"
	}
	fmt.Fprintf(b, "vulncheck: %d reachable vulnerabilities in required modules, %d in the standard library (%s); %d more in code imported or required but not called\n",
		nModules, nStdlib, stdlibNote, s.notCalled())
	return failed
}

// notCalled counts the vulnerabilities found only in packages imported or
// modules required.
func (s *scan) notCalled() int {
	called := map[string]bool{}
	for _, r := range s.reached {
		called[r.id] = true
	}
	n := 0
	for id := range s.imported {
		if !called[id] {
			n++
		}
	}
	for id := range s.required {
		if !called[id] && !s.imported[id] {
			n++
		}
	}
	return n
}

// goVersion writes the standard library's versions as Go's (go1.26.8), and
// other modules' as they are.
func goVersion(r *reached, v string) string {
	if r.stdlib() {
		return "go" + strings.TrimPrefix(v, "v")
	}
	return v
}

// example describes the trace's call out of the project's code: where it is,
// which function makes it, what it calls, and the vulnerable symbol reached.
func example(trace []*frame) string {
	project := trace[len(trace)-1].Module
	i := 0
	for i < len(trace) && trace[i].Module != project {
		i++
	}
	caller := trace[i]
	where := ""
	if p := caller.Position; p != nil {
		where = fmt.Sprintf("%s:%d:%d: ", p.Filename, p.Line, p.Column)
	}
	s := where + symbol(caller, true)
	if i > 1 {
		s += " calls " + symbol(trace[i-1], false) + ", which reaches " + symbol(trace[0], false)
	} else if i == 1 {
		s += " calls " + symbol(trace[0], false)
	}
	return s
}

// symbol is pkg.Func or pkg.(*T).Method; short uses the package's last element.
func symbol(f *frame, short bool) string {
	pkg := f.Package
	if short {
		pkg = path.Base(pkg)
	}
	switch {
	case strings.HasPrefix(f.Receiver, "*"):
		return fmt.Sprintf("%s.(%s).%s", pkg, f.Receiver, f.Function)
	case f.Receiver != "":
		return fmt.Sprintf("%s.%s.%s", pkg, f.Receiver, f.Function)
	}
	return pkg + "." + f.Function
}
