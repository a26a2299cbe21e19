package argometrics

import (
	"github.com/prometheus/client_golang/prometheus"

	promreg "github.com/albrollouts/albrollouts/internal/metrics"
	"github.com/albrollouts/albrollouts/internal/version"
)

// Metrics are Argo Rollouts' controller metrics of one process.
type Metrics struct {
	cache    *cacheCollector
	rollouts reconcileMetrics
	runs     reconcileMetrics
	events   *prometheus.CounterVec
}

// Register builds the metrics reading src and registers them with reg (nil:
// nowhere). A registry that already has them (several controllers in one
// test process) keeps its collectors; the gauges then read src.
func Register(reg prometheus.Registerer, src Source) *Metrics {
	m := &Metrics{
		cache: &cacheCollector{},
		rollouts: newReconcileMetrics(RolloutReconcile, "Rollout reconciliation performance.",
			RolloutReconcileError, "Error occurring during the rollout"),
		runs: newReconcileMetrics(AnalysisRunReconcile, "Analysis Run reconciliation performance.",
			AnalysisRunReconcileError, "Error occurring during the analysis run"),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: RolloutEventsTotal, Help: "Count of rollout events"},
			append(namespaceName[:2:2], "type", "reason")),
	}
	info := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        ControllerInfo,
		Help:        "Running Argo-rollouts version",
		ConstLabels: prometheus.Labels{"version": version.Version},
	}, func() float64 { return 1 })
	if reg != nil {
		m.cache = promreg.Register(reg, m.cache)
		m.rollouts.duration = promreg.Register(reg, m.rollouts.duration)
		m.rollouts.errors = promreg.Register(reg, m.rollouts.errors)
		m.runs.duration = promreg.Register(reg, m.runs.duration)
		m.runs.errors = promreg.Register(reg, m.runs.errors)
		m.events = promreg.Register(reg, m.events)
		promreg.Register(reg, info)
	}
	m.cache.setSource(src)
	return m
}
