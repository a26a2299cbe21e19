package verify

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	sharedmetrics "github.com/albrollouts/albrollouts/internal/metrics"
)

// metrics are the verifier's Prometheus collectors.
type metrics struct {
	checks   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "albrollouts_verifications_total",
			Help: "Verification checks by result (verified, pending, failed, timed_out).",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "albrollouts_verification_duration_seconds",
			Help:    "Duration of one verification check (ELBv2 reads and decision), by result.",
			Buckets: []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "albrollouts_verification_latency_seconds",
			Help:    "Time from writing the desired state to its final verdict (verified or timed_out).",
			Buckets: []float64{.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300},
		}, []string{"result"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "albrollouts_verifications_in_flight",
			Help: "Verification checks running now.",
		}),
	}
	if reg != nil {
		m.checks = sharedmetrics.Register(reg, m.checks)
		m.duration = sharedmetrics.Register(reg, m.duration)
		m.latency = sharedmetrics.Register(reg, m.latency)
		m.inFlight = sharedmetrics.Register(reg, m.inFlight)
	}
	return m
}

// resultLabel is the snake_case label of an outcome.
func resultLabel(o Outcome) string {
	if o == TimedOut {
		return "timed_out"
	}
	return strings.ToLower(string(o))
}

func (m *metrics) observe(in Input, res Result, took time.Duration, now time.Time) {
	label := resultLabel(res.Outcome)
	m.checks.WithLabelValues(label).Inc()
	m.duration.WithLabelValues(label).Observe(took.Seconds())
	if (res.Outcome == Verified || res.Outcome == TimedOut) && !in.DesiredAt.IsZero() {
		m.latency.WithLabelValues(label).Observe(now.Sub(in.DesiredAt).Seconds())
	}
}
