package localenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

func readPID(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, pidFileName))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s is corrupt", filepath.Join(dir, pidFileName))
	}
	return pid, nil
}

// runningPID returns the pid in dir's pid file and whether that process is alive.
func runningPID(dir string) (int, bool) {
	pid, err := readPID(dir)
	if err != nil {
		return 0, false
	}
	if pid == os.Getpid() {
		return pid, false
	}
	err = syscall.Kill(pid, 0)
	return pid, err == nil || errors.Is(err, syscall.EPERM)
}

// StopRunning sends SIGTERM to the environment running on dir (started by
// `albrollouts local up`) and waits up to timeout for it to exit.
func StopRunning(dir string, timeout time.Duration) error {
	if dir == "" {
		dir = DefaultDir()
	}
	pid, alive := runningPID(dir)
	if !alive {
		return fmt.Errorf("no local environment is running on %s (no live pid in %s)", dir, filepath.Join(dir, pidFileName))
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop local environment (pid %d): %w", pid, err)
	}
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		_, alive := runningPID(dir)
		return !alive, nil
	})
	if err == nil {
		return nil
	}
	return fmt.Errorf("local environment (pid %d) still running after %s", pid, timeout)
}
