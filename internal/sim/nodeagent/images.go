package nodeagent

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
)

// The image catalogue: the images the node agent can pull, as a registry would
// have them. The agent runs no image (every container runs the demo app or its
// HTTP stand-in), but it answers as a kubelet would about which images exist and
// which commands they contain:
//
//   - an image whose repository is not in the catalogue, or whose tag the
//     repository does not have (nginx:1.19-alpine-argo-error,
//     argoproj/rollouts-demo:error), cannot be pulled: ErrImagePull, then
//     ImagePullBackOff (pull.go). Options.Images (or $ALBROLLOUTS_IMAGES) adds
//     images by pattern, e.g. your own registry's;
//   - a container whose command names an executable that its image does not have
//     (command: [/bad-command]) fails to start: RunContainerError, then
//     CrashLoopBackOff (crash.go). Images added by pattern have no known file
//     system: every command runs in them.
//
// The catalogue holds the images this project's demo, samples and tests use and
// those Argo Rollouts' e2e suites use and expect to run.

// catalogueImage is one repository of the catalogue.
type catalogueImage struct {
	repository string                                  // normalized: docker.io/library/nginx
	tag        func(tag string) (fs *imageFS, ok bool) // the tag's file system; ok false: no such tag
}

// imageFS is what an image's file system holds, as far as commands go: bins are
// the executables in its bin directories (/bin, /sbin, /usr/bin, /usr/sbin,
// /usr/local/bin, /usr/local/sbin: found by name through $PATH or by path),
// files the executables elsewhere, by absolute path.
type imageFS struct {
	name  string // for messages: "alpine", "scratch"
	bins  map[string]bool
	files map[string]bool
}

// binDirs are the directories of the default $PATH.
var binDirs = map[string]bool{
	"/bin": true, "/sbin": true, "/usr/bin": true, "/usr/sbin": true, "/usr/local/bin": true, "/usr/local/sbin": true,
}

func newFS(name string, bins, files []string, base ...*imageFS) *imageFS {
	fs := &imageFS{name: name, bins: map[string]bool{}, files: map[string]bool{}}
	for _, b := range base {
		for k := range b.bins {
			fs.bins[k] = true
		}
		for k := range b.files {
			fs.files[k] = true
		}
	}
	for _, b := range bins {
		fs.bins[b] = true
	}
	for _, f := range files {
		fs.files[f] = true
	}
	return fs
}

// busyboxApplets are the commands busybox provides (in Alpine's and busybox's
// images), the ones a manifest plausibly runs.
var busyboxApplets = strings.Fields(`
	[ [[ ash awk base64 basename cat chgrp chmod chown cp cut date dd df diff dirname du echo
	egrep env expr false fgrep find free getopt grep gunzip gzip head hexdump hostname id
	install ip kill killall less ln ls md5sum mkdir mkfifo mknod mktemp more mount mv nc
	netstat nice nohup nslookup od pgrep pidof ping pkill printenv printf ps pwd readlink
	realpath rm rmdir sed seq sh sha1sum sha256sum sha512sum sleep sort stat strings stty su
	sync tail tar tee test timeout top touch tr traceroute true umount uname uniq unzip
	uptime usleep vi watch wc wget which whoami xargs yes zcat busybox
`)

// gnuUserland is what a Debian base image provides, the commands a manifest
// plausibly runs.
var gnuUserland = strings.Fields(`
	[ awk base64 basename bash cat chgrp chmod chown cp cut dash date dd df diff dirname du
	echo egrep env expr false fgrep find getopt grep gunzip gzip head hostname id install
	kill ln ls md5sum mkdir mkfifo mknod mktemp more mount mv nice nohup od pgrep pidof pkill
	printenv printf ps pwd readlink realpath rm rmdir sed seq sh sha1sum sha256sum sha512sum
	sleep sort stat stty su sync tail tar tee test timeout top touch tr true umount uname uniq
	uptime wc which whoami xargs yes zcat
`)

var (
	alpineFS       = newFS("alpine", append([]string{"apk"}, busyboxApplets...), nil)
	busyboxFS      = newFS("busybox", busyboxApplets, nil)
	debianFS       = newFS("debian", gnuUserland, nil)
	nginxBins      = []string{"nginx", "nginx-debug", "envsubst", "curl"}
	nginxFiles     = []string{"/docker-entrypoint.sh"}
	nginxAlpineFS  = newFS("nginx (alpine)", nginxBins, nginxFiles, alpineFS)
	nginxDebianFS  = newFS("nginx (debian)", nginxBins, nginxFiles, debianFS)
	demoFS         = newFS("albrollouts/demo (scratch)", nil, []string{"/demo"})
	rolloutsDemoFS = newFS("argoproj/rollouts-demo (scratch)", nil, []string{"/rollouts-demo"})
	loadTesterFS   = newFS("argoproj/load-tester (alpine)", []string{"wrk", "jq", "curl"}, nil, alpineFS)
)

// catalogue is every repository the agent can pull from.
var catalogue = []catalogueImage{
	// The demo app: every tag is a version of it.
	{repository: "docker.io/" + demoapp.ImageRepository, tag: anyTag(demoFS)},
	{repository: "docker.io/library/nginx", tag: nginxTag},
	// Argo Rollouts' demo image: a colour, its "bad-" (15 % errors) and "slow-"
	// (2 s latency) variants, and latest.
	{repository: "docker.io/argoproj/rollouts-demo", tag: rolloutsDemoTag},
	{repository: "docker.io/argoproj/load-tester", tag: tagIn(loadTesterFS, "latest")},
	{repository: "docker.io/library/alpine", tag: versionTag(alpineFS, `latest|edge|3(\.\d{1,2}){0,2}`, "")},
	{repository: "docker.io/library/busybox", tag: versionTag(busyboxFS,
		`latest|stable|musl|glibc|uclibc|1(\.\d{1,2}){0,2}`, `(-(musl|glibc|uclibc))?`)},
}

func anyTag(fs *imageFS) func(string) (*imageFS, bool) {
	return func(string) (*imageFS, bool) { return fs, true }
}

func tagIn(fs *imageFS, tags ...string) func(string) (*imageFS, bool) {
	return func(tag string) (*imageFS, bool) {
		for _, t := range tags {
			if t == tag {
				return fs, true
			}
		}
		return nil, false
	}
}

// versionTag matches tags made of a version (versions, a regular expression) and
// a suffix (suffix, a regular expression).
func versionTag(fs *imageFS, versions, suffix string) func(string) (*imageFS, bool) {
	re := regexp.MustCompile(`^(` + versions + `)` + suffix + `$`)
	return func(tag string) (*imageFS, bool) {
		if re.MatchString(tag) {
			return fs, true
		}
		return nil, false
	}
}

var rolloutsDemoTags = regexp.MustCompile(`^(latest|((bad|slow)-)?(red|orange|yellow|green|blue|purple))$`)

func rolloutsDemoTag(tag string) (*imageFS, bool) {
	return rolloutsDemoFS, rolloutsDemoTags.MatchString(tag)
}

// nginxTags are the official nginx image's tags: a version (1, 1.27, 1.27.3) or
// channel (stable, mainline), optionally followed by a variant, or a variant
// alone; latest. The Alpine variants may name the Alpine release (alpine3.20).
var nginxTags = regexp.MustCompile(`^(latest|` +
	`(((1(\.\d{1,2}){0,2})|stable|mainline)(-(alpine(3\.\d{1,2})?(-(perl|slim|otel))?|perl|otel|bookworm|bullseye|buster|stretch)(-(perl|otel))?)?)|` +
	`(alpine(3\.\d{1,2})?(-(perl|slim|otel))?|perl|otel|bookworm|bullseye|buster|stretch)(-(perl|otel))?)$`)

func nginxTag(tag string) (*imageFS, bool) {
	if !nginxTags.MatchString(tag) {
		return nil, false
	}
	if strings.Contains(tag, "alpine") {
		return nginxAlpineFS, true
	}
	return nginxDebianFS, true
}

// normalizeRepository spells a repository as a container runtime resolves it:
// Docker Hub's registry named (docker.io), its official images under library/.
func normalizeRepository(repo string) string {
	first, rest, found := strings.Cut(repo, "/")
	if !found || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		first, rest = "docker.io", repo
	}
	if first == "index.docker.io" || first == "registry-1.docker.io" {
		first = "docker.io"
	}
	if first == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	return first + "/" + rest
}

// normalizedRef is the full reference a runtime pulls: registry, repository and
// tag (latest when none is given) or digest.
func normalizedRef(img demoapp.Image) string {
	ref := normalizeRepository(img.Repository)
	switch {
	case img.Digest != "":
		return ref + "@" + img.Digest
	case img.Tag != "":
		return ref + ":" + img.Tag
	}
	return ref + ":latest"
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// pullResult is what a pull of one image gives.
type pullResult struct {
	ok bool
	fs *imageFS // the image's file system; nil: unknown, every command runs
	// err is the registry's answer when the pull fails, as containerd words it
	// after "failed to resolve reference".
	err string
}

// lookup resolves an image reference against the catalogue. A digest of a
// catalogued repository pulls if it is well formed (the catalogue lists no
// digests).
func lookup(img demoapp.Image) pullResult {
	repo := normalizeRepository(img.Repository)
	ref := normalizedRef(img)
	for _, e := range catalogue {
		if e.repository != repo {
			continue
		}
		if img.Digest != "" {
			if !digestRE.MatchString(img.Digest) {
				return pullResult{err: fmt.Sprintf("%s: not found", ref)}
			}
			fs, _ := e.tag("latest")
			return pullResult{ok: true, fs: fs}
		}
		tag := img.Tag
		if tag == "" {
			tag = "latest"
		}
		if fs, ok := e.tag(tag); ok {
			return pullResult{ok: true, fs: fs}
		}
		return pullResult{err: fmt.Sprintf("%s: not found", ref)}
	}
	host, _, _ := strings.Cut(repo, "/")
	if host == "docker.io" {
		return pullResult{err: "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"}
	}
	return pullResult{err: fmt.Sprintf("failed to do request: Head \"https://%s/v2/%s/manifests/%s\": dial tcp: lookup %s: no such host",
		host, strings.TrimPrefix(repo, host+"/"), img.Version(), strings.Split(host, ":")[0])}
}

// commandError is why a container's command cannot start in an image with file
// system fs, as runc words it after "exec: "; "" when it can (or fs is unknown).
// Only the executable is checked: a command that exists runs.
func commandError(fs *imageFS, command []string) string {
	if fs == nil || len(command) == 0 {
		return "" // the image's entrypoint runs
	}
	exe := command[0]
	if !strings.Contains(exe, "/") {
		if fs.bins[exe] {
			return ""
		}
		return fmt.Sprintf("%q: executable file not found in $PATH", exe)
	}
	p := exe
	if !path.IsAbs(p) {
		p = "/" + p // relative to the working directory, / by default
	}
	p = path.Clean(p)
	if fs.files[p] || (binDirs[path.Dir(p)] && fs.bins[path.Base(p)]) {
		return ""
	}
	return fmt.Sprintf("%q: stat %s: no such file or directory", exe, p)
}
