package controller

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	promreg "github.com/albrollouts/albrollouts/internal/metrics"
)

// metrics are the per-rollout Prometheus metrics, next to the engine's
// albrollouts_elbv2_* and albrollouts_verification* ones.
type rolloutMetrics struct {
	phase         *prometheus.GaugeVec
	step          *prometheus.GaugeVec
	weight        *prometheus.GaugeVec
	verifications *prometheus.CounterVec
}

var phases = []v1alpha1.RolloutPhase{v1alpha1.RolloutPhaseHealthy, v1alpha1.RolloutPhaseProgressing, v1alpha1.RolloutPhasePaused, v1alpha1.RolloutPhaseDegraded}

func newMetrics(reg prometheus.Registerer) *rolloutMetrics {
	m := &rolloutMetrics{
		phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "albrollouts_rollout_phase",
			Help: "1 for the rollout's current phase (Healthy, Progressing, Paused, Degraded), 0 for the others.",
		}, []string{"namespace", "name", "phase"}),
		step: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "albrollouts_rollout_step",
			Help: "Index of the canary step being executed (status.currentStepIndex).",
		}, []string{"namespace", "name"}),
		weight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "albrollouts_rollout_canary_weight",
			Help: "Canary traffic weight written to the ALB action (state=desired), and the same once verified on the ALB (state=verified).",
		}, []string{"namespace", "name", "state"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "albrollouts_rollout_verification_checks_total",
			Help: "Verification checks per rollout by outcome (Verified, Pending, Failed, TimedOut).",
		}, []string{"namespace", "name", "outcome"}),
	}
	if reg != nil {
		m.phase = promreg.Register(reg, m.phase)
		m.step = promreg.Register(reg, m.step)
		m.weight = promreg.Register(reg, m.weight)
		m.verifications = promreg.Register(reg, m.verifications)
	}
	return m
}

func (m *rolloutMetrics) record(ro *v1alpha1.Rollout, st *v1alpha1.RolloutStatus) {
	for _, p := range phases {
		v := 0.0
		if st.Phase == p {
			v = 1
		}
		m.phase.WithLabelValues(ro.Namespace, ro.Name, string(p)).Set(v)
	}
	if st.CurrentStepIndex != nil {
		m.step.WithLabelValues(ro.Namespace, ro.Name).Set(float64(*st.CurrentStepIndex))
	}
	if w := st.Canary.Weights; w != nil {
		m.weight.WithLabelValues(ro.Namespace, ro.Name, "desired").Set(float64(w.Canary.Weight))
		if w.Verified != nil && *w.Verified {
			m.weight.WithLabelValues(ro.Namespace, ro.Name, "verified").Set(float64(w.Canary.Weight))
		}
	}
}

func (m *rolloutMetrics) verification(ro *v1alpha1.Rollout, outcome string) {
	m.verifications.WithLabelValues(ro.Namespace, ro.Name, outcome).Inc()
}

func (m *rolloutMetrics) forget(namespace, name string) {
	l := prometheus.Labels{"namespace": namespace, "name": name}
	m.phase.DeletePartialMatch(l)
	m.step.DeletePartialMatch(l)
	m.weight.DeletePartialMatch(l)
	m.verifications.DeletePartialMatch(l)
}
