package rolloutctl_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

func TestPromoteSendsStatusThenSpec(t *testing.T) {
	r := canary("a")
	r.Spec.Paused = true
	r.Status.PauseConditions = []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: metav1.Now()}}
	r.Status.ControllerPause = true
	kube, rec := newFake(t, r)
	line, err := rolloutctl.New(kube, ns).Promote(context.Background(), "a", false)
	if err != nil {
		t.Fatal(err)
	}
	if line != `rollout "a" promoted (resumed from CanaryPauseStep at step 1/4)` {
		t.Errorf("line = %q", line)
	}
	calls := rec.all()
	if len(calls) != 2 || calls[0].subresource != "status" || calls[1].subresource != "" {
		t.Fatalf("calls = %+v, want the status patch then the spec patch", calls)
	}
	sameJSON(t, "status patch", []byte(calls[0].body), `{"status":{"pauseConditions":null}}`)
	sameJSON(t, "spec patch", []byte(calls[1].body), unpause)
	if calls[0].patchType != string(types.MergePatchType) || calls[1].patchType != string(types.MergePatchType) {
		t.Errorf("patch types %q %q", calls[0].patchType, calls[1].patchType)
	}
	got := get(t, kube, "a")
	if got.Spec.Paused || len(got.Status.PauseConditions) != 0 || !got.Status.ControllerPause {
		t.Errorf("after promote: paused %v, pause conditions %v, controllerPause %v (the controller clears it, not the CLI)",
			got.Spec.Paused, got.Status.PauseConditions, got.Status.ControllerPause)
	}
}

func TestStatusSubresource404FallsBackToMainResource(t *testing.T) {
	// A cluster whose CRD has no status subresource (Argo Rollouts before v0.10).
	kube, rec := newFake(t, canary("a"))
	rec.noStatusSub = true
	cl := rolloutctl.New(kube, ns)
	if _, err := cl.Promote(context.Background(), "a", false); err != nil {
		t.Fatal(err)
	}
	calls := rec.all()
	if len(calls) != 2 || calls[0].subresource != "status" || calls[1].subresource != "" {
		t.Fatalf("calls = %+v", calls)
	}
	// The main resource gets the unified patch: the step skip is not lost.
	sameJSON(t, "fallback", []byte(calls[1].body), `{"spec":{"paused":false},"status":{"pauseConditions":null,"currentStepIndex":2}}`)

	// Status-only commands resend their own patch to the main resource.
	aborted := canary("b")
	aborted.Status.Abort = true
	kube, rec = newFake(t, canary("a"), aborted)
	rec.noStatusSub = true
	cl = rolloutctl.New(kube, ns)
	if _, err := cl.Abort(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Retry(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	calls = rec.all()
	if len(calls) != 4 {
		t.Fatalf("calls = %+v", calls)
	}
	sameJSON(t, "abort fallback", []byte(calls[1].body), `{"status":{"abort":true}}`)
	sameJSON(t, "retry fallback", []byte(calls[3].body), `{"status":{"abort":false}}`)
}

func TestMissingRolloutIsAClearError(t *testing.T) {
	kube, rec := newFake(t)
	cl := rolloutctl.New(kube, ns)
	ctx := context.Background()
	ops := map[string]func() (string, error){
		"promote": func() (string, error) { return cl.Promote(ctx, "ghost", false) },
		"abort":   func() (string, error) { return cl.Abort(ctx, "ghost") },
		"retry":   func() (string, error) { return cl.Retry(ctx, "ghost") },
		"pause":   func() (string, error) { return cl.Pause(ctx, "ghost") },
		"restart": func() (string, error) { return cl.Restart(ctx, "ghost", 0) },
		"undo":    func() (string, error) { return cl.Undo(ctx, "ghost", 0) },
		"set image": func() (string, error) {
			return cl.SetImage(ctx, "ghost", []rolloutctl.ContainerImage{{Container: "app", Image: "x"}})
		},
	}
	for name, op := range ops {
		_, err := op()
		if err == nil || !strings.Contains(err.Error(), `rollout "ghost" not found in namespace "shop"`) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// pause and restart patch without reading first; with the status
	// subresource missing too, the 404 of the fallback is still reported.
	rec.noStatusSub = true
	if _, err := cl.Pause(ctx, "ghost"); err == nil {
		t.Error("pause of a missing rollout succeeded")
	}
}

func TestRestartAndPause(t *testing.T) {
	kube, rec := newFake(t, canary("a"))
	cl := rolloutctl.New(kube, ns)
	cl.Now = func() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) }
	line, err := cl.Restart(context.Background(), "a", 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "2030-01-02T03:05:35Z") {
		t.Errorf("line = %q", line)
	}
	if got := get(t, kube, "a"); got.Spec.RestartAt == nil || !got.Spec.RestartAt.Time.Equal(time.Date(2030, 1, 2, 3, 5, 35, 0, time.UTC)) {
		t.Errorf("restartAt = %v", got.Spec.RestartAt)
	}
	if _, err := cl.Restart(context.Background(), "a", -time.Second); err == nil {
		t.Error("negative --in accepted")
	}
	if _, err := cl.Pause(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if !get(t, kube, "a").Spec.Paused {
		t.Error("not paused")
	}
	for _, c := range rec.all() {
		if c.subresource != "" {
			t.Errorf("restart/pause touched the %s subresource", c.subresource)
		}
	}
}

func TestUndoUsesOnlyOwnedReplicaSets(t *testing.T) {
	r := canary("a")
	r.Spec.Template = podTemplate("a", "a:v3")
	other := canary("a-twin") // same labels, another owner
	other.Spec.Selector = r.Spec.Selector
	stolen := replicaSet(other, "zz", 9, 1, "evil:v1")
	stolen.Labels["app"] = "a"
	orphan := replicaSet(r, "oo", 8, 0, "orphan:v1")
	orphan.OwnerReferences[0].Controller = nil // owned but not controlled
	kube, rec := newFake(t, r, replicaSet(r, "h1", 1, 0, "a:v1"), replicaSet(r, "h2", 2, 4, "a:v3"), stolen, orphan)
	line, err := rolloutctl.New(kube, ns).Undo(context.Background(), "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "revision 1") {
		t.Errorf("line = %q (revisions 8 and 9 belong to no controller or another rollout)", line)
	}
	calls := rec.all()
	if len(calls) != 1 || calls[0].patchType != string(types.JSONPatchType) {
		t.Fatalf("calls = %+v", calls)
	}
	got := get(t, kube, "a")
	if img := got.Spec.Template.Spec.Containers[0].Image; img != "a:v1" {
		t.Errorf("template image after undo = %s", img)
	}
	if _, has := got.Spec.Template.Labels[rolloutctl.PodTemplateHashLabel]; has {
		t.Error("hash label copied into the rollout's template")
	}
	if _, err := rolloutctl.New(kube, ns).Undo(context.Background(), "a", 9); err == nil || !strings.Contains(err.Error(), "no revision 9") {
		t.Errorf("undo to another rollout's revision: %v", err)
	}
}

func TestSetImageRetriesConflicts(t *testing.T) {
	conflicts := 2
	var updates int
	b := fake.NewClientBuilder().WithScheme(rolloutctl.NewScheme()).WithObjects(canary("a")).WithStatusSubresource(&v1alpha1.Rollout{})
	kube := b.WithInterceptorFuncs(interceptor.Funcs{
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			updates++
			if conflicts > 0 {
				conflicts--
				return apierrors.NewConflict(schema.GroupResource{Group: "argoproj.io", Resource: "rollouts"}, obj.GetName(), errors.New("the object has been modified"))
			}
			return c.Update(ctx, obj, opts...)
		},
	}).Build()
	cl := rolloutctl.New(kube, ns)
	line, err := cl.SetImage(context.Background(), "a", []rolloutctl.ContainerImage{{Container: "app", Image: "a:v4"}})
	if err != nil {
		t.Fatal(err)
	}
	if updates != 3 || line != `rollout "a" image updated (app=a:v4)` {
		t.Errorf("updates %d, line %q", updates, line)
	}
	if img := get(t, kube, "a").Spec.Template.Spec.Containers[0].Image; img != "a:v4" {
		t.Errorf("image = %s", img)
	}
	// Same image again: no write at all.
	line, err = cl.SetImage(context.Background(), "a", []rolloutctl.ContainerImage{{Container: "app", Image: "a:v4"}})
	if err != nil || updates != 3 || !strings.Contains(line, "unchanged") {
		t.Errorf("second set: line %q err %v updates %d", line, err, updates)
	}
	// Conflicts forever: gives up with a message that says to try again.
	conflicts = 100
	_, err = cl.SetImage(context.Background(), "a", []rolloutctl.ContainerImage{{Container: "app", Image: "a:v5"}})
	if err == nil || !strings.Contains(err.Error(), "run the command again") {
		t.Errorf("endless conflicts: %v", err)
	}
}

func TestWorkloadRefRefused(t *testing.T) {
	r := canary("a")
	r.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
	kube, _ := newFake(t, r, replicaSet(r, "h1", 1, 0, "a:v1"), replicaSet(r, "h2", 2, 0, "a:v2"))
	cl := rolloutctl.New(kube, ns)
	if _, err := cl.SetImage(context.Background(), "a", []rolloutctl.ContainerImage{{Container: "app", Image: "x"}}); err == nil || !strings.Contains(err.Error(), "workloadRef") {
		t.Errorf("set image: %v", err)
	}
	if _, err := cl.Undo(context.Background(), "a", 0); err == nil || !strings.Contains(err.Error(), "workloadRef") {
		t.Errorf("undo: %v", err)
	}
}

func TestTree(t *testing.T) {
	r := canary("a")
	r.Status.StableRS, r.Status.CurrentPodHash = "h1", "h2"
	rs1, rs2 := replicaSet(r, "h1", 1, 4, "a:v1"), replicaSet(r, "h2", 2, 1, "a:v2")
	stranger := replicaSet(canary("b"), "h9", 3, 1, "b:v1")
	stranger.Labels["app"] = "a"
	pod := func(name string, rs *appsv1.ReplicaSet) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "a"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr(true)}}}}
	}
	kube, _ := newFake(t, r, rs1, rs2, stranger, pod("a-h1-y", rs1), pod("a-h1-x", rs1), pod("a-h2-x", rs2), pod("b-h9-x", stranger))
	tr, err := rolloutctl.New(kube, ns).Tree(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.ReplicaSets) != 2 {
		t.Fatalf("%d ReplicaSets, want 2 (not the other rollout's)", len(tr.ReplicaSets))
	}
	newest, stable := tr.ReplicaSets[0], tr.ReplicaSets[1]
	if newest.Name != "a-h2" || newest.Revision != 2 || newest.Hash != "h2" || len(newest.Roles) != 1 || newest.Roles[0] != rolloutctl.RoleCanary {
		t.Errorf("newest = %s rev %d hash %s roles %v", newest.Name, newest.Revision, newest.Hash, newest.Roles)
	}
	if stable.Roles[0] != rolloutctl.RoleStable || len(stable.Pods) != 2 || stable.Pods[0].Name != "a-h1-x" {
		t.Errorf("stable = roles %v pods %v", stable.Roles, stable.Pods)
	}
	if len(newest.Pods) != 1 || newest.Pods[0].Name != "a-h2-x" {
		t.Errorf("canary pods %v", newest.Pods)
	}
	if tr.Raw.GetName() != "a" || tr.Rollout.Spec.Strategy.Canary == nil {
		t.Error("tree lost the rollout")
	}
}

func TestRoles(t *testing.T) {
	c := canary("a")
	roles := func(r *v1alpha1.Rollout, h string) string {
		var s []string
		for _, x := range rolloutctl.Roles(r, h) {
			s = append(s, string(x))
		}
		return strings.Join(s, ",")
	}
	if got := roles(c, "old") + "|" + roles(c, "new") + "|" + roles(c, "older") + "|" + roles(c, ""); got != "stable|canary||" {
		t.Errorf("canary roles = %s", got)
	}
	c.Status.StableRS = "new" // fully promoted: stable only, not canary
	if got := roles(c, "new"); got != "stable" {
		t.Errorf("promoted canary = %s", got)
	}
	bg := blueGreen("b")
	if got := roles(bg, "old") + "|" + roles(bg, "new"); got != "active,stable|preview" {
		t.Errorf("blue-green before the switch = %s", got)
	}
	bg.Status.BlueGreen.ActiveSelector = "new" // switched, not yet stable
	if got := roles(bg, "old") + "|" + roles(bg, "new"); got != "stable|active" {
		t.Errorf("blue-green after the switch = %s", got)
	}
}

func TestWatchTreeFollowsChanges(t *testing.T) {
	r := canary("a")
	r.Status.Phase, r.Status.Message = v1alpha1.RolloutPhasePaused, "CanaryPauseStep"
	kube, _ := newFake(t, r)
	cl := rolloutctl.New(kube, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seen := make(chan v1alpha1.RolloutPhase, 100)
	result := make(chan error, 1)
	go func() {
		result <- cl.WatchTree(ctx, "a", func(tr *rolloutctl.Tree) (bool, error) {
			p, _ := rolloutctl.Phase(tr.Rollout)
			seen <- p
			return rolloutctl.Done(p), nil
		})
	}()
	if p := <-seen; p != v1alpha1.RolloutPhasePaused {
		t.Fatalf("first call saw %s", p)
	}
	setPhase := func(p v1alpha1.RolloutPhase) {
		t.Helper()
		cur := get(t, kube, "a")
		cur.Status.Phase = p
		if err := kube.Status().Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
	}
	setPhase(v1alpha1.RolloutPhaseProgressing)
	waitFor(t, seen, v1alpha1.RolloutPhaseProgressing)
	// A ReplicaSet appearing is a change too.
	if err := kube.Create(ctx, replicaSet(get(t, kube, "a"), "new", 2, 1, "a:v2")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, seen, v1alpha1.RolloutPhaseProgressing)
	setPhase(v1alpha1.RolloutPhaseHealthy)
	waitFor(t, seen, v1alpha1.RolloutPhaseHealthy)
	if err := <-result; err != nil {
		t.Fatalf("WatchTree = %v after Healthy", err)
	}

	// The context ending stops it with the context's error.
	short, cancelShort := context.WithCancel(context.Background())
	go func() { <-seen; cancelShort() }()
	setPhase(v1alpha1.RolloutPhasePaused)
	err := cl.WatchTree(short, "a", func(tr *rolloutctl.Tree) (bool, error) { seen <- ""; return false, nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled watch = %v", err)
	}
	// A deleted rollout ends it with the not-found error.
	if err := kube.Delete(ctx, get(t, kube, "a")); err != nil {
		t.Fatal(err)
	}
	if err := cl.WatchTree(ctx, "a", func(*rolloutctl.Tree) (bool, error) { return false, nil }); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("watch of a deleted rollout = %v", err)
	}
}

// waitFor reads phases until want arrives (earlier ones may repeat).
func waitFor(t *testing.T, seen <-chan v1alpha1.RolloutPhase, want v1alpha1.RolloutPhase) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case p := <-seen:
			if p == want {
				return
			}
		case <-deadline:
			t.Fatalf("no call with phase %s", want)
		}
	}
}

func TestWatchTreeReopensClosedWatches(t *testing.T) {
	r := canary("a")
	r.Status.Phase = v1alpha1.RolloutPhaseProgressing
	var mu sync.Mutex
	var watchers []*watch.FakeWatcher
	kube := fake.NewClientBuilder().WithScheme(rolloutctl.NewScheme()).WithObjects(r).WithStatusSubresource(&v1alpha1.Rollout{}).
		WithInterceptorFuncs(interceptor.Funcs{
			Watch: func(ctx context.Context, c client.WithWatch, l client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
				w := watch.NewFake()
				mu.Lock()
				defer mu.Unlock()
				watchers = append(watchers, w)
				return w, nil
			},
		}).Build()
	opened := func() []*watch.FakeWatcher {
		mu.Lock()
		defer mu.Unlock()
		return append([]*watch.FakeWatcher(nil), watchers...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	calls := make(chan struct{}, 10)
	result := make(chan error, 1)
	go func() {
		result <- rolloutctl.New(kube, ns).WatchTree(ctx, "a", func(tr *rolloutctl.Tree) (bool, error) {
			calls <- struct{}{}
			return tr.Rollout.Status.Phase == v1alpha1.RolloutPhaseHealthy, nil
		})
	}()
	<-calls
	if n := len(opened()); n != 3 {
		t.Fatalf("%d watches opened, want 3 (rollout, ReplicaSets, pods)", n)
	}
	// The server ends the pod watch; meanwhile the rollout became Healthy
	// without an event reaching us. Reopening reads the tree again and sees it.
	cur := get(t, kube, "a")
	cur.Status.Phase = v1alpha1.RolloutPhaseHealthy
	if err := kube.Status().Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	opened()[2].Stop()
	select {
	case err := <-result:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("WatchTree did not reopen its watches")
	}
	ws := opened()
	if len(ws) != 6 {
		t.Errorf("%d watches opened in all, want 6", len(ws))
	}
	for i, w := range ws {
		if !w.IsStopped() {
			t.Errorf("watch %d left open", i)
		}
	}
}
