package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// Ephemeral metadata (Argo Rollouts' canaryMetadata / stableMetadata and
// previewMetadata / activeMetadata): labels and annotations a ReplicaSet's
// pods carry while they play a role. They are written into the
// ReplicaSet's pod template (new pods get them) and onto its running pods,
// and change when the role does (the canary becomes stable at promotion):
// the other role's keys are removed. The pod-template-hash is computed from
// the rollout's template, so nothing here makes new pods.

// podMetadata is the content of an ephemeral metadata field.
type podMetadata struct {
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// parseMetadata reads an ephemeral metadata field (nil or JSON null: none).
func parseMetadata(field string, raw *runtime.RawExtension) (podMetadata, error) {
	var m podMetadata
	if raw == nil || len(raw.Raw) == 0 || string(raw.Raw) == "null" {
		return m, nil
	}
	if err := json.Unmarshal(raw.Raw, &m); err != nil {
		return m, fmt.Errorf("%s: want {labels: {...}, annotations: {...}} of strings: %v", field, err)
	}
	return m, nil
}

// ephemeralRoles returns the metadata of the two roles: the one the new
// version's pods carry while it is not yet stable (canary, preview) and the
// one the stable pods carry (stable, active).
func (c *rolloutContext) ephemeralRoles() (next, current podMetadata, err error) {
	if cs := c.ro.Spec.Strategy.Canary; cs != nil {
		if next, err = parseMetadata("spec.strategy.canary.canaryMetadata", cs.CanaryMetadata); err != nil {
			return
		}
		current, err = parseMetadata("spec.strategy.canary.stableMetadata", cs.StableMetadata)
		return
	}
	if bg := c.ro.Spec.Strategy.BlueGreen; bg != nil {
		if next, err = parseMetadata("spec.strategy.blueGreen.previewMetadata", bg.PreviewMetadata); err != nil {
			return
		}
		current, err = parseMetadata("spec.strategy.blueGreen.activeMetadata", bg.ActiveMetadata)
	}
	return
}

// syncEphemeralMetadata gives the stable ReplicaSet (and its pods) the
// stable role's metadata and the new one, while it is not stable, the
// canary role's. A label the rollout's selector or one of its Services
// selects on is refused: relabelling pods would move them in or out of a
// Service, and so of a target group, without any check.
func (c *rolloutContext) syncEphemeralMetadata(ctx context.Context) error {
	next, current, err := c.ephemeralRoles()
	if err != nil {
		c.specError("%v", err)
		return nil
	}
	if len(next.Labels)+len(next.Annotations)+len(current.Labels)+len(current.Annotations) == 0 &&
		!slices.ContainsFunc([]*appsv1.ReplicaSet{c.stableRS, c.newRS}, func(rs *appsv1.ReplicaSet) bool {
			return rs != nil && rs.Annotations[ephemeralRecordAnnotation] != ""
		}) {
		return nil // none asked for, none applied before
	}
	if why := c.ephemeralConflict(next, current); why != "" {
		c.specError("%s", why)
		return nil
	}
	if c.stableRS != nil {
		if err := c.applyMetadata(ctx, c.stableRS, current, next); err != nil {
			return err
		}
	}
	if c.newRS != nil && c.newRS != c.stableRS {
		if err := c.applyMetadata(ctx, c.newRS, next, current); err != nil {
			return err
		}
	}
	return nil
}

// ephemeralConflict says why ephemeral labels cannot be applied ("" when
// they can): one is the hash label, in spec.selector, or selected on by a
// Service of the rollout or one an ALB sends traffic to.
func (c *rolloutContext) ephemeralConflict(next, current podMetadata) string {
	keys := slices.Concat(slices.Collect(maps.Keys(next.Labels)), slices.Collect(maps.Keys(current.Labels)))
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if k == replicaset.HashLabel {
			return fmt.Sprintf("ephemeral metadata may not set label %s", k)
		}
		if sel := c.ro.Spec.Selector; sel != nil {
			if _, in := sel.MatchLabels[k]; in {
				return fmt.Sprintf("ephemeral label %s is in spec.selector: pods would leave the rollout when it changes", k)
			}
		}
		for _, svc := range c.obs.namespaceServices {
			// The rollout's Services, and any other an ALB Ingress routes
			// to: relabelling would move pods in and out of its target
			// group unchecked.
			if !slices.Contains(writtenServices(c.ro), svc.Name) && !c.obs.ingressNamed[svc.Name] {
				continue
			}
			if _, in := svc.Spec.Selector[k]; in {
				return fmt.Sprintf("service %s/%s selects on ephemeral label %s: relabelling pods would move them in and out of its target group with no health check; select on %s (as the controller does) or on labels of the pod template", svc.Namespace, svc.Name, k, replicaset.HashLabel)
			}
		}
	}
	return ""
}

// applyMetadata makes a ReplicaSet's pod template and live pods carry want
// and not the keys of other (the role they no longer play) that want does
// not set.
func (c *rolloutContext) applyMetadata(ctx context.Context, rs *appsv1.ReplicaSet, want, other podMetadata) error {
	// Keys to take away: the other role's, and those applied before (the
	// record on the ReplicaSet) that the metadata no longer sets; never one
	// the rollout's own template sets.
	prev := recordedMetadata(rs)
	fix := func(have, want, other, prev, own map[string]string) (map[string]string, bool) {
		out := maps.Clone(have)
		if out == nil {
			out = map[string]string{}
		}
		changed := false
		for _, drop := range []map[string]string{other, prev} {
			for k := range drop {
				_, keep := want[k]
				_, mine := own[k]
				if _, ok := out[k]; ok && !keep && !mine {
					delete(out, k)
					changed = true
				}
			}
		}
		for k, v := range want {
			if out[k] != v {
				out[k] = v
				changed = true
			}
		}
		return out, changed
	}
	tmpl := c.ro.Spec.Template
	labels, lc := fix(rs.Spec.Template.Labels, want.Labels, other.Labels, prev.Labels, tmpl.Labels)
	annotations, ac := fix(rs.Spec.Template.Annotations, want.Annotations, other.Annotations, prev.Annotations, tmpl.Annotations)
	record := metadataRecord(want)
	if lc || ac || rs.Annotations[ephemeralRecordAnnotation] != record {
		n := rs.DeepCopy()
		n.Spec.Template.Labels, n.Spec.Template.Annotations = labels, annotations
		if n.Annotations == nil {
			n.Annotations = map[string]string{}
		}
		n.Annotations[ephemeralRecordAnnotation] = record
		if err := c.r.client.Patch(ctx, n, client.MergeFromWithOptions(rs, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("writing the ephemeral metadata of ReplicaSet %s/%s: %w", rs.Namespace, rs.Name, err)
		}
		*rs = *n
		c.progressed = true
	}
	hash := replicaset.HashOf(rs)
	for i := range c.obs.pods {
		p := &c.obs.pods[i]
		if p.Labels[replicaset.HashLabel] != hash || p.DeletionTimestamp != nil {
			continue
		}
		pl, plc := fix(p.Labels, want.Labels, other.Labels, prev.Labels, tmpl.Labels)
		pa, pac := fix(p.Annotations, want.Annotations, other.Annotations, prev.Annotations, tmpl.Annotations)
		if !plc && !pac {
			continue
		}
		n := p.DeepCopy()
		n.Labels, n.Annotations = pl, pa
		if err := c.r.client.Patch(ctx, n, client.MergeFrom(p)); err != nil {
			return fmt.Errorf("writing the ephemeral metadata of pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		*p = *n
		c.progressed = true
	}
	return nil
}

// ephemeralRecordAnnotation records on a ReplicaSet the ephemeral metadata
// last applied to it (keys and values), so that a key the metadata stops
// setting is taken off its template and pods.
const ephemeralRecordAnnotation = "albrollouts.io/ephemeral-metadata"

// metadataRecord is the record of m.
func metadataRecord(m podMetadata) string {
	b, _ := json.Marshal(m)
	return string(b)
}

// recordedMetadata reads the record on rs (none when absent or unreadable).
func recordedMetadata(rs *appsv1.ReplicaSet) podMetadata {
	var m podMetadata
	_ = json.Unmarshal([]byte(rs.Annotations[ephemeralRecordAnnotation]), &m)
	return m
}
