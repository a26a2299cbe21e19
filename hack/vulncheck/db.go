package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const modulePath = "golang.org/x/vulndb"

func buildDB(goCmd, version, osvDir, out string) error {
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s exists; remove it to rebuild", out)
	}
	var modified time.Time
	source := osvDir
	if version != "" {
		dir, t, err := download(goCmd, version)
		if err != nil {
			return err
		}
		osvDir, modified = filepath.Join(dir, "data", "osv"), t
		source = modulePath + "@" + version
	}
	entries, err := load(osvDir)
	if err != nil {
		return err
	}
	if err := writeAtomically(out, entries, modified); err != nil {
		return err
	}
	fmt.Printf("vulncheck db: %d entries from %s in %s\n", len(entries), source, out)
	return nil
}

// download fetches golang.org/x/vulndb@version into the module cache and
// returns its folder and its commit time.
func download(goCmd, version string) (string, time.Time, error) {
	// Outside any module, so the project's go.mod and go.sum stay as they are.
	tmp, err := os.MkdirTemp("", "vulndb-download-")
	if err != nil {
		return "", time.Time{}, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	cmd := exec.Command(goCmd, "mod", "download", "-json", modulePath+"@"+version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var m struct{ Dir, Info, Error string }
	jsonErr := json.Unmarshal(stdout.Bytes(), &m)
	if err := errors.Join(runErr, jsonErr); err != nil || m.Error != "" {
		detail := strings.TrimSpace(m.Error + "\n" + stderr.String())
		if err == nil {
			return "", time.Time{}, fmt.Errorf("go mod download %s@%s: %s", modulePath, version, detail)
		}
		return "", time.Time{}, fmt.Errorf("go mod download %s@%s: %w\n%s", modulePath, version, err, detail)
	}
	b, err := os.ReadFile(m.Info)
	if err != nil {
		return "", time.Time{}, err
	}
	var info struct{ Time time.Time }
	if err := json.Unmarshal(b, &info); err != nil {
		return "", time.Time{}, fmt.Errorf("%s: %w", m.Info, err)
	}
	return m.Dir, info.Time, nil
}

// entry is one OSV file: the fields the indexes need, and the file's bytes.
type entry struct {
	ID       string   `json:"id"`
	Modified string   `json:"modified"`
	Aliases  []string `json:"aliases"`
	Affected []struct {
		Package struct {
			Name string `json:"name"`
		} `json:"package"`
		Ranges []osvRange `json:"ranges"`
	} `json:"affected"`

	raw []byte
}

type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced"`
		Fixed      string `json:"fixed"`
	} `json:"events"`
}

// load reads every *.json in dir, sorted by name, as cmd/indexdb does.
func load(dir string) ([]*entry, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	seen := map[string]bool{}
	var entries []*entry
	for _, f := range files {
		if filepath.Base(f) == "index.json" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		e := &entry{raw: b}
		if err := json.Unmarshal(b, e); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if e.ID == "" || strings.ContainsAny(e.ID, `/\`) || seen[e.ID] {
			return nil, fmt.Errorf("%s: missing, bad or repeated id %q", f, e.ID)
		}
		seen[e.ID] = true
		entries = append(entries, e)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("no OSV entries in %s", dir)
	}
	return entries, nil
}

type moduleVuln struct {
	ID       string `json:"id"`
	Modified string `json:"modified"`
	Fixed    string `json:"fixed,omitempty"`
}

type module struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type vuln struct {
	ID       string   `json:"id"`
	Modified string   `json:"modified"`
	Aliases  []string `json:"aliases,omitempty"`
}

// indexes builds modules.json and vulns.json: modules sorted by path, each
// module's vulns (one per affected block) stably by ID, vulns by ID.
func indexes(entries []*entry) ([]*module, []vuln) {
	byPath := map[string]*module{}
	var modules []*module
	var vulns []vuln
	for _, e := range entries {
		vulns = append(vulns, vuln{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			m := byPath[a.Package.Name]
			if m == nil {
				m = &module{Path: a.Package.Name, Vulns: []moduleVuln{}}
				byPath[m.Path] = m
				modules = append(modules, m)
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: latestFixed(a.Ranges)})
		}
	}
	sort.SliceStable(modules, func(i, j int) bool { return modules[i].Path < modules[j].Path })
	for _, m := range modules {
		sort.SliceStable(m.Vulns, func(i, j int) bool { return m.Vulns[i].ID < m.Vulns[j].ID })
	}
	sort.SliceStable(vulns, func(i, j int) bool { return vulns[i].ID < vulns[j].ID })
	return modules, vulns
}

// latestFixed is the highest fixed version of the SEMVER ranges, or "" when
// the vulnerability comes back after it (x/vulndb's osvutils.LatestFixed).
func latestFixed(ranges []osvRange) string {
	latest := ""
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && compareSemver(latest, e.Fixed) < 0 {
				latest = e.Fixed
			}
		}
		for _, e := range r.Events {
			if e.Introduced != "" && e.Introduced != "0" && compareSemver(latest, e.Introduced) < 0 {
				latest = ""
				break
			}
		}
	}
	return latest
}

// dbModified is the latest modified time of the entries, or t if later.
func dbModified(entries []*entry, t time.Time) (time.Time, error) {
	for _, e := range entries {
		m, err := time.Parse(time.RFC3339, e.Modified)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: modified: %w", e.ID, err)
		}
		if m.After(t) {
			t = m
		}
	}
	return t.UTC(), nil
}

func writeAtomically(out string, entries []*entry, modified time.Time) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), filepath.Base(out)+".tmp-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	if err := write(tmp, entries, modified); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		// Another run built it meanwhile: the same version, the same database.
		if _, statErr := os.Stat(filepath.Join(out, "index", "modules.json")); statErr == nil {
			return nil
		}
		return err
	}
	return nil
}

func write(dir string, entries []*entry, modified time.Time) error {
	for _, d := range []string{"index", "ID"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if err := os.WriteFile(filepath.Join(dir, "ID", e.ID+".json"), e.raw, 0o644); err != nil {
			return err
		}
	}
	mod, err := dbModified(entries, modified)
	if err != nil {
		return err
	}
	modules, vulns := indexes(entries)
	// modules.json last: its presence is what marks the database complete.
	for _, f := range []struct {
		name string
		v    any
	}{
		{"db.json", map[string]string{"modified": mod.Format(time.RFC3339)}},
		{"vulns.json", vulns},
		{"modules.json", modules},
	} {
		b, err := json.Marshal(f.v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "index", f.name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
