package demoapp

import (
	"fmt"
	"strings"
)

// Image is a parsed container image reference: [registry[:port]/]path[:tag][@digest].
type Image struct {
	Repository string // as written, without tag and digest, e.g. docker.io/library/nginx
	Tag        string // empty if none was given
	Digest     string // e.g. sha256:…; empty if none was given
}

// ParseImageRef splits an image reference. It refuses what a container runtime
// would refuse too (the kubelet's InvalidImageName): an empty reference or
// repository, white space, a ':' or '@' with nothing after it.
func ParseImageRef(ref string) (Image, error) {
	if ref == "" {
		return Image{}, fmt.Errorf("image reference is empty")
	}
	if strings.ContainsAny(ref, " \t\r\n") {
		return Image{}, fmt.Errorf("image reference %q contains white space", ref)
	}
	var img Image
	rest := ref
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		img.Digest = rest[i+1:]
		if img.Digest == "" {
			return Image{}, fmt.Errorf("image reference %q has an empty digest after '@'", ref)
		}
		rest = rest[:i]
	}
	// A ':' after the last '/' starts the tag; one before it belongs to a registry port.
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		img.Tag = rest[i+1:]
		if img.Tag == "" {
			return Image{}, fmt.Errorf("image reference %q has an empty tag after ':'", ref)
		}
		rest = rest[:i]
	}
	if rest == "" || strings.HasSuffix(rest, "/") {
		return Image{}, fmt.Errorf("image reference %q has no repository", ref)
	}
	img.Repository = rest
	return img, nil
}

// Version is what an app run from the image reports as its version: the digest if
// there is one (that is what runs), else the tag, else "latest" (what a runtime pulls).
func (i Image) Version() string {
	switch {
	case i.Digest != "":
		return i.Digest
	case i.Tag != "":
		return i.Tag
	}
	return "latest"
}

// IsDemo reports whether the image is the built-in demo app (ImageRepository), also
// when written with Docker Hub's registry prefix.
func (i Image) IsDemo() bool {
	repo := i.Repository
	for _, prefix := range []string{"docker.io/library/", "docker.io/", "index.docker.io/"} {
		repo = strings.TrimPrefix(repo, prefix)
	}
	return repo == ImageRepository
}

// ParseImage reports the version an image reference asks for, and whether the image is
// the demo app at all. "albrollouts/demo:v2" gives ("v2", true); a registry prefix
// such as docker.io/ is accepted, a missing tag means "latest", a digest is kept as the
// version.
func ParseImage(image string) (version string, ok bool) {
	img, err := ParseImageRef(strings.TrimSpace(image))
	if err != nil || !img.IsDemo() {
		return "", false
	}
	return img.Version(), true
}
