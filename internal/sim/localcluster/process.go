package localcluster

import (
	"bytes"
	"errors"
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

// stopGrace is how long a component gets to exit after SIGTERM before SIGKILL.
const stopGrace = 15 * time.Second

// process is one running control-plane binary whose output goes to a log file
// in the work directory (and to Options.Log).
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{} // closed when the process has exited
	waitErr error         // exit status; read only after done is closed
}

// startProcess runs bin with args, logging to <workDir>/<name>.log.
func startProcess(name, bin string, args []string, workDir string, log io.Writer) (*process, error) {
	logPath := filepath.Join(workDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	var out io.Writer = f
	if log != nil && log != io.Discard {
		out = io.MultiWriter(f, &prefixWriter{prefix: name + ": ", w: log})
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = workDir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// diedError describes a process that ended while it should be running, with
// the end of its log so the cause is visible without opening files.
func (p *process) diedError() error {
	return fmt.Errorf("%s exited unexpectedly (%v); last lines of %s:\n%s",
		p.name, p.waitErr, p.logPath, tail(p.logPath, 25))
}

// stop sends SIGTERM, waits up to stopGrace, then sends SIGKILL. It returns an
// error only when the process could not be stopped.
func (p *process) stop() error {
	if p == nil || p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", p.name, err)
	}
	timer := time.NewTimer(stopGrace)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-timer.C:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s after %s: %w", p.name, stopGrace, err)
	}
	<-p.done
	return nil
}

// tail returns the last n lines of a file (or a note that it cannot be read).
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// prefixWriter prefixes every line with the component's name, so the output
// of several processes sharing one Options.Log stays readable.
type prefixWriter struct {
	prefix  string
	w       io.Writer
	midLine bool
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	var buf bytes.Buffer
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !pw.midLine {
			buf.WriteString(pw.prefix)
		}
		buf.Write(line)
		pw.midLine = line[len(line)-1] != '\n'
	}
	if _, err := pw.w.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// syncWriter serialises writes of several components to one Options.Log.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
