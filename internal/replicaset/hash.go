// Package replicaset manages the ReplicaSets of a Rollout the way Argo Rollouts
// does, so that ReplicaSets, pods and Services created by either controller are
// recognised by the other: the pod-template hash and its label, the
// <rollout>-<hash> name, the revision annotations, the scale-down deadline, and
// the counts a rollout's status is made of.
package replicaset

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// PodTemplateHash is Argo Rollouts' hash of a pod template: FNV-32a over the
// template's JSON (and the collision count, when set, as 8 little-endian
// bytes), written in decimal and then mapped to a DNS-safe alphabet. Argo
// Rollouts names the ReplicaSet of the same template the same way, so a
// rollout moved between the two controllers keeps its ReplicaSets.
func PodTemplateHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	b, err := json.Marshal(template)
	if err != nil {
		// A PodTemplateSpec always marshals; keep the hash defined anyway.
		b = []byte(fmt.Sprintf("%#v", template))
	}
	_, _ = h.Write(b)
	if collisionCount != nil {
		c := make([]byte, 8)
		binary.LittleEndian.PutUint32(c, uint32(*collisionCount))
		_, _ = h.Write(c)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// JSONHash is the same hash over any value's JSON, as Argo Rollouts computes
// status.currentStepHash from the canary steps.
func JSONHash(v any) string {
	h := fnv.New32a()
	b, _ := json.Marshal(v)
	_, _ = h.Write(b)
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}
