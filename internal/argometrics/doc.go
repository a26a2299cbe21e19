// Package argometrics exports Argo Rollouts' controller metrics under Argo's
// names, label names, help texts and types, beside albrollouts' own
// albrollouts_* metrics, so that the dashboards and alerts a team built on
// Argo Rollouts keep working when albrollouts reconciles its rollouts.
//
// The info and replica gauges (rollout_info, rollout_info_replicas_*,
// rollout_phase, analysis_run_*) are read from the controller's cache at
// scrape time, so a deleted Rollout or AnalysisRun disappears with its next
// scrape. The reconcile histograms and error counters are observed by a
// wrapper around each controller's reconciler (Instrument), and
// rollout_events_total by a wrapper around the event recorder (CountEvents).
package argometrics

// Argo Rollouts' metric names (controller/metrics/prommetrics.go). The
// controller version gauge is argo_rollouts_controller_info in Argo.
const (
	RolloutInfo                = "rollout_info"
	RolloutReplicasAvailable   = "rollout_info_replicas_available"
	RolloutReplicasUnavailable = "rollout_info_replicas_unavailable"
	RolloutReplicasDesired     = "rollout_info_replicas_desired"
	RolloutReplicasUpdated     = "rollout_info_replicas_updated"
	RolloutPhase               = "rollout_phase"
	RolloutReconcile           = "rollout_reconcile"
	RolloutReconcileError      = "rollout_reconcile_error"
	RolloutEventsTotal         = "rollout_events_total"
	AnalysisRunInfo            = "analysis_run_info"
	AnalysisRunPhase           = "analysis_run_phase"
	AnalysisRunMetricType      = "analysis_run_metric_type"
	AnalysisRunMetricPhase     = "analysis_run_metric_phase"
	AnalysisRunReconcile       = "analysis_run_reconcile"
	AnalysisRunReconcileError  = "analysis_run_reconcile_error"
	ControllerInfo             = "argo_rollouts_controller_info"
)

// reconcileBuckets are Argo's buckets of rollout_reconcile and
// analysis_run_reconcile, in seconds.
var reconcileBuckets = []float64{0.01, 0.15, .25, .5, 1}

// namespaceName are the labels every per-object series starts with.
var namespaceName = []string{"namespace", "name"}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
