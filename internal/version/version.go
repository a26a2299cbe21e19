// Package version holds the build's version, set at link time by the Makefile.
package version

import (
	"fmt"
	"runtime"
)

// These are overridden with -ldflags "-X" at build time.
var (
	Version = "dev"
	Commit  = "unknown"
)

// String is the one-line version report printed by `albrollouts version`.
func String() string {
	return fmt.Sprintf("albrollouts %s (commit %s, %s, %s/%s)", Version, Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
