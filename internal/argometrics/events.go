package argometrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// EventCounter is an events.EventRecorder that records through its
// Recorder and counts each event about a Rollout in rollout_events_total
// (namespace, name, type, reason), as Argo Rollouts' recorder does.
type EventCounter struct {
	events.EventRecorder
	total *prometheus.CounterVec
}

// CountEvents returns rec counting its Rollouts' events in m's
// rollout_events_total.
func (m *Metrics) CountEvents(rec events.EventRecorder) *EventCounter {
	return &EventCounter{EventRecorder: rec, total: m.events}
}

// Eventf implements events.EventRecorder.
func (e *EventCounter) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...interface{}) {
	e.EventRecorder.Eventf(regarding, related, eventtype, reason, action, note, args...)
	if ro, ok := regarding.(*v1alpha1.Rollout); ok && ro != nil && reason != "" {
		e.total.WithLabelValues(ro.Namespace, ro.Name, eventtype, reason).Inc()
	}
}

var _ events.EventRecorder = (*EventCounter)(nil)
