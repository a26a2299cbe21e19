// Package e2e runs the local environment (real control plane, elbsim, node agent,
// local ALB controller) and checks, with real HTTP traffic, that Ingresses become
// ALBs, pods become healthy targets and weights shape traffic. Skipped with -short.
package e2e

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/localenv"
)

// env is shared by every test of the package (see TestMain); nil with -short.
var env *localenv.Env

// Timing of the shared environment: health checks and probes run 20x faster than
// real time, and the ALB controller applies Ingress changes after lbLag.
const (
	timeScale = 0.05
	lbLag     = 2 * time.Second
	// pollTimeout bounds every wait for state; generous for a loaded 2-core machine.
	pollTimeout = 60 * time.Second
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(run(m))
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
		TimeScale:          timeScale,
		LBLag:              lbLag,
		HealthPollInterval: 200 * time.Millisecond,
		Out:                out,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start local environment: %v (logs in %s)\n", err, dir)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: local environment up in %s (logs in %s)\n", time.Since(start).Round(time.Millisecond), dir)
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
