package v1alpha1

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
)

// StrategyName returns Canary or BlueGreen, or "" when the spec sets neither.
func (r *Rollout) StrategyName() StrategyName {
	switch {
	case r.Spec.Strategy.Canary != nil:
		return StrategyCanary
	case r.Spec.Strategy.BlueGreen != nil:
		return StrategyBlueGreen
	}
	return ""
}

// ALBVerification returns the verification settings of whichever strategy the
// rollout uses (canary trafficRouting.alb or blueGreen.alb), or nil when none
// are written. The methods of *ALBVerification accept nil.
func (r *Rollout) ALBVerification() *ALBVerification {
	if c := r.Spec.Strategy.Canary; c != nil && c.TrafficRouting != nil && c.TrafficRouting.ALB != nil {
		return &c.TrafficRouting.ALB.ALBVerification
	}
	if bg := r.Spec.Strategy.BlueGreen; bg != nil && bg.ALB != nil {
		return &bg.ALB.ALBVerification
	}
	return nil
}

// Enabled says whether traffic shifts must be verified: the rollout's
// verifyTargetGroup when set, else controllerDefault (the controller flag).
func (v *ALBVerification) Enabled(controllerDefault bool) bool {
	if v == nil || v.VerifyTargetGroup == nil {
		return controllerDefault
	}
	return *v.VerifyTargetGroup
}

// Timeout is the rollout's timeoutSeconds when set, else controllerDefault.
func (v *ALBVerification) Timeout(controllerDefault time.Duration) time.Duration {
	if v == nil || v.TimeoutSeconds == nil || *v.TimeoutSeconds <= 0 {
		return controllerDefault
	}
	return time.Duration(*v.TimeoutSeconds) * time.Second
}

// IngressNames returns the Ingress names of the ALB traffic routing: ingress, or
// ingresses. Nil-safe.
func (a *ALBTrafficRouting) IngressNames() []string {
	if a == nil {
		return nil
	}
	if a.Ingress != "" {
		return []string{a.Ingress}
	}
	return a.Ingresses
}

// MaxWeight is trafficRouting.maxTrafficWeight, default 100.
func (c *CanaryStrategy) MaxWeight() int32 {
	if c.TrafficRouting != nil && c.TrafficRouting.MaxTrafficWeight != nil && *c.TrafficRouting.MaxTrafficWeight > 0 {
		return *c.TrafficRouting.MaxTrafficWeight
	}
	return 100
}

// ActionService returns the Service whose actions annotation carries the weights:
// rootService when set, else stableService.
func (c *CanaryStrategy) ActionService() string {
	if c.TrafficRouting != nil && c.TrafficRouting.ALB != nil && c.TrafficRouting.ALB.RootService != "" {
		return c.TrafficRouting.ALB.RootService
	}
	return c.StableService
}

// Default AnalysisRun history limits (Argo Rollouts' defaults).
const (
	DefaultSuccessfulRunHistoryLimit   int32 = 5
	DefaultUnsuccessfulRunHistoryLimit int32 = 5
)

// RunHistoryLimits returns how many Successful and how many unsuccessful
// (Failed, Error, Inconclusive) completed AnalysisRuns the rollout keeps.
func (s *RolloutSpec) RunHistoryLimits() (successful, unsuccessful int32) {
	successful, unsuccessful = DefaultSuccessfulRunHistoryLimit, DefaultUnsuccessfulRunHistoryLimit
	if a := s.Analysis; a != nil {
		if a.SuccessfulRunHistoryLimit != nil {
			successful = *a.SuccessfulRunHistoryLimit
		}
		if a.UnsuccessfulRunHistoryLimit != nil {
			unsuccessful = *a.UnsuccessfulRunHistoryLimit
		}
	}
	return successful, unsuccessful
}

// UnsupportedFields lists, as JSON paths such as
// "spec.strategy.canary.trafficRouting.istio" or "spec.strategy.canary.steps[2].analysis",
// the Argo Rollouts fields this spec sets that albrollouts does not implement.
// The controller reports them in the UnsupportedFields condition; they are kept
// in the object untouched.
func (r *Rollout) UnsupportedFields() []string {
	var u unsupported
	s := &r.Spec
	u.raw("spec.rollbackWindow", s.RollbackWindow)

	if bg := s.Strategy.BlueGreen; bg != nil {
		const p = "spec.strategy.blueGreen."
		u.raw(p+"antiAffinity", bg.AntiAffinity)
	}

	if c := s.Strategy.Canary; c != nil {
		const p = "spec.strategy.canary."
		u.set(p+"minPodsPerReplicaSet", c.MinPodsPerReplicaSet != nil)
		u.set(p+"replicaProgressThreshold", c.ReplicaProgressThreshold != nil)
		u.raw(p+"antiAffinity", c.AntiAffinity)
		for i, st := range c.Steps {
			sp := fmt.Sprintf("%ssteps[%d].", p, i)
			u.raw(sp+"experiment", st.Experiment)
			u.raw(sp+"setMirrorRoute", st.SetMirrorRoute)
			u.raw(sp+"plugin", st.Plugin)
		}
		if tr := c.TrafficRouting; tr != nil {
			const tp = p + "trafficRouting."
			u.raw(tp+"istio", tr.Istio)
			u.raw(tp+"nginx", tr.Nginx)
			u.raw(tp+"smi", tr.SMI)
			u.raw(tp+"ambassador", tr.Ambassador)
			u.raw(tp+"appMesh", tr.AppMesh)
			u.raw(tp+"traefik", tr.Traefik)
			u.raw(tp+"apisix", tr.Apisix)
			u.raw(tp+"plugins", tr.Plugins)
		}
	}
	return u.paths
}

// unsupported collects the paths of unsupported fields in spec order.
type unsupported struct{ paths []string }

func (u *unsupported) set(path string, isSet bool) {
	if isSet {
		u.paths = append(u.paths, path)
	}
}

// raw records a preserved field unless it is absent or JSON null.
func (u *unsupported) raw(path string, v *runtime.RawExtension) {
	u.set(path, v != nil && (v.Object != nil || (len(v.Raw) > 0 && string(v.Raw) != "null")))
}
