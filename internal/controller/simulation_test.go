package controller

// A randomized, deterministic simulation of the controller (in the manner of
// FoundationDB's simulation testing and TigerBeetle's VOPR). From a seed it
// builds a rollout (canary with ALB routing, header routes, setCanaryScale,
// pauses, dynamicStableScale, ping-pong; or blue-green in ALB or selector
// mode) and a world (load balancer and health-check lag, a second
// listener), then plays random events against it: template updates, aborts,
// promote, retry, undo, pause, restartAt, replicas changes, versions that
// fail every health check or one group's only, a serving version breaking,
// load balancer lag and lost events, AWS errors and throttling, controller
// crashes at a write, hand edits of the action annotation and of selectors,
// a second rollout naming the same Service. After every tick of the world
// it checks the safety invariants of simInvariants, computed from the model
// ALB and the cluster, not from the controller's own reasoning; after the
// faults stop it checks that every rollout settles.
//
// Replay a seed:  go test ./internal/controller -run 'TestSimulation$' -sim.seed=1234 -v
// Run many:       make sim SEEDS=1000   (or -sim.seeds=N, SIM_SEEDS=N)
// Leave out kinds: -sim.exclude=edit-action,second-rollout (or SIM_EXCLUDE)

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

var (
	simSeedFlag    = flag.Uint64("sim.seed", 0, "TestSimulation: replay only this seed")
	simSeedsFlag   = flag.Int("sim.seeds", 0, "TestSimulation: how many seeds to run (default SIM_SEEDS, else 10, 4 with -short)")
	simFirstFlag   = flag.Uint64("sim.first", 1, "TestSimulation: the first seed of a run of seeds")
	simExcludeFlag = flag.String("sim.exclude", "", "TestSimulation: event kinds the generator leaves out, comma-separated (default SIM_EXCLUDE, else simDefaultExclude); \"none\" leaves out nothing")
	simIgnoreFlag  = flag.String("sim.ignore", "", "TestSimulation: invariants whose violations are reported but do not fail, comma-separated (default SIM_IGNORE, else simDefaultIgnore); \"none\" ignores nothing")
)

// simDefaultExclude are the event kinds left out when no knob says
// otherwise, and simDefaultIgnore the invariants whose violations are
// logged without failing. Empty: every kind is played and every invariant
// fails the test. (They are knobs for narrowing down a failing seed.)
var (
	simDefaultExclude = ""
	simDefaultIgnore  = ""
)

// The world's clock: the cluster and the load balancer move every simTick;
// the controller runs whenever a rollout is due (requeue, watch, event).
const (
	simTick       = 500 * time.Millisecond
	simWatchDelay = 20 * time.Millisecond
	simResync     = 30 * time.Second
	// simMaxPerTick: more reconciles of one rollout within one tick, with
	// nothing changing in the world, is a reconcile loop.
	simMaxPerTick = 20
	simWarmTicks  = 200 // first deploy
	simChaosTicks = 240 // events
	simCalmTicks  = 400 // after the faults stop, to settle
)

func TestSimulation(t *testing.T) {
	seeds, replay := simSeeds(t)
	exclude := simList(*simExcludeFlag, "SIM_EXCLUDE", simDefaultExclude)
	ignore := simList(*simIgnoreFlag, "SIM_IGNORE", simDefaultIgnore)
	var passes, ticks int
	found := map[string]*simFinding{}
	for _, seed := range seeds {
		w := newSimWorld(t, seed, exclude)
		w.run()
		passes += w.reconciles
		ticks += w.s.passes
		var first *simViolation
		seen := map[string]bool{}
		for i, v := range w.violations {
			if !ignore[v.invariant] && first == nil {
				first = &w.violations[i]
			}
			k := v.key()
			if seen[k] {
				continue
			}
			seen[k] = true
			if f := found[k]; f != nil {
				f.seeds = append(f.seeds, seed)
			} else {
				found[k] = &simFinding{v: v, seeds: []uint64{seed}}
			}
		}
		if len(w.violations) == 0 {
			continue
		}
		report := t.Errorf
		if first == nil {
			// Only ignored invariants broke.
			report, first = t.Logf, &w.violations[0]
		}
		report("seed %d (%s): %d violation(s); first at tick %d: [%s] %s\nreplay: go test ./internal/controller -run 'TestSimulation$' -sim.seed=%d -v%s\nviolations:\n%s",
			seed, w.scenario, len(w.violations), first.tick, first.invariant, first.detail, seed, knobArgs(exclude, ignore), w.violationText())
		if replay {
			t.Logf("events:\n%s\nhistory up to the first violation (30 ticks):\n%s\nhistory (last %d ticks):\n%s\ncontroller events (last %d):\n%s", strings.Join(w.events, "\n"), w.firstHistory, simHistoryTicks(), w.historyTail(simHistoryTicks()), simHistoryEvents(), w.recordedTail(simHistoryEvents()))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(found)) {
		f := found[k]
		t.Logf("violation %s: %d seed(s), first %d: %s", k, len(f.seeds), f.seeds[0], f.v.detail)
	}
	t.Logf("simulation: %d seeds, %d reconcile passes, %d world ticks (%s simulated), %d distinct violation(s); excluded kinds %v, ignored invariants %v",
		len(seeds), passes, ticks, time.Duration(ticks)*simTick, len(found), slices.Sorted(maps.Keys(exclude)), slices.Sorted(maps.Keys(ignore)))
}

type simFinding struct {
	v     simViolation
	seeds []uint64
}

// simSeeds returns the seeds to run, and whether it is a replay of one.
func simSeeds(t *testing.T) ([]uint64, bool) {
	if *simSeedFlag != 0 {
		return []uint64{*simSeedFlag}, true
	}
	if v := os.Getenv("SIM_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SIM_SEED=%q: %v", v, err)
		}
		return []uint64{n}, true
	}
	n := *simSeedsFlag
	if v := os.Getenv("SIM_SEEDS"); n == 0 && v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatalf("SIM_SEEDS=%q: %v", v, err)
		}
	}
	if n == 0 {
		n = 10
		if testing.Short() {
			n = 4
		}
	}
	var out []uint64
	for i := range n {
		out = append(out, *simFirstFlag+uint64(i))
	}
	if *simSeedsFlag == 0 && os.Getenv("SIM_SEEDS") == "" {
		// The default run (make test) also replays the seeds that found a
		// bug, so that each stays fixed.
		for _, r := range simRegressionSeeds {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out, false
}

// simRegressionSeeds found bugs that are fixed now (see the test named with
// each); the default run replays them.
var simRegressionSeeds = []uint64{
	5,     // TestBlueGreenManualPauseStopsScaling
	48,    // TestActionWrittenOverAnUnverifiedOneSettlesFirst
	53,    // TestBlueGreenUpdateAtZeroReplicasCompletes
	1122,  // TestCorrectionOfAHandEditedActionChecksTheGroupItRaises
	137,   // the same: a correction refused by the guard forever before
	152,   // replicas 0 with a hand-widened stable Service: it was never narrowed back, and a retired version served through it
	2034,  // TestRedTeamLivenessBlueGreenRestartWithOneReplicaCompletes
	12,    // TestAReplicaSetSelectedAgainGetsAFreshScaleDownDelay; a hand-widened Service narrowed before its new pods were all up
	248,   // a canary update at spec.replicas 0 waited forever for a ReplicaSet of 0 pods to be available
	175,   // finishInterruptedPromotion: a template update between the stable Service move and the stable record deadlocked
	239,   // a hand edit pointed the active Service at a retired version: the guard refused the widening that moves it off
	282,   // blue-green at spec.replicas 0 waited forever for a ReplicaSet of 0 pods to be available
	140,   // narrowStable: an abort judged the stable group on the pods of other versions a hand-widened stable Service selected
	225,   // an abort during the promotion recorded its intermediate check as the abort verified while the new version served
	261,   // unsettled: a blue-green abort written over an unapplied switch was recorded verified before the switch could land
	358,   // correcting a hand-edited action while the stable Service is on the new pods: all to the canary group, not to a stable group they fail
	85,    // a header-route step (no setCanaryScale) with a path naming the canary Service directly: the new version runs one pod so the Service can move onto healthy targets
	1062,  // a stable Service hand-pointed at a third ReplicaSet under traffic, the step giving the canary no pods: widened with the stable pods (the guard lets only stable pods join a weighted group), then narrowed
	1212,  // blue-green: an active Service hand-pointed at a third version widens on its way with the stable pods among those it may select
	3020,  // the simulation counted a header route's requests as all of production, asking for every replica in the canary group
	4085,  // an abort with the stable Service hand-pointed at the aborted pods and a direct path on an older canary: each Service's widening waited for the pods the other one serves
	4277,  // blue-green paused with a preview Ingress and a restart due while the active group is unhealthy: the preview check and the restart gate took the one verification record in turns, a status write every pass (the restart gate now probes without recording)
	8033,  // the same for a canary whose stable group keeps its traffic while unhealthy (judged on its last health read): the traffic's check verified, the restart gate's did not
	4394,  // a ping-pong stable Service hand-pointed at a third version under traffic: widened it would select the canary's pods, which the guard refuses; the canary waits without pods
	8280,  // a restart waited for ever on an active group whose every target fails its health check (the version broke in place): it now restarts them, one pod at a time
	10098, // the same on a canary's stable group
	10591, // the same while the canary group beside it is healthy
	8215,  // an aborted canary whose Service a hand edit widened kept all traffic on the aborted pods: they were scaled down (the hash label no longer named them)
	8151,  // a restart evicted a pod every pass within one tick: the ReplicaSet's status still counted the evicted pods available
	7495,  // blue-green ALB, abort while the active Service was on the new pods: the preview's move back to stable recorded the abort verified while the new version still had all traffic (checks on the way now use interim kinds)
	7492,  // the simulation: a hand edit of the action that a stalled load balancer controller applied late was blamed on the controller
	7516,  // the simulation: a scale-down of pods a verified narrowing had moved the Service off was counted as taken from its group
	7255,  // after an undo to stable, a hand-edited action giving the canary nothing was corrected back to the canary weight last verified, onto broken pods the guard refused to raise: for ever
	10563, // ping-pong: an abort between the roles' swap at promotion and the stable record left the stable Service on a version status did not call stable; the next update moved all traffic onto it (the swap and the record are now one write)
	10214, // an abort with the stable Service hand-pointed at the canary's pods, which fail the stable group's check: the abort waited for ever to move the canary's weight onto them (the stable Service is now widened with the stable pods first)
	10099, // the simulation: an abort whose check timed out while the stable version was broken looks again a timeout later; the run called it settled before that
	30035, // a hand-edited action corrected after a new template: the goal's weight was given to the old canary pods the canary Service still selected, which the guard refused for ever (the goal counts only for the pods it names)
	40081, // a restart due at spec.replicas 0 waited for ever for healthy targets no pod could give (nothing is asked for: it is done)
	4389,  // a state verified before a write the load balancer controller then lost kept the traffic bound above it: the guard refused the canary Service's move for ever
}

// simList reads a comma-separated knob: the flag, else the environment
// variable, else the default.
func simList(flagValue, env, def string) map[string]bool {
	v := flagValue
	if v == "" {
		v = os.Getenv(env)
	}
	if v == "" {
		v = def
	}
	out := map[string]bool{}
	for _, k := range strings.Split(v, ",") {
		if k = strings.TrimSpace(k); k != "" && k != "none" {
			out[k] = true
		}
	}
	return out
}

// knobArgs are the flags that replay a seed with the same knobs.
func knobArgs(exclude, ignore map[string]bool) string {
	arg := func(name, def string, m map[string]bool) string {
		v := strings.Join(slices.Sorted(maps.Keys(m)), ",")
		switch {
		case v == "" && def != "":
			return " -sim." + name + "=none"
		case v != "" && v != def:
			return " -sim." + name + "=" + v
		}
		return ""
	}
	return arg("exclude", simDefaultExclude, exclude) + arg("ignore", simDefaultIgnore, ignore)
}

// simViolation is one broken invariant.
type simViolation struct {
	tick      int
	invariant string
	// what is the violation without its numbers (pass, IPs, hashes), to
	// tell distinct violations apart across seeds.
	what   string
	detail string
}

var simNumbers = regexp.MustCompile(`[0-9a-f]{6,}|[0-9]+`)

func (v simViolation) key() string {
	return v.invariant + ": " + simNumbers.ReplaceAllString(v.what, "#")
}

// simWorld is one seed's run: the simulator, the generator's randomness,
// the rollouts' schedule and the invariants' memory of the last tick.
type simWorld struct {
	// firstHistory is the history tail when the first violation was found.
	firstHistory string
	t            *testing.T
	s            *sim
	rng          *rand.Rand
	seed         uint64
	exclude      map[string]bool
	scenario     string
	// strategy: canary, bluegreen-alb or bluegreen-selector.
	strategy string
	// cfg of the canary scenario.
	headerRoute, canaryScale, pingPong, twoIngresses bool
	version                                          int
	second                                           bool // the second rollout exists
	// due: when each rollout is reconciled next; perTick counts its
	// reconciles since the last tick, quiet whether it wrote nothing.
	due        map[string]time.Time
	perTick    map[string]int
	looping    map[string]bool
	reconciles int
	nextTick   time.Time
	// faults that end with the chaos phase.
	awsUntil  int
	awsKind   elbv2.Kind
	awsRate   float64
	events    []string
	phase     string
	calmSince int
	// excuseUntil: until this tick, traffic newly sent to a group without
	// a healthy target is the world's doing (a version broke after its
	// health was checked, a hand edit).
	excuseUntil int
	// handPointed: Service → the hash a hand edit pointed its selector at
	// (until the selector changes again).
	handPointed map[string]string
	// stableHealthyAt: Service → the tick the stable version was first
	// seen passing its group's health check again (0: failing).
	stableHealthyAt map[string]int
	// abortAt and templateAt: the ticks the rollout was last aborted and
	// its template last changed; maxLag the most ticks the load balancer
	// has lagged. Within maxLag of them, a write made before may still
	// reach the ALB: a version starting to serve then is that race, not
	// a decision taken after.
	abortAt, templateAt, maxLag int
	// memory of the last tick for the invariants.
	prev       map[simGroupKey]simGroupState
	prevServed map[string]bool
	prevAbort  bool
	prevVer    string
	prevTmpl   string
	prevRS     map[string]int32  // ReplicaSet hash → spec.replicas
	prevIPHash map[string]string // pod IP → its ReplicaSet's hash
	violations []simViolation
	reported   map[string]bool
}

// simGroupKey is one target group in one rule of one listener of one ALB.
type simGroupKey struct {
	ingress string
	port    int32
	rule    string
	arn     string
}

type simGroupState struct {
	weight, total int32
	healthy       map[string]bool // IPs of its healthy targets
	registered    map[string]bool // IPs of all its targets
}

func newSimWorld(t *testing.T, seed uint64, exclude map[string]bool) *simWorld {
	s := newSim(t)
	s.lenient = true
	w := &simWorld{t: t, s: s, seed: seed, exclude: exclude, rng: rand.New(rand.NewPCG(seed, seed*0x9e3779b97f4a7c15+1)),
		due: map[string]time.Time{}, perTick: map[string]int{}, looping: map[string]bool{}, reported: map[string]bool{}, handPointed: map[string]string{}, stableHealthyAt: map[string]int{}}
	if *simAsyncFlag {
		// A changed result brings its rollout back, as the channel source does.
		s.goAsync(func(nn types.NamespacedName) {
			if d, ok := w.due[nn.Name]; ok && d.After(s.now.Add(simWatchDelay)) {
				w.due[nn.Name] = s.now.Add(simWatchDelay)
			}
		})
	}
	w.setup()
	return w
}

// ---------------------------------------------------------------------------
// The scenario: rollout and world shape from the seed.

func (w *simWorld) setup() {
	s, r := w.s, w.rng
	s.lbLag, s.healthLag = r.IntN(3), r.IntN(3)
	if r.IntN(3) == 0 {
		s.listenerLag[443] = 1 + r.IntN(2)
	}
	replicas := int32(1 + r.IntN(5))
	switch x := r.IntN(10); {
	case x < 6:
		w.strategy = "canary"
		w.setupCanary(replicas)
	case x < 8:
		w.strategy = "bluegreen-alb"
		w.setupBlueGreen(replicas, true)
	default:
		w.strategy = "bluegreen-selector"
		w.setupBlueGreen(replicas, false)
	}
	s.atomic = false // the simulation judges versions with its own invariant
	w.scenario = fmt.Sprintf("%s, %d replicas, lbLag %d, healthLag %d, :443 lag +%d", w.scenario, replicas, s.lbLag, s.healthLag, s.listenerLag[443])
	// Pods that take a while to turn ready, one after another, in one
	// scenario of three (an RNG of its own, so the other draws of a seed
	// stay as they were).
	if pr := rand.New(rand.NewPCG(w.seed, 0x9eadd1)); pr.IntN(3) == 0 {
		s.podReadyLag, s.podReadyStagger = 1+pr.IntN(3), pr.IntN(3)
		w.scenario += fmt.Sprintf(", pods ready after %d passes (+%d each)", s.podReadyLag, s.podReadyStagger)
	}
	w.due["web"] = s.now
	w.nextTick = s.now
}

func (w *simWorld) setupCanary(replicas int32) {
	s, r := w.s, w.rng
	var steps []v1alpha1.CanaryStep
	routeOn := false
	for range 1 + r.IntN(5) {
		switch x := r.IntN(20); {
		case x < 8:
			steps = append(steps, weightStep(int32(5*(1+r.IntN(19)))))
		case x < 11:
			steps = append(steps, pauseStep(""))
		case x < 13:
			steps = append(steps, pauseStep(fmt.Sprintf("%ds", 1+r.IntN(15))))
		case x < 15:
			sc := &v1alpha1.SetCanaryScale{}
			switch r.IntN(3) {
			case 0:
				sc.Weight = ptr.To(int32(10 * (1 + r.IntN(10))))
			case 1:
				sc.Replicas = ptr.To(int32(r.IntN(3)))
			default:
				sc.MatchTrafficWeight = true
			}
			steps = append(steps, v1alpha1.CanaryStep{SetCanaryScale: sc})
			w.canaryScale = true
		default:
			h := &v1alpha1.SetHeaderRoute{Name: "hdr"}
			if !routeOn || r.IntN(2) == 0 {
				h.Match = []v1alpha1.HeaderRoutingMatch{{HeaderName: "X-Canary", HeaderValue: &v1alpha1.StringMatch{Exact: "yes"}}}
			}
			routeOn = len(h.Match) > 0
			steps = append(steps, v1alpha1.CanaryStep{SetHeaderRoute: h})
			w.headerRoute = true
		}
	}
	s.canaryRollout(replicas, steps...)
	w.pingPong = r.IntN(5) == 0
	w.twoIngresses = r.IntN(3) == 0
	dynamic := r.IntN(4) == 0
	if w.pingPong {
		for _, name := range []string{"web-ping", "web-pong"} {
			s.must(s.c.Create(context.Background(), simService(s.ns, name, "web")))
		}
	}
	if w.twoIngresses {
		s.ingress("web-b", networkingv1.IngressServiceBackend{Name: "web-root", Port: networkingv1.ServiceBackendPort{Name: albannotation.UseAnnotation}})
	}
	// A tester's way to the canary: an Ingress whose path names the canary
	// Service itself. (Drawn from its own generator so that the scenarios
	// of the seeds found before it stay what they were.)
	direct := !w.pingPong && rand.New(rand.NewPCG(w.seed, 0xd12ec7)).IntN(5) == 0
	if direct {
		s.ingress("web-direct", networkingv1.IngressServiceBackend{Name: "web-canary", Port: networkingv1.ServiceBackendPort{Number: 80}})
	}
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.DynamicStableScale = dynamic
		if dynamic {
			cs.ScaleDownDelaySeconds, cs.AbortScaleDownDelaySeconds = nil, nil
		}
		if w.headerRoute {
			cs.TrafficRouting.ManagedRoutes = []v1alpha1.ManagedRoute{{Name: "hdr"}}
		}
		if w.pingPong {
			cs.CanaryService, cs.StableService = "", ""
			cs.PingPong = &v1alpha1.PingPongSpec{PingService: "web-ping", PongService: "web-pong"}
		}
		if w.twoIngresses {
			cs.TrafficRouting.ALB.Ingress = ""
			cs.TrafficRouting.ALB.Ingresses = []string{"web", "web-b"}
		}
	})
	maxWeight := int32(100)
	if r.IntN(8) == 0 {
		// Weights out of another total (validation allows up to 999).
		maxWeight = 200
		s.update(func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.TrafficRouting.MaxTrafficWeight = ptr.To(maxWeight)
		})
	}
	w.scenario = fmt.Sprintf("canary steps [%s], dynamicStableScale %t, pingPong %t, ingresses %d, maxTrafficWeight %d, direct path to the canary %t",
		simSteps(steps), dynamic, w.pingPong, 1+btoi(w.twoIngresses), maxWeight, direct)
}

func (w *simWorld) setupBlueGreen(replicas int32, alb bool) {
	s, r := w.s, w.rng
	auto := r.IntN(2) == 0
	previewIngress := !alb && r.IntN(2) == 0
	var prc *int32
	if r.IntN(3) == 0 {
		prc = ptr.To(int32(1))
	}
	delay := int32(r.IntN(4) * 10)
	autoSeconds := int32(0)
	if auto && r.IntN(3) == 0 {
		autoSeconds = int32(5 + r.IntN(20))
	}
	s.blueGreenRollout(replicas, bgOptions{alb: alb, previewIngress: previewIngress, mutate: func(bg *v1alpha1.BlueGreenStrategy) {
		bg.AutoPromotionEnabled = ptr.To(auto)
		bg.PreviewReplicaCount = prc
		bg.ScaleDownDelaySeconds = ptr.To(delay)
		bg.AutoPromotionSeconds = autoSeconds
	}})
	w.scenario = fmt.Sprintf("blue-green alb %t, autoPromotion %t (%ds), previewIngress %t, previewReplicaCount %v, scaleDownDelay %ds",
		alb, auto, autoSeconds, previewIngress, ptr.Deref(prc, 0), delay)
}

func simService(ns, name, app string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": app},
		Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}},
	}}
}

func simSteps(steps []v1alpha1.CanaryStep) string {
	var out []string
	for _, st := range steps {
		switch {
		case st.SetWeight != nil:
			out = append(out, fmt.Sprintf("setWeight %d", *st.SetWeight))
		case st.Pause != nil && st.Pause.Duration != nil:
			out = append(out, "pause "+st.Pause.Duration.String())
		case st.Pause != nil:
			out = append(out, "pause")
		case st.SetCanaryScale != nil:
			out = append(out, fmt.Sprintf("setCanaryScale %v/%v/%t", ptr.Deref(st.SetCanaryScale.Weight, -1), ptr.Deref(st.SetCanaryScale.Replicas, -1), st.SetCanaryScale.MatchTrafficWeight))
		case st.SetHeaderRoute != nil:
			out = append(out, fmt.Sprintf("setHeaderRoute on=%t", len(st.SetHeaderRoute.Match) > 0))
		}
	}
	return strings.Join(out, ", ")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ---------------------------------------------------------------------------
// The run: warm-up (first deploy), chaos (events), calm (settle).

func (w *simWorld) run() {
	s := w.s
	w.phase = "warm"
	if !w.runUntil(simWarmTicks, func() bool { return isHealthy(s.rollout()) }) {
		w.violate("settles", "the first deploy never became healthy", fmt.Sprintf("first deploy: %s", w.rolloutText("web")))
		return
	}
	w.phase = "chaos"
	w.version = 1
	end := s.passes + simChaosTicks
	for s.passes < end {
		if w.rng.Float64() < 0.12 {
			if ev := w.generate(); ev != nil {
				w.events = append(w.events, fmt.Sprintf("tick %d t=%s: %s", s.passes, s.now.Format("15:04:05.000"), ev))
				ev.apply(w)
				for name := range w.due {
					w.due[name] = s.now
				}
			}
		}
		w.tick()
	}
	// The faults stop; bad versions stay bad (the rollout must then end
	// aborted, a deliberate state).
	w.phase = "calm"
	s.verifyFault, s.failWriteAt, s.lbStalledUntil = nil, 0, 0
	s.lbLag, s.listenerLag = min(s.lbLag, 1), map[int32]int{}
	w.calmSince = s.passes
	quietSince, writes := s.passes, s.writes
	settled := w.runUntil(simCalmTicks, func() bool {
		if s.writes != writes || len(s.pendingLB) > 0 {
			quietSince, writes = s.passes, s.writes
		}
		return s.passes-quietSince >= 20 && w.allSettled()
	})
	if !settled {
		var who []string
		for _, name := range slices.Sorted(maps.Keys(w.due)) {
			who = append(who, w.rolloutText(name))
		}
		w.violate("settles", "a rollout did not settle after the faults stopped", fmt.Sprintf("not settled %d ticks after the faults stopped: %s", simCalmTicks, strings.Join(who, "; ")))
		return
	}
	w.checkSettled()
}

// runUntil ticks until cond holds (true) or n ticks passed (false). A
// violation does not stop the run: the next ones are recorded too (once
// per kind), the first is the one to look at.
func (w *simWorld) runUntil(n int, cond func() bool) bool {
	for range n {
		w.tick()
		if cond() {
			return true
		}
	}
	return false
}

// tick runs the controller for every rollout due before the next tick of
// the world, then the world (cluster, load balancer) and the invariants.
func (w *simWorld) tick() {
	s := w.s
	tickAt := w.nextTick.Add(simTick)
	for {
		name, at := "", tickAt
		for _, n := range slices.Sorted(maps.Keys(w.due)) {
			if w.due[n].Before(at) {
				name, at = n, w.due[n]
			}
		}
		if name == "" {
			break
		}
		if at.After(s.now) {
			s.now = at
		}
		w.perTick[name]++
		limit := simMaxPerTick
		if w.looping[name] {
			// The loop is recorded; a few passes per tick are enough to
			// go on (and cheaper).
			limit = 4
		}
		if w.perTick[name] > limit {
			// Reconcile loop (checked with the invariants): leave the rest
			// of this tick to the world.
			w.due[name] = tickAt
			continue
		}
		w.reconciles++
		before := s.watchedWrites
		res, err := s.reconcile(name)
		if err != nil {
			s.history = append(s.history, fmt.Sprintf("tick %d t=%s: reconcile %s: %v", s.passes, s.now.Format("15:04:05.000"), name, err))
		}
		switch {
		case w.looping[name] && res.RequeueAfter > 0:
			// A loop was recorded: go on as if the rollout's own writes
			// did not bring it back, to find what else breaks.
			w.due[name] = s.now.Add(res.RequeueAfter)
		case s.watchedWrites != before || err != nil:
			// A write to a watched object (or an error: controller-runtime's
			// rate-limited retry, at least this soon) brings it back
			// through the watch. Its own writes to the Rollout do not: the
			// watch drops them (ownWrites).
			w.due[name] = s.now.Add(simWatchDelay)
		case res.RequeueAfter > 0:
			w.due[name] = s.now.Add(res.RequeueAfter)
		default:
			w.due[name] = s.now.Add(simResync)
		}
	}
	s.now = tickAt
	w.nextTick = tickAt
	sig := w.clusterSignature()
	s.passes++
	s.cluster()
	if s.async != nil {
		s.async.tick(s.now)
	}
	if w.clusterSignature() != sig {
		for name := range w.due {
			if w.due[name].After(s.now.Add(simWatchDelay)) {
				w.due[name] = s.now.Add(simWatchDelay)
			}
		}
	}
	w.simInvariants()
	clear(w.perTick)
	w.expireFaults()
}

// clusterSignature sums up what the rollouts watch: ReplicaSets' replicas
// and pods.
func (w *simWorld) clusterSignature() string {
	var b strings.Builder
	for _, rs := range w.s.replicaSets() {
		fmt.Fprintf(&b, "%s=%d/%d;", rs.Name, ptr.Deref(rs.Spec.Replicas, 1), rs.Status.AvailableReplicas)
	}
	for _, p := range w.s.pods() {
		b.WriteString(p.Name + ";")
	}
	return b.String()
}

func (w *simWorld) expireFaults() {
	s := w.s
	if w.awsUntil > 0 && s.passes >= w.awsUntil {
		w.awsUntil, s.verifyFault = 0, nil
	}
}

// ---------------------------------------------------------------------------
// The invariants.

// simInvariants checks, after every tick, the safety rules on the world as
// the model ALB and the cluster have it, independently of the controller's
// reasoning (and of any guard in it).
func (w *simWorld) simInvariants() {
	s := w.s
	ro := s.rollout()
	replicas := ptr.Deref(ro.Spec.Replicas, 1)
	now := map[simGroupKey]simGroupState{}
	pods := map[string]bool{}
	for _, p := range s.pods() {
		pods[p.Status.PodIP] = true
	}
	served, handServed, changed := map[string]bool{}, map[string]bool{}, map[string]bool{}
	stableImg, desired := w.imageOf(ro.Status.StableRS), ro.Spec.Template.Spec.Containers[0].Image
	shrunk, rsNow, ipHash := map[string]bool{}, map[string]int32{}, map[string]string{}
	for _, rs := range s.replicaSets() {
		h := rs.Labels[replicaset.HashLabel]
		rsNow[h] = ptr.Deref(rs.Spec.Replicas, 1)
		if prev, ok := w.prevRS[h]; ok && rsNow[h] < prev {
			shrunk[h] = true
		}
	}
	for _, p := range s.pods() {
		ipHash[p.Status.PodIP] = p.Labels[replicaset.HashLabel]
	}
	w.maxLag = max(w.maxLag, s.lbLag+s.listenerLag[443]+1)
	if ro.Status.Abort && !w.prevAbort {
		w.abortAt = s.passes
	}
	if tmpl := ro.Spec.Template.Spec.Containers[0].Image; tmpl != w.prevTmpl {
		w.templateAt, w.prevTmpl = s.passes, tmpl
	}
	// Traffic is judged from the first deploy on, while the rollout asks
	// for pods, and not right after a hand edit (the edit's own doing).
	checkTraffic := w.phase != "warm" && replicas > 0 && s.passes > w.excuseUntil
	for _, tr := range s.trafficRules() {
		if !simOwnIngress[tr.ingress] {
			continue // the second rollout's load balancer
		}
		var total int32
		for _, g := range tr.rule.rule.Forward {
			total += g.Weight
		}
		for _, g := range tr.rule.rule.Forward {
			svc := s.tgs[g.ARN].service
			// A rule is known by what it is (kind and backend), not by
			// its priority: a header route added or removed renumbers the
			// rules after it, and a group keeps the traffic it had.
			k := simGroupKey{ingress: tr.ingress, port: tr.port, rule: simRuleKind(tr) + " " + tr.rule.service, arn: g.ARN}
			gs := simGroupState{weight: g.Weight, total: total, healthy: map[string]bool{}, registered: maps.Clone(s.registered[svc])}
			for ip := range s.registered[svc] {
				if s.healthyInGroup(g.ARN, ip) {
					gs.healthy[ip] = true
				}
			}
			now[k] = gs
			if g.Weight == 0 || s.exempt[svc] {
				continue
			}
			if served, isPlain := s.plain[svc]; isPlain && !served {
				// A plain path routes as soon as it exists, before its
				// first healthy target (see checkInvariants).
				s.plain[svc] = len(gs.healthy) > 0
				continue
			}
			p, had := w.prev[k]
			for ip := range gs.healthy {
				if tr.ingress == "web-direct" {
					// A tester's path to the canary is not production: what
					// it serves is judged by invariant 1 only.
					break
				}
				served[s.images[ip]] = true
				if !had || p.weight == 0 || !p.registered[ip] {
					// It serves because of a change (weight, selector),
					// not because it passed a health check in place.
					changed[s.images[ip]] = true
				}
				if h := w.handPointed[svc]; h != "" && h == ipHash[ip] && s.service(svc).Spec.Selector[replicaset.HashLabel] == h && w.stableUnhealthyIn(stableImg, svc) {
					// A hand edit pointed this Service at these pods, and
					// the stable version cannot be healthy in its group (or
					// just became so): the controller cannot have moved it
					// back safely yet.
					handServed[s.images[ip]] = true
				}
			}
			hadTraffic := had && p.weight > 0
			where := fmt.Sprintf("%s, group of %s", tr, svc)

			// 1. No group that receives traffic (weight in an action, a
			// header route or a plain path, on any listener of any ALB)
			// lacks a healthy target: traffic is never newly sent to a
			// group without one, and a group under traffic never loses its
			// last healthy target because pods went away (scaled down,
			// evicted, a selector moved). Targets that fail their health
			// check in place are the version's fault, not the controller's.
			if len(gs.healthy) == 0 && checkTraffic {
				switch {
				case !hadTraffic:
					w.violate("traffic-to-unhealthy", fmt.Sprintf("traffic newly sent to a group without a healthy target (%s)", simRuleKind(tr)),
						fmt.Sprintf("%s gets weight %d of %d and has no healthy target (registered %v)", where, g.Weight, total, s.registered[svc]))
				case hadTraffic && len(p.healthy) > 0 && w.targetsLeft(p.healthy, svc, pods):
					w.violate("traffic-to-unhealthy", fmt.Sprintf("a group under traffic lost its last healthy target to a controller change (%s)", simRuleKind(tr)),
						fmt.Sprintf("%s gets weight %d of %d; its healthy targets %v went away (registered now %v)", where, g.Weight, total, slices.Sorted(maps.Keys(p.healthy)), s.registered[svc]))
				}
			}

			// 3. Nothing is scaled down while depended on: a group under
			// traffic that loses healthy targets because pods went away
			// keeps at least its share of spec.replicas (the share the ALB
			// gave it before the change). setCanaryScale scales the canary
			// on purpose, whatever its share.
			if checkTraffic && hadTraffic && !w.canaryScale && len(gs.healthy) < len(p.healthy) && w.scaledAway(p.healthy, shrunk, svc) {
				need := max(1, int(int64(p.weight)*int64(replicas)/int64(max(p.total, 1))))
				if tr.ingress == "web-direct" || tr.rule.route {
					// A tester's path to the canary, or a header route: the
					// requests that match it are a share of production no
					// weight tells (Argo sizes the canary by the weight or
					// setCanaryScale, not by the route); it keeps a
					// healthy target, as the write guard's need() has it.
					need = 1
				}
				if len(gs.healthy) < need {
					w.violate("scaled-down-under-traffic", fmt.Sprintf("a group under traffic shrank below its share (%s)", simRuleKind(tr)),
						fmt.Sprintf("%s had weight %d of %d (%d of %d replicas) and is down to %d healthy target(s)", where, p.weight, p.total, need, replicas, len(gs.healthy)))
				}
			}
		}
	}

	// 2. No retired or aborted version serves: a version starts serving
	// (a healthy target in a group with traffic) only if it is the stable
	// version or the one the template asks for, and not the one an abort
	// gave up. A version serving already may go on until it is moved off;
	// one whose targets had the traffic all along and pass their health
	// check again in place is the world's doing.
	for _, img := range slices.Sorted(maps.Keys(served)) {
		if w.prevServed[img] || s.passes <= w.excuseUntil || handServed[img] || !changed[img] {
			// Serving already, a hand edit's doing, or targets that had
			// the traffic all along and passed their health check now.
			continue
		}
		switch {
		case s.passes-w.templateAt <= w.maxLag || (ro.Status.Abort && s.passes-w.abortAt <= w.maxLag):
			// A write from before the change may still be reaching the ALB.
		case img != stableImg && img != desired:
			w.violate("retired-version-serves", "a version that is neither stable nor desired started serving",
				fmt.Sprintf("%s serves; stable %s, desired %s", img, stableImg, desired))
		case ro.Status.Abort && img == desired && img != stableImg:
			w.violate("retired-version-serves", "the aborted version started serving",
				fmt.Sprintf("%s serves after the abort; stable %s", img, stableImg))
		}
	}

	// 4. An abort always ends with all traffic verified on stable: when
	// the controller records the abort verified, every rule of every
	// listener and ALB sends traffic only to healthy targets of the stable
	// version (header routes removed or on stable too).
	if v := ro.Status.Verification; ro.Status.Abort && v != nil && v.Kind == v1alpha1.VerificationAbort && v.Phase == v1alpha1.VerificationVerified {
		if ver := v.Fingerprint + "@" + v.StartedAt.String(); ver != w.prevVer {
			w.prevVer = ver
			for img := range served {
				if img != stableImg {
					w.violate("abort-not-on-stable", "an abort recorded verified while a version other than stable serves",
						fmt.Sprintf("abort verified, yet %s serves (stable %s)", img, stableImg))
				}
			}
		}
	}

	// 5. No reconcile loop beyond its schedule: a rollout is reconciled at
	// most simMaxPerTick times per tick (its requeue delays and the
	// watch on its own writes), whatever it writes.
	for _, name := range slices.Sorted(maps.Keys(w.perTick)) {
		if n := w.perTick[name]; n > simMaxPerTick && !w.looping[name] {
			w.looping[name] = true
			w.violate("reconcile-loop", "a rollout is reconciled in a loop",
				fmt.Sprintf("rollout %s reconciled more than %d times within %s (each pass writes and re-triggers itself, or requeues at once)", name, simMaxPerTick, simTick))
		}
	}

	// The engine rejects no input of the controller (recorded by the
	// simulated verifier).
	for _, v := range s.violations {
		if strings.Contains(v, "engine rejects") {
			w.violate("engine-rejects-input", "the controller built an input the engine rejects", v)
		}
	}
	s.violations = nil
	w.prev, w.prevServed, w.prevAbort, w.prevRS, w.prevIPHash = now, served, ro.Status.Abort, rsNow, ipHash
	s.history = append(s.history, fmt.Sprintf("tick %d: served %v, traffic %s", s.passes, slices.Sorted(maps.Keys(served)), w.trafficText()))
	if len(s.history) > 400 {
		s.history = s.history[len(s.history)-300:]
	}
}

// simOwnIngress are the Ingresses of the rollout web (the second rollout's
// web2 is not judged: its first deploy has no traffic to protect).
var simOwnIngress = map[string]bool{"web": true, "web-b": true, "web-preview": true, "web-direct": true}

// scaledAway reports whether some of the healthy targets were pods of a
// ReplicaSet whose replicas went down this tick (not an eviction by a
// restart, which takes one pod at a time on purpose).
func (w *simWorld) scaledAway(healthy map[string]bool, shrunk map[string]bool, svc string) bool {
	sel := w.s.service(svc).Spec.Selector[replicaset.HashLabel]
	for ip := range healthy {
		if h := w.prevIPHash[ip]; shrunk[h] {
			if sel != "" && sel != h {
				// The Service moved off those pods (a narrowing, checked
				// on the pods it kept) before they went: their scale-down
				// took nothing from the group.
				continue
			}
			if _, alive := w.s.images[ip]; alive && w.podAlive(ip) {
				continue
			}
			return true
		}
	}
	return false
}

func (w *simWorld) podAlive(ip string) bool {
	for _, p := range w.s.pods() {
		if p.Status.PodIP == ip {
			return true
		}
	}
	return false
}

// targetsLeft reports whether some of the healthy targets went away
// (pod gone, or no longer selected by the group's service), rather than
// failing their health check in place.
func (w *simWorld) targetsLeft(healthy map[string]bool, svc string, pods map[string]bool) bool {
	for ip := range healthy {
		if !pods[ip] || !w.s.registered[svc][ip] {
			return true
		}
	}
	return false
}

// 6. Every rollout eventually settles when the world lets it: after the
// faults stop, within simCalmTicks, every rollout is Healthy (stable is
// the desired version), Paused or Degraded, and nothing is written for 20
// ticks. checkSettled then checks what the settled state serves.
func (w *simWorld) allSettled() bool {
	for _, name := range slices.Sorted(maps.Keys(w.due)) {
		var ro v1alpha1.Rollout
		w.s.must(w.s.c.Get(context.Background(), client.ObjectKey{Namespace: w.s.ns, Name: name}, &ro))
		switch ro.Status.Phase {
		case v1alpha1.RolloutPhaseHealthy:
			if !isHealthy(&ro) && name == "web" {
				return false
			}
		case v1alpha1.RolloutPhasePaused, v1alpha1.RolloutPhaseDegraded:
			if name == "web" && w.retryDue(&ro) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// retryDue: the rollout's last verification timed out while the stable
// version failed its health checks, which it passes now, and the controller
// looks again once a timeout has passed since (retryAfterTimeout): until
// then it is quiet, not settled.
func (w *simWorld) retryDue(ro *v1alpha1.Rollout) bool {
	v := ro.Status.Verification
	if v == nil || v.Phase != v1alpha1.VerificationTimedOut || v.FinishedAt == nil {
		return false
	}
	timeout := time.Duration(max(v.TimeoutSeconds, 30)) * time.Second
	return w.versionHealthy(w.imageOf(ro.Status.StableRS)) && w.s.now.Before(v.FinishedAt.Add(timeout+time.Second))
}

// checkSettled: a settled rollout serves what its state says: aborted,
// only the stable version; healthy, only the desired one.
func (w *simWorld) checkSettled() {
	ro := w.s.rollout()
	stableImg, desired := w.imageOf(ro.Status.StableRS), ro.Spec.Template.Spec.Containers[0].Image
	for img := range w.prevServed {
		switch {
		case ro.Status.Abort && img != stableImg && w.versionHealthy(stableImg):
			w.violate("abort-not-on-stable", "settled aborted while a version other than stable serves",
				fmt.Sprintf("settled %s aborted, yet %s serves (stable %s)", ro.Status.Phase, img, stableImg))
		case ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && img != desired:
			w.violate("retired-version-serves", "settled healthy while another version serves",
				fmt.Sprintf("settled Healthy on %s, yet %s serves", desired, img))
		}
	}
}

// stableUnhealthyIn reports whether the stable image fails the health check
// of service's group, or passed it for fewer ticks than a selector move
// back to it takes (registration, health check, load balancer lag).
func (w *simWorld) stableUnhealthyIn(img, service string) bool {
	if !w.versionHealthyIn(img, service) {
		w.stableHealthyAt[service] = 0
		return true
	}
	if w.stableHealthyAt[service] == 0 {
		w.stableHealthyAt[service] = w.s.passes
	}
	return w.s.passes-w.stableHealthyAt[service] <= w.s.healthLag+w.maxLag+3
}

// versionHealthyIn: the world lets an image pass the health check of the
// group of service.
func (w *simWorld) versionHealthyIn(img, service string) bool {
	v := strings.TrimPrefix(img, "demo:")
	return w.s.unhealthyVersion != v && w.s.unhealthyIn[service] != v
}

// versionHealthy: the world lets an image pass the health checks of the
// production group (neither broken everywhere nor in that group).
func (w *simWorld) versionHealthy(img string) bool {
	v := strings.TrimPrefix(img, "demo:")
	return w.s.unhealthyVersion != v && w.s.unhealthyIn[w.stableGroupService()] != v
}

func simRuleKind(tr trafficRule) string {
	switch {
	case tr.rule.plain:
		return "plain path"
	case tr.rule.route:
		return "header route"
	}
	return "action"
}

func (w *simWorld) violate(invariant, what, detail string) {
	v := simViolation{tick: w.s.passes, invariant: invariant, what: what, detail: fmt.Sprintf("[%s] %s", w.phase, detail)}
	if w.reported[v.key()] {
		return
	}
	w.reported[v.key()] = true
	if len(w.violations) == 0 {
		// The ticks that led to the first violation, for the replay.
		w.firstHistory = w.historyTail(30)
	}
	w.violations = append(w.violations, v)
}

func (w *simWorld) violationText() string {
	var out []string
	for _, v := range w.violations {
		out = append(out, fmt.Sprintf("tick %d [%s] %s", v.tick, v.invariant, v.detail))
	}
	return strings.Join(out, "\n")
}

// recordedTail drains the controller's recorded events and returns the
// last n: what the controller said it did, or refused, before the end.
func (w *simWorld) recordedTail(n int) string {
	var all []string
	for {
		select {
		case e := <-w.s.rec.Events:
			all = append(all, e)
			continue
		default:
		}
		break
	}
	out := all[max(0, len(all)-n):]
	var rss appsv1.ReplicaSetList
	if err := w.s.c.List(context.Background(), &rss, client.InNamespace(w.s.ns)); err == nil {
		for _, rs := range rss.Items {
			out = append(out, fmt.Sprintf("replicaset %s: %s, %d replicas, annotations %v", rs.Name, rs.Spec.Template.Spec.Containers[0].Image, ptr.Deref(rs.Spec.Replicas, 0), rs.Annotations))
		}
	}
	var ros v1alpha1.RolloutList
	if err := w.s.c.List(context.Background(), &ros, client.InNamespace(w.s.ns)); err == nil {
		for _, ro := range ros.Items {
			out = append(out, fmt.Sprintf("rollout %s: status %+v", ro.Name, ro.Status))
			if v := ro.Status.Verification; v != nil {
				out = append(out, fmt.Sprintf("rollout %s: verification %+v", ro.Name, *v))
			}
			if b := ro.Status.TrafficBound; b != nil {
				out = append(out, fmt.Sprintf("rollout %s: traffic bound %+v", ro.Name, *b))
			}
		}
	}
	return strings.Join(out, "\n")
}

func (w *simWorld) historyTail(n int) string {
	h := w.s.history
	if len(h) > 2*n {
		h = h[len(h)-2*n:]
	}
	return strings.Join(h, "\n")
}

// imageOf is the image of the ReplicaSet with a pod-template hash.
func (w *simWorld) imageOf(hash string) string {
	for _, rs := range w.s.replicaSets() {
		if rs.Labels[replicaset.HashLabel] == hash && hash != "" {
			return rs.Spec.Template.Spec.Containers[0].Image
		}
	}
	return ""
}

func (w *simWorld) rolloutText(name string) string {
	var ro v1alpha1.Rollout
	w.s.must(w.s.c.Get(context.Background(), client.ObjectKey{Namespace: w.s.ns, Name: name}, &ro))
	var svcs []string
	for _, sn := range rolloutServices(&ro) {
		var svc corev1.Service
		if w.s.c.Get(context.Background(), client.ObjectKey{Namespace: w.s.ns, Name: sn}, &svc) == nil {
			svcs = append(svcs, sn+"="+svc.Spec.Selector[replicaset.HashLabel])
		}
	}
	text := fmt.Sprintf("%s phase %s %q step %v stable %s current %s abort %t services %v", name, ro.Status.Phase, ro.Status.Message,
		ptr.Deref(ro.Status.CurrentStepIndex, -1), ro.Status.StableRS, ro.Status.CurrentPodHash, ro.Status.Abort, svcs)
	if p := ro.Status.Canary.StablePingPong; p != "" {
		text += " stablePingPong " + p
	}
	return text
}

func (w *simWorld) trafficText() string {
	var out []string
	for _, tr := range w.s.trafficRules() {
		var fw []string
		for _, g := range tr.rule.rule.Forward {
			svc := w.s.tgs[g.ARN].service
			fw = append(fw, fmt.Sprintf("%s=%d(%dh)", svc, g.Weight, w.s.healthyTargets(g.ARN)))
		}
		out = append(out, fmt.Sprintf("%s:%d/%s[%s]", tr.ingress, tr.port, simRuleKind(tr), strings.Join(fw, ",")))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// ---------------------------------------------------------------------------
// The events: one type per kind, and the generator.

// simEvent is one thing that happens to the world or the rollout.
type simEvent interface {
	apply(w *simWorld)
	String() string
}

// simEventKind makes an event of one kind, or nil when it does not apply now.
type simEventKind struct {
	name   string
	weight int
	make   func(w *simWorld) simEvent
}

var simEventKinds = []simEventKind{
	{"template", 10, func(w *simWorld) simEvent {
		e := evTemplate{version: w.version + 1}
		switch x := w.rng.IntN(10); {
		case x < 2:
			e.bad = "everywhere"
		case x < 4:
			e.bad = w.stableGroupService()
		}
		return e
	}},
	{"undo", 3, func(w *simWorld) simEvent { return evUndo{} }},
	{"abort", 5, func(w *simWorld) simEvent { return evAbort{} }},
	{"retry", 3, func(w *simWorld) simEvent { return evRetry{} }},
	{"promote", 6, func(w *simWorld) simEvent { return evPromote{} }},
	{"promote-full", 3, func(w *simWorld) simEvent { return evPromoteFull{} }},
	{"pause", 3, func(w *simWorld) simEvent { return evPause{} }},
	{"restart", 2, func(w *simWorld) simEvent { return evRestart{} }},
	{"replicas", 3, func(w *simWorld) simEvent {
		n := int32(1 + w.rng.IntN(6))
		if w.rng.IntN(8) == 0 {
			n = 0
		}
		return evReplicas{n: n}
	}},
	{"break", 3, func(w *simWorld) simEvent {
		ro := w.s.rollout()
		imgs := []string{w.imageOf(ro.Status.StableRS), ro.Spec.Template.Spec.Containers[0].Image}
		img := imgs[w.rng.IntN(2)]
		svc := ""
		if w.rng.IntN(2) == 0 {
			svc = w.stableGroupService()
		}
		return evBreak{version: strings.TrimPrefix(img, "demo:"), service: svc}
	}},
	{"heal", 2, func(w *simWorld) simEvent { return evHeal{} }},
	{"lb-lag", 3, func(w *simWorld) simEvent { return evLBLag{lag: w.rng.IntN(5), listener: w.rng.IntN(3)} }},
	{"lb-lose", 2, func(w *simWorld) simEvent { return evLBLose{ticks: 1 + w.rng.IntN(10)} }},
	{"aws", 4, func(w *simWorld) simEvent {
		kinds := []elbv2.Kind{elbv2.KindThrottled, elbv2.KindThrottled, elbv2.KindAccessDenied, elbv2.KindNetwork}
		return evAWS{kind: kinds[w.rng.IntN(len(kinds))], ticks: 1 + w.rng.IntN(40), rate: []float64{0.3, 0.7, 1}[w.rng.IntN(3)]}
	}},
	{"crash", 5, func(w *simWorld) simEvent { return evCrash{k: 1 + w.rng.IntN(6)} }},
	{"edit-action", 2, func(w *simWorld) simEvent {
		if w.strategy == "bluegreen-selector" {
			return nil
		}
		return evEditAction{first: int32(w.rng.IntN(101))}
	}},
	{"edit-selector", 2, func(w *simWorld) simEvent {
		svcs := w.managedServices()
		return evEditSelector{service: svcs[w.rng.IntN(len(svcs))], widen: w.rng.IntN(2) == 0}
	}},
	{"second-rollout", 1, func(w *simWorld) simEvent {
		if w.second {
			return nil
		}
		svcs := w.managedServices()
		return evSecondRollout{service: svcs[w.rng.IntN(len(svcs))]}
	}},
}

// generate picks an event by weight among every kind; an excluded kind
// yields nothing. The draws are the same whatever is excluded, so that
// leaving a kind out of a seed replays the rest of it as closely as the
// world allows.
func (w *simWorld) generate() simEvent {
	total := 0
	for _, k := range simEventKinds {
		total += k.weight
	}
	x := w.rng.IntN(total)
	for _, k := range simEventKinds {
		if x < k.weight {
			ev := k.make(w)
			if w.exclude[k.name] {
				return nil
			}
			return ev
		}
		x -= k.weight
	}
	return nil
}

// managedServices are the Services of the rollout's strategy.
func (w *simWorld) managedServices() []string {
	switch {
	case w.strategy != "canary":
		return []string{"web-active", "web-preview"}
	case w.pingPong:
		return []string{"web-ping", "web-pong"}
	}
	return []string{"web-canary", "web-stable"}
}

// stableGroupService is the Service whose group serves production.
func (w *simWorld) stableGroupService() string {
	if w.strategy != "canary" {
		return "web-active"
	}
	if w.pingPong {
		if w.s.rollout().Status.Canary.StablePingPong == "ping" {
			return "web-ping"
		}
		return "web-pong"
	}
	return "web-stable"
}

// evTemplate updates the template to a new version, which may fail every
// health check or only one group's (another health check on that Service).
type evTemplate struct {
	version int
	bad     string // "", "everywhere" or a Service
}

func (e evTemplate) apply(w *simWorld) {
	w.version = e.version
	v := fmt.Sprintf("v%d", e.version)
	switch e.bad {
	case "":
	case "everywhere":
		w.s.unhealthyVersion = v
	default:
		w.s.unhealthyIn[e.bad] = v
	}
	setImage(w.s, v)
}

func (e evTemplate) String() string {
	if e.bad == "" {
		return fmt.Sprintf("template update to v%d", e.version)
	}
	return fmt.Sprintf("template update to v%d, unhealthy %s", e.version, e.bad)
}

// evUndo sets the template back to the stable version's.
type evUndo struct{}

func (evUndo) apply(w *simWorld) {
	if img := w.imageOf(w.s.rollout().Status.StableRS); img != "" {
		w.s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Template.Spec.Containers[0].Image = img })
	}
}
func (evUndo) String() string { return "undo (template back to stable)" }

type evAbort struct{}

func (evAbort) apply(w *simWorld) {
	w.s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
}
func (evAbort) String() string { return "abort" }

type evRetry struct{}

func (evRetry) apply(w *simWorld) {
	w.s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = false })
}
func (evRetry) String() string { return "retry" }

// evPromote is the CLI's promote: clears the pause conditions (and an
// indefinite pause of the spec).
type evPromote struct{}

func (evPromote) apply(w *simWorld) {
	w.s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil; st.ControllerPause = false })
}
func (evPromote) String() string { return "promote" }

type evPromoteFull struct{}

func (evPromoteFull) apply(w *simWorld) {
	w.s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PromoteFull = true })
}
func (evPromoteFull) String() string { return "promote --full" }

// evPause toggles spec.paused.
type evPause struct{}

func (evPause) apply(w *simWorld) {
	w.s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Paused = !ro.Spec.Paused })
}
func (evPause) String() string { return "pause/resume (spec.paused toggled)" }

type evRestart struct{}

func (evRestart) apply(w *simWorld) {
	at := metav1.NewTime(w.s.now.Truncate(time.Second))
	w.s.update(func(ro *v1alpha1.Rollout) { ro.Spec.RestartAt = &at })
}
func (evRestart) String() string { return "restartAt now" }

type evReplicas struct{ n int32 }

func (e evReplicas) apply(w *simWorld) {
	w.s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Replicas = ptr.To(e.n) })
}
func (e evReplicas) String() string { return fmt.Sprintf("replicas → %d", e.n) }

// evBreak: a version that serves starts failing its health checks,
// everywhere or in one group only. The world's fault: traffic newly sent
// to it is excused for a few ticks (the controller checked its health
// before).
type evBreak struct {
	version string
	service string
}

func (e evBreak) apply(w *simWorld) {
	if e.service == "" {
		w.s.unhealthyVersion = e.version
	} else {
		w.s.unhealthyIn[e.service] = e.version
	}
	// A change written (checked) before the break may still land, once the
	// load balancer controller sees Ingress changes again (it may be
	// stalled) and applies them.
	w.excuseUntil = max(w.s.passes, w.s.lbStalledUntil) + w.s.lbLag + 3 + w.s.listenerLag[443]
}

func (e evBreak) String() string {
	if e.service == "" {
		return "version " + e.version + " breaks (fails every health check)"
	}
	return "version " + e.version + " breaks in the group of " + e.service
}

// evHeal: every version passes its health checks again.
type evHeal struct{}

func (evHeal) apply(w *simWorld) { w.s.unhealthyVersion = ""; clear(w.s.unhealthyIn) }
func (evHeal) String() string    { return "every version healthy again" }

// evLBLag changes the load balancer controller's lag, and the second
// listener's extra lag.
type evLBLag struct{ lag, listener int }

func (e evLBLag) apply(w *simWorld) { w.s.lbLag = e.lag; w.s.listenerLag[443] = e.listener }
func (e evLBLag) String() string {
	return fmt.Sprintf("load balancer lag %d ticks, :443 +%d", e.lag, e.listener)
}

// evLBLose: the load balancer controller loses the changes it had not
// applied and sees none for some ticks (until its resync).
type evLBLose struct{ ticks int }

func (e evLBLose) apply(w *simWorld) {
	w.s.pendingLB = nil
	w.s.lbStalledUntil = w.s.passes + e.ticks
}
func (e evLBLose) String() string {
	return fmt.Sprintf("load balancer controller loses its pending changes, blind for %d ticks", e.ticks)
}

// evAWS: ELBv2 reads fail (throttling, access denied, network) for some
// ticks, each read with a probability.
type evAWS struct {
	kind  elbv2.Kind
	ticks int
	rate  float64
}

func (e evAWS) apply(w *simWorld) {
	w.awsUntil, w.awsKind, w.awsRate = w.s.passes+e.ticks, e.kind, e.rate
	rng := rand.New(rand.NewPCG(w.seed, uint64(w.s.passes)))
	w.s.verifyFault = func(_ verify.Input) elbv2.Kind {
		if rng.Float64() < w.awsRate {
			return w.awsKind
		}
		return ""
	}
}
func (e evAWS) String() string {
	return fmt.Sprintf("AWS %s on %.0f%% of reads for %d ticks", e.kind, 100*e.rate, e.ticks)
}

// evCrash: the controller dies just before its k-th next write.
type evCrash struct{ k int }

func (e evCrash) apply(w *simWorld) { w.s.failWriteAt = w.s.writes + e.k }
func (e evCrash) String() string {
	return fmt.Sprintf("controller crashes before its %d. next write", e.k)
}

// evEditAction: someone writes the action annotation by hand, with
// weights that need not add up (first service first, the other service
// 100-first, or 0). Only groups with a healthy target get weight, so the
// edit alone breaks no invariant.
type evEditAction struct{ first int32 }

func (e evEditAction) apply(w *simWorld) {
	s := w.s
	svcs := w.managedServices()
	if w.strategy == "canary" {
		c, st := w.canaryServiceNames()
		svcs = []string{c, st}
	}
	weights := []int32{e.first, 100 - e.first}
	if e.first%3 == 0 {
		weights[1] = 0 // weights that do not add up
	}
	for i, svc := range svcs {
		if !w.healthyEverywhere(svc) {
			weights[i] = 0
		}
	}
	if weights[0]+weights[1] == 0 {
		return
	}
	value, err := albannotation.Forward([]albannotation.Destination{
		{Service: svcs[0], Port: "80", Weight: weights[0]}, {Service: svcs[1], Port: "80", Weight: weights[1]}}, nil)
	s.must(err)
	for _, name := range []string{"web", "web-b"} {
		var ing networkingv1.Ingress
		if err := s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: name}, &ing); err != nil {
			continue
		}
		ing.Annotations[albannotation.ActionKey(s.prefix, "web-root")] = value
		s.must(s.c.Update(context.Background(), &ing))
	}
	// The edit reaches the ALB once the load balancer controller sees
	// Ingress changes again (it may be stalled) and applies them.
	w.excuseUntil = max(s.passes, s.lbStalledUntil) + s.lbLag + 3 + s.listenerLag[443]
}
func (e evEditAction) String() string {
	return fmt.Sprintf("hand edit of the action annotation (first service %d)", e.first)
}

func (w *simWorld) canaryServiceNames() (string, string) {
	if w.pingPong {
		if w.s.rollout().Status.Canary.StablePingPong == "ping" {
			return "web-pong", "web-ping"
		}
		return "web-ping", "web-pong"
	}
	return "web-canary", "web-stable"
}

// healthyEverywhere: every group of the service has a healthy target.
func (w *simWorld) healthyEverywhere(svc string) bool {
	for arn, tg := range w.s.tgs {
		if tg.service == svc && w.s.healthyTargets(arn) == 0 {
			return false
		}
	}
	return true
}

// evEditSelector: someone edits a Service's selector by hand: widens it
// (drops the hash) or points it at another ReplicaSet of the rollout.
type evEditSelector struct {
	service string
	widen   bool
}

func (e evEditSelector) apply(w *simWorld) {
	s := w.s
	svc := s.service(e.service)
	if e.widen {
		delete(svc.Spec.Selector, replicaset.HashLabel)
	} else {
		var hashes []string
		for _, rs := range s.replicaSets() {
			if ptr.Deref(rs.Spec.Replicas, 1) > 0 && rs.Labels[replicaset.HashLabel] != "" {
				hashes = append(hashes, rs.Labels[replicaset.HashLabel])
			}
		}
		if len(hashes) == 0 {
			return
		}
		slices.Sort(hashes)
		svc.Spec.Selector[replicaset.HashLabel] = hashes[w.rng.IntN(len(hashes))]
		w.handPointed[e.service] = svc.Spec.Selector[replicaset.HashLabel]
	}
	s.must(s.c.Update(context.Background(), svc))
	w.excuseUntil = s.passes + s.healthLag + s.lbLag + 3
}
func (e evEditSelector) String() string {
	if e.widen {
		return "hand edit: selector of " + e.service + " widened (hash removed)"
	}
	return "hand edit: selector of " + e.service + " pointed at another ReplicaSet"
}

// evSecondRollout: a second rollout (other pods, its own Ingress) names a
// Service of the first as its canary (or active) Service.
type evSecondRollout struct{ service string }

func (e evSecondRollout) apply(w *simWorld) {
	s := w.s
	ctx := context.Background()
	w.second = true
	for _, name := range []string{"web2-stable", "web2-root"} {
		s.must(s.c.Create(ctx, simService(s.ns, name, "web2")))
	}
	s.ingress("web2", networkingv1.IngressServiceBackend{Name: "web2-root", Port: networkingv1.ServiceBackendPort{Name: albannotation.UseAnnotation}})
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "web2", UID: "rollout-uid-2", Generation: 1},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web2"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web2"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "other:v1",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				CanaryService: e.service, StableService: "web2-stable", Steps: []v1alpha1.CanaryStep{weightStep(50), pauseStep("")},
				TrafficRouting: &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: "web2", ServicePort: 80, RootService: "web2-root"}},
			}},
		},
	}
	s.must(s.c.Create(ctx, ro))
	s.names = append(s.names, "web2")
	w.due["web2"] = s.now
}
func (e evSecondRollout) String() string {
	return "a second rollout web2 names " + e.service + " as its canary service"
}

// simHistoryTicks and simHistoryEvents size a failing seed's report: the
// last SIM_HISTORY ticks (80 unless set) and SIM_HISTORY/2 controller events.
func simHistoryTicks() int {
	if n, err := strconv.Atoi(os.Getenv("SIM_HISTORY")); err == nil && n > 0 {
		return n
	}
	return 80
}

func simHistoryEvents() int { return simHistoryTicks() / 2 }
