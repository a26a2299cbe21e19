package notify

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// metrics are Argo Rollouts' notification metrics (names, labels, buckets),
// and the events the full queue dropped.
type metrics struct {
	success *prometheus.CounterVec
	errors  *prometheus.CounterVec
	send    *prometheus.HistogramVec
	dropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		success: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notification_send_success",
			Help: "Notifications sent, by rollout and the event that sent them (Argo Rollouts' metric).",
		}, []string{"namespace", "name", "type", "reason"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notification_send_error",
			Help: "Notifications not sent: the send failed, its trigger failed, or the configuration is invalid (Argo Rollouts' metric).",
		}, []string{"namespace", "name", "type", "reason"}),
		send: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "notification_send",
			Help:    "Seconds to send one notification (Argo Rollouts' metric).",
			Buckets: []float64{0.01, 0.15, .25, .5, 1},
		}, []string{"namespace", "name"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "albrollouts_notification_events_dropped_total",
			Help: "Events not notified because the notification queue was full.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.success = register(reg, m.success, &err)
	m.errors = register(reg, m.errors, &err)
	m.send = register(reg, m.send, &err)
	m.dropped = register(reg, m.dropped, &err)
	return m, err
}

// register registers c, or returns the collector already registered under
// its name (a second manager in the same process).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		if *errp == nil {
			*errp = err
		}
	}
	return c
}

func (m *metrics) succeeded(ro *v1alpha1.Rollout, it item) {
	m.success.WithLabelValues(ro.Namespace, ro.Name, it.eventType, it.reason).Inc()
}

func (m *metrics) failed(ro *v1alpha1.Rollout, it item) {
	m.errors.WithLabelValues(ro.Namespace, ro.Name, it.eventType, it.reason).Inc()
}

func (m *metrics) observe(ro *v1alpha1.Rollout, d time.Duration) {
	m.send.WithLabelValues(ro.Namespace, ro.Name).Observe(d.Seconds())
}
