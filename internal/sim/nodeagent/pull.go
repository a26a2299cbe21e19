package nodeagent

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
)

// Image pulls. The node agent pulls from its catalogue (images.go): an image that
// is not in it, or one whose reference matches the unpullable pattern
// (Options.UnpullableImages, else the environment variable UnpullableImagesEnv,
// else DefaultUnpullableImages), cannot be pulled; Options.Images (else
// ImagesEnv) adds images outside the catalogue. A container whose image cannot be
// pulled never runs and is never Ready; its state cycles like the kubelet's:
// Waiting ContainerCreating during the first attempt (pullAttempt), then
// Waiting ErrImagePull for a pull attempt, then Waiting ImagePullBackOff for a
// back-off that doubles from 10 s up to 5 min, then ErrImagePull again on the next
// attempt (all time-scaled). The pod gets its IP and its other containers run, as
// behind a real pod sandbox; it stays Pending.
const (
	// DefaultUnpullableImages matches image references naming something that does
	// not exist: Argo Rollouts' e2e suite uses
	// nonexistent-image-that-does-not-exist:latest; tags such as :doesnotexist,
	// :does-not-exist, :notfound or :v2-notfound match too, also of a repository
	// whose every tag pulls (albrollouts/demo).
	DefaultUnpullableImages = `(?i)(^|[^a-z0-9])(nonexistent|does-?not-?exist|not-?found)([^a-z0-9]|$)`
	// UnpullableImagesEnv overrides DefaultUnpullableImages when
	// Options.UnpullableImages is empty. "-" (in either) disables the pattern.
	UnpullableImagesEnv = "ALBROLLOUTS_UNPULLABLE_IMAGES"
	// ImagesEnv is Options.Images when that is empty: a regular expression of image
	// references outside the catalogue that can be pulled (e.g. "^registry\.example/"
	// for your own; ".*" for every image).
	ImagesEnv = "ALBROLLOUTS_IMAGES"

	// ReasonErrImagePull is the waiting reason while a pull attempt fails.
	ReasonErrImagePull = "ErrImagePull"
	// ReasonImagePullBackOff is the waiting reason between pull attempts.
	ReasonImagePullBackOff = "ImagePullBackOff"
)

// Kubelet pull timing: the first attempt takes the registry's answer (pullAttempt,
// real time: the registry's, not the kubelet's, so not time-scaled), during which
// the container is Waiting in ContainerCreating; a failed attempt shows
// ErrImagePull until the pod worker's next sync (its back-off after a failed
// sync, 10 s); the image back-off starts at 10 s and doubles up to 5 min.
const (
	pullAttempt        = 2 * time.Second
	pullErrorHold      = 10 * time.Second
	pullBackOffInitial = 10 * time.Second
	pullBackOffMax     = 5 * time.Minute
)

// unpullablePattern returns the pattern in force: the option, the environment
// variable, or the default; nil when disabled with "-".
func unpullablePattern(option string) (*regexp.Regexp, error) {
	p := option
	if p == "" {
		p = os.Getenv(UnpullableImagesEnv)
	}
	if p == "" {
		p = DefaultUnpullableImages
	}
	if p == "-" {
		return nil, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("unpullable image pattern %q: %w", p, err)
	}
	return re, nil
}

// imagesPattern returns the pattern of extra pullable images: the option, else
// the environment variable; nil when neither is set.
func imagesPattern(option string) (*regexp.Regexp, error) {
	p := option
	if p == "" {
		p = os.Getenv(ImagesEnv)
	}
	if p == "" {
		return nil, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("image pattern %q: %w", p, err)
	}
	return re, nil
}

// pull pulls img (written as ref) from the catalogue, the extra images and the
// unpullable pattern.
func (a *Agent) pull(img demoapp.Image, ref string) pullResult {
	if a.unpullableRE != nil && a.unpullableRE.MatchString(ref) {
		return pullResult{err: normalizedRef(img) + ": not found"}
	}
	r := lookup(img)
	if !r.ok && a.imagesRE != nil && a.imagesRE.MatchString(ref) {
		return pullResult{ok: true} // a file system the agent does not know
	}
	return r
}

// pulling is the state of a container during the first pull attempt of its image.
func pulling() *stuckState {
	return &stuckState{waiting: corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}, neverPulled: true}
}

// errImagePull is the kubelet's waiting state for a failed pull of image.
func errImagePull(image string, img demoapp.Image, res pullResult) *corev1.ContainerStateWaiting {
	code := "Unknown"
	if strings.HasSuffix(res.err, ": not found") {
		code = "NotFound"
	}
	ref := normalizedRef(img)
	return &corev1.ContainerStateWaiting{
		Reason: ReasonErrImagePull,
		Message: fmt.Sprintf("rpc error: code = %s desc = failed to pull and unpack image %q: failed to resolve reference %q: %s",
			code, ref, ref, res.err),
	}
}

func imagePullBackOff(image string) *corev1.ContainerStateWaiting {
	return &corev1.ContainerStateWaiting{
		Reason:  ReasonImagePullBackOff,
		Message: fmt.Sprintf("Back-off pulling image %q", image),
	}
}

// pullLoop plays the kubelet's failing pulls of c's image until ctx ends, setting
// c's waiting state and reporting each change through changed.
func (a *Agent) pullLoop(ctx context.Context, pod *corev1.Pod, c *containerRuntime, img demoapp.Image, res pullResult, changed func()) {
	image := c.spec.Image
	backOff := pullBackOffInitial
	a.eventf(pod, corev1.EventTypeNormal, "Pulling", "Pulling", "Pulling image %q", image)
	if sleepCtx(ctx, pullAttempt) != nil {
		return
	}
	for first := true; ; first = false {
		w := errImagePull(image, img, res)
		c.stuck.Store(&stuckState{waiting: *w, neverPulled: true})
		changed()
		if !first {
			a.eventf(pod, corev1.EventTypeNormal, "Pulling", "Pulling", "Pulling image %q", image)
		}
		a.eventf(pod, corev1.EventTypeWarning, "Failed", "Pulling", "Failed to pull image %q: %s (the local node agent pulls the images of its catalogue;"+
			" $%s adds others)", image, w.Message, ImagesEnv)
		a.eventf(pod, corev1.EventTypeWarning, "Failed", "Pulling", "Error: %s", ReasonErrImagePull)
		if sleepCtx(ctx, scaled(pullErrorHold, a.opts.TimeScale, minScaledProbeInterval)) != nil {
			return
		}
		c.stuck.Store(&stuckState{waiting: *imagePullBackOff(image), neverPulled: true})
		changed()
		a.eventf(pod, corev1.EventTypeNormal, "BackOff", "Pulling", "Back-off pulling image %q", image)
		a.eventf(pod, corev1.EventTypeWarning, "Failed", "Pulling", "Error: %s", ReasonImagePullBackOff)
		if sleepCtx(ctx, scaled(backOff, a.opts.TimeScale, minScaledProbeInterval)) != nil {
			return
		}
		backOff = min(2*backOff, pullBackOffMax)
	}
}
