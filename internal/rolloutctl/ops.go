package rolloutctl

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Each operation returns the line to print, e.g. `rollout "demo" promoted`.

func done(name, what string) string { return fmt.Sprintf("rollout %q %s", name, what) }

// Send sends p to the rollout name: the status patch first (to the main
// resource, as Unified, when the status subresource answers 404), then the
// spec patch.
func (c *Client) Send(ctx context.Context, verb, name string, p Patch) error {
	obj := newUnstructured(c.ns, name)
	spec, specType := p.Spec, p.SpecType
	if specType == "" {
		specType = types.MergePatchType
	}
	if p.Status != nil {
		err := c.kube.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, p.Status))
		switch {
		case apierrors.IsNotFound(err):
			spec, specType = p.Unified, types.MergePatchType
			if spec == nil {
				spec = p.Status
			}
		case err != nil:
			return c.explain(verb, name, err)
		}
	}
	if spec != nil {
		if err := c.kube.Patch(ctx, obj, client.RawPatch(specType, spec)); err != nil {
			return c.explain(verb, name, err)
		}
	}
	return nil
}

// build reads the rollout, builds a patch from it and sends it.
func (c *Client) build(ctx context.Context, verb, name string, mk func(*v1alpha1.Rollout) (Patch, error)) (string, error) {
	o, err := c.Get(ctx, name)
	if err != nil {
		return "", err
	}
	p, err := mk(o.Rollout)
	if err != nil {
		return "", err
	}
	if err := c.Send(ctx, verb, name, p); err != nil {
		return "", err
	}
	return done(name, p.Done), nil
}

// Promote resumes a paused rollout or skips its current canary step; with full
// it skips every remaining step and pause (see PromotePatch).
func (c *Client) Promote(ctx context.Context, name string, full bool) (string, error) {
	return c.build(ctx, "promote", name, func(r *v1alpha1.Rollout) (Patch, error) { return PromotePatch(r, full) })
}

// Abort sets status.abort: the controller moves all traffic back to stable.
func (c *Client) Abort(ctx context.Context, name string) (string, error) {
	return c.build(ctx, "abort", name, AbortPatch)
}

// Retry clears status.abort of an aborted rollout: the update starts again.
func (c *Client) Retry(ctx context.Context, name string) (string, error) {
	return c.build(ctx, "retry", name, RetryPatch)
}

// Pause sets spec.paused.
func (c *Client) Pause(ctx context.Context, name string) (string, error) {
	p := PausePatch()
	if err := c.Send(ctx, "pause", name, p); err != nil {
		return "", err
	}
	return done(name, p.Done), nil
}

// Restart sets spec.restartAt to now (plus in): the controller replaces every
// pod created before then.
func (c *Client) Restart(ctx context.Context, name string, in time.Duration) (string, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if in < 0 {
		return "", fmt.Errorf("--in must not be negative, got %s", in)
	}
	p := RestartPatch(now().Add(in))
	if err := c.Send(ctx, "restart", name, p); err != nil {
		return "", err
	}
	return done(name, p.Done), nil
}

// Undo puts back the pod template of revision toRevision (0: the previous one).
func (c *Client) Undo(ctx context.Context, name string, toRevision int64) (string, error) {
	o, err := c.Get(ctx, name)
	if err != nil {
		return "", err
	}
	if err := noWorkloadRef(o, "undo"); err != nil {
		return "", err
	}
	rss, err := c.replicaSets(ctx, o.Rollout)
	if err != nil {
		return "", err
	}
	p, _, err := UndoPatch(o.Rollout, rss, toRevision)
	if err != nil {
		return "", err
	}
	if err := c.Send(ctx, "undo", name, p); err != nil {
		return "", err
	}
	return done(name, p.Done), nil
}

// SetImage sets container images in the rollout's pod template: it reads the
// object as the server has it (every field, known to this API or not), changes
// the images and writes the whole object back, again on a conflict
// (client-go's default retry backoff).
func (c *Client) SetImage(ctx context.Context, name string, images []ContainerImage) (string, error) {
	var changed []string
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		o, err := c.Get(ctx, name)
		if err != nil {
			return err
		}
		if err := noWorkloadRef(o, "set image on"); err != nil {
			return err
		}
		if changed, err = SetImages(o.Raw, images); err != nil || len(changed) == 0 {
			return err
		}
		return c.kube.Update(ctx, o.Raw)
	})
	switch {
	case apierrors.IsConflict(err):
		return "", c.explain("update", name, err)
	case err != nil:
		if _, api := err.(apierrors.APIStatus); api {
			return "", c.explain("update", name, err)
		}
		return "", err
	case len(changed) == 0:
		return done(name, "image unchanged"), nil
	}
	return done(name, "image updated ("+strings.Join(changed, ", ")+")"), nil
}

func noWorkloadRef(o *Object, verb string) error {
	if v, found, _ := unstructured.NestedFieldNoCopy(o.Raw.Object, "spec", "workloadRef"); found && v != nil {
		return fmt.Errorf("rollout %q takes its pod template from the Deployment spec.workloadRef names; this command cannot %s it: change the Deployment's pod template instead (kubectl set image deployment/...)", o.Rollout.Name, verb)
	}
	return nil
}
