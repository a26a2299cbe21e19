package demo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ControlPlaneBinaries are what the local environment runs, built once by
// `make k8s-bins` (hack/build-k8s-bins.sh).
var ControlPlaneBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager"}

// MissingBinaries lists the control-plane binaries dir lacks.
func MissingBinaries(dir string) []string {
	var out []string
	for _, b := range ControlPlaneBinaries {
		st, err := os.Stat(filepath.Join(dir, b))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			out = append(out, b)
		}
	}
	return out
}

// BuildOptions configure EnsureBinaries.
type BuildOptions struct {
	// BinDir is where the binaries must be.
	BinDir string
	// Script builds them (hack/build-k8s-bins.sh of the repository); "" or a
	// path that does not exist: they cannot be built from here.
	Script string
	// Out receives the progress.
	Out io.Writer
	// Terminal redraws one progress line in place; otherwise plain lines,
	// one every Interval (default 30s) while a binary builds.
	Terminal bool
	// Interval between progress updates (default 1s on a terminal, 30s
	// otherwise).
	Interval time.Duration
}

// EnsureBinaries builds the missing control-plane binaries with the script,
// showing which one builds and for how long, so a first run does not sit
// silent for the ~7 minutes the build takes on 2 cores. It does nothing when
// all are there. Cancelling ctx kills the build.
func EnsureBinaries(ctx context.Context, o BuildOptions) error {
	missing := MissingBinaries(o.BinDir)
	if len(missing) == 0 {
		return nil
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Script == "" {
		return fmt.Errorf("control-plane binaries missing in %s: %s; run `make k8s-bins` in the albrollouts repository (builds them once, about 7 minutes on 2 cores) or set K8S_BINS to a folder holding them",
			o.BinDir, strings.Join(missing, ", "))
	}
	if _, err := os.Stat(o.Script); err != nil {
		return fmt.Errorf("control-plane binaries missing in %s: %s, and the build script %s is not there (%w); run `make demo` or `make k8s-bins` from the albrollouts repository, or set K8S_BINS to a folder holding them",
			o.BinDir, strings.Join(missing, ", "), o.Script, err)
	}
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
		if o.Terminal {
			o.Interval = time.Second
		}
	}
	cmd := exec.CommandContext(ctx, "bash", o.Script)
	cmd.Env = append(os.Environ(), "K8S_BINS="+o.BinDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Kill the whole group: the script's go build and its compilers too.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = io.Discard
	p := &buildProgress{out: o.Out, tty: o.Terminal, start: time.Now(), total: len(missing)}
	p.printf("building the control-plane binaries %s into %s (first run only; about 7 minutes on 2 cores)", strings.Join(missing, ", "), o.BinDir)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", o.Script, err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(o.Interval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				p.tick()
			}
		}
	}()
	var tail []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		tail = append(tail, line)
		if len(tail) > 20 {
			tail = tail[1:]
		}
		p.line(line)
	}
	err = cmd.Wait()
	close(done)
	wg.Wait()
	p.finish()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("building the control-plane binaries failed (%w); the script's last lines:\n%s", err, strings.Join(tail, "\n"))
	}
	if m := MissingBinaries(o.BinDir); len(m) > 0 {
		return fmt.Errorf("%s finished but %s still lacks %s", o.Script, o.BinDir, strings.Join(m, ", "))
	}
	p.printf("control-plane binaries ready in %s", time.Since(p.start).Round(time.Second))
	return nil
}

// buildProgress shows the build: the binary being built, how many are done,
// the time spent.
type buildProgress struct {
	mu      sync.Mutex
	out     io.Writer
	tty     bool
	start   time.Time
	total   int
	done    int
	current string
	since   time.Time
	drawn   bool
}

func (p *buildProgress) clearLocked() {
	if p.drawn {
		_, _ = io.WriteString(p.out, "\r\x1b[2K")
		p.drawn = false
	}
}

func (p *buildProgress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	_, _ = fmt.Fprintf(p.out, format+"\n", args...)
	p.drawLocked()
}

// line takes in one line of the script's output.
func (p *buildProgress) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rest, ok := strings.CutPrefix(s, "k8s-bins: ")
	switch {
	case ok && strings.HasPrefix(rest, "building "):
		p.current = strings.Fields(strings.TrimPrefix(rest, "building "))[0]
		p.since = time.Now()
	case ok && strings.HasPrefix(rest, "built "):
		p.done++
		p.current = ""
	case ok && strings.Contains(rest, " present in "):
		// Already there: not part of this build.
		return
	}
	p.clearLocked()
	_, _ = fmt.Fprintf(p.out, "  %s  %s\n", elapsed(time.Since(p.start)), s)
	p.drawLocked()
}

func (p *buildProgress) status() string {
	s := fmt.Sprintf("  %s  building the control-plane binaries: %d/%d done", elapsed(time.Since(p.start)), p.done, p.total)
	if p.current != "" {
		s += fmt.Sprintf(", %s for %s", p.current, elapsed(time.Since(p.since)))
		if p.current == "kube-apiserver" {
			s += " (the longest, about 4-5 minutes)"
		}
	}
	return s
}

func (p *buildProgress) drawLocked() {
	if !p.tty {
		return
	}
	_, _ = io.WriteString(p.out, p.status())
	p.drawn = true
}

func (p *buildProgress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.clearLocked()
		p.drawLocked()
		return
	}
	_, _ = io.WriteString(p.out, p.status()+"\n")
}

func (p *buildProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

func elapsed(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int((d % time.Minute).Seconds()))
}
