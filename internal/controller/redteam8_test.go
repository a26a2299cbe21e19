package controller

// Red-team tests, eighth round: the health rule (verify.Destination.
// VerifiedWeight, status.verification.verifiedBefore). Each demonstrates a
// break of a safety rule with the real engine (verify.Decide) judging the
// model ALBs of the simulator, and fails on the code it was written
// against.

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// rt8StableHeld reports the stable destination of the last input the
// verifier got when it holds (judged on the last health read of any age),
// with the weight the ALB's action gave the stable group at that time.
func rt8StableHeld(s *sim) (verify.Destination, bool) {
	if len(s.v.inputs) == 0 {
		return verify.Destination{}, false
	}
	in := s.v.inputs[len(s.v.inputs)-1]
	for _, d := range in.Destinations {
		if d.Role == verify.RoleStable && !d.RequireHealthy && d.VerifiedWeight != nil && d.Weight <= *d.VerifiedWeight {
			return d, true
		}
	}
	return verify.Destination{}, false
}

// RULE "An abort is a shift to stable: stable gains and is read fresh"
// (and rule 1: no group gets more traffic before it is read healthy in
// it). The first step of an update (25/75) is written and applied, then
// never verified: the canary breaks in its group. The rollout goes back to
// 0/100 — the stable group goes from 75 to 100 on the ALB — by a timeout's
// abort ("timeout"), a user's abort ("abort"), or an undo of the template
// to the stable one ("undo").
//
// The check of 0/100 took its baseline (verifiedBefore) from the step's
// own baseline: the last Verified state before the update, 0/100 on the
// same stable pods. Stable at 100 is "not above its verified weight", so
// it held: judged on the last health read of any age (reported, never
// waited for), and the state was recorded Verified on nothing read after
// the change. The unverified write of 25/75 in between is what the
// baseline forgot: the ALB gives the stable group more traffic than it had.
func TestRedTeam8BackToStableAfterUnverifiedStepReadsStableFresh(t *testing.T) {
	for _, how := range []string{"timeout", "abort", "undo"} {
		t.Run(how, func(t *testing.T) {
			s := newSim(t)
			s.lenient = true // the canary breaks in its group at 25%: the world's doing
			s.canaryRollout(4, weightStep(25), pauseStep(""), weightStep(50), pauseStep(""))
			s.run(50, "healthy on v1", isHealthy)
			setImage(s, "v2")
			s.run(80, "25/75 applied on the ALB", func(ro *v1alpha1.Rollout) bool { return s.albWeights["web-canary"] == 25 })
			if v := s.rollout().Status.Verification; v != nil && v.Phase == v1alpha1.VerificationVerified && ptr.Deref(v.StepIndex, -1) == 0 {
				t.Fatalf("the first step was verified before the canary broke: %+v", v)
			}
			s.unhealthyIn["web-canary"] = "v2"
			s.steps(2)
			switch how {
			case "abort":
				s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
			case "undo":
				setImage(s, "v1")
			}
			back := false
			for i := 0; i < 400 && !back; i++ {
				s.step()
				ro := s.rollout()
				v := ro.Status.Verification
				if v == nil || v.Phase != v1alpha1.VerificationVerified || v.DesiredWeights == nil || v.DesiredWeights.Canary != 0 || len(s.v.inputs) == 0 {
					continue
				}
				// The first check that verifies 0/100 after the step's
				// write must have read the stable group after the change.
				back = true
				if d, held := rt8StableHeld(s); held {
					t.Fatalf("pass %d: 0/100 is verified (%s) with the stable group held (weight %d, verified %d): it went from 75 to 100 on the ALB and was not read after the change: %q",
						s.passes, v.Kind, d.Weight, *d.VerifiedWeight, v.Message)
				}
			}
			if !back || s.albWeights["web-canary"] != 0 {
				t.Fatalf("not back to stable: ALB %v\n%s", s.albWeights, strings.Join(s.history, "\n"))
			}
		})
	}
}

// The baseline after a verification that never verified its weights is,
// per Service, the lower of the verified weight and the weight it wrote,
// matched by Service, not by position: after a ping-pong flip the canary
// role (first destination) is the other Service. ping verified at 100 as
// the canary; pong, the next canary, written at 100 (ping 0) and never
// verified; going back to ping at 100 raises ping from 0 on the ALB.
func TestRedTeam8BaselineAfterUnverifiedWriteIsPerService(t *testing.T) {
	const scope = "ingress=web;action=web-root;port=80;port="
	prev := &v1alpha1.VerificationStatus{
		Phase: v1alpha1.VerificationTimedOut,
		VerifiedBefore: &v1alpha1.DestinationWeights{Total: 100, Scope: scope, Destinations: []v1alpha1.DestinationWeight{
			{Service: "ping", Targets: "4/a", Weight: 100}, {Service: "pong", Targets: "4/b", Weight: 0}}},
		DesiredWeights: &v1alpha1.VerificationWeights{Canary: 100, Stable: 0},
		Desired: &v1alpha1.DestinationWeights{Total: 100, Scope: scope, Destinations: []v1alpha1.DestinationWeight{
			{Service: "pong", Weight: 100}, {Service: "ping", Weight: 0}}},
	}
	base := verifiedBefore(prev, scope)
	for _, d := range base.Destinations {
		if d.Service == "ping" && d.Weight != 0 {
			t.Fatalf("ping keeps verified weight %d after a write that gave it 0: %+v", d.Weight, base)
		}
	}
	// Without a record of what it wrote (a status from before), nothing is
	// known: no baseline.
	prev.Desired = nil
	if b := verifiedBefore(prev, scope); b != nil {
		t.Fatalf("baseline %+v after an unverified write of unknown weights", b)
	}
	// A verified prev is the baseline, whatever it wrote before.
	prev.Phase, prev.Expected = v1alpha1.VerificationVerified, prev.VerifiedBefore
	if b := verifiedBefore(prev, scope); b == nil || b.Destinations[0].Weight != 100 {
		t.Fatalf("baseline %+v after a verified state", b)
	}
}

// The blue-green form of the same break: the switch (the ALB's action from
// web-active to web-preview, 0/100 to 100/0) is written and applied, then
// never verified (the green pods break in the preview group); the abort
// gives web-active, on the same blue pods it was verified on at 100 before
// the update, all the traffic again. Going from 0 to 100 on the ALB, it
// must be read after the change, not held on its weight before the switch.
func TestRedTeam8BlueGreenAbortAfterUnverifiedSwitchReadsActiveFresh(t *testing.T) {
	s := newSim(t)
	s.lenient = true // the green pods break in the preview group: the world's doing
	s.blueGreenRollout(2, bgOptions{alb: true})
	s.run(60, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(120, "the switch applied on the ALB", func(ro *v1alpha1.Rollout) bool { return s.albWeights["web-preview"] == 100 })
	if v := s.rollout().Status.Verification; v != nil && v.Phase == v1alpha1.VerificationVerified && v.DesiredWeights != nil && v.DesiredWeights.Canary == 100 {
		t.Fatalf("the switch was verified before the green pods broke: %+v", v)
	}
	s.unhealthyIn["web-preview"] = "v2"
	s.steps(2)
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	back := false
	for i := 0; i < 400 && !back; i++ {
		s.step()
		v := s.rollout().Status.Verification
		if v == nil || v.Phase != v1alpha1.VerificationVerified || len(s.v.inputs) == 0 || s.albWeights["web-preview"] != 0 {
			continue
		}
		in := s.v.inputs[len(s.v.inputs)-1]
		for _, d := range in.Destinations {
			if d.Service != "web-active" || d.Weight == 0 || in.HealthOnly {
				continue
			}
			back = true
			if d.VerifiedWeight != nil && d.Weight <= *d.VerifiedWeight && !d.RequireHealthy {
				t.Fatalf("pass %d: web-active back at %d is verified (%s) held on its weight before the switch (%d): it went from 0 to %d on the ALB and was not read after the change: %q",
					s.passes, d.Weight, v.Kind, *d.VerifiedWeight, d.Weight, v.Message)
			}
		}
	}
	if !back {
		t.Fatalf("not back to web-active: ALB %v\n%s", s.albWeights, strings.Join(s.history, "\n"))
	}
}

// rt8Held watches the held rule against the model ALB: a destination held
// (at or under its verified weight) in a check recorded Verified must not
// have had less weight on the ALB since the last Verified record.
type rt8Held struct {
	s        *sim
	minSince map[string]int32
	lastFin  string
}

func newRT8Held(s *sim) *rt8Held {
	h := &rt8Held{s: s, minSince: map[string]int32{}}
	for k, v := range s.albWeights {
		h.minSince[k] = v
	}
	return h
}

func (h *rt8Held) step() string {
	s := h.s
	s.step()
	for k := range h.minSince {
		h.minSince[k] = min(h.minSince[k], s.albWeights[k])
	}
	for k, v := range s.albWeights {
		if _, ok := h.minSince[k]; !ok {
			h.minSince[k] = v
		}
	}
	v := s.rollout().Status.Verification
	if v == nil || v.Phase != v1alpha1.VerificationVerified || v.FinishedAt == nil {
		return ""
	}
	fin := fmt.Sprint(v.FinishedAt, v.Fingerprint)
	if fin == h.lastFin {
		return ""
	}
	h.lastFin = fin
	msg := ""
	if n := len(s.v.inputs); n > 0 {
		in := s.v.inputs[n-1]
		for _, d := range in.Destinations {
			if d.RequireHealthy || d.VerifiedWeight == nil || d.Weight == 0 || d.Weight > *d.VerifiedWeight {
				continue
			}
			if m, ok := h.minSince[d.Service]; ok && m < d.Weight {
				msg = fmt.Sprintf("pass %d: %s verified held at %d (verified %d) after the ALB had it at %d since the last verified state (%s)", s.passes, d.Service, d.Weight, *d.VerifiedWeight, m, v.Kind)
			}
		}
	}
	h.minSince = map[string]int32{}
	for k, v := range s.albWeights {
		h.minSince[k] = v
	}
	return msg
}

// The held rule as an invariant, under crashes: the pass that makes the
// k-th write of an update dies there (every third k up to 24), three
// passes later the canary breaks and a user aborts. No check may be
// recorded Verified with a destination held on its verified weight when
// the model ALB gave that Service less since the last Verified state: the
// group gains there, and must be read after the change. On the code before
// the per-Service desired baseline, the abort during the first step failed
// ("web-stable verified held at 100 (verified 100) after the ALB had it at
// 75"); the later ones abort from a verified step, where stable gains
// above its verified weight anyway.
func TestRedTeam8HeldNeverRegainsUnverifiedTrafficCrashSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("a sweep of crashes")
	}
	for k := 1; k <= 24; k += 3 {
		for _, delay := range []int{3} {
			t.Run(fmt.Sprintf("%d-%d", k, delay), func(t *testing.T) {
				s := newSim(t)
				s.lenient = true
				s.canaryRollout(4, weightStep(25), pauseStep(""), weightStep(50), pauseStep(""))
				s.run(50, "healthy on v1", isHealthy)
				h := newRT8Held(s)
				s.failWriteAt = s.writes + k
				setImage(s, "v2")
				for i := 0; i < 200 && s.writes < s.failWriteAt; i++ {
					if m := h.step(); m != "" {
						t.Fatal(m)
					}
					if paused(s.rollout()) {
						promoteCLI(s)
					}
				}
				for i := 0; i < delay; i++ {
					if m := h.step(); m != "" {
						t.Fatal(m)
					}
				}
				s.unhealthyIn["web-canary"] = "v2"
				s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
				for i := 0; i < 100; i++ {
					if m := h.step(); m != "" {
						t.Fatal(m)
					}
				}
			})
		}
	}
}
