package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
)

// argoPluginPath is Argo Rollouts' kubectl plugin as `make test-deps` caches
// it (hack/argo-rollouts-build.sh plugin), or $ARGO_ROLLOUTS_PLUGIN.
func argoPluginPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ARGO_ROLLOUTS_PLUGIN"); p != "" {
		return p
	}
	return argoCachedBinary(t, "kubectl-argo-rollouts")
}

// argoCachedBinary is the path of one of Argo Rollouts' binaries in the cache
// hack/argo-rollouts-build.sh builds them into.
func argoCachedBinary(t *testing.T, name string) string {
	t.Helper()
	v, err := os.ReadFile("../../hack/argo-rollouts-version")
	if err != nil {
		t.Fatal(err)
	}
	cache := os.Getenv("ALBROLLOUTS_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Fatal(err)
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "albrollouts")
	}
	return filepath.Join(cache, "argo-rollouts-"+strings.TrimSpace(string(v)), "bin", name)
}

// argoPlugin runs `kubectl argo rollouts ARGS -n ns` with Argo's real plugin
// binary against the local environment and fails the test when it exits
// non-zero.
func argoPlugin(t *testing.T, ns string, args ...string) string {
	t.Helper()
	bin := argoPluginPath(t)
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("Argo Rollouts' kubectl plugin is not built (make test-deps): %v", err)
	}
	cmd := exec.Command(bin, append(args, "-n", ns)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.KubeconfigPath())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("kubectl argo rollouts %s (%s): %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), strings.TrimSpace(out.String()))
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		t.Fatalf("kubectl argo rollouts %s: exit %d", strings.Join(args, " "), exit.ExitCode())
	} else if err != nil {
		t.Fatalf("kubectl argo rollouts %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

// pausedAtStep: the canary is paused at step i on a template that is not the
// stable one (or, with hash set, on that template).
func pausedAtStep(i int32, hash string) func(*v1alpha1.Rollout) (bool, string) {
	return func(ro *v1alpha1.Rollout) (bool, string) {
		switch {
		case ro.Status.ObservedGeneration != fmt.Sprint(ro.Generation):
			return false, "generation not observed"
		case ro.Status.Phase != v1alpha1.RolloutPhasePaused || len(ro.Status.PauseConditions) == 0 ||
			ro.Status.PauseConditions[0].Reason != v1alpha1.PauseReasonCanaryPauseStep:
			return false, "not paused at a pause step"
		case ptr.Deref(ro.Status.CurrentStepIndex, 0) != i:
			return false, fmt.Sprintf("not at step %d", i)
		case ro.Status.CurrentPodHash == ro.Status.StableRS:
			return false, "the current template is the stable one"
		case hash != "" && ro.Status.CurrentPodHash != hash:
			return false, "not on template " + hash
		}
		return true, ""
	}
}

// onHash: healthy, the stable version being template hash.
func onHash(hash string) func(*v1alpha1.Rollout) (bool, string) {
	return func(ro *v1alpha1.Rollout) (bool, string) {
		if ro.Status.StableRS != hash {
			return false, "stable is not " + hash
		}
		return healthy(ro)
	}
}

// abortedWeightZero: aborted, and the canary weight is back to 0 and verified.
func abortedWeightZero(ro *v1alpha1.Rollout) (bool, string) {
	if ok, msg := aborted(ro); !ok {
		return false, msg
	}
	if w := ro.Status.Canary.Weights; w == nil || w.Canary.Weight != 0 || w.Verified == nil || !*w.Verified {
		return false, "canary weight not verified back to 0"
	}
	return true, ""
}

func demoImage(version string) string { return "app=" + demoapp.ImageRepository + ":" + version }

// A canary driven only through Argo Rollouts' kubectl plugin, under steady
// traffic: set image, promote, abort, retry, promote --full, then undo to a
// revision that is not the stable one (a template the plugin copies from the
// old ReplicaSet) and promote --full again. Each command brings the rollout to
// the state Argo's controller would, and no request fails.
func TestArgoPluginCanary(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "plugin-canary")
	startController(t, ns)
	pause := v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}}
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{setWeight(25), pause, setWeight(50), pause}}
	app.create(t, ns)
	ro := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy)
	v1 := ro.Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	start := time.Now()

	argoPlugin(t, ns, "set", "image", "web", demoImage("v2"))
	ro = waitRollout(t, ns, "web", "paused at step 1 on v2", rolloutTimeout, pausedAtStep(1, ""))
	v2 := ro.Status.CurrentPodHash
	if !verifiedAt(&ro.Status, 25) {
		t.Errorf("paused at step 1 with weights %s, want 25 verified", weightsText(ro))
	}
	if out := argoPlugin(t, ns, "status", "web", "--watch=false"); !strings.Contains(out, "Paused") {
		t.Errorf("status of a paused rollout: %q", out)
	}

	argoPlugin(t, ns, "promote", "web")
	waitRollout(t, ns, "web", "paused at step 3 on v2", rolloutTimeout, pausedAtStep(3, v2))

	argoPlugin(t, ns, "abort", "web")
	waitRollout(t, ns, "web", "aborted, traffic back on v1", rolloutTimeout, abortedWeightZero)

	argoPlugin(t, ns, "retry", "rollout", "web")
	waitRollout(t, ns, "web", "paused at step 1 on v2 after retry", rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
		if ro.Status.Abort {
			return false, "still aborted"
		}
		return pausedAtStep(1, v2)(ro)
	})

	argoPlugin(t, ns, "promote", "web", "--full")
	waitRollout(t, ns, "web", "healthy on v2 after promote --full", rolloutTimeout, onHash(v2))
	if out := argoPlugin(t, ns, "status", "web", "--timeout", "10s"); !strings.Contains(out, "Healthy") {
		t.Errorf("status of a healthy rollout: %q", out)
	}

	// v3 starts; undo to revision 1 (v1): neither the stable (v2) nor the
	// current template. The rollout runs its steps on v1.
	argoPlugin(t, ns, "set", "image", "web", demoImage("v3"))
	waitRollout(t, ns, "web", "paused at step 1 on v3", rolloutTimeout, pausedAtStep(1, ""))
	argoPlugin(t, ns, "undo", "web", "--to-revision=1")
	waitRollout(t, ns, "web", "paused at step 1 on v1 after undo", rolloutTimeout, pausedAtStep(1, v1))

	argoPlugin(t, ns, "promote", "web", "--full")
	waitRollout(t, ns, "web", "healthy on v1 after promote --full", rolloutTimeout, onHash(v1))
	out := argoPlugin(t, ns, "get", "rollout", "web")
	mustContain(t, out, "Healthy", "get rollout")

	rep := gen.Stop()
	assertNoFailures(t, "canary driven by the kubectl plugin", rep)
	t.Logf("plugin canary scenario took %s", time.Since(start).Round(100*time.Millisecond))
}

// A blue-green rollout (switch made in the ALB) driven only through Argo
// Rollouts' kubectl plugin, under steady traffic: set image, abort, retry,
// promote, then undo to a revision that is not the stable one (a fast
// rollback). The active Service follows each command and no request fails.
func TestArgoPluginBlueGreen(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "plugin-bluegreen")
	startController(t, ns)
	app := bgApp{name: "web", replicas: 2, version: "blue", manual: true}
	app.create(t, ns)
	ro := waitRollout(t, ns, "web", "healthy on blue", rolloutTimeout, healthy)
	blue := ro.Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	start := time.Now()

	pausedOn := func(hash string) func(*v1alpha1.Rollout) (bool, string) {
		return func(ro *v1alpha1.Rollout) (bool, string) {
			if ro.Status.ObservedGeneration != fmt.Sprint(ro.Generation) {
				return false, "generation not observed"
			}
			if ro.Status.Abort {
				return false, "aborted"
			}
			if ok, msg := pausedBlueGreen(ro); !ok {
				return false, msg
			}
			if ro.Status.CurrentPodHash == ro.Status.StableRS || (hash != "" && ro.Status.CurrentPodHash != hash) {
				return false, "not paused on the new template"
			}
			return true, ""
		}
	}
	assertActive := func(hash, what string) {
		t.Helper()
		if got := serviceSelector(t, ns, app.active()); got != hash {
			t.Errorf("%s: active Service selects %s, want %s", what, got, hash)
		}
	}

	argoPlugin(t, ns, "set", "image", "web", demoImage("green"))
	ro = waitRollout(t, ns, "web", "paused before the switch to green", rolloutTimeout, pausedOn(""))
	green := ro.Status.CurrentPodHash
	assertActive(blue, "paused before the switch")

	argoPlugin(t, ns, "abort", "web")
	waitRollout(t, ns, "web", "aborted", rolloutTimeout, aborted)
	assertActive(blue, "aborted")

	argoPlugin(t, ns, "retry", "rollout", "web")
	waitRollout(t, ns, "web", "paused on green after retry", rolloutTimeout, pausedOn(green))

	argoPlugin(t, ns, "promote", "web")
	waitRollout(t, ns, "web", "healthy on green", rolloutTimeout, onHash(green))
	assertActive(green, "promoted")

	// yellow waits for promotion; undo to revision 1 (blue), which is neither
	// the stable (green) nor the current template. Blue's ReplicaSet is
	// still up (within scaleDownDelaySeconds of green's promotion): as in
	// Argo Rollouts that is a fast rollback, switched (and verified) without
	// the pause.
	argoPlugin(t, ns, "set", "image", "web", demoImage("yellow"))
	waitRollout(t, ns, "web", "paused before the switch to yellow", rolloutTimeout, pausedOn(""))
	argoPlugin(t, ns, "undo", "web", "--to-revision=1")
	waitRollout(t, ns, "web", "healthy on blue after undo (fast rollback)", rolloutTimeout, onHash(blue))
	assertActive(blue, "fast rollback to blue")
	gen.Window()
	time.Sleep(time.Second)
	if w := gen.Window(); w.ByVersion["green"] > 0 || w.ByVersion["yellow"] > 0 {
		t.Errorf("after the switch back to blue, other versions answered: %v", w.ByVersion)
	}

	rep := gen.Stop()
	assertNoFailures(t, "blue-green driven by the kubectl plugin", rep)
	t.Logf("plugin blue-green scenario took %s", time.Since(start).Round(100*time.Millisecond))
}

// Argo Rollouts' kubectl plugin shows our AnalysisRuns as it shows Argo's:
// `get rollout` lists a step's run under its revision, with its phase and
// its count of successful measurements.
func TestArgoPluginShowsAnalysisRuns(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "plugin-analysis")
	startController(t, ns)
	score := newScoreServer(t, 1)
	webTemplate(t, ns, "score", score, 3)
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{
		setWeight(25), {Analysis: webAnalysis(t, "score")}, {Pause: &v1alpha1.RolloutPause{}}}}
	app.create(t, ns)
	waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy)

	argoPlugin(t, ns, "set", "image", "web", demoImage("v2"))
	waitRollout(t, ns, "web", "paused at step 2 (after the analysis) on v2", rolloutTimeout, pausedAtStep(2, ""))
	run := onlyRun(t, ns, "Step")
	if run.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("the step's run %s is %s, want Successful", run.Name, run.Status.Phase)
	}
	out := argoPlugin(t, ns, "get", "rollout", "web", "--no-color")
	// Argo's tree: "└──α web-<hash>-2-1  AnalysisRun  ✔ Successful  <age>  ✔ 3".
	for _, want := range []string{run.Name, "AnalysisRun", "Successful", "✔ 3"} {
		mustContain(t, out, want, "get rollout: the step's AnalysisRun")
	}
	mustContain(t, out, "Paused", "get rollout")
}
