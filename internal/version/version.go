// Package version holds the build's version, set at link time by the Makefile,
// and the name of the release image.
package version

import (
	"fmt"
	"regexp"
	"runtime"
)

// These are overridden with -ldflags "-X" at build time.
var (
	Version = "dev"
	Commit  = "unknown"
)

// Image is the repository of the release image, named in one place: `albrollouts
// install` defaults to it (ImageRef), and `make image` (IMAGE), the Helm chart
// (controller.image.repository) and config/ (config/manager, config/default) name it
// too, which hack/image's TestImageNameAgrees checks.
const Image = "ghcr.io/albrollouts/albrollouts"

// releaseVersion is a release tag, v1.2.3 or v1.2.3-rc.1, as against a `git
// describe` between tags (v1.2.3-4-gabcdef0) or a dirty tree.
var releaseVersion = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-(alpha|beta|rc)(\.[0-9]+)?)?$`)

// ImageRef is the controller image this build installs: Image tagged with Version
// when Version is a release tag (what `make image VERSION=...` tags its image with),
// else Image:latest.
func ImageRef() string {
	if releaseVersion.MatchString(Version) {
		return Image + ":" + Version
	}
	return Image + ":latest"
}

// String is the one-line version report printed by `albrollouts version`.
func String() string {
	return fmt.Sprintf("albrollouts %s (commit %s, %s, %s/%s)", Version, Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
