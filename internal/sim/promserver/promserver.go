// Package promserver runs a real Prometheus server (Debian's `prometheus`
// package, which `make test-deps` installs) for the local environment and the
// tests: it writes a configuration that scrapes the given targets at a short
// interval (1 s by default, for short scenarios), starts the binary on a free
// loopback port with its data in a directory of its own, and waits until the
// server is ready. The targets of a job can change while it runs (file-based
// service discovery), for pods that come and go.
package promserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"
)

// EnvBinary names the variable that points at a Prometheus binary to use
// instead of the one on PATH.
const EnvBinary = "ALBROLLOUTS_PROMETHEUS"

// ErrNotInstalled is returned (wrapped) by Find when there is no Prometheus binary.
var ErrNotInstalled = errors.New("the prometheus binary is not installed: run `make test-deps` (Debian: apt-get install -y prometheus) or set " + EnvBinary)

// Find returns the Prometheus binary: $ALBROLLOUTS_PROMETHEUS, else
// "prometheus" on PATH, else Debian's /usr/bin/prometheus.
func Find() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus", nil
	}
	return "", ErrNotInstalled
}

// Job is one scrape job: Prometheus scrapes MetricsPath on each target.
type Job struct {
	Name        string
	MetricsPath string   // default /metrics
	Targets     []string // host:port
}

// Options configures Start.
type Options struct {
	// Binary is the prometheus executable; default Find().
	Binary string
	// Dir holds the configuration, the target files, the data and the log
	// (prometheus.log). Required.
	Dir string
	// Listen is the address of Prometheus's HTTP API; default a free port on 127.0.0.1.
	Listen string
	// ScrapeInterval is the scrape and rule evaluation interval; default 1 s.
	ScrapeInterval time.Duration
	// Jobs are scraped from the start; SetTargets changes a job's targets later.
	Jobs []Job
	// Log also receives Prometheus's output, if set.
	Log io.Writer
}

// Server is a running Prometheus.
type Server struct {
	o    Options
	url  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the process's exit status, after done

	logFile  *os.File
	stopOnce sync.Once
}

// Start writes the configuration and starts Prometheus, returning once it
// answers /-/ready (ctx bounds the wait).
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("promserver: Options.Dir is required")
	}
	if o.Binary == "" {
		bin, err := Find()
		if err != nil {
			return nil, err
		}
		o.Binary = bin
	}
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = time.Second
	}
	if o.Listen == "" {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		o.Listen = addr
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("promserver: %w", err)
	}
	s := &Server{o: o, url: "http://" + o.Listen, done: make(chan struct{})}
	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	if err := s.start(); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// freeLoopbackAddr returns a 127.0.0.1 port that was free a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("promserver: find a free port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // only its port number was wanted
	return addr, nil
}

func (s *Server) targetFile(job string) string {
	return filepath.Join(s.o.Dir, "targets-"+job+".json")
}

// writeConfig writes prometheus.yml and each job's target file.
func (s *Server) writeConfig() error {
	iv := s.o.ScrapeInterval.String()
	var jobs []map[string]any
	for _, j := range s.o.Jobs {
		path := j.MetricsPath
		if path == "" {
			path = "/metrics"
		}
		jobs = append(jobs, map[string]any{
			"job_name":        j.Name,
			"metrics_path":    path,
			"scrape_interval": iv,
			"scrape_timeout":  iv,
			"file_sd_configs": []map[string]any{{"files": []string{s.targetFile(j.Name)}, "refresh_interval": iv}},
		})
		if err := s.SetTargets(j.Name, j.Targets); err != nil {
			return err
		}
	}
	cfg := map[string]any{
		"global":         map[string]any{"scrape_interval": iv, "scrape_timeout": iv, "evaluation_interval": iv},
		"scrape_configs": jobs,
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("promserver: encode configuration: %w", err)
	}
	return writeFile(filepath.Join(s.o.Dir, "prometheus.yml"), b)
}

// writeFile replaces path atomically, so Prometheus never reads half a file.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("promserver: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("promserver: %w", err)
	}
	return nil
}

// SetTargets replaces the targets of a job; Prometheus picks the change up
// within a scrape interval.
func (s *Server) SetTargets(job string, targets []string) error {
	group := []map[string]any{{"targets": append([]string{}, targets...), "labels": map[string]string{}}}
	b, err := json.Marshal(group)
	if err != nil {
		return fmt.Errorf("promserver: encode targets: %w", err)
	}
	return writeFile(s.targetFile(job), b)
}

func (s *Server) start() error {
	f, err := os.OpenFile(filepath.Join(s.o.Dir, "prometheus.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("promserver: open log: %w", err)
	}
	s.logFile = f
	var out io.Writer = f
	if s.o.Log != nil {
		out = io.MultiWriter(f, s.o.Log)
	}
	s.cmd = exec.Command(s.o.Binary,
		"--config.file="+filepath.Join(s.o.Dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(s.o.Dir, "data"),
		"--storage.tsdb.retention.time=1d",
		"--web.listen-address="+s.o.Listen,
		"--web.enable-lifecycle",
	)
	s.cmd.Dir = s.o.Dir
	s.cmd.SysProcAttr = sysProcAttr()
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		_ = f.Close()
		return fmt.Errorf("promserver: start %s: %w", s.o.Binary, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	return nil
}

func (s *Server) waitReady(ctx context.Context) error {
	c := &http.Client{Timeout: 2 * time.Second}
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case <-s.done:
			err := s.err
			if err == nil {
				err = errors.New("exit status 0")
			}
			return false, fmt.Errorf("prometheus exited (%w); see %s", err, filepath.Join(s.o.Dir, "prometheus.log"))
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/-/ready", nil)
		if err != nil {
			return false, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return false, nil // not listening yet
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("promserver: prometheus on %s did not become ready: %w (log: %s)", s.o.Listen, err, s.logTail())
	}
	return nil
}

// logTail is the end of Prometheus's log, for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.o.Dir, "prometheus.log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}

// URL is the address of Prometheus's HTTP API, "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.url }

// ConfigPath is the configuration file Prometheus runs with.
func (s *Server) ConfigPath() string { return filepath.Join(s.o.Dir, "prometheus.yml") }

// Close stops Prometheus (SIGTERM, then SIGKILL after 10 s) and waits for it.
func (s *Server) Close() error {
	var err error
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM) // it may have exited already
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		select {
		case <-s.done:
		case <-t.C:
			_ = s.cmd.Process.Kill() // it did not stop in time
			<-s.done
			err = errors.New("promserver: prometheus did not stop within 10 s of SIGTERM and was killed")
		}
		_ = s.logFile.Close()
	})
	return err
}
