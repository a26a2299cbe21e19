package rolloutctl_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

const (
	unpause         = `{"spec":{"paused":false}}`
	unpauseAndClear = `{"spec":{"paused":false},"status":{"pauseConditions":null}}`
)

func TestPromotePatch(t *testing.T) {
	pauseStep := []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: metav1.Now()}}
	cases := []struct {
		name                  string
		r                     func() *v1alpha1.Rollout
		full                  bool
		status, spec, unified string
		nothing               bool   // ErrNothingToDo
		errHas                string // other error
		done                  string
	}{{
		name: "canary at a pause step: pause condition cleared, index left to the controller",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.PauseConditions, r.Status.ControllerPause = pauseStep, true
			return r
		},
		status: `{"status":{"pauseConditions":null}}`, unified: unpauseAndClear,
		done: "promoted (resumed from CanaryPauseStep at step 1/4)",
	}, {
		name: "canary paused by the user at a pause step: unpause and clear",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Spec.Paused = true
			r.Status.PauseConditions, r.Status.ControllerPause = pauseStep, true
			return r
		},
		status: `{"status":{"pauseConditions":null}}`, spec: unpause, unified: unpauseAndClear,
	}, {
		name:   "canary without a pause condition: the current step is skipped",
		r:      func() *v1alpha1.Rollout { return canary("a") },
		status: `{"status":{"pauseConditions":null,"currentStepIndex":2}}`,
		// The fallback carries the index too, not only the unpause.
		unified: `{"spec":{"paused":false},"status":{"pauseConditions":null,"currentStepIndex":2}}`,
		done:    "promoted (step 1/4 skipped)",
	}, {
		name: "nil currentStepIndex is step 0",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.CurrentStepIndex = nil
			return r
		},
		status:  `{"status":{"pauseConditions":null,"currentStepIndex":1}}`,
		unified: `{"spec":{"paused":false},"status":{"pauseConditions":null,"currentStepIndex":1}}`,
	}, {
		name: "skipping the last step goes to len(steps), not beyond",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.CurrentStepIndex = ptr(int32(3))
			return r
		},
		status:  `{"status":{"pauseConditions":null,"currentStepIndex":4}}`,
		unified: `{"spec":{"paused":false},"status":{"pauseConditions":null,"currentStepIndex":4}}`,
	}, {
		name: "an index the controller wrote past the end is capped",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Spec.Paused = true
			r.Status.CurrentStepIndex = ptr(int32(9))
			return r
		},
		status: `{"status":{"pauseConditions":null,"currentStepIndex":4}}`, spec: unpause,
		unified: `{"spec":{"paused":false},"status":{"pauseConditions":null,"currentStepIndex":4}}`,
	}, {
		name: "all steps done and not paused: nothing to promote",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.CurrentStepIndex = ptr(int32(4))
			return r
		},
		nothing: true,
	}, {
		name: "fully promoted canary, not paused: nothing to promote even at step 0",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.StableRS, r.Status.CurrentStepIndex = "new", nil
			return r
		},
		nothing: true,
	}, {
		name: "a new spec the controller has not seen: the step is skipped as Argo does",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.StableRS = "new"
			r.Generation = 4
			return r
		},
		status:  `{"status":{"pauseConditions":null,"currentStepIndex":2}}`,
		unified: `{"spec":{"paused":false},"status":{"pauseConditions":null,"currentStepIndex":2}}`,
	}, {
		name: "inconclusive analysis pause: the step completes and controllerPause is cleared",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: "InconclusiveAnalysisRun"}}
			r.Status.ControllerPause = true
			return r
		},
		status:  `{"status":{"pauseConditions":null,"controllerPause":false,"currentStepIndex":2}}`,
		unified: unpauseAndClear,
	}, {
		name: "canary without steps, not paused: nothing",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Spec.Strategy.Canary.Steps = nil
			return r
		},
		nothing: true,
	}, {
		name: "canary without steps, paused: only the unpause",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Spec.Strategy.Canary.Steps = nil
			r.Spec.Paused = true
			return r
		},
		spec: unpause, unified: unpauseAndClear, done: "promoted (unpaused)",
	}, {
		name: "blue-green paused before the switch",
		r: func() *v1alpha1.Rollout {
			r := blueGreen("b")
			r.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonBlueGreenPause}}
			r.Status.ControllerPause = true
			return r
		},
		status: `{"status":{"pauseConditions":null}}`, unified: unpauseAndClear,
		done: "promoted (resumed from BlueGreenPause)",
	}, {
		name:    "blue-green with no pause: nothing (Argo would send nothing either)",
		r:       func() *v1alpha1.Rollout { return blueGreen("b") },
		nothing: true,
	}, {
		name: "blue-green paused by the user: only the unpause",
		r: func() *v1alpha1.Rollout {
			r := blueGreen("b")
			r.Spec.Paused = true
			return r
		},
		spec: unpause, unified: unpauseAndClear,
	}, {
		name: "full: promoteFull while current differs from stable",
		r:    func() *v1alpha1.Rollout { return canary("a") },
		full: true, status: `{"status":{"promoteFull":true}}`,
		unified: `{"spec":{"paused":false},"status":{"promoteFull":true}}`, done: "fully promoted",
	}, {
		name: "full on a paused rollout: promoteFull and the unpause",
		r: func() *v1alpha1.Rollout {
			r := blueGreen("b")
			r.Spec.Paused = true
			return r
		},
		full: true, status: `{"status":{"promoteFull":true}}`, spec: unpause,
		unified: `{"spec":{"paused":false},"status":{"promoteFull":true}}`,
	}, {
		name: "full when current is stable: no promoteFull, only the unpause of a paused rollout",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.StableRS = "new"
			r.Spec.Paused = true
			return r
		},
		full: true, spec: unpause,
	}, {
		name: "full when current is stable and not paused: nothing",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.StableRS = "new"
			return r
		},
		full: true, nothing: true,
	}, {
		name: "full before the controller saw the new spec: says so instead of 'already promoted'",
		r: func() *v1alpha1.Rollout {
			r := canary("a")
			r.Status.StableRS = "new"
			r.Generation = 4
			return r
		},
		full: true, errHas: "has not observed generation 4",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := rolloutctl.PromotePatch(tc.r(), tc.full)
			switch {
			case tc.nothing:
				if !errors.Is(err, rolloutctl.ErrNothingToDo) {
					t.Fatalf("err = %v, want nothing to do", err)
				}
				return
			case tc.errHas != "":
				if err == nil || !strings.Contains(err.Error(), tc.errHas) || errors.Is(err, rolloutctl.ErrNothingToDo) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			sameJSON(t, "status patch", p.Status, tc.status)
			sameJSON(t, "spec patch", p.Spec, tc.spec)
			if tc.unified != "" {
				sameJSON(t, "fallback patch", p.Unified, tc.unified)
			}
			if tc.done != "" && p.Done != tc.done {
				t.Errorf("done = %q, want %q", p.Done, tc.done)
			}
		})
	}
}

func TestAbortRetryGuards(t *testing.T) {
	r := canary("a")
	p, err := rolloutctl.AbortPatch(r)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "abort", p.Status, `{"status":{"abort":true}}`)
	if p.Spec != nil {
		t.Errorf("abort sends a spec patch %s", p.Spec)
	}

	// Fully promoted: aborting would only make it Degraded.
	r.Status.StableRS = "new"
	if _, err := rolloutctl.AbortPatch(r); !errors.Is(err, rolloutctl.ErrNothingToDo) {
		t.Errorf("abort of a fully promoted rollout: err = %v", err)
	}
	// ... unless a new spec is waiting for the controller: the user may abort it at once.
	r.Generation++
	if _, err := rolloutctl.AbortPatch(r); err != nil {
		t.Errorf("abort right after an update: %v", err)
	}
	// A rollout the controller never touched (no hash yet) can be aborted.
	fresh := canary("f")
	fresh.Status = v1alpha1.RolloutStatus{}
	if _, err := rolloutctl.AbortPatch(fresh); err != nil {
		t.Errorf("abort with an empty status: %v", err)
	}

	if _, err := rolloutctl.RetryPatch(canary("a")); !errors.Is(err, rolloutctl.ErrNothingToDo) || !strings.Contains(err.Error(), "not aborted") {
		t.Errorf("retry of a rollout that is not aborted: err = %v", err)
	}
	aborted := canary("a")
	aborted.Status.Abort = true
	p, err = rolloutctl.RetryPatch(aborted)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "retry", p.Status, `{"status":{"abort":false}}`)
}

func TestPauseRestartPatches(t *testing.T) {
	sameJSON(t, "pause", rolloutctl.PausePatch().Spec, `{"spec":{"paused":true}}`)
	at := time.Date(2031, 5, 6, 9, 8, 7, 654321, time.FixedZone("CEST", 2*3600))
	p := rolloutctl.RestartPatch(at)
	// UTC, RFC 3339, whole seconds.
	sameJSON(t, "restart", p.Spec, `{"spec":{"restartAt":"2031-05-06T07:08:07Z"}}`)
	if p.Status != nil {
		t.Errorf("restart sends a status patch %s", p.Status)
	}
}

func TestUndoPatch(t *testing.T) {
	r := canary("a")
	r.Spec.Template = podTemplate("a", "a:v3")
	rss := []appsv1.ReplicaSet{
		*replicaSet(r, "h1", 1, 0, "a:v1"),
		*replicaSet(r, "h3", 3, 4, "a:v3"),
		*replicaSet(r, "h2", 2, 0, "a:v2"),
	}
	noRev := replicaSet(r, "hx", 0, 0, "a:vx")
	delete(noRev.Annotations, rolloutctl.RevisionAnnotation)
	rss = append(rss, *noRev)

	apply := func(p rolloutctl.Patch) corev1.PodTemplateSpec {
		t.Helper()
		if p.SpecType != types.JSONPatchType || p.Status != nil {
			t.Fatalf("undo must be a JSON patch of the main resource only, got %q / status %s", p.SpecType, p.Status)
		}
		var ops []struct {
			Op    string                 `json:"op"`
			Path  string                 `json:"path"`
			Value corev1.PodTemplateSpec `json:"value"`
		}
		if err := json.Unmarshal(p.Spec, &ops); err != nil {
			t.Fatal(err)
		}
		if len(ops) != 1 || ops[0].Op != "replace" || ops[0].Path != "/spec/template" {
			t.Fatalf("patch = %s", p.Spec)
		}
		return ops[0].Value
	}

	// Default: the previous revision (the second highest), not the lowest or the unannotated.
	p, rev, err := rolloutctl.UndoPatch(r, rss, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := apply(p)
	if rev != 2 || got.Spec.Containers[0].Image != "a:v2" {
		t.Errorf("undo went to revision %d image %s, want 2 a:v2", rev, got.Spec.Containers[0].Image)
	}
	if _, has := got.Labels[rolloutctl.PodTemplateHashLabel]; has || got.Labels["app"] != "a" {
		t.Errorf("labels of the restored template = %v: the hash label must go, the others stay", got.Labels)
	}
	if !strings.Contains(p.Done, "revision 2") {
		t.Errorf("done = %q", p.Done)
	}
	// The ReplicaSet given in is not modified (its hash label is still there).
	if rss[2].Spec.Template.Labels[rolloutctl.PodTemplateHashLabel] != "h2" {
		t.Error("UndoPatch modified the ReplicaSet it read")
	}

	p, rev, err = rolloutctl.UndoPatch(r, rss, 1)
	if err != nil || rev != 1 || apply(p).Spec.Containers[0].Image != "a:v1" {
		t.Errorf("--to-revision 1: rev %d err %v", rev, err)
	}

	// Ephemeral metadata the controller wrote into a ReplicaSet's template
	// (its role) does not come back into the rollout's template.
	r2 := r.DeepCopy()
	r2.Spec.Strategy.Canary.StableMetadata = &runtime.RawExtension{Raw: []byte(`{"labels":{"role":"stable"},"annotations":{"note":"x"}}`)}
	rss2 := slices.Clone(rss)
	rss2[2] = *rss[2].DeepCopy()
	rss2[2].Spec.Template.Labels["role"] = "stable"
	rss2[2].Spec.Template.Annotations = map[string]string{"note": "x"}
	p, _, err = rolloutctl.UndoPatch(r2, rss2, 2)
	if got := apply(p); err != nil || got.Labels["role"] != "" || got.Annotations["note"] != "" || got.Labels["app"] != "a" {
		t.Errorf("undo to a ReplicaSet with ephemeral metadata: labels %v annotations %v err %v", got.Labels, got.Annotations, err)
	}

	_, _, err = rolloutctl.UndoPatch(r, rss, 7)
	if err == nil || !strings.Contains(err.Error(), "no revision 7") || !strings.Contains(err.Error(), "1, 2, 3") {
		t.Errorf("missing revision: err = %v", err)
	}
	if _, _, err := rolloutctl.UndoPatch(r, rss[1:2], 0); err == nil || !strings.Contains(err.Error(), "no previous revision") {
		t.Errorf("one revision only: err = %v", err)
	}
	if _, _, err := rolloutctl.UndoPatch(r, nil, 0); err == nil || !strings.Contains(err.Error(), "revisions: none") {
		t.Errorf("no ReplicaSets: err = %v", err)
	}
	if _, _, err := rolloutctl.UndoPatch(r, rss, -1); err == nil {
		t.Error("negative revision accepted")
	}

	// Already at revision 2's template (as the server-defaulted ReplicaSet
	// has it, with fields the rollout does not set): nothing is sent.
	r.Spec.Template = podTemplate("a", "a:v2")
	p, rev, err = rolloutctl.UndoPatch(r, rss, 2)
	if err != nil || rev != 2 || p.Spec != nil || p.Status != nil || !strings.Contains(p.Done, "unchanged") {
		t.Errorf("undo to the current template: patch %s, done %q, err %v", p.Spec, p.Done, err)
	}
	// But a real difference the ReplicaSet's defaults do not explain is undone.
	r.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", Value: "1"}}
	if p, _, err := rolloutctl.UndoPatch(r, rss, 2); err != nil || p.Spec == nil {
		t.Errorf("template with an extra env var counted as equal: %v", err)
	}
}

func TestParseContainerImages(t *testing.T) {
	got, err := rolloutctl.ParseContainerImages([]string{"app=reg.example.com:5000/app:v2", "side=busybox@sha256:abc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != (rolloutctl.ContainerImage{Container: "app", Image: "reg.example.com:5000/app:v2"}) || got[1].Image != "busybox@sha256:abc" {
		t.Errorf("parsed %v", got)
	}
	for _, bad := range [][]string{nil, {"app"}, {"=img"}, {"app="}, {"app=a=b"}, {"app=a b"}, {"app=x", "app=y"}, {"*=x", "app=y"}, {"app=y", "*=x"}} {
		if _, err := rolloutctl.ParseContainerImages(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSetImages(t *testing.T) {
	r := canary("a")
	r.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "init:v1"}}
	r.Spec.Template.Spec.Containers = append(r.Spec.Template.Spec.Containers, corev1.Container{Name: "side", Image: "side:v1"})
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(r)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: obj}
	// Fields this API does not know, as a cluster with a newer CRD would have.
	ctrs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	ctrs[0].(map[string]any)["futureField"] = map[string]any{"a": int64(1)}
	_ = unstructured.SetNestedSlice(u.Object, ctrs, "spec", "template", "spec", "containers")
	_ = unstructured.SetNestedField(u.Object, "yes", "spec", "someNewArgoField")

	changed, err := rolloutctl.SetImages(u, []rolloutctl.ContainerImage{{Container: "init", Image: "init:v2"}, {Container: "app", Image: "a:v9"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(changed, " ") != "init=init:v2 app=a:v9" {
		t.Errorf("changed = %v", changed)
	}
	ctrs, _, _ = unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	inits, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "initContainers")
	if ctrs[0].(map[string]any)["image"] != "a:v9" || ctrs[1].(map[string]any)["image"] != "side:v1" || inits[0].(map[string]any)["image"] != "init:v2" {
		t.Errorf("images after set: %v / %v", ctrs, inits)
	}
	if ctrs[0].(map[string]any)["futureField"] == nil {
		t.Error("an unknown container field was dropped")
	}
	if v, _, _ := unstructured.NestedString(u.Object, "spec", "someNewArgoField"); v != "yes" {
		t.Error("an unknown spec field was dropped")
	}

	changed, err = rolloutctl.SetImages(u, []rolloutctl.ContainerImage{{Container: "*", Image: "all:v1"}})
	if err != nil || len(changed) != 3 {
		t.Errorf("*=all:v1 changed %v, err %v", changed, err)
	}
	changed, err = rolloutctl.SetImages(u, []rolloutctl.ContainerImage{{Container: "app", Image: "all:v1"}})
	if err != nil || len(changed) != 0 {
		t.Errorf("setting the same image again: changed %v, err %v", changed, err)
	}
	_, err = rolloutctl.SetImages(u, []rolloutctl.ContainerImage{{Container: "app", Image: "x:1"}, {Container: "nope", Image: "x:1"}})
	if err == nil || !strings.Contains(err.Error(), `no container "nope"`) || !strings.Contains(err.Error(), "init, app, side") {
		t.Errorf("unknown container: err = %v", err)
	}
	// A failed call changes nothing, not even the containers that exist.
	ctrs, _, _ = unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	if ctrs[0].(map[string]any)["image"] != "all:v1" {
		t.Errorf("a failed set image changed container app to %v", ctrs[0].(map[string]any)["image"])
	}
}
