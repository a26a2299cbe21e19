package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCompareSemver(t *testing.T) {
	// Each is below the next, as golang.org/x/mod/semver orders them with a "v".
	ordered := []string{
		"", // invalid: below every valid version
		"0.0.0-20200101000000-abcdef123456",
		"0.0.1",
		"1.0.0-0",
		"1.0.0-alpha",
		"1.0.0-alpha.1",
		"1.0.0-alpha.beta",
		"1.0.0-beta.2",
		"1.0.0-beta.11",
		"1.0.0-rc.1",
		"1.0.0",
		"1.2.9",
		"1.2.10",
		"1.10.0",
		"2.0.0",
	}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := compareSemver(a, b); got != want {
				t.Errorf("compareSemver(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
	for _, v := range []string{"1.2", "v1.2.3", "01.2.3", "1.2.3-01", "1.2.3-", "1.2.3+", "1.2.3-a..b"} {
		if _, ok := parseSemver(v); ok {
			t.Errorf("parseSemver(%q) ok, want invalid", v)
		}
	}
	if compareSemver("1.2.3+build.1", "1.2.3") != 0 {
		t.Error("build metadata counted in precedence")
	}
}

func TestLatestFixed(t *testing.T) {
	for _, tc := range []struct{ events, want string }{
		{`[{"introduced":"0"},{"fixed":"1.6.0"}]`, "1.6.0"},
		{`[{"introduced":"0"},{"fixed":"1.26.10"},{"introduced":"1.27.0-0"},{"fixed":"1.27.3"}]`, "1.27.3"},
		{`[{"introduced":"0"},{"fixed":"1.5.0"},{"introduced":"2.0.0"}]`, ""}, // back after the fix
		{`[{"introduced":"0"}]`, ""},
	} {
		var r osvRange
		if err := json.Unmarshal([]byte(`{"type":"SEMVER","events":`+tc.events+`}`), &r); err != nil {
			t.Fatal(err)
		}
		if got := latestFixed([]osvRange{r}); got != tc.want {
			t.Errorf("latestFixed(%s) = %q, want %q", tc.events, got, tc.want)
		}
	}
}

// TestDB builds a database from two OSV files and checks the layout and the
// indexes govulncheck reads.
func TestDB(t *testing.T) {
	src := t.TempDir()
	osvFiles := map[string]string{
		"GO-2026-0002.json": `{"id":"GO-2026-0002","modified":"2026-02-01T00:00:00Z","aliases":["CVE-2026-2"],
			"affected":[{"package":{"name":"example.com/b"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.0"}]}]},
			            {"package":{"name":"example.com/a"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}`,
		"GO-2026-0001.json": `{"id":"GO-2026-0001","modified":"0001-01-01T00:00:00Z",
			"affected":[{"package":{"name":"example.com/b"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"0.9.0"}]}]}]}`,
	}
	for name, body := range osvFiles {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := load(src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "db")
	if err := writeAtomically(out, entries, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(out, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for p, want := range map[string]string{
		"index/db.json": `{"modified":"2026-03-01T00:00:00Z"}`,
		"index/modules.json": `[{"path":"example.com/a","vulns":[{"id":"GO-2026-0002","modified":"2026-02-01T00:00:00Z"}]},` +
			`{"path":"example.com/b","vulns":[{"id":"GO-2026-0001","modified":"0001-01-01T00:00:00Z","fixed":"0.9.0"},{"id":"GO-2026-0002","modified":"2026-02-01T00:00:00Z","fixed":"1.2.0"}]}]`,
		"index/vulns.json":     `[{"id":"GO-2026-0001","modified":"0001-01-01T00:00:00Z"},{"id":"GO-2026-0002","modified":"2026-02-01T00:00:00Z","aliases":["CVE-2026-2"]}]`,
		"ID/GO-2026-0001.json": osvFiles["GO-2026-0001.json"],
	} {
		if got := read(p); got != want {
			t.Errorf("%s:\n got %s\nwant %s", p, got, want)
		}
	}
	if err := buildDB("go", "", src, out); err == nil {
		t.Error("building over an existing database: no error")
	}
}

const config = `{"config":{"protocol_version":"v1.0.0","scanner_name":"govulncheck","scanner_version":"v1.9.0","db":"file:///db","db_last_modified":"2026-11-05T23:49:57Z","go_version":"go1.26.8","scan_level":"symbol","scan_mode":"source"}}
{"osv":{"id":"GO-1","summary":"bad in x/net"}}
{"osv":{"id":"GO-2","summary":"bad in net/http"}}
`

// A call from the project's code: main.run calls http.Get, which reaches the
// vulnerable symbol in module mod@ver.
func callFinding(id, mod, ver, fixed string) string {
	return `{"finding":{"osv":"` + id + `","fixed_version":"` + fixed + `","trace":[` +
		`{"module":"` + mod + `","version":"` + ver + `","package":"` + mod + `/pkg","function":"Bad","receiver":"*T"},` +
		`{"module":"stdlib","version":"v1.26.8","package":"net/http","function":"Get"},` +
		`{"module":"example.com/p","package":"example.com/p/cmd/p","function":"run","position":{"filename":"cmd/p/main.go","line":7,"column":3}}]}}` + "\n"
}

func TestReport(t *testing.T) {
	stdlibOnly := config +
		callFinding("GO-2", "stdlib", "v1.26.8", "v1.26.9") +
		`{"finding":{"osv":"GO-1","fixed_version":"v0.62.0","trace":[{"module":"golang.org/x/net","version":"v0.60.0","package":"golang.org/x/net/http2"}]}}` + "\n"
	withModule := stdlibOnly + callFinding("GO-1", "golang.org/x/net", "v0.60.0", "v0.62.0") + callFinding("GO-1", "golang.org/x/net", "v0.60.0", "v0.62.0")
	for _, tc := range []struct {
		name, in   string
		failStdlib bool
		wantFailed bool
		want       []string
	}{
		{"stdlib warned", stdlibOnly, false, false, []string{
			"vulncheck: govulncheck v1.9.0, go1.26.8, database file:///db (updated 2026-11-05)\n",
			"WARN GO-2 stdlib@go1.26.8, fixed in go1.26.9: bad in net/http\n",
			"     cmd/p/main.go:7:3: p.run calls net/http.Get, which reaches stdlib/pkg.(*T).Bad (1 call path)\n",
			"0 reachable vulnerabilities in required modules, 1 in the standard library (warned only",
			"; 1 more in code imported or required but not called\n",
		}},
		{"stdlib failed", stdlibOnly, true, true, []string{"FAIL GO-2 stdlib@go1.26.8"}},
		{"module failed", withModule, false, true, []string{
			"FAIL GO-1 golang.org/x/net@v0.60.0, fixed in v0.62.0: bad in x/net\n",
			"(2 call paths)",
			"1 reachable vulnerabilities in required modules, 1 in the standard library",
			"; 0 more in code",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			failed, err := report(strings.NewReader(tc.in), &out, tc.failStdlib)
			if err != nil {
				t.Fatal(err)
			}
			if failed != tc.wantFailed {
				t.Errorf("failed = %v, want %v", failed, tc.wantFailed)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			fail, warn := strings.Index(out.String(), "FAIL "), strings.Index(out.String(), "WARN ")
			if fail >= 0 && warn >= 0 && warn < fail {
				t.Errorf("a WARN line before a FAIL line:\n%s", out.String())
			}
		})
	}
	if _, err := report(strings.NewReader(`{"config":{"scan_level":"module"}}`), &strings.Builder{}, false); err == nil {
		t.Error("module-level scan: no error")
	}
	if _, err := report(strings.NewReader(""), &strings.Builder{}, false); err == nil {
		t.Error("empty input: no error")
	}
}
