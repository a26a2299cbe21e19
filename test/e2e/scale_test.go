package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/sim/localenv"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// TestControllerAtScale is a measured run, not part of the suite: with
// ALBROLLOUTS_SCALE=N (and bin/albrollouts built), it runs the controller as
// its own process against N canary rollouts (20 per ALB), updates all of them
// at once, and reports the time until each one's first step is verified and
// the controller's RSS and CPU.
func TestControllerAtScale(t *testing.T) {
	needEnv(t)
	n, _ := strconv.Atoi(os.Getenv("ALBROLLOUTS_SCALE"))
	if n <= 0 {
		t.Skip("set ALBROLLOUTS_SCALE=200 (and build bin/albrollouts) for this measured run")
	}
	bin, err := filepath.Abs("../../bin/albrollouts")
	if err != nil {
		t.Fatal(err)
	}
	if b := os.Getenv("ALBROLLOUTS_BIN"); b != "" {
		bin = b
	}
	ns := namespace(t, "scale")
	metricsAddr := freeLocalAddr(t)
	cmd := exec.Command(bin, "controller", "--kubeconfig", env.KubeconfigPath(), "--namespace", ns, "--instance-id", ns,
		"--aws-verify-target-group", "--aws-region", localenv.DefaultRegion, "--aws-endpoint-url", env.ELBV2Endpoint(),
		"--metrics-bind-address", metricsAddr, "--health-probe-bind-address", "0", "--log-level", "error")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+localenv.DummyAccessKey, "AWS_SECRET_ACCESS_KEY="+localenv.DummySecretKey)
	logf, _ := os.Create(filepath.Join(env.Dir(), "scale-controller.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid

	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("app%03d", i)
		app := canaryApp{name: names[i], replicas: 1, version: "v1", steps: []v1alpha1.CanaryStep{setWeight(50), {Pause: &v1alpha1.RolloutPause{}}}}
		app.groupName = fmt.Sprintf("%s-g%d", ns, i/20)
		app.create(t, ns)
	}
	waitAll := func(what string, cond func(*v1alpha1.Rollout) (bool, string)) map[string]time.Duration {
		start := time.Now()
		done := map[string]time.Duration{}
		poll.Slow.Eventually(t, 15*time.Minute, fmt.Sprintf("%d rollouts %s", n, what), func() (bool, string) {
			var list v1alpha1.RolloutList
			if err := kc().List(ctxT(t), &list); err != nil {
				return false, err.Error()
			}
			for i := range list.Items {
				ro := &list.Items[i]
				if _, ok := done[ro.Name]; !ok && ro.Namespace == ns {
					if ok, _ := cond(ro); ok {
						done[ro.Name] = time.Since(start)
					}
				}
			}
			return len(done) == n, fmt.Sprintf("%d of %d", len(done), n)
		})
		return done
	}
	waitAll("healthy on v1", healthy)
	var samples sampler
	samples.start(pid)
	cpu0 := samples.cpu()
	statsBefore := env.Elbsim().Stats()
	calls0 := controllerCalls(t, metricsAddr)
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() { defer wg.Done(); setImage(t, ns, name, "v2") }()
	}
	wg.Wait()
	durations := waitAll("at 50% verified", func(ro *v1alpha1.Rollout) (bool, string) {
		return pausedAt(1)(ro)
	})
	cpu := samples.cpu() - cpu0
	ours := controllerCalls(t, metricsAddr) - calls0
	peak := samples.stop()
	after := env.Elbsim().Stats()
	var calls, throttled int64
	for action, a := range after.Actions {
		if strings.HasPrefix(action, "Describe") {
			calls += a.Calls - statsBefore.Actions[action].Calls
			throttled += a.Throttled - statsBefore.Actions[action].Throttled
		}
	}
	var ds []time.Duration
	for _, d := range durations {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	t.Logf("%d rollouts, one step each at once: p50 %s, p99 %s, max %s to verified at 50%%; controller CPU %.1f s, peak RSS %.0f MiB; the controller's ELBv2 calls %.0f (%.1f per rollout); Describe* calls of all clients %d, throttled %d",
		n, q(0.5).Round(100*time.Millisecond), q(0.99).Round(100*time.Millisecond), ds[len(ds)-1].Round(100*time.Millisecond), cpu, peak/1024/1024, ours, ours/float64(n), calls, throttled)
}

// sampler reads a process's RSS every 200 ms and its CPU time.
type sampler struct {
	pid  int
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	peak float64
}

func (s *sampler) start(pid int) {
	s.pid, s.done = pid, make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss := readRSS(pid); rss > 0 {
				s.mu.Lock()
				s.peak = max(s.peak, rss)
				s.mu.Unlock()
			}
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
		}
	}()
}

func (s *sampler) stop() float64 {
	close(s.done)
	s.wg.Wait()
	return s.peak
}

// cpu is the process's user+system CPU seconds.
func (s *sampler) cpu() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100 // USER_HZ
}

func readRSS(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}

// freeLocalAddr returns a free loopback address for the controller's metrics.
func freeLocalAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}

// controllerCalls scrapes albrollouts_elbv2_api_calls_total from the
// controller's /metrics.
func controllerCalls(t *testing.T, addr string) float64 {
	t.Helper()
	var total float64
	poll.Slow.Eventually(t, pollTimeout, "controller metrics", func() (bool, string) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer func() { _ = resp.Body.Close() }()
		total = 0
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "albrollouts_elbv2_api_calls_total{") {
				continue
			}
			if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
				total += v
			}
		}
		return true, ""
	})
	return total
}
