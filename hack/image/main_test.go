package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/internal/version"
)

// repoRoot is the module's root, where go build runs.
const repoRoot = "../.."

// Builds the image of both platforms as `make image` does, reads the archive back with
// go-containerregistry and checks what a cluster relies on: both platforms, the
// entrypoint, the user 65532, the files of the layer and nothing else, a static binary
// of each platform's architecture, and the binary of this machine's platform runs.
// The compiles come from the Go build cache after `make image` (a prerequisite of
// `make test`); cold, they take minutes, so -short skips this.
func TestImageArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cross-compiles the controller")
	}
	o, err := parseFlags([]string{"-C", repoRoot, "-out", filepath.Join(t.TempDir(), "image.tar"),
		"-version", "v9.9.9-test", "-commit", "c0ffee1"}, "1700000000")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	bins, err := compileAll(context.Background(), o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	compiled := time.Now()
	digest, err := writeImage(o, bins)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(o.out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("archive mode %s, want 0644", st.Mode())
	}
	t.Logf("compiled in %s, archive written in %s: %.1f MB, index %s", compiled.Sub(start).Round(time.Millisecond),
		time.Since(compiled).Round(time.Millisecond), float64(st.Size())/1e6, digest)

	idx := readArchive(t, o.out, "v9.9.9-test", version.Image+":v9.9.9-test")
	if got, err := idx.Digest(); err != nil || got != digest {
		t.Errorf("index digest %v (%v), want %v", got, err, digest)
	}
	// Every digest, size, diff ID and platform as the manifests and configs say.
	if err := validate.Index(idx); err != nil {
		t.Errorf("validate.Index: %v", err)
	}
	checkLabels(t, "index", mustManifest(t, idx.IndexManifest).Annotations)
	im := mustManifest(t, idx.IndexManifest)
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
		t.Fatalf("index: media type %s, %d manifests; want an OCI index of 2", im.MediaType, len(im.Manifests))
	}
	want := map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64/v8": elf.EM_AARCH64}
	for _, d := range im.Manifests {
		if d.Platform == nil || d.MediaType != types.OCIManifestSchema1 {
			t.Fatalf("manifest %s: platform %v, media type %s", d.Digest, d.Platform, d.MediaType)
		}
		p := d.Platform.String()
		machine, ok := want[p]
		if !ok {
			t.Fatalf("platform %s, want one of %v", p, want)
		}
		delete(want, p)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		files := checkImage(t, img, *d.Platform)
		bin := files[binaryName]
		checkStaticELF(t, p, bin, machine)
		if d.Platform.OS == runtime.GOOS && d.Platform.Architecture == runtime.GOARCH {
			runBinary(t, bin)
		}
	}

}

// The same binaries give the same archive, byte for byte: the layers' and the
// archive's file times are SOURCE_DATE_EPOCH, their order fixed. (Small stand-ins
// for the binaries: go build's own reproducibility is Go's.)
func TestImageArchiveReproducible(t *testing.T) {
	o, err := parseFlags([]string{"-version", "v9.9.9-test", "-commit", "c0ffee1"}, "1700000000")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var bins []string
	for i, p := range o.platforms {
		bins = append(bins, filepath.Join(dir, p.Architecture))
		if err := os.WriteFile(bins[i], []byte("binary of "+p.String()), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var sums [2][32]byte
	for i := range sums {
		o.out = filepath.Join(t.TempDir(), "image.tar")
		if _, err := writeImage(o, bins); err != nil {
			t.Fatal(err)
		}
		sums[i] = fileSum(t, o.out)
		if i == 0 {
			time.Sleep(1100 * time.Millisecond) // a clock that leaked in would differ
		}
	}
	if sums[0] != sums[1] {
		t.Errorf("two archives of the same binaries differ: sha256 %x and %x", sums[0], sums[1])
	}
}

// readArchive unpacks the archive, opens it as an OCI layout and returns the one
// index it names, after checking the tag annotations.
func readArchive(t *testing.T, path, refName, imageName string) v1.ImageIndex {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.ModTime.Unix() != 1700000000 || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("archive entry %s: time %s, owner %d:%d; want SOURCE_DATE_EPOCH and root", h.Name, h.ModTime, h.Uid, h.Gid)
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(target, dir+string(filepath.Separator)) {
			t.Fatalf("archive entry %q leaves its directory", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			var data []byte
			if data, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(target, data, 0o644)
			}
		default:
			t.Fatalf("archive entry %s: type %c", h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "oci-layout")); err != nil || !strings.Contains(string(data), `"imageLayoutVersion"`) {
		t.Fatalf("oci-layout: %q, %v", data, err)
	}
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := mustManifest(t, top.IndexManifest)
	if len(m.Manifests) != 1 {
		t.Fatalf("index.json names %d manifests, want the one index", len(m.Manifests))
	}
	d := m.Manifests[0]
	if d.MediaType != types.OCIImageIndex {
		t.Fatalf("index.json: media type %s, want an OCI image index", d.MediaType)
	}
	if got := d.Annotations["org.opencontainers.image.ref.name"]; got != refName {
		t.Errorf("ref.name %q, want %q", got, refName)
	}
	if got := d.Annotations["io.containerd.image.name"]; got != imageName {
		t.Errorf("io.containerd.image.name %q, want %q", got, imageName)
	}
	idx, err := top.ImageIndex(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func mustManifest[M any](t *testing.T, f func() (M, error)) M {
	t.Helper()
	m, err := f()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func checkLabels(t *testing.T, what string, got map[string]string) {
	t.Helper()
	for k, v := range map[string]string{
		"org.opencontainers.image.source":   sourceURL,
		"org.opencontainers.image.version":  "v9.9.9-test",
		"org.opencontainers.image.revision": "c0ffee1",
		"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
		"org.opencontainers.image.title":    binaryName,
	} {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
		}
	}
}

// checkImage checks one platform's manifest, config and layer and returns the
// layer's regular files by name.
func checkImage(t *testing.T, img v1.Image, p v1.Platform) map[string][]byte {
	t.Helper()
	m := mustManifest(t, img.Manifest)
	checkLabels(t, p.String()+" manifest", m.Annotations)
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("%s: config media type %s", p.String(), m.Config.MediaType)
	}
	cf := mustManifest(t, img.ConfigFile)
	c := cf.Config
	if cf.OS != p.OS || cf.Architecture != p.Architecture || cf.Variant != p.Variant {
		t.Errorf("%s: config says %s/%s/%s", p.String(), cf.OS, cf.Architecture, cf.Variant)
	}
	if !slices.Equal(c.Entrypoint, []string{"/albrollouts-controller"}) || len(c.Cmd) != 0 {
		t.Errorf("%s: entrypoint %q cmd %q, want [/albrollouts-controller] and none", p.String(), c.Entrypoint, c.Cmd)
	}
	if c.User != "65532:65532" {
		t.Errorf("%s: user %q, want 65532:65532", p.String(), c.User)
	}
	if !cf.Created.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("%s: created %s, want SOURCE_DATE_EPOCH", p.String(), cf.Created)
	}
	checkLabels(t, p.String()+" config", c.Labels)
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%s: %d layers (%v), want 1", p.String(), len(layers), err)
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("%s: layer media type %s", p.String(), mt)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	type meta struct {
		mode int64
		uid  int
	}
	wantEntries := map[string]meta{
		"albrollouts-controller":            {0o755, 0},
		"etc/":                              {0o755, 0},
		"etc/group":                         {0o644, 0},
		"etc/passwd":                        {0o644, 0},
		"etc/ssl/":                          {0o755, 0},
		"etc/ssl/certs/":                    {0o755, 0},
		"etc/ssl/certs/ca-certificates.crt": {0o644, 0},
		"home/":                             {0o755, 0},
		"home/nonroot/":                     {0o700, 65532},
		"tmp/":                              {0o1777, 0},
	}
	files := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		w, ok := wantEntries[h.Name]
		if !ok {
			t.Errorf("%s: the layer writes %s (type %c), outside the expected paths", p.String(), h.Name, h.Typeflag)
			continue
		}
		delete(wantEntries, h.Name)
		isDir := strings.HasSuffix(h.Name, "/")
		if (isDir && h.Typeflag != tar.TypeDir) || (!isDir && h.Typeflag != tar.TypeReg) || h.Mode != w.mode ||
			h.Uid != w.uid || h.Gid != w.uid || !h.ModTime.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("%s: %s: type %c mode %o owner %d:%d time %s; want mode %o owner %d, SOURCE_DATE_EPOCH",
				p.String(), h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime, w.mode, w.uid)
		}
		if !isDir {
			if files[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name := range wantEntries {
		t.Errorf("%s: the layer lacks %s", p.String(), name)
	}
	if !strings.Contains(string(files["etc/passwd"]), "\nnonroot:x:65532:65532:") || !strings.Contains(string(files["etc/group"]), "\nnonroot:x:65532:") {
		t.Errorf("%s: /etc/passwd %q, /etc/group %q: want the user and group nonroot, 65532", p.String(), files["etc/passwd"], files["etc/group"])
	}
	checkCABundle(t, files["etc/ssl/certs/ca-certificates.crt"])
	return files
}

// checkCABundle: PEM certificates only, Amazon's roots (the AWS APIs') among them.
func checkCABundle(t *testing.T, data []byte) {
	t.Helper()
	n, amazon := 0, false
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				t.Errorf("CA bundle: %d bytes that are no PEM block", len(rest))
			}
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil || b.Type != "CERTIFICATE" || !c.IsCA {
			t.Fatalf("CA bundle: block %d: %s, %v", n, b.Type, err)
		}
		amazon = amazon || c.Subject.CommonName == "Amazon Root CA 1"
		n++
	}
	if n < 100 || !amazon {
		t.Errorf("CA bundle: %d certificates, Amazon Root CA 1 %v", n, amazon)
	}
}

// checkStaticELF: an executable of the platform's machine with no interpreter and no
// shared library.
func checkStaticELF(t *testing.T, platform string, bin []byte, machine elf.Machine) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("%s: %s is no ELF file: %v", platform, binaryName, err)
	}
	if f.Machine != machine || f.Class != elf.ELFCLASS64 || f.Type != elf.ET_EXEC {
		t.Errorf("%s: ELF machine %s class %s type %s, want %s, 64-bit, a static executable", platform, f.Machine, f.Class, f.Type, machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: ELF program header %s: dynamically linked", platform, prog.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s: needs shared libraries %q", platform, libs)
	}
}

// runBinary runs the binary taken from the layer with --version and --help.
func runBinary(t *testing.T, bin []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), binaryName)
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for args, want := range map[string]*regexp.Regexp{
		"--version":         regexp.MustCompile(`^albrollouts v9\.9\.9-test \(commit c0ffee1, go[0-9.]+, ` + runtime.GOOS + `/` + runtime.GOARCH + `\)\n$`),
		"controller --help": regexp.MustCompile(`(?s)^controller reconciles .*--aws-verify-target-group.*--leader-elect`),
	} {
		cmd := exec.Command(path, strings.Fields(args)...)
		cmd.Env = []string{} // as in the image: no HOME, PATH or KUBECONFIG of this machine
		out, err := cmd.CombinedOutput()
		if err != nil || !want.Match(out) {
			t.Errorf("%s %s: %v, output %q; want it to match %s", binaryName, args, err, out, want)
		}
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// The release image's repository is named in one place, version.Image: `albrollouts
// install` defaults to it, and make image (IMAGE), the Helm chart and config/ must
// say the same. The chart's default tag, its appVersion, is a release version, the
// tag `install` of that version defaults to.
func TestImageNameAgrees(t *testing.T) {
	read := func(rel string) []byte {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	unmarshal := func(rel string, v any) {
		t.Helper()
		if err := yaml.Unmarshal(read(rel), v); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
	}

	if m := regexp.MustCompile(`(?m)^IMAGE\s*\?=\s*(\S+)\s*$`).FindSubmatch(read("Makefile")); m == nil || string(m[1]) != version.Image {
		t.Errorf("Makefile: IMAGE ?= %q, want %s", m, version.Image)
	}
	if o, err := parseFlags(nil, ""); err != nil || o.image != version.Image {
		t.Errorf("hack/image -image default %q (%v), want %s", o.image, err, version.Image)
	}

	var values struct {
		Controller struct {
			Image struct{ Repository, Tag string }
		}
	}
	unmarshal("charts/albrollouts/values.yaml", &values)
	if got := values.Controller.Image; got.Repository != version.Image || got.Tag != "" {
		t.Errorf("charts/albrollouts/values.yaml: controller.image %+v, want repository %s and tag \"\" (the appVersion)", got, version.Image)
	}
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	unmarshal("charts/albrollouts/Chart.yaml", &chart)
	saved := version.Version
	t.Cleanup(func() { version.Version = saved })
	version.Version = chart.AppVersion
	if got, want := version.ImageRef(), version.Image+":"+chart.AppVersion; got != want {
		t.Errorf("Chart.yaml appVersion %q: install of that version defaults to %s, the chart to %s", chart.AppVersion, got, want)
	}

	var kustomization struct {
		Images []struct {
			Name string `json:"name"`
		} `json:"images"`
	}
	unmarshal("config/default/kustomization.yaml", &kustomization)
	if len(kustomization.Images) != 1 || kustomization.Images[0].Name != version.Image {
		t.Errorf("config/default/kustomization.yaml: images %+v, want one named %s", kustomization.Images, version.Image)
	}
	var deployment struct {
		Spec struct {
			Template struct {
				Spec struct {
					Containers []struct{ Name, Image string }
				}
			}
		}
	}
	unmarshal("config/manager/manager.yaml", &deployment)
	cs := deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Image != version.Image+":latest" {
		t.Errorf("config/manager/manager.yaml: containers %+v, want one of image %s:latest (install's placeholder)", cs, version.Image)
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-platforms", "linux/arm64, linux/amd64", "-version", "v1.2.3"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := platformList(o.platforms); got != "linux/arm64/v8, linux/amd64" {
		t.Errorf("platforms %s", got)
	}
	if !o.epoch.Equal(time.Unix(0, 0)) || o.out != "bin/albrollouts-image.tar" {
		t.Errorf("epoch %s out %s", o.epoch, o.out)
	}
	for _, bad := range []struct {
		args  []string
		epoch string
	}{
		{[]string{"-platforms", "windows/amd64"}, ""},
		{[]string{"-platforms", "linux/amd64,linux/amd64"}, ""},
		{[]string{"-version", "v1+meta"}, ""},
		{[]string{"-image", "Upper/Case"}, ""},
		{[]string{"extra"}, ""},
		{nil, "yesterday"},
		{nil, "-1"},
	} {
		if _, err := parseFlags(bad.args, bad.epoch); err == nil {
			t.Errorf("%q SOURCE_DATE_EPOCH=%q: no error", bad.args, bad.epoch)
		}
	}
}
