package rolloutctl

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Labels and annotations of a rollout's ReplicaSets.
const (
	// PodTemplateHashLabel is the label that tells a rollout's ReplicaSets and
	// pods apart by pod-template hash.
	PodTemplateHashLabel = "rollouts-pod-template-hash"
	// RevisionAnnotation holds a ReplicaSet's revision number.
	RevisionAnnotation = "rollout.argoproj.io/revision"
)

// pauseReasonInconclusive is the pause reason Argo Rollouts' controller sets
// when a step analysis is inconclusive (the API of this project has no
// analysis, but a cluster running Argo's controller may show it).
const pauseReasonInconclusive = "InconclusiveAnalysisRun"

// Patch is what one command sends, exactly as Argo Rollouts' kubectl plugin
// does: a JSON merge patch to the status subresource, then a patch to the main
// resource. When the status subresource answers 404 (a CRD without it), the
// main resource gets Unified instead of Spec, carrying the status fields too.
type Patch struct {
	// Status is a merge patch ({"status":{...}}) for the /status subresource; nil for none.
	Status []byte
	// Spec is a patch for the main resource, of SpecType; nil for none.
	Spec []byte
	// SpecType is the type of Spec: merge patch when empty.
	SpecType types.PatchType
	// Unified replaces Spec when the status subresource does not exist. Nil
	// means the Status patch itself.
	Unified []byte
	// Done says what the patch does, for the command's one line of output.
	Done string
}

func mergePatch(v map[string]any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of JSON values only
	}
	return b
}

func statusPatch(fields map[string]any) []byte { return mergePatch(map[string]any{"status": fields}) }

var unpause = mergePatch(map[string]any{"spec": map[string]any{"paused": false}})

// nothing returns an ErrNothingToDo error about rollout r.
func nothing(r *v1alpha1.Rollout, format string, args ...any) error {
	return fmt.Errorf("rollout %q: %s: %w", r.Name, fmt.Sprintf(format, args...), ErrNothingToDo)
}

// PromotePatch builds the promote patch for r.
//
// Without full: spec.paused is cleared if set; pause conditions are cleared if
// there are any (with an inconclusive analysis pause on a canary, the step is
// also completed: controllerPause false and the index moved on); a canary with
// steps and no pause condition has its current step skipped (index+1, capped at
// the number of steps). A blue-green rollout with no pause condition gets only
// the unpause.
//
// With full: spec.paused is cleared if set, and status.promoteFull is set when
// the current pod-template hash is not the stable one.
//
// It returns an ErrNothingToDo error when the rollout is neither paused nor has
// a step to skip, or, with full, is already fully promoted.
func PromotePatch(r *v1alpha1.Rollout, full bool) (Patch, error) {
	var p Patch
	if full {
		if r.Spec.Paused {
			p.Spec = unpause
		}
		if r.Status.CurrentPodHash != r.Status.StableRS {
			p.Status = statusPatch(map[string]any{"promoteFull": true})
			p.Unified = mergePatch(map[string]any{"spec": map[string]any{"paused": false}, "status": map[string]any{"promoteFull": true}})
			p.Done = "fully promoted"
		} else if p.Spec != nil {
			p.Done = "unpaused (already fully promoted)"
		}
		if p.Spec == nil && p.Status == nil {
			if !GenerationObserved(r) {
				return p, fmt.Errorf("rollout %q: the controller has not observed generation %d yet, so its new pod template hash is unknown; run the command again in a moment", r.Name, r.Generation)
			}
			return p, nothing(r, "already fully promoted (current pod template hash %q is stable)", r.Status.StableRS)
		}
		return p, nil
	}

	paused := r.Spec.Paused
	conds := r.Status.PauseConditions
	if paused {
		p.Spec = unpause
		p.Done = "promoted (unpaused)"
	}
	p.Unified = mergePatch(map[string]any{"spec": map[string]any{"paused": false}, "status": map[string]any{"pauseConditions": nil}})
	index, steps, hasSteps := StepIndex(r)
	next := min(index+1, steps)
	switch {
	case hasSteps && len(conds) > 0 && r.Status.ControllerPause && hasPauseReason(conds, pauseReasonInconclusive):
		p.Status = statusPatch(map[string]any{"pauseConditions": nil, "controllerPause": false, "currentStepIndex": next})
		p.Done = fmt.Sprintf("promoted (inconclusive step %d/%d completed)", index, steps)
	case len(conds) > 0:
		p.Status = statusPatch(map[string]any{"pauseConditions": nil})
		p.Done = "promoted (resumed from " + pauseReasons(conds) + ")"
		if hasSteps {
			p.Done = fmt.Sprintf("promoted (resumed from %s at step %d/%d)", pauseReasons(conds), index, steps)
		}
	case hasSteps:
		if !paused && (index >= steps || FullyPromoted(r)) {
			return p, nothing(r, "not paused and no step left to skip (step %d/%d); nothing to promote", index, steps)
		}
		p.Status = statusPatch(map[string]any{"pauseConditions": nil, "currentStepIndex": next})
		p.Unified = mergePatch(map[string]any{"spec": map[string]any{"paused": false}, "status": map[string]any{"pauseConditions": nil, "currentStepIndex": next}})
		p.Done = fmt.Sprintf("promoted (step %d/%d skipped)", index, steps)
		if paused {
			p.Done = fmt.Sprintf("promoted (unpaused, step %d/%d skipped)", index, steps)
		}
	case !paused:
		return p, nothing(r, "not paused and has no pause condition; nothing to promote (use --full to skip to the end)")
	}
	return p, nil
}

func hasPauseReason(conds []v1alpha1.PauseCondition, reason string) bool {
	return slices.ContainsFunc(conds, func(c v1alpha1.PauseCondition) bool { return string(c.Reason) == reason })
}

func pauseReasons(conds []v1alpha1.PauseCondition) string {
	rs := make([]string, len(conds))
	for i, c := range conds {
		rs[i] = string(c.Reason)
	}
	return strings.Join(rs, ", ")
}

// AbortPatch sets status.abort. It refuses a rollout with no update in
// progress (the controller has observed the spec and the current hash is the
// stable one): aborting it would only mark it Degraded.
func AbortPatch(r *v1alpha1.Rollout) (Patch, error) {
	if FullyPromoted(r) {
		return Patch{}, nothing(r, "no update in progress (current pod template hash %q is stable); nothing to abort", r.Status.StableRS)
	}
	return Patch{Status: statusPatch(map[string]any{"abort": true}), Done: "aborted"}, nil
}

// RetryPatch clears status.abort; it refuses a rollout that is not aborted.
func RetryPatch(r *v1alpha1.Rollout) (Patch, error) {
	if !r.Status.Abort {
		return Patch{}, nothing(r, "not aborted; nothing to retry")
	}
	return Patch{Status: statusPatch(map[string]any{"abort": false}), Done: "retried"}, nil
}

// PausePatch sets spec.paused.
func PausePatch() Patch {
	return Patch{Spec: mergePatch(map[string]any{"spec": map[string]any{"paused": true}}), Done: "paused"}
}

// RestartPatch sets spec.restartAt to at, in UTC RFC 3339 (seconds).
func RestartPatch(at time.Time) Patch {
	ts := at.UTC().Format(time.RFC3339)
	return Patch{Spec: mergePatch(map[string]any{"spec": map[string]any{"restartAt": ts}}), Done: "restarted (pods created before " + ts + " are replaced)"}
}

// Revision returns the revision annotation of a ReplicaSet; ok is false when it
// is missing or not a number.
func Revision(rs *appsv1.ReplicaSet) (int64, bool) {
	v, found := rs.Annotations[RevisionAnnotation]
	if !found {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// UndoPatch builds the JSON patch that puts back the pod template of the
// ReplicaSet at toRevision (0: the previous revision, the second highest) into
// r, without its pod-template hash label. rss are the ReplicaSets r owns.
// When r's template already equals that ReplicaSet's, the Patch sends
// nothing, as a second undo before the controller acted would find.
func UndoPatch(r *v1alpha1.Rollout, rss []appsv1.ReplicaSet, toRevision int64) (Patch, int64, error) {
	if toRevision < 0 {
		return Patch{}, 0, fmt.Errorf("--to-revision must be a revision number (1 or more), or 0 for the previous one; got %d", toRevision)
	}
	type rev struct {
		n  int64
		rs *appsv1.ReplicaSet
	}
	var revs []rev
	for i := range rss {
		if n, ok := Revision(&rss[i]); ok {
			revs = append(revs, rev{n, &rss[i]})
		}
	}
	slices.SortFunc(revs, func(a, b rev) int { return cmp.Compare(b.n, a.n) }) // newest first
	list := make([]string, len(revs))
	for i, v := range revs {
		list[len(revs)-1-i] = strconv.FormatInt(v.n, 10)
	}
	have := strings.Join(list, ", ")
	if have == "" {
		have = "none"
	}
	var target *rev
	switch {
	case toRevision > 0:
		for i := range revs {
			if revs[i].n == toRevision {
				target = &revs[i]
				break
			}
		}
		if target == nil {
			return Patch{}, 0, fmt.Errorf("rollout %q has no revision %d; its ReplicaSets have revisions: %s", r.Name, toRevision, have)
		}
	case len(revs) < 2:
		return Patch{}, 0, fmt.Errorf("rollout %q has no previous revision to go back to (revisions: %s)", r.Name, have)
	default:
		target = &revs[1]
	}
	tmpl := target.rs.Spec.Template.DeepCopy()
	delete(tmpl.Labels, PodTemplateHashLabel)
	stripEphemeral(r, tmpl)
	if sameTemplate(&r.Spec.Template, tmpl) {
		return Patch{Done: fmt.Sprintf("unchanged (the pod template already is that of revision %d)", target.n)}, target.n, nil
	}
	b, err := json.Marshal([]map[string]any{{"op": "replace", "path": "/spec/template", "value": tmpl}})
	if err != nil {
		return Patch{}, 0, fmt.Errorf("encode the template of revision %d: %w", target.n, err)
	}
	return Patch{Spec: b, SpecType: types.JSONPatchType, Done: fmt.Sprintf("rolled back to revision %d (ReplicaSet %s)", target.n, target.rs.Name)}, target.n, nil
}

// sameTemplate compares a rollout's template with a ReplicaSet's, ignoring the
// hash label and the fields the API server defaults in the ReplicaSet's copy
// (fields unset in the rollout's template are not compared).
func sameTemplate(rollout, rs *corev1.PodTemplateSpec) bool {
	a, b := rollout.DeepCopy(), rs.DeepCopy()
	delete(a.Labels, PodTemplateHashLabel)
	delete(b.Labels, PodTemplateHashLabel)
	return equality.Semantic.DeepDerivative(a, b)
}

// ContainerImage is one CONTAINER=IMAGE argument of set image; Container "*"
// means every container.
type ContainerImage struct {
	Container string
	Image     string
}

// ParseContainerImages parses CONTAINER=IMAGE arguments.
func ParseContainerImages(args []string) ([]ContainerImage, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("give at least one CONTAINER=IMAGE")
	}
	out := make([]ContainerImage, 0, len(args))
	seen := map[string]bool{}
	for _, a := range args {
		c, img, ok := strings.Cut(a, "=")
		if !ok || c == "" || img == "" || strings.Contains(img, "=") || strings.ContainsAny(img, " \t") {
			return nil, fmt.Errorf("%q is not CONTAINER=IMAGE (e.g. app=registry.example.com/app:v2, or *=IMAGE for every container)", a)
		}
		if seen[c] {
			return nil, fmt.Errorf("container %q is given twice", c)
		}
		if (c == "*" && len(seen) > 0) || seen["*"] {
			return nil, fmt.Errorf("*=IMAGE sets every container; it cannot be combined with other CONTAINER=IMAGE arguments")
		}
		seen[c] = true
		out = append(out, ContainerImage{Container: c, Image: img})
	}
	return out, nil
}

// SetImages sets the images of the named containers (init, regular and
// ephemeral) in the pod template of the unstructured rollout u, in place, and
// says which changed. Every container name given must exist; when one does
// not, u is left unchanged.
func SetImages(u *unstructured.Unstructured, images []ContainerImage) (changed []string, err error) {
	type list struct {
		path  []string
		items []any
	}
	var lists []list
	var names []string
	for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
		path := []string{"spec", "template", "spec", field}
		items, ok, err := unstructured.NestedSlice(u.Object, path...)
		if err != nil {
			return nil, fmt.Errorf("rollout %q: spec.template.spec.%s: %w", u.GetName(), field, err)
		}
		if !ok {
			continue
		}
		for i, item := range items {
			ctr, isMap := item.(map[string]any)
			if !isMap {
				return nil, fmt.Errorf("rollout %q: spec.template.spec.%s[%d] is not an object", u.GetName(), field, i)
			}
			name, _ := ctr["name"].(string)
			names = append(names, name)
		}
		lists = append(lists, list{path, items})
	}
	for _, ci := range images {
		switch {
		case ci.Container == "*" && len(names) == 0:
			return nil, fmt.Errorf("rollout %q has no containers", u.GetName())
		case ci.Container != "*" && !slices.Contains(names, ci.Container):
			return nil, fmt.Errorf("rollout %q has no container %q (containers: %s)", u.GetName(), ci.Container, strings.Join(names, ", "))
		}
	}
	for _, l := range lists {
		for _, item := range l.items {
			ctr := item.(map[string]any)
			name, _ := ctr["name"].(string)
			for _, ci := range images {
				if ci.Container != name && ci.Container != "*" {
					continue
				}
				if old, _ := ctr["image"].(string); old != ci.Image {
					ctr["image"] = ci.Image
					changed = append(changed, name+"="+ci.Image)
				}
			}
		}
		if err := unstructured.SetNestedSlice(u.Object, l.items, l.path...); err != nil {
			return nil, fmt.Errorf("rollout %q: set %s: %w", u.GetName(), strings.Join(l.path, "."), err)
		}
	}
	return changed, nil
}

// stripEphemeral removes from a ReplicaSet's template the ephemeral
// metadata the controller wrote there (canaryMetadata, stableMetadata,
// previewMetadata, activeMetadata) and the rollout's own template does not
// set: they belong to the role the ReplicaSet played, not to its version.
func stripEphemeral(r *v1alpha1.Rollout, tmpl *corev1.PodTemplateSpec) {
	var fields []*runtime.RawExtension
	if c := r.Spec.Strategy.Canary; c != nil {
		fields = append(fields, c.CanaryMetadata, c.StableMetadata)
	}
	if bg := r.Spec.Strategy.BlueGreen; bg != nil {
		fields = append(fields, bg.PreviewMetadata, bg.ActiveMetadata)
	}
	for _, f := range fields {
		if f == nil || len(f.Raw) == 0 {
			continue
		}
		var m struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		}
		if json.Unmarshal(f.Raw, &m) != nil {
			continue
		}
		for k := range m.Labels {
			if _, own := r.Spec.Template.Labels[k]; !own {
				delete(tmpl.Labels, k)
			}
		}
		for k := range m.Annotations {
			if _, own := r.Spec.Template.Annotations[k]; !own {
				delete(tmpl.Annotations, k)
			}
		}
	}
}
