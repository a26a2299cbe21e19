// Command image builds the controller's container image without a Docker daemon
// (`make image`): for each platform it cross-compiles cmd/albrollouts-controller
// statically (CGO_ENABLED=0), puts it with an /etc/passwd for the user nonroot
// (65532), a CA bundle and an empty /tmp into one layer on an empty base, and writes
// an OCI image-layout archive: an image index with one manifest per platform, named
// <version> (org.opencontainers.image.ref.name) in the layout's index.json.
//
// The image runs as 65532:65532 and writes nothing at start, so a read-only root
// filesystem suits it. It is reproducible: file times, the config's creation time and
// the labels' date are SOURCE_DATE_EPOCH (0 when unset), entries go in a fixed order
// with numeric owners, the binaries are built with -trimpath.
//
// go-containerregistry is this tool's, not the product's: nothing under cmd/ or
// internal/ imports it.
//
//	go run ./hack/image -out bin/albrollouts-image.tar -version v0.1.0 -commit abc1234
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"

	"github.com/albrollouts/albrollouts/internal/version"
)

// What goes into the image.
const (
	binaryName = "albrollouts-controller"
	entrypoint = "/" + binaryName
	uid        = 65532
	user       = "65532:65532"
	caBundle   = "etc/ssl/certs/ca-certificates.crt"
	versionPkg = "github.com/albrollouts/albrollouts/internal/version"
	sourceURL  = "https://github.com/albrollouts/albrollouts"

	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

// options are the flags.
type options struct {
	out       string        // the archive
	image     string        // repository, version.Image by default
	version   string        // tag, label, and internal/version.Version of the binary
	commit    string        // label, and internal/version.Commit
	platforms []v1.Platform // linux/amd64, linux/arm64
	epoch     time.Time     // SOURCE_DATE_EPOCH
	pkg       string        // the package of the binary
	dir       string        // where go build runs: the module's root
	goCmd     string        // the go command
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Getenv("SOURCE_DATE_EPOCH"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(2)
	}
	start := time.Now()
	digest, err := build(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	size := int64(0)
	if st, err := os.Stat(o.out); err == nil {
		size = st.Size()
	}
	fmt.Printf("image: %s, %s:%s (index %s, %s), %.1f MB, %s\n", o.out, o.image, o.version, digest,
		platformList(o.platforms), float64(size)/1e6, time.Since(start).Round(100*time.Millisecond))
}

func parseFlags(args []string, epochEnv string) (options, error) {
	o := options{}
	fl := flag.NewFlagSet("image", flag.ContinueOnError)
	fl.StringVar(&o.out, "out", "bin/albrollouts-image.tar", "the OCI image-layout archive to write")
	fl.StringVar(&o.image, "image", version.Image, "image repository (containerd's io.containerd.image.name is <image>:<version>)")
	fl.StringVar(&o.version, "version", "dev", "version: the tag, the org.opencontainers.image.version label and the binary's version")
	fl.StringVar(&o.commit, "commit", "unknown", "commit: the org.opencontainers.image.revision label and the binary's commit")
	platforms := fl.String("platforms", "linux/amd64,linux/arm64", "comma-separated os/arch[/variant] list")
	fl.StringVar(&o.pkg, "pkg", "./cmd/albrollouts-controller", "the package of the image's binary")
	fl.StringVar(&o.dir, "C", ".", "the directory go build runs in")
	fl.StringVar(&o.goCmd, "go", "go", "the go command")
	if err := fl.Parse(args); err != nil {
		return o, err
	}
	if fl.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	var err error
	if o.platforms, err = parsePlatforms(*platforms); err != nil {
		return o, err
	}
	if o.epoch, err = parseEpoch(epochEnv); err != nil {
		return o, err
	}
	if _, err := name.NewTag(o.image+":"+o.version, name.StrictValidation); err != nil {
		return o, fmt.Errorf("-image %q -version %q: not an image reference: %w", o.image, o.version, err)
	}
	return o, nil
}

// parsePlatforms reads "linux/amd64,linux/arm64"; arm64 gets the variant v8 that
// runtimes report.
func parsePlatforms(s string) ([]v1.Platform, error) {
	var out []v1.Platform
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		p, err := v1.ParsePlatform(strings.TrimSpace(f))
		if err != nil || p.OS != "linux" || p.Architecture == "" {
			return nil, fmt.Errorf("platform %q: want linux/<arch>[/<variant>]", f)
		}
		if p.Architecture == "arm64" && p.Variant == "" {
			p.Variant = "v8"
		}
		if seen[p.String()] {
			return nil, fmt.Errorf("platform %q given twice", f)
		}
		seen[p.String()] = true
		out = append(out, *p)
	}
	return out, nil
}

func platformList(ps []v1.Platform) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// parseEpoch reads SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/).
func parseEpoch(s string) (time.Time, error) {
	if s == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

// build compiles the binaries into a temporary directory and writes the archive.
// It returns the image index's digest.
func build(ctx context.Context, o options) (v1.Hash, error) {
	tmp, err := os.MkdirTemp("", "albrollouts-image-")
	if err != nil {
		return v1.Hash{}, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	binaries, err := compileAll(ctx, o, tmp)
	if err != nil {
		return v1.Hash{}, err
	}
	return writeImage(o, binaries)
}

// compileAll builds the binary for each platform under dir, one directory per
// platform, and returns their paths in the order of o.platforms.
func compileAll(ctx context.Context, o options, dir string) ([]string, error) {
	var paths []string
	for _, p := range o.platforms {
		out := filepath.Join(dir, p.OS+"_"+p.Architecture+p.Variant, binaryName)
		if err := compile(ctx, o, p, out); err != nil {
			return nil, err
		}
		paths = append(paths, out)
	}
	return paths, nil
}

// compile runs go build for one platform: static (CGO_ENABLED=0), without local
// paths (-trimpath) or symbol tables (-s -w), the version and commit linked in.
func compile(ctx context.Context, o options, p v1.Platform, out string) error {
	ldflags := fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Commit=%s", versionPkg, o.version, versionPkg, o.commit)
	cmd := exec.CommandContext(ctx, o.goCmd, "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, o.pkg)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
	if p.Architecture == "arm" && p.Variant != "" {
		cmd.Env = append(cmd.Env, "GOARM="+strings.TrimPrefix(p.Variant, "v"))
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w\n%s", o.pkg, p.String(), err, stderr.String())
	}
	return nil
}

// labels are the config's labels and the manifests' and index's annotations.
func labels(o options) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       binaryName,
		"org.opencontainers.image.description": "albrollouts, a controller for Argo Rollouts' Rollouts that shifts traffic through AWS ALBs and verifies every shift",
		"org.opencontainers.image.source":      sourceURL,
		"org.opencontainers.image.url":         sourceURL,
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.revision":    o.commit,
		"org.opencontainers.image.created":     o.epoch.Format(time.RFC3339),
	}
}

// writeImage builds the index of the platforms' images from their binaries (in the
// order of o.platforms) and writes it to o.out. It returns the index's digest.
func writeImage(o options, binaries []string) (v1.Hash, error) {
	if len(binaries) != len(o.platforms) {
		return v1.Hash{}, fmt.Errorf("%d binaries for %d platforms", len(binaries), len(o.platforms))
	}
	certs, err := caCertificates()
	if err != nil {
		return v1.Hash{}, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i, p := range o.platforms {
		bin, err := os.ReadFile(binaries[i])
		if err != nil {
			return v1.Hash{}, err
		}
		img, err := platformImage(o, p, bin, certs)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("%s: %w", p.String(), err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	annotated, ok := mutate.Annotations(idx, labels(o)).(v1.ImageIndex)
	if !ok {
		return v1.Hash{}, errors.New("annotating the index did not give an index")
	}
	if err := writeArchive(o, annotated); err != nil {
		return v1.Hash{}, err
	}
	return annotated.Digest()
}

// platformImage is one platform's image: the empty base, one layer, the config.
func platformImage(o options, p v1.Platform, binary, certs []byte) (v1.Image, error) {
	layerBytes, err := rootLayer(o.epoch, binary, certs)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.ConfigFile(base, &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      v1.Time{Time: o.epoch},
		Config: v1.Config{
			Entrypoint:   []string{entrypoint},
			User:         user,
			WorkingDir:   "/",
			Env:          []string{"SSL_CERT_FILE=/" + caBundle},
			ExposedPorts: map[string]struct{}{"8080/tcp": {}, "8081/tcp": {}},
			Labels:       labels(o),
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: o.epoch},
			CreatedBy: "hack/image: " + entrypoint + " (" + o.pkg + ", " + p.String() + "), /etc/passwd, /etc/group, /" + caBundle + ", /home/nonroot, /tmp",
		},
	})
	if err != nil {
		return nil, err
	}
	annotated, ok := mutate.Annotations(img, labels(o)).(v1.Image)
	if !ok {
		return nil, errors.New("annotating the image did not give an image")
	}
	return annotated, nil
}

// entry is one file or directory of the layer.
type entry struct {
	name string // without a leading slash; directories end in /
	mode int64
	uid  int
	data []byte
}

// layerEntries is the image's file system, in the order the layer holds it.
func layerEntries(binary, certs []byte) []entry {
	return []entry{
		{name: binaryName, mode: 0o755, data: binary},
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: caBundle, mode: 0o644, data: certs},
		{name: "home/", mode: 0o755},
		{name: "home/nonroot/", mode: 0o700, uid: uid},
		{name: "tmp/", mode: 0o1777},
	}
}

// rootLayer is the gzipped tar of layerEntries, every time the epoch.
func rootLayer(epoch time.Time, binary, certs []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, e := range layerEntries(binary, certs) {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: epoch, Format: tar.FormatPAX}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// caCertificates is the PEM bundle of the NSS roots that golang.org/x/crypto's
// x509roots/fallback carries (the module's version in go.mod), for the controller's
// TLS to the AWS APIs. Roots that NSS only trusts for certificates issued before a
// date are left out: a PEM file cannot say so.
func caCertificates() ([]byte, error) {
	var b bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, err
		}
	}
	if b.Len() == 0 {
		return nil, errors.New("no CA certificates in x509roots/fallback/bundle")
	}
	return b.Bytes(), nil
}

// writeArchive writes idx as an OCI image layout into a temporary directory, then
// that directory as a tar archive to o.out (through a temporary file beside it).
func writeArchive(o options, idx v1.ImageIndex) error {
	dir, err := os.MkdirTemp("", "albrollouts-layout-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": o.version,
		"io.containerd.image.name":          o.image + ":" + o.version,
	})); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(o.out), filepath.Base(o.out)+".*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := tarDir(tmp, dir, o.epoch); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil { // CreateTemp's is 0600
		return err
	}
	return os.Rename(tmp.Name(), o.out)
}

// tarDir writes the tree under dir as a tar stream in lexical order, every entry
// owned by root, dated epoch, mode 0755 or 0644.
func tarDir(w io.Writer, dir string, epoch time.Time) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch, Format: tar.FormatPAX}
		if d.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
			return tw.WriteHeader(h)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", path)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, info.Size()
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
