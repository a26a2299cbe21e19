// Package e2e runs the local environment (real control plane, elbsim, node agent,
// local ALB controller) and checks, with real HTTP traffic, that Ingresses become
// ALBs, pods become healthy targets and weights shape traffic. Skipped with -short.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/nodeagent"

	"github.com/albrollouts/albrollouts/internal/sim/localenv"
)

// env is shared by every test of the package (see TestMain); nil with -short.
var env *localenv.Env

// The suite runs twice. The first pass uses the default loopback pod range,
// as `albrollouts local up` does. The second pass re-runs the test binary in a
// private network namespace whose loopback interface also owns netnsPodCIDR, so
// pods get addresses that kube-apiserver accepts in EndpointSlices (it refuses
// loopback ones) and the endpointslice controller really publishes them.
const (
	podCIDREnv   = "ALBROLLOUTS_E2E_POD_CIDR"
	netnsPodCIDR = "198.18.0.0/16" // RFC 2544 benchmarking range, local to the namespace only
	netnsHostIP  = "198.19.0.1"    // the namespace's own address, outside the pod range
)

// podCIDR is this pass's pod range; empty means the loopback default.
var podCIDR string

// podRange is the pod range of this pass.
func podRange() netip.Prefix {
	if podCIDR == "" {
		return netip.MustParsePrefix(nodeagent.DefaultPodCIDR)
	}
	return netip.MustParsePrefix(podCIDR)
}

// Timing of the shared environment: health checks and probes run 20x faster than
// real time, and the ALB controller applies Ingress changes after lbLag.
const (
	timeScale = 0.05
	lbLag     = 2 * time.Second
	// pollTimeout bounds every wait for state; generous for a loaded 2-core machine.
	pollTimeout = 60 * time.Second
)

// suiteTimeScale is timeScale, or ALBROLLOUTS_E2E_TIME_SCALE for measured
// runs that need real-er timings (health-check timeouts scale too).
func suiteTimeScale() float64 {
	if v, err := strconv.ParseFloat(os.Getenv("ALBROLLOUTS_E2E_TIME_SCALE"), 64); err == nil && v > 0 {
		return v
	}
	return timeScale
}

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	podCIDR = os.Getenv(podCIDREnv)
	code := run(m)
	if podCIDR == "" && code == 0 {
		code = runInNetworkNamespace()
	}
	os.Exit(code)
}

// runInNetworkNamespace runs this test binary again, with the same flags,
// inside a new network namespace where netnsPodCIDR is routed to lo. Nothing in
// that namespace can reach any other network. It needs root and unshare(1);
// without them the pass is reported as not run, which fails the suite in CI.
func runInNetworkNamespace() int {
	if why := netnsUnavailable(); why != "" {
		fmt.Fprintf(os.Stderr, "e2e: second pass (pods on %s in a private network namespace) not run: %s\n", netnsPodCIDR, why)
		if os.Getenv("CI") != "" {
			return 1
		}
		return 0
	}
	// lo owns the pod range, and a host address (outside the pod range) that a
	// default route points at: kube-apiserver picks its advertise address from
	// the default route. The namespace has no other interface, so no packet can
	// leave it.
	script := `set -e; ip link set lo up; ip route add local ` + netnsPodCIDR + ` dev lo; ` +
		`ip addr add ` + netnsHostIP + `/32 dev lo; ip route add default dev lo src ` + netnsHostIP + `; exec "$0" "$@"`
	cmd := exec.Command("unshare", append([]string{"--net", "--", "sh", "-c", script, os.Args[0]}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), podCIDREnv+"="+netnsPodCIDR)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Fprintf(os.Stderr, "e2e: second pass: pods on %s in a private network namespace\n", netnsPodCIDR)
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() > 0 {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "e2e: second pass:", err)
		return 1
	}
	return 0
}

// netnsUnavailable says why the second pass cannot run here, or "".
func netnsUnavailable() string {
	if os.Geteuid() != 0 {
		return "creating a network namespace needs root"
	}
	for _, tool := range []string{"unshare", "ip", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " is not installed (Debian packages util-linux, iproute2; `make test-deps`)"
		}
	}
	return ""
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "albrollouts-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	var out io.Writer = &bytes.Buffer{}
	if testing.Verbose() {
		out = os.Stderr
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, err = localenv.Start(ctx, localenv.Options{
		Dir:                dir,
		TimeScale:          suiteTimeScale(),
		LBLag:              lbLag,
		HealthPollInterval: 200 * time.Millisecond,
		PodCIDR:            podCIDR,
		Out:                out,
		// A real Prometheus server scraping the ALB's data plane, for the
		// prometheus provider's analysis tests.
		WithPrometheus: true,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start local environment: %v (logs in %s)\n", err, dir)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: local environment up in %s, pods on %s (logs in %s)\n", time.Since(start).Round(time.Millisecond), podRange(), dir)
	code := m.Run()
	stopStart := time.Now()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: stop local environment:", err)
		if code == 0 {
			code = 1
		}
	}
	fmt.Fprintf(os.Stderr, "e2e: local environment stopped in %s\n", time.Since(stopStart).Round(time.Millisecond))
	if code == 0 {
		_ = os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "e2e: logs kept in %s (controllers.log, cluster/*.log)\n", dir)
	}
	return code
}
