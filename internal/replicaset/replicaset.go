package replicaset

import (
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Labels and annotations, as Argo Rollouts writes them.
const (
	// HashLabel carries a ReplicaSet's pod-template hash on the ReplicaSet, its
	// selector, its pods, and on the selectors of the Services the rollout points
	// at it.
	HashLabel = "rollouts-pod-template-hash"
	// RevisionAnnotation is the revision (1, 2, ...) of a ReplicaSet, and of the
	// Rollout (its newest).
	RevisionAnnotation = "rollout.argoproj.io/revision"
	// RevisionHistoryAnnotation lists the earlier revisions a reused ReplicaSet had.
	RevisionHistoryAnnotation = "rollout.argoproj.io/revision-history"
	// DesiredReplicasAnnotation is the rollout's spec.replicas when the ReplicaSet was last scaled.
	DesiredReplicasAnnotation = "rollout.argoproj.io/desired-replicas"
	// ScaleDownDeadlineAnnotation is when a ReplicaSet that no longer serves may
	// be scaled to zero (RFC 3339, UTC). Argo Rollouts writes it without a prefix.
	ScaleDownDeadlineAnnotation = "scale-down-deadline"
	// InstanceIDLabel shards rollouts between controllers (--instance-id).
	InstanceIDLabel = "argo-rollouts.argoproj.io/controller-instance-id"
)

// RolloutGVK is the owner kind of the ReplicaSets.
var RolloutGVK = v1alpha1.GroupVersion.WithKind("Rollout")

// HashOf returns a ReplicaSet's pod-template hash label.
func HashOf(rs *appsv1.ReplicaSet) string {
	if rs == nil {
		return ""
	}
	return rs.Labels[HashLabel]
}

// Revision returns a ReplicaSet's (or a Rollout's) revision annotation, 0 when
// unset or not a number.
func Revision(obj metav1.Object) int64 {
	v, err := strconv.ParseInt(obj.GetAnnotations()[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

// MaxRevision is the highest revision among the ReplicaSets.
func MaxRevision(rss []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		m = max(m, Revision(rs))
	}
	return m
}

// Replicas returns spec.replicas of a ReplicaSet (nil means 1, as the API defaults it).
func Replicas(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// Available returns how many of a ReplicaSet's pods are available (ready for
// minReadySeconds), as its status says; 0 for nil.
func Available(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return rs.Status.AvailableReplicas
}

// Settled reports whether the ReplicaSet controller has observed the
// ReplicaSet's latest spec, so that its status counts can be trusted.
func Settled(rs *appsv1.ReplicaSet) bool {
	return rs != nil && rs.Status.ObservedGeneration >= rs.Generation
}

// TemplateWithoutHash returns a copy of a ReplicaSet's pod template without the
// hash label, to compare it with a rollout's template.
func TemplateWithoutHash(rs *appsv1.ReplicaSet) *corev1.PodTemplateSpec {
	t := rs.Spec.Template.DeepCopy()
	delete(t.Labels, HashLabel)
	if len(t.Labels) == 0 {
		t.Labels = nil
	}
	return t
}

// TemplateEqual reports whether a ReplicaSet was made from this pod template.
// The API server fills defaults into a ReplicaSet's template (restartPolicy,
// imagePullPolicy, ...) but not into a Rollout's, so the comparison is one
// way: every field the rollout's template sets must be in the ReplicaSet's
// with the same value (lists compared whole); fields only the ReplicaSet's
// has are taken as defaults.
func TemplateEqual(rs *appsv1.ReplicaSet, template *corev1.PodTemplateSpec) bool {
	live, err1 := toJSONMap(TemplateWithoutHash(rs))
	t := template.DeepCopy()
	delete(t.Labels, HashLabel)
	desired, err2 := toJSONMap(t)
	if err1 != nil || err2 != nil {
		return false
	}
	return subset(desired, live)
}

func toJSONMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// subset reports whether every value set in want is in have, equal.
func subset(want, have any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		for k, wv := range w {
			hv, ok := h[k]
			if !ok {
				if isEmpty(wv) {
					continue
				}
				return false
			}
			if !subset(wv, hv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(w) {
			return false
		}
		for i := range w {
			if !subset(w[i], h[i]) {
				return false
			}
		}
		return true
	default:
		return equality.Semantic.DeepEqual(want, have)
	}
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// FindByHash returns the ReplicaSet with the hash label, or nil.
func FindByHash(rss []*appsv1.ReplicaSet, hash string) *appsv1.ReplicaSet {
	if hash == "" {
		return nil
	}
	for _, rs := range rss {
		if HashOf(rs) == hash {
			return rs
		}
	}
	return nil
}

// maxCollisionCount bounds the collision counts FindByTemplate tries.
const maxCollisionCount = 10

// FindByTemplate returns the newest ReplicaSet made from the template: found
// by hash first, then by the template's hash under another collision count
// (none, 0 to 9), then by a template equal both ways (a template copied
// from the ReplicaSet, defaults and all: an undo). A one-way comparison
// (TemplateEqual) is not enough here: a template that drops a field the
// ReplicaSet's sets (command: null) looks like the same template with
// server defaults, and the change would never make a new revision.
func FindByTemplate(rss []*appsv1.ReplicaSet, template *corev1.PodTemplateSpec, hash string) *appsv1.ReplicaSet {
	if rs := FindByHash(rss, hash); rs != nil {
		return rs
	}
	hashes := map[string]bool{PodTemplateHash(template, nil): true}
	for i := range int32(maxCollisionCount) {
		hashes[PodTemplateHash(template, &i)] = true
	}
	newest := func(match func(*appsv1.ReplicaSet) bool) *appsv1.ReplicaSet {
		var found *appsv1.ReplicaSet
		for _, rs := range rss {
			if match(rs) && (found == nil || Revision(rs) > Revision(found)) {
				found = rs
			}
		}
		return found
	}
	if rs := newest(func(rs *appsv1.ReplicaSet) bool { return hashes[HashOf(rs)] }); rs != nil {
		return rs
	}
	return newest(func(rs *appsv1.ReplicaSet) bool { return templateSame(rs, template) })
}

// templateSame reports whether the ReplicaSet's template and this one set
// the same fields to the same values (empty ones aside).
func templateSame(rs *appsv1.ReplicaSet, template *corev1.PodTemplateSpec) bool {
	live, err1 := toJSONMap(TemplateWithoutHash(rs))
	t := template.DeepCopy()
	delete(t.Labels, HashLabel)
	desired, err2 := toJSONMap(t)
	return err1 == nil && err2 == nil && subset(desired, live) && subset(live, desired)
}

// SortByRevision sorts oldest first (by revision, then creation time, then name).
func SortByRevision(rss []*appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool {
		ri, rj := Revision(rss[i]), Revision(rss[j])
		if ri != rj {
			return ri < rj
		}
		if !rss[i].CreationTimestamp.Equal(&rss[j].CreationTimestamp) {
			return rss[i].CreationTimestamp.Before(&rss[j].CreationTimestamp)
		}
		return rss[i].Name < rss[j].Name
	})
}

// Name is the ReplicaSet name of a rollout's template hash.
func Name(ro *v1alpha1.Rollout, hash string) string {
	return ro.Name + "-" + hash
}

// New builds the ReplicaSet of ro's current template with hash, at revision
// and replicas. It carries the hash label on itself, its selector and its
// pods, an owner reference to the rollout, and the instance-id label when the
// rollout has one.
func New(ro *v1alpha1.Rollout, hash string, revision int64, replicas int32) *appsv1.ReplicaSet {
	tmpl := ro.Spec.Template.DeepCopy()
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[HashLabel] = hash
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	if ro.Spec.Selector != nil {
		sel = ro.Spec.Selector.DeepCopy()
		if sel.MatchLabels == nil {
			sel.MatchLabels = map[string]string{}
		}
	}
	sel.MatchLabels[HashLabel] = hash
	labels := maps.Clone(tmpl.Labels)
	if id, ok := ro.Labels[InstanceIDLabel]; ok {
		labels[InstanceIDLabel] = id
	}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:      Name(ro, hash),
			Namespace: ro.Namespace,
			Labels:    labels,
			Annotations: map[string]string{
				RevisionAnnotation:        strconv.FormatInt(revision, 10),
				DesiredReplicasAnnotation: strconv.Itoa(int(ptr.Deref(ro.Spec.Replicas, 1))),
			},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ro, RolloutGVK)},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        ptr.To(replicas),
			MinReadySeconds: ro.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        *tmpl,
		},
	}
}

// WithRevision returns the annotations of a reused ReplicaSet moved to a new
// revision: the old revision joins the revision history.
func WithRevision(annotations map[string]string, revision int64) map[string]string {
	out := maps.Clone(annotations)
	if out == nil {
		out = map[string]string{}
	}
	old := out[RevisionAnnotation]
	next := strconv.FormatInt(revision, 10)
	if old == next {
		return out
	}
	if old != "" {
		var hist []string
		if h := out[RevisionHistoryAnnotation]; h != "" {
			hist = strings.Split(h, ",")
		}
		out[RevisionHistoryAnnotation] = strings.Join(append(hist, old), ",")
	}
	out[RevisionAnnotation] = next
	return out
}

// ScaleDownDeadline returns the scale-down deadline of a ReplicaSet, if set and valid.
func ScaleDownDeadline(rs *appsv1.ReplicaSet) (time.Time, bool) {
	v, ok := rs.Annotations[ScaleDownDeadlineAnnotation]
	if !ok || v == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// FormatDeadline formats a scale-down deadline as Argo Rollouts does.
func FormatDeadline(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Owned reports whether the ReplicaSet's controller is the rollout.
func Owned(rs *appsv1.ReplicaSet, ro *v1alpha1.Rollout) bool {
	ref := metav1.GetControllerOf(rs)
	return ref != nil && ref.UID == ro.UID && ref.Kind == RolloutGVK.Kind
}

// Describe names a ReplicaSet with its revision, for events and messages.
func Describe(rs *appsv1.ReplicaSet) string {
	return fmt.Sprintf("%s (revision %d)", rs.Name, Revision(rs))
}
