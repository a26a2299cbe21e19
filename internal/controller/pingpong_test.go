package controller

import (
	"testing"

	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Ping-pong as Argo Rollouts' e2e TestALBPingPongUpdate runs it: the first
// version is served by ping; each update moves traffic to the other Service
// and promotion swaps the roles.
func TestPingPongFirstDeployServesPingThenAlternates(t *testing.T) {
	s := newSafeSim(t)
	s.canaryRollout(2, weightStep(25), pauseStep(""))
	s.redTeamPingPong()
	s.run(60, "healthy on v1", isHealthy)
	if ro := s.rollout(); ro.Status.Canary.StablePingPong != "ping" || s.albWeights["web-ping"] != 100 || s.albWeights["web-pong"] != 0 {
		t.Fatalf("first deploy: stablePingPong %q, weights %v; want ping with 100", ro.Status.Canary.StablePingPong, s.albWeights)
	}
	for i, want := range []struct{ canary, stable string }{{"web-pong", "web-ping"}, {"web-ping", "web-pong"}} {
		setImage(s.sim, []string{"v2", "v3"}[i])
		s.run(100, "paused at 25%", func(ro *v1alpha1.Rollout) bool {
			return paused(ro) && ptr.Deref(ro.Status.CurrentStepIndex, 0) == 1 && s.albWeights[want.canary] == 25
		})
		if s.albWeights[want.stable] != 75 {
			t.Fatalf("update %d: weights %v; want %s 75, %s 25", i+1, s.albWeights, want.stable, want.canary)
		}
		s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
		s.run(100, "promoted", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && s.albWeights[want.canary] == 100 })
	}
}
