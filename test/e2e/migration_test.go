package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/sim/localenv"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// Field managers of the two controllers: the API server names a writer by
// its user agent up to the first "/". Argo's controller binary keeps
// client-go's default user agent ("rollouts-controller/<version> ..."); ours
// runs in-process with the user agent the albrollouts-controller binary has.
const (
	argoManager = "rollouts-controller"
	ourManager  = "albrollouts-controller"
)

// argoControllerPath is Argo Rollouts' controller as `make test-deps` caches
// it (hack/argo-rollouts-build.sh controller), or $ARGO_ROLLOUTS_CONTROLLER.
func argoControllerPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ARGO_ROLLOUTS_CONTROLLER"); p != "" {
		return p
	}
	return argoCachedBinary(t, "rollouts-controller")
}

// startArgoController runs Argo Rollouts' real controller binary (the
// pinned release) as a subprocess against the local environment, namespaced
// to ns and without an instance id: it takes the Rollouts of ns that have no
// argo-rollouts.argoproj.io/controller-instance-id label. Its log is
// <env dir>/argo-controller-<ns>.log.
//
// It runs without --aws-verify-target-group: with it, Argo checks a
// Service's targets against its v1 Endpoints, which loopback pods do not
// have (docs/local-environment.md), so it would never call the stable
// Service's targets registered. Without it Argo makes no AWS call at all
// (status.alb stays empty, as on a cluster where Argo does not verify); the
// SDK's standard variables still point it at elbsim, with the dummy
// credentials and region elbsim takes, should it make one. Leader election
// is off (one replica) and the health and metrics ports are ephemeral, so
// several runs can share a machine.
func startArgoController(t *testing.T, ns string) (logPath string) {
	t.Helper()
	bin := argoControllerPath(t)
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("Argo Rollouts' controller is not built (make test-deps): %v", err)
	}
	logPath = filepath.Join(env.Dir(), "argo-controller-"+ns+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin,
		"--kubeconfig", env.KubeconfigPath(),
		"--namespaced", "--namespace", ns,
		"--leader-elect=false",
		"--healthzPort", "0", "--metricsPort", "0",
		"--loglevel", "debug",
		"--rollout-threads", "2", "--service-threads", "2", "--ingress-threads", "2",
		"--experiment-threads", "1", "--analysis-threads", "2", "--ephemeral-metadata-threads", "1",
	)
	cmd.Env = append(os.Environ(),
		"AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2="+env.ELBV2Endpoint(),
		"AWS_ENDPOINT_URL="+env.ELBV2Endpoint(),
		"AWS_ACCESS_KEY_ID="+localenv.DummyAccessKey,
		"AWS_SECRET_ACCESS_KEY="+localenv.DummySecretKey,
		"AWS_REGION="+localenv.DefaultRegion,
		"AWS_EC2_METADATA_DISABLED=true",
	)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		t.Fatalf("start Argo Rollouts' controller: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); _ = f.Close() }()
	t.Logf("Argo Rollouts' controller running (pid %d) for namespace %s, log %s", cmd.Process.Pid, ns, logPath)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		var err error
		select {
		case err = <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			err = <-done
		}
		t.Logf("Argo Rollouts' controller stopped: %v", err)
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				t.Logf("Argo Rollouts' controller, last lines of %s:\n%s", logPath, strings.Join(lines[max(0, len(lines)-40):], "\n"))
			}
		}
	})
	// A controller that exits early (a flag, the kubeconfig) fails the test
	// at once rather than at the first wait's timeout.
	select {
	case err := <-done:
		b, _ := os.ReadFile(logPath)
		t.Fatalf("Argo Rollouts' controller exited at start (%v):\n%s", err, b)
	case <-time.After(2 * time.Second):
	}
	return logPath
}

// argoLogSince returns the lines of Argo's log from byte offset off on, and
// the log's size.
func argoLogSince(t *testing.T, path string, off int64) ([]string, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	return strings.Split(strings.TrimSpace(string(b[off:])), "\n"), int64(len(b))
}

// grepLines returns the lines containing s.
func grepLines(lines []string, s string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// waitQuiet waits until the rollout has not been written for d: its
// controller is idle, as when an operator moves a rollout that sits at a
// pause. (A reconcile in flight when the label lands still ends with its
// status write; see docs/migrating-from-argo-rollouts.md.)
func waitQuiet(t *testing.T, ns, name string, d time.Duration) {
	t.Helper()
	last, since := "", time.Now()
	poll.Slow.Eventually(t, pollTimeout, "rollout "+ns+"/"+name+" not written for "+d.String(), func() (bool, string) {
		if rv := getRollout(t, ns, name).ResourceVersion; rv != last {
			last, since = rv, time.Now()
		}
		return time.Since(since) >= d, "written within " + d.String()
	})
}

// write is one write to an object, as a watch sees it: the managers whose
// managedFields entry it created or changed.
type write struct {
	kind, name string
	rv         int64
	managers   []string
}

func (w write) String() string {
	return fmt.Sprintf("%s %s rv %d by %s", w.kind, w.name, w.rv, strings.Join(w.managers, ","))
}

func (w write) by(manager string) bool {
	return slices.ContainsFunc(w.managers, func(m string) bool { return m == manager || strings.HasPrefix(m, manager+"/") })
}

// writeLog records every write to the ReplicaSets, Services, Ingresses and
// Rollouts of a namespace, with its writers, read from managedFields: a
// manager wrote when its entry is new, its time changed, or it owns a field
// it did not own before. (An entry that only loses fields lost them to
// another writer. A manager rewriting, in the same second, only fields it
// already owns changes no entry: such a write shows as "?".)
type writeLog struct {
	mu     sync.Mutex
	last   map[string]map[string]managedEntry // kind/name -> manager[/subresource] -> entry
	writes []write
	broken []string // watches that ended before the test did
}

type managedEntry struct {
	time   string
	fields map[string]bool // flattened FieldsV1 paths
}

func recordWrites(t *testing.T, ns string) *writeLog {
	t.Helper()
	wc, err := client.NewWithWatch(env.RESTConfig(), client.Options{Scheme: kc().Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wl := &writeLog{last: map[string]map[string]managedEntry{}}
	var wg sync.WaitGroup
	for kind, list := range map[string]client.ObjectList{
		"ReplicaSet": &appsv1.ReplicaSetList{}, "Service": &corev1.ServiceList{},
		"Ingress": &networkingv1.IngressList{}, "Rollout": &v1alpha1.RolloutList{},
	} {
		w, err := wc.Watch(ctx, list, client.InNamespace(ns))
		if err != nil {
			cancel()
			t.Fatalf("watch %s: %v", kind, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range w.ResultChan() {
				if ev.Type != watch.Added && ev.Type != watch.Modified {
					continue
				}
				if o, ok := ev.Object.(client.Object); ok {
					wl.add(kind, o)
				}
			}
			if ctx.Err() == nil {
				wl.mu.Lock()
				wl.broken = append(wl.broken, kind)
				wl.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return wl
}

// fieldPaths flattens a FieldsV1 document into its paths.
func fieldPaths(raw []byte) map[string]bool {
	out := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			out[prefix] = true
			return
		}
		for k, c := range m {
			walk(prefix+"/"+k, c)
		}
	}
	var doc any
	if json.Unmarshal(raw, &doc) == nil {
		walk("", doc)
	}
	return out
}

func (wl *writeLog) add(kind string, o client.Object) {
	rv, _ := strconv.ParseInt(o.GetResourceVersion(), 10, 64)
	entries := map[string]managedEntry{}
	for _, e := range o.GetManagedFields() {
		key := e.Manager
		if e.Subresource != "" {
			key += "/" + e.Subresource
		}
		var raw []byte
		if e.FieldsV1 != nil {
			raw = e.FieldsV1.GetRawBytes()
		}
		entries[key] = managedEntry{time: fmt.Sprint(e.Time), fields: fieldPaths(raw)}
	}
	wl.mu.Lock()
	defer wl.mu.Unlock()
	id := kind + "/" + o.GetName()
	prev := wl.last[id]
	wl.last[id] = entries
	var managers []string
	for k, e := range entries {
		p, had := prev[k]
		wrote := !had || p.time != e.time
		for f := range e.fields {
			wrote = wrote || !p.fields[f]
		}
		if wrote {
			managers = append(managers, k)
		}
	}
	sort.Strings(managers)
	if len(managers) == 0 {
		managers = []string{"?"}
	}
	wl.writes = append(wl.writes, write{kind: kind, name: o.GetName(), rv: rv, managers: managers})
}

func (wl *writeLog) all() []write {
	wl.mu.Lock()
	defer wl.mu.Unlock()
	out := slices.Clone(wl.writes)
	slices.SortFunc(out, func(a, b write) int { return int(a.rv - b.rv) })
	return out
}

func summarize(ws []write) string {
	n := map[string]int{}
	for _, w := range ws {
		n[w.kind]++
	}
	var parts []string
	for _, k := range []string{"Rollout", "ReplicaSet", "Service", "Ingress"} {
		parts = append(parts, fmt.Sprintf("%s %d", k, n[k]))
	}
	return strings.Join(parts, ", ")
}

// setInstanceID labels the rollout for the controller with instance id id,
// or removes the label (id ""), and returns the resource version of that
// write.
func setInstanceID(t *testing.T, ns, name, id string) int64 {
	t.Helper()
	val := "null"
	if id != "" {
		val = strconv.Quote(id)
	}
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = ns, name
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, replicaset.InstanceIDLabel, val)
	if err := kc().Patch(ctxT(t), ro, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		t.Fatalf("label rollout %s: %v", patch, err)
	}
	rv, err := strconv.ParseInt(ro.ResourceVersion, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

// weightAt: status.canary.weights gives the canary w (as either controller
// writes it), verified or not.
func weightAt(w int32) func(*v1alpha1.Rollout) (bool, string) {
	return func(ro *v1alpha1.Rollout) (bool, string) {
		if x := ro.Status.Canary.Weights; x == nil || x.Canary.Weight != w {
			return false, fmt.Sprintf("canary weight not %d", w)
		}
		return true, ""
	}
}

func allOf(conds ...func(*v1alpha1.Rollout) (bool, string)) func(*v1alpha1.Rollout) (bool, string) {
	return func(ro *v1alpha1.Rollout) (bool, string) {
		for _, c := range conds {
			if ok, msg := c(ro); !ok {
				return false, msg
			}
		}
		return true, ""
	}
}

func verifiedWeight(w int32) func(*v1alpha1.Rollout) (bool, string) {
	return func(ro *v1alpha1.Rollout) (bool, string) {
		return verifiedAt(&ro.Status, w), fmt.Sprintf("canary weight %d not verified", w)
	}
}

// waitServing waits until url answers 200 ten times in a row: the ALB has
// healthy targets for the rollout's traffic.
func waitServing(t *testing.T, url string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	poll.Slow.Eventually(t, pollTimeout, url+" serving", func() (bool, string) {
		for range 10 {
			resp, err := c.Get(url + "/")
			if err != nil {
				return false, err.Error()
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return false, resp.Status
			}
		}
		return true, ""
	})
}

// A live canary moves from Argo Rollouts' real controller to ours mid-way
// through its steps, under traffic, by one label; then back, and to ours again. Argo's
// controller (no instance id) runs the rollout, created without the label,
// to Healthy on v1, then to step 1 of v2 (20 %, paused). The label
// argo-rollouts.argoproj.io/controller-instance-id=<ours> moves it: our
// controller takes over from the status Argo wrote, verifies the 20 % on the
// ALB, and after `kubectl argo rollouts promote` goes on to 50 %, then to
// Healthy on v2. Removing the label gives it back to Argo, which runs v3 to
// its step 1 (20 %); labelled again, ours verifies that and promotes it
// fully. No request through the ALB fails, and around each hand-over the
// managedFields show that the controller giving the rollout up wrote nothing
// more (Rollout, ReplicaSets, Services, Ingress) and the one taking it
// wrote nothing before; Argo's log shows no patch while ours has it.
//
// Argo's own promotion is not part of it: without
// --aws-verify-target-group (see startArgoController) Argo switches the
// stable Service to the new pods and moves the weight back to it in one
// reconcile, before the ALB has them healthy in the stable target group;
// a run that let Argo finish v3 with promote --full saw 5 requests answered
// 503 there.
func TestMigrationFromArgoRollouts(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "migration")
	wl := recordWrites(t, ns)
	argoLog := startArgoController(t, ns)
	startControllerAs(t, ns, ourManager)

	pause := v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}}
	app := canaryApp{name: "web", replicas: 2, version: "v1", unlabelled: true,
		steps: []v1alpha1.CanaryStep{setWeight(20), pause, setWeight(50), pause}}
	app.create(t, ns)
	ro := waitRollout(t, ns, "web", "healthy on v1 (Argo)", rolloutTimeout, healthy)
	v1 := ro.Status.StableRS
	url := rolloutURL(t, ns, "web")
	// Argo calls the rollout Healthy as soon as it has written the action
	// annotation; the ALB serves a moment later (traffic started at once
	// saw 4 to 9 requests answered 503).
	waitServing(t, url)
	gen := traffic(t, url)
	start := time.Now()

	// handOver moves the rollout to the controller with instance id id ("":
	// Argo's) once it sits idle at a pause, and returns the label's resource
	// version and Argo's log offset at that point.
	var argoOff int64
	handOver := func(id string) int64 {
		t.Helper()
		waitQuiet(t, ns, "web", 3*time.Second)
		_, argoOff = argoLogSince(t, argoLog, 0)
		return setInstanceID(t, ns, "web", id)
	}
	// argoQuiet checks Argo's log since the last hand-over to ours.
	argoQuiet := func() {
		t.Helper()
		lines, _ := argoLogSince(t, argoLog, argoOff)
		for _, l := range grepLines(lines, `msg="Patched`) {
			t.Errorf("Argo patched the rollout while ours had it: %s", l)
		}
		resets := grepLines(lines, "unable to reset annotation")
		t.Logf("while ours had it, Argo's Ingress controller found the action of a rollout it no longer runs in "+
			"rollouts.argoproj.io/managed-alb-annotations %d times and left the annotation alone (the action, web-root, names no target group of its own)", len(resets))
	}

	// Argo runs v2 to its first pause, 20 % to the canary.
	setImage(t, ns, "web", "v2")
	ro = waitRollout(t, ns, "web", "paused at step 1 on v2, weight 20 (Argo)", rolloutTimeout, allOf(pausedAtStep(1, ""), weightAt(20)))
	v2 := ro.Status.CurrentPodHash
	w := gen.Window()
	t.Logf("Argo, v2 to step 1: weights %s; %d requests, %d failed, by version %v", weightsText(ro), w.Total, w.Failed, w.ByVersion)

	// The move: one label.
	toOurs := handOver(ns)
	moved := time.Now()
	ro = waitRollout(t, ns, "web", "paused at step 1 on v2, 20 % verified (ours)", rolloutTimeout, allOf(pausedAtStep(1, v2), verifiedWeight(20)))
	takeover := time.Since(moved)
	t.Logf("ours took over in %s: weights %s, verification %s", takeover.Round(100*time.Millisecond), weightsText(ro), verificationText(ro))
	argoPlugin(t, ns, "promote", "web")
	waitRollout(t, ns, "web", "paused at step 3 on v2, 50 % verified (ours)", rolloutTimeout, allOf(pausedAtStep(3, v2), verifiedWeight(50)))
	argoPlugin(t, ns, "promote", "web")
	waitRollout(t, ns, "web", "healthy on v2 (ours)", rolloutTimeout, onHash(v2))
	waitOldScaledDown(t, ns, "web", v1)
	v2Done := time.Since(start)
	w = gen.Window()
	t.Logf("ours, from the label to Healthy on v2: %d requests, %d failed, by version %v", w.Total, w.Failed, w.ByVersion)

	// And back: without the label the rollout is Argo's again.
	argoQuiet()
	toArgo := handOver("")
	setImage(t, ns, "web", "v3")
	ro = waitRollout(t, ns, "web", "paused at step 1 on v3, weight 20 (Argo again)", rolloutTimeout, allOf(pausedAtStep(1, ""), weightAt(20)))
	v3 := ro.Status.CurrentPodHash
	w = gen.Window()
	t.Logf("Argo again, v3 to step 1: weights %s; %d requests, %d failed, by version %v", weightsText(ro), w.Total, w.Failed, w.ByVersion)

	// And to ours again, to finish v3.
	toOursAgain := handOver(ns)
	moved = time.Now()
	waitRollout(t, ns, "web", "paused at step 1 on v3, 20 % verified (ours again)", rolloutTimeout, allOf(pausedAtStep(1, v3), verifiedWeight(20)))
	takeover2 := time.Since(moved)
	argoPlugin(t, ns, "promote", "web", "--full")
	waitRollout(t, ns, "web", "healthy on v3 (ours again)", rolloutTimeout, onHash(v3))
	waitOldScaledDown(t, ns, "web", v2)
	argoQuiet()
	w = gen.Window()
	t.Logf("ours again, from the label to Healthy on v3: %d requests, %d failed, by version %v", w.Total, w.Failed, w.ByVersion)

	rep := gen.Stop()
	assertNoFailures(t, "rollout moved Argo → ours → Argo → ours", rep)
	t.Logf("migration: %d requests in %s, %d failed; label to our verified 20 %% in %s and %s; v2 Healthy (ours) %s after its image was set; whole scenario %s",
		rep.Total, rep.Duration.Round(time.Second), rep.Failed, takeover.Round(100*time.Millisecond), takeover2.Round(100*time.Millisecond),
		v2Done.Round(time.Second), time.Since(start).Round(time.Second))

	// Who wrote what, between the label changes.
	if len(wl.broken) > 0 {
		t.Errorf("the watches of %v ended during the test: the record of writes is incomplete", wl.broken)
	}
	phases := []struct {
		name         string
		until        int64
		owner, other string
	}{
		{"Argo's (before the label)", toOurs, argoManager, ourManager},
		{"ours (labelled)", toArgo, ourManager, argoManager},
		{"Argo's again (label removed)", toOursAgain, argoManager, ourManager},
		{"ours again (labelled again)", 1 << 62, ourManager, argoManager},
	}
	writes := wl.all()
	for _, ph := range phases {
		var own []write
		unknown := 0
		for len(writes) > 0 && writes[0].rv < ph.until {
			w := writes[0]
			writes = writes[1:]
			switch {
			case w.by(ph.other):
				t.Errorf("%s: %s wrote: %s", ph.name, ph.other, w)
			case w.by(ph.owner):
				own = append(own, w)
			case w.by("?"):
				unknown++
			}
		}
		if len(own) == 0 {
			t.Errorf("%s: no write by %s (is its field manager still %q?)", ph.name, ph.owner, ph.owner)
		}
		t.Logf("%s: %d writes by %s (%s), none by %s; %d same-second rewrites without a visible writer", ph.name, len(own), ph.owner, summarize(own), ph.other, unknown)
	}
	if t.Failed() {
		for _, w := range wl.all() {
			t.Logf("write: %s", w)
		}
	}
}
