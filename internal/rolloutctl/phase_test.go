package rolloutctl_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

func TestPhase(t *testing.T) {
	healthyCounts := func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
		n := *r.Spec.Replicas
		r.Status.Replicas, r.Status.UpdatedReplicas, r.Status.ReadyReplicas, r.Status.AvailableReplicas = n, n, n, n
		return r
	}
	promoted := func(r *v1alpha1.Rollout) *v1alpha1.Rollout {
		r.Status.StableRS = r.Status.CurrentPodHash
		r.Status.BlueGreen.ActiveSelector = r.Status.CurrentPodHash
		return healthyCounts(r)
	}
	cases := []struct {
		name  string
		r     func() *v1alpha1.Rollout
		phase v1alpha1.RolloutPhase
		msg   string
	}{{
		name: "the controller's phase is used as written",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.Phase, r.Status.Message = v1alpha1.RolloutPhaseDegraded, "RolloutAborted: aborted update"
			return r
		},
		phase: v1alpha1.RolloutPhaseDegraded, msg: "RolloutAborted",
	}, {
		name: "a written Healthy does not count while a new generation is unobserved",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.Phase = v1alpha1.RolloutPhaseHealthy
			r.Generation = 4
			return r
		},
		phase: v1alpha1.RolloutPhaseProgressing, msg: "observe generation 4",
	}, {
		name:  "an empty status is unobserved",
		r:     func() *v1alpha1.Rollout { r := canary("a"); r.Status = v1alpha1.RolloutStatus{}; return r },
		phase: v1alpha1.RolloutPhaseProgressing, msg: "observe generation 3",
	}, {
		name: "an observed generation ahead of the object counts as observed",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.ObservedGeneration, r.Status.Phase = "7", v1alpha1.RolloutPhaseHealthy
			return r
		},
		phase: v1alpha1.RolloutPhaseHealthy,
	}, {
		name: "resumed by the user, not yet by the controller: Progressing, not the written Paused",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.Phase, r.Status.ControllerPause = v1alpha1.RolloutPhasePaused, true
			return r
		},
		phase: v1alpha1.RolloutPhaseProgressing, msg: "resume",
	}, {
		name: "computed: aborted condition",
		r: func() *v1alpha1.Rollout {
			r := promoted(canary("a"))
			r.Status.Conditions = []v1alpha1.RolloutCondition{{Type: v1alpha1.ConditionProgressing, Status: corev1.ConditionFalse, Reason: "RolloutAborted", Message: "aborted update to revision 2"}}
			return r
		},
		phase: v1alpha1.RolloutPhaseDegraded, msg: "RolloutAborted: aborted update to revision 2",
	}, {
		name: "computed: progress deadline",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.Conditions = []v1alpha1.RolloutCondition{{Type: v1alpha1.ConditionProgressing, Reason: "ProgressDeadlineExceeded"}}
			return r
		},
		phase: v1alpha1.RolloutPhaseDegraded,
	}, {
		name: "computed: invalid spec",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.Conditions = []v1alpha1.RolloutCondition{{Type: v1alpha1.ConditionInvalidSpec, Message: "selector does not match"}}
			return r
		},
		phase: v1alpha1.RolloutPhaseDegraded, msg: "InvalidSpec: selector does not match",
	}, {
		name:  "computed: spec.paused",
		r:     func() *v1alpha1.Rollout { r := promoted(canary("a")); r.Spec.Paused = true; return r },
		phase: v1alpha1.RolloutPhasePaused, msg: "manually paused",
	}, {
		name: "computed: pause condition",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep}}
			r.Status.ControllerPause = true
			return r
		},
		phase: v1alpha1.RolloutPhasePaused, msg: "CanaryPauseStep",
	}, {
		name: "computed: restart pending",
		r: func() *v1alpha1.Rollout {
			r := promoted(canary("a"))
			r.Spec.RestartAt = &metav1.Time{Time: metav1.Now().Truncate(1e9)}
			return r
		},
		phase: v1alpha1.RolloutPhaseProgressing, msg: "restarting",
	}, {
		name: "computed: restart done",
		r: func() *v1alpha1.Rollout {
			r := promoted(canary("a"))
			at := metav1.Now().Rfc3339Copy()
			r.Spec.RestartAt, r.Status.RestartedAt = &at, at.DeepCopy()
			return r
		},
		phase: v1alpha1.RolloutPhaseHealthy,
	}, {
		name:  "computed: replicas not updated",
		r:     func() *v1alpha1.Rollout { r := promoted(canary("a")); r.Status.UpdatedReplicas = 1; return r },
		phase: v1alpha1.RolloutPhaseProgressing, msg: "1 of 4 replicas updated",
	}, {
		name:  "computed: updated not available",
		r:     func() *v1alpha1.Rollout { r := promoted(canary("a")); r.Status.AvailableReplicas = 3; return r },
		phase: v1alpha1.RolloutPhaseProgressing, msg: "3 of 4 updated replicas available",
	}, {
		name:  "computed: canary steps not done",
		r:     func() *v1alpha1.Rollout { return healthyCounts(canary("a")) },
		phase: v1alpha1.RolloutPhaseProgressing, msg: "steps",
	}, {
		name: "computed: basic canary with old pods left",
		r: func() *v1alpha1.Rollout {
			r := promoted(canary("a"))
			r.Status.Replicas = 6
			return r
		},
		phase: v1alpha1.RolloutPhaseProgressing, msg: "old replicas",
	}, {
		name: "computed: traffic-routed canary is Healthy while old pods remain",
		r: func() *v1alpha1.Rollout {
			r := promoted(canary("a"))
			r.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: "web"}}
			r.Status.Replicas = 6
			return r
		},
		phase: v1alpha1.RolloutPhaseHealthy,
	}, {
		name:  "computed: blue-green before the switch",
		r:     func() *v1alpha1.Rollout { return healthyCounts(blueGreen("b")) },
		phase: v1alpha1.RolloutPhaseProgressing, msg: "active service",
	}, {
		name: "computed: blue-green switched, not verified",
		r: func() *v1alpha1.Rollout {
			r := healthyCounts(blueGreen("b"))
			r.Status.BlueGreen.ActiveSelector = "new"
			return r
		},
		phase: v1alpha1.RolloutPhaseProgressing, msg: "verified",
	}, {
		name:  "computed: blue-green done",
		r:     func() *v1alpha1.Rollout { return promoted(blueGreen("b")) },
		phase: v1alpha1.RolloutPhaseHealthy,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			phase, msg := rolloutctl.Phase(tc.r())
			if phase != tc.phase || !strings.Contains(msg, tc.msg) {
				t.Errorf("Phase = %s %q, want %s containing %q", phase, msg, tc.phase, tc.msg)
			}
		})
	}
	if !rolloutctl.Done(v1alpha1.RolloutPhaseHealthy) || !rolloutctl.Done(v1alpha1.RolloutPhaseDegraded) ||
		rolloutctl.Done(v1alpha1.RolloutPhasePaused) || rolloutctl.Done(v1alpha1.RolloutPhaseProgressing) || rolloutctl.Done("") {
		t.Error("Done is wrong")
	}
}

func TestStepIndexAndSetWeight(t *testing.T) {
	r := canary("a")
	check := func(what string, wantIdx, wantN int32, wantOK bool, wantW int32) {
		t.Helper()
		i, n, ok := rolloutctl.StepIndex(r)
		w, _ := rolloutctl.SetWeight(r)
		if i != wantIdx || n != wantN || ok != wantOK || w != wantW {
			t.Errorf("%s: step %d/%d ok %v weight %d, want %d/%d %v %d", what, i, n, ok, w, wantIdx, wantN, wantOK, wantW)
		}
	}
	check("at the pause after setWeight 20", 1, 4, true, 20)
	r.Status.CurrentStepIndex = nil
	check("nil index", 0, 4, true, 20)
	r.Status.CurrentStepIndex = ptr(int32(3))
	check("at the pause after setWeight 50", 3, 4, true, 50)
	r.Status.CurrentStepIndex = ptr(int32(4))
	check("all done", 4, 4, true, 100)
	r.Status.CurrentStepIndex = ptr(int32(40))
	check("index past the end", 4, 4, true, 100)
	r.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.RolloutTrafficRouting{MaxTrafficWeight: ptr(int32(200))}
	check("all done, maxTrafficWeight 200", 4, 4, true, 200)
	r.Status.Abort = true
	check("aborted", 4, 4, true, 0)
	r.Status.Abort = false
	r.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{Pause: &v1alpha1.RolloutPause{}}, {SetWeight: ptr(int32(5))}}
	r.Status.CurrentStepIndex = ptr(int32(0))
	check("a pause before any setWeight", 0, 2, true, 0)

	if _, _, ok := rolloutctl.StepIndex(blueGreen("b")); ok {
		t.Error("blue-green has steps")
	}
	if _, ok := rolloutctl.SetWeight(blueGreen("b")); ok {
		t.Error("blue-green has a set weight")
	}
}
