package argometrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Descriptions of the rollout gauges, as Argo Rollouts declares them.
var (
	rolloutInfoDesc = prometheus.NewDesc(RolloutInfo, "Information about rollout.",
		append(namespaceName[:2:2], "strategy", "traffic_router", "phase"), nil)
	rolloutAvailableDesc = prometheus.NewDesc(RolloutReplicasAvailable,
		"The number of available replicas per rollout.", namespaceName, nil)
	rolloutUnavailableDesc = prometheus.NewDesc(RolloutReplicasUnavailable,
		"The number of unavailable replicas per rollout.", namespaceName, nil)
	rolloutDesiredDesc = prometheus.NewDesc(RolloutReplicasDesired,
		"The number of desired replicas per rollout.", namespaceName, nil)
	rolloutUpdatedDesc = prometheus.NewDesc(RolloutReplicasUpdated,
		"The number of updated replicas per rollout.", namespaceName, nil)
	rolloutPhaseDesc = prometheus.NewDesc(RolloutPhase,
		"Information on the state of the rollout (DEPRECATED - use rollout_info)",
		append(namespaceName[:2:2], "strategy", "phase"), nil)
)

// Argo Rollouts' phases of rollout_info, derived from the rollout's
// conditions (not status.phase).
const (
	phaseInvalidSpec = "InvalidSpec"
	phaseCompleted   = "Completed"
	phaseProgressing = "Progressing"
	phasePaused      = "Paused"
	phaseTimeout     = "Timeout"
	phaseError       = "Error"
	phaseAbort       = "Abort"
)

// rolloutPhaseValues are the phases rollout_phase has a series for, in
// Argo's order (InvalidSpec has none there).
var rolloutPhaseValues = []string{phaseCompleted, phaseProgressing, phasePaused, phaseTimeout, phaseError, phaseAbort}

// reasonReplicaSetCreateError is Argo's Progressing reason when the new
// ReplicaSet could not be created.
const reasonReplicaSetCreateError = "ReplicaSetCreateError"

// progressingPhases maps a Progressing condition's reason to Argo's phase.
var progressingPhases = map[string]string{
	v1alpha1.ReasonNewReplicaSetAvailable:   phaseCompleted,
	v1alpha1.ReasonRolloutPaused:            phasePaused,
	reasonReplicaSetCreateError:             phaseError,
	v1alpha1.ReasonProgressDeadlineExceeded: phaseTimeout,
	v1alpha1.ReasonRolloutAborted:           phaseAbort,
}

// argoPhase is the phase Argo Rollouts reports for ro: InvalidSpec while
// the InvalidSpec condition is there, else from the Progressing
// condition's reason, Progressing by default.
func argoPhase(ro *v1alpha1.Rollout) string {
	phase := phaseProgressing
	for _, c := range ro.Status.Conditions {
		if c.Type == v1alpha1.ConditionInvalidSpec {
			return phaseInvalidSpec
		}
		if c.Type == v1alpha1.ConditionProgressing {
			if p, ok := progressingPhases[c.Reason]; ok {
				phase = p
			}
		}
	}
	return phase
}

// strategyAndRouter are the strategy and traffic_router labels: blueGreen,
// canary or none; the canary's traffic router as Argo names it (the last
// one set wins, in Argo's order), empty for none or one Argo does not name.
func strategyAndRouter(ro *v1alpha1.Rollout) (string, string) {
	s := ro.Spec.Strategy
	if s.BlueGreen != nil {
		return "blueGreen", ""
	}
	if s.Canary == nil {
		return "none", ""
	}
	tr := s.Canary.TrafficRouting
	if tr == nil {
		return "canary", ""
	}
	router := ""
	for _, r := range []struct {
		set  bool
		name string
	}{
		{tr.ALB != nil, "ALB"}, {tr.Ambassador != nil, "Ambassador"}, {tr.Istio != nil, "Istio"},
		{tr.Nginx != nil, "Nginx"}, {tr.SMI != nil, "SMI"}, {tr.AppMesh != nil, "AppMesh"},
	} {
		if r.set {
			router = r.name
		}
	}
	return "canary", router
}

// collectRollout sends ro's gauges.
func collectRollout(ch chan<- prometheus.Metric, ro *v1alpha1.Rollout) {
	strategy, router := strategyAndRouter(ro)
	phase := argoPhase(ro)
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{ro.Namespace, ro.Name}, lv...)...)
	}
	desired := int32(1)
	if ro.Spec.Replicas != nil {
		desired = *ro.Spec.Replicas
	}
	gauge(rolloutInfoDesc, 1, strategy, router, phase)
	gauge(rolloutAvailableDesc, float64(ro.Status.AvailableReplicas))
	gauge(rolloutUnavailableDesc, float64(ro.Status.Replicas-ro.Status.AvailableReplicas))
	gauge(rolloutDesiredDesc, float64(desired))
	gauge(rolloutUpdatedDesc, float64(ro.Status.UpdatedReplicas))
	for _, p := range rolloutPhaseValues {
		gauge(rolloutPhaseDesc, boolFloat(p == phase), strategy, p)
	}
}
