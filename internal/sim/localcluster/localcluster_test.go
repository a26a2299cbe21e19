package localcluster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultBinDir(t *testing.T) {
	t.Setenv("K8S_BINS", "")
	t.Setenv("ALBROLLOUTS_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got, want := DefaultBinDir(), "/xdg/albrollouts/k8s-v1.37.2-etcd-v3.6.16"; got != want {
		t.Errorf("with XDG_CACHE_HOME: %s, want %s", got, want)
	}
	t.Setenv("ALBROLLOUTS_CACHE", "/cache")
	if got, want := DefaultBinDir(), "/cache/k8s-v1.37.2-etcd-v3.6.16"; got != want {
		t.Errorf("with ALBROLLOUTS_CACHE: %s, want %s", got, want)
	}
	t.Setenv("K8S_BINS", "/bins")
	if got := DefaultBinDir(); got != "/bins" {
		t.Errorf("with K8S_BINS: %s, want /bins", got)
	}
}

func TestStartWithoutBinaries(t *testing.T) {
	dir := t.TempDir()
	_, err := Start(context.Background(), Options{BinDir: dir, CRDDirs: []string{}, ControllerManager: true})
	if err == nil {
		t.Fatal("Start succeeded without binaries")
	}
	for _, want := range []string{dir, "etcd, kube-apiserver, kube-controller-manager", "make k8s-bins"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestStartReportsDeadProcess uses fake binaries that exit at once: Start must
// fail fast with the end of the component's log in the error.
func TestStartReportsDeadProcess(t *testing.T) {
	bin := t.TempDir()
	script := "#!/bin/sh\necho \"fake $0: invalid flag --bogus\" >&2\nexit 3\n"
	for _, name := range []string{EtcdBin, APIServerBin} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	work := t.TempDir()
	_, err := Start(context.Background(), Options{BinDir: bin, CRDDirs: []string{}, WorkDir: work})
	if err == nil {
		t.Fatal("Start succeeded with a failing etcd")
	}
	for _, want := range []string{"etcd exited unexpectedly", "exit status 3", "invalid flag --bogus", filepath.Join(work, "etcd.log")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if _, statErr := os.Stat(work); statErr != nil {
		t.Errorf("a WorkDir given by the caller must be kept: %v", statErr)
	}
}

func TestReadCRDs(t *testing.T) {
	dir := t.TempDir()
	nested := filepath.Join(dir, "nested")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	crd := func(name string) string {
		return "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: " + name + "\n"
	}
	files := map[string]string{
		filepath.Join(dir, "a.yaml"):     crd("as.example.com") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ignored\n---\n" + crd("bs.example.com"),
		filepath.Join(nested, "c.yml"):   crd("cs.example.com"),
		filepath.Join(dir, "README.md"):  "not yaml",
		filepath.Join(dir, "empty.yaml"): "",
		filepath.Join(nested, "d.yaml"):  "---\n# only a comment\n",
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	crds, err := readCRDs([]string{dir, filepath.Join(dir, "does-not-exist")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range crds {
		names = append(names, c.Name)
	}
	if got, want := strings.Join(names, ","), "as.example.com,bs.example.com,cs.example.com"; got != want {
		t.Errorf("read CRDs %s, want %s", got, want)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(crd("x.example.com")+"spec:\n  grop: typo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readCRDs([]string{filepath.Dir(bad)}); err == nil || !strings.Contains(err.Error(), "grop") {
		t.Errorf("a CRD with an unknown field should be reported, got %v", err)
	}
}

func TestPrefixWriter(t *testing.T) {
	var buf bytes.Buffer
	w := &prefixWriter{prefix: "etcd: ", w: &buf}
	for _, chunk := range []string{"one\ntw", "o\n", "three\nfour"} {
		if _, err := w.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := buf.String(), "etcd: one\netcd: two\netcd: three\netcd: four"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFreePortsDistinct(t *testing.T) {
	ports, err := freePorts(8)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("bad or duplicate port in %v", ports)
		}
		seen[p] = true
	}
}
