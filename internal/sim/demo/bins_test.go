package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "build.sh")
	if err := os.WriteFile(p, []byte("set -euo pipefail\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeBuild prints what hack/build-k8s-bins.sh prints and creates the files.
const fakeBuild = `for b in etcd kube-apiserver kube-controller-manager; do
  if [[ -x "$K8S_BINS/$b" ]]; then echo "k8s-bins: $b present in $K8S_BINS" >&2; continue; fi
  echo "k8s-bins: building $b (first time only; takes a few minutes)" >&2
  printf '#!/bin/sh\n' > "$K8S_BINS/$b"; chmod +x "$K8S_BINS/$b"
  echo "k8s-bins: built $b in 0s" >&2
done
echo "$K8S_BINS"
`

func TestEnsureBinariesBuildsWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "etcd"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	if err := EnsureBinaries(context.Background(), BuildOptions{BinDir: dir, Script: writeScript(t, fakeBuild), Out: &out}); err != nil {
		t.Fatal(err)
	}
	if m := MissingBinaries(dir); len(m) != 0 {
		t.Fatalf("still missing %v", m)
	}
	s := out.String()
	for _, want := range []string{"building the control-plane binaries kube-apiserver, kube-controller-manager", "about 7 minutes",
		"k8s-bins: building kube-apiserver", "k8s-bins: built kube-controller-manager", "control-plane binaries ready"} {
		if !strings.Contains(s, want) {
			t.Errorf("progress lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "present in") || strings.Contains(s, "\x1b") {
		t.Errorf("progress shows binaries that were there, or escapes without a terminal:\n%s", s)
	}
	// All there: the script is not run at all.
	out = syncBuffer{}
	if err := EnsureBinaries(context.Background(), BuildOptions{BinDir: dir, Script: "/nonexistent", Out: &out}); err != nil || out.String() != "" {
		t.Errorf("all present: %v, %q", err, out.String())
	}
}

// On a terminal the progress line is redrawn in place every interval while
// a binary builds.
func TestEnsureBinariesTerminalProgress(t *testing.T) {
	dir := t.TempDir()
	script := writeScript(t, `echo "k8s-bins: building etcd (first time only)" >&2
while [[ ! -e "$K8S_BINS/go" ]]; do sleep 0.05; done
`+fakeBuild)
	var out syncBuffer
	errc := make(chan error, 1)
	go func() {
		errc <- EnsureBinaries(context.Background(), BuildOptions{BinDir: dir, Script: script, Out: &out, Terminal: true, Interval: 20 * time.Millisecond})
	}()
	// Let the build go on once two progress redraws were seen.
	poll.Eventually(t, 30*time.Second, "progress redraws", func() (bool, string) {
		s := out.String()
		return strings.Count(s, "\r\x1b[2K") >= 3, fmt.Sprintf("\n%q", s)
	})
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "0/3 done, etcd for 0:0") {
		t.Errorf("progress line lacks the binary being built:\n%q", s)
	}
}

func TestEnsureBinariesErrors(t *testing.T) {
	dir := t.TempDir()
	err := EnsureBinaries(context.Background(), BuildOptions{BinDir: dir})
	if err == nil || !strings.Contains(err.Error(), "make k8s-bins") || !strings.Contains(err.Error(), "etcd, kube-apiserver, kube-controller-manager") {
		t.Errorf("no script: %v", err)
	}
	err = EnsureBinaries(context.Background(), BuildOptions{BinDir: dir, Script: filepath.Join(dir, "missing.sh")})
	if err == nil || !strings.Contains(err.Error(), "missing.sh") {
		t.Errorf("script missing: %v", err)
	}
	err = EnsureBinaries(context.Background(), BuildOptions{BinDir: dir, Script: writeScript(t, "echo 'go: module lookup disabled' >&2; exit 3\n")})
	if err == nil || !strings.Contains(err.Error(), "module lookup disabled") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("failing build: %v", err)
	}
	err = EnsureBinaries(context.Background(), BuildOptions{BinDir: dir, Script: writeScript(t, "echo done\n")})
	if err == nil || !strings.Contains(err.Error(), "still lacks") {
		t.Errorf("build without output: %v", err)
	}
}

// Cancelling kills the build and everything it started.
func TestEnsureBinariesCancelKillsTheBuild(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	script := writeScript(t, `echo "k8s-bins: building kube-apiserver (first time only)" >&2
sleep 300 & echo $! > "`+pidFile+`"; wait
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- EnsureBinaries(ctx, BuildOptions{BinDir: dir, Script: script}) }()
	var pid int
	poll.Until(t, 30*time.Second, "the build script to start its child", func() bool {
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		return pid != 0
	})
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("EnsureBinaries did not return after cancel")
	}
	poll.Until(t, 30*time.Second, fmt.Sprintf("the build's child %d to end", pid), func() bool { return !alive(pid) })
}

// alive: the process exists and is not a zombie.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z"
}
