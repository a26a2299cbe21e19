package demo

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis"
	"github.com/albrollouts/albrollouts/internal/sim/loadgen"
)

// tracker follows one rollout through a scenario: it watches the Rollout
// (every status write, so no verification outcome is missed), samples the
// traffic generator and the target health at a steady interval, and turns
// what it sees into samples, steps and events.
type tracker struct {
	r      *run
	sc     *ScenarioResult
	name   string
	gen    *loadgen.Generator
	health *healthReader

	changed chan struct{} // a new status was observed (buffered, 1)
	sampled chan struct{} // a sample was taken (buffered, 1)
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu        sync.Mutex
	ro        *v1alpha1.Rollout
	updateGen int64  // generation of the update; 0 before it is sent
	newHash   string // pod-template hash of the new version, once observed
	verified  int
	measured  float64
	known     map[string]bool // verifications from before the update
	stepIndex map[string]int  // verification key -> index in sc.Steps
	pre       *HealthCheck    // the health-before-weight check in progress
	preKey    string
	endAt     time.Duration // when the outcome was reached; 0 before
	samples   int
	recent    []loadgen.Counts // the last windows, for the measured share
	lastPhase string
	aborted   bool
	promoted  bool
	failures  int // failed requests already reported as events
}

func (r *run) newTracker(sc *ScenarioResult, name, url string, health *healthReader) *tracker {
	return &tracker{
		r: r, sc: sc, name: name, health: health,
		gen:       loadgen.Start(loadgen.Options{URL: url + "/", Rate: r.opts.Rate}),
		changed:   make(chan struct{}, 1),
		sampled:   make(chan struct{}, 1),
		known:     map[string]bool{},
		stepIndex: map[string]int{},
	}
}

// start begins watching and sampling; stop ends both and the traffic.
func (t *tracker) start(ctx context.Context) error {
	var ro v1alpha1.Rollout
	if err := t.r.kc.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: t.name}, &ro); err != nil {
		return fmt.Errorf("read rollout %s/%s: %w", Namespace, t.name, err)
	}
	t.observe(&ro)
	ctx, t.cancel = context.WithCancel(ctx)
	t.wg.Add(3)
	go func() { defer t.wg.Done(); t.watch(ctx) }()
	go func() { defer t.wg.Done(); t.watchRuns(ctx) }()
	go func() { defer t.wg.Done(); t.sampleLoop(ctx) }()
	return nil
}

// stop ends watching, sampling and the traffic, and returns the traffic
// generator's report.
func (t *tracker) stop() loadgen.Report {
	if t.cancel != nil {
		t.cancel()
	}
	t.wg.Wait()
	return t.gen.Stop()
}

func (t *tracker) watch(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := t.r.kc.Watch(ctx, &v1alpha1.RolloutList{}, client.InNamespace(Namespace), client.MatchingFields{"metadata.name": t.name})
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		for ev := range w.ResultChan() {
			if ro, ok := ev.Object.(*v1alpha1.Rollout); ok {
				t.observe(ro)
			}
		}
		w.Stop()
	}
}

// watchRuns takes in every change of the namespace's AnalysisRuns as it
// happens, so a run's outcome is told before the abort it causes (the
// samples read them too).
func (t *tracker) watchRuns(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := t.r.kc.Watch(ctx, &v1alpha1.AnalysisRunList{}, client.InNamespace(Namespace))
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		for ev := range w.ResultChan() {
			run, ok := ev.Object.(*v1alpha1.AnalysisRun)
			if !ok {
				continue
			}
			now := t.r.since()
			t.mu.Lock()
			if t.ro != nil && t.newHash != "" && run.Labels[analysis.PodTemplateHashLabel] == t.newHash && metav1.IsControlledBy(run, t.ro) {
				t.observeRuns([]v1alpha1.AnalysisRun{*run}, now)
			}
			t.mu.Unlock()
		}
		w.Stop()
	}
}

func (t *tracker) sampleLoop(ctx context.Context) {
	tick := time.NewTicker(t.r.opts.SampleInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.sample(ctx)
		}
	}
}

// poke wakes a waiter on ch without blocking.
func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func observedGeneration(ro *v1alpha1.Rollout) int64 {
	n, _ := strconv.ParseInt(ro.Status.ObservedGeneration, 10, 64)
	return n
}

func verificationKey(v *v1alpha1.VerificationStatus) string {
	k := v.Fingerprint + "|" + string(v.Kind)
	if v.StartedAt != nil {
		k += "|" + v.StartedAt.UTC().Format(time.RFC3339Nano)
	}
	return k
}

func final(phase string) bool {
	return phase == string(v1alpha1.VerificationVerified) || phase == string(v1alpha1.VerificationTimedOut) || phase == string(v1alpha1.VerificationFailed)
}

// observe takes in one status of the rollout.
func (t *tracker) observe(ro *v1alpha1.Rollout) {
	now := t.r.since()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ro != nil && t.ro.ResourceVersion == ro.ResourceVersion {
		return
	}
	t.ro = ro.DeepCopy()
	defer poke(t.changed)
	st := &ro.Status
	if t.updateGen > 0 && t.newHash == "" && observedGeneration(ro) >= t.updateGen && st.CurrentPodHash != "" {
		t.newHash = st.CurrentPodHash
		t.r.event(t.sc.Name, levelInfo, fmt.Sprintf("the controller picked up %s (pod-template hash %s)", t.sc.To, t.newHash), false)
	}
	if v := st.Verification; v != nil && v.Fingerprint != "" {
		key := verificationKey(v)
		switch {
		case t.newHash == "":
			t.known[key] = true
		case !t.known[key]:
			t.recordVerification(key, ro, v, now)
		}
	}
	t.verified = verifiedShare(ro, t.newHash, t.verified)
	if t.newHash == "" {
		return
	}
	if st.Abort && !t.aborted {
		t.aborted = true
		t.r.event(t.sc.Name, levelWarn, "rollout aborted: "+abortText(st.Message), false)
	}
	if st.StableRS == t.newHash && !t.promoted {
		t.promoted = true
		t.r.event(t.sc.Name, levelOK, fmt.Sprintf("%s is the stable version now", t.sc.To), false)
	}
	if p := string(st.Phase); p != t.lastPhase && observedGeneration(ro) >= t.updateGen {
		t.lastPhase = p
		if p == string(v1alpha1.RolloutPhaseDegraded) && !t.aborted {
			t.r.event(t.sc.Name, levelError, "rollout Degraded: "+st.Message, false)
		}
	}
}

// recordVerification adds or updates the step of one verification. A
// health-before-weight check (TargetHealth) is kept aside and attached to
// the shift that follows it; one that times out or fails is a step itself.
func (t *tracker) recordVerification(key string, ro *v1alpha1.Rollout, v *v1alpha1.VerificationStatus, now time.Duration) {
	phase := string(v.Phase)
	if v.Kind == v1alpha1.VerificationTargetHealth {
		if t.preKey != key {
			t.preKey = key
			t.pre = &HealthCheck{Started: t.startedAt(v, now)}
		}
		h := t.pre
		h.Phase, h.Attempts, h.Targets = phase, v.Attempts, observationText(v.TargetGroups)
		if final(phase) && h.Finished == 0 {
			h.Finished = now
		}
		if phase == string(v1alpha1.VerificationTimedOut) || phase == string(v1alpha1.VerificationFailed) {
			t.pre, t.preKey = nil, ""
			s := Step{Scenario: t.sc.Name, Kind: string(v.Kind), Label: stepLabel(ro, v, t.sc, t.newHash), Desired: verificationShare(ro, v, t.newHash),
				Started: h.Started, Finished: h.Finished, Phase: phase, Reason: v.Reason, Message: v.Message, Attempts: v.Attempts, Targets: h.Targets}
			t.sc.Steps = append(t.sc.Steps, s)
			t.stepIndex[key] = len(t.sc.Steps) - 1
			t.r.event(t.sc.Name, levelError, fmt.Sprintf("%s %s after %s (%s): %s", s.Label, phaseWords(phase),
				s.Took().Round(100*time.Millisecond), plural(int(v.Attempts), "check"), firstLine(v.Message)), true)
		}
		return
	}
	i, ok := t.stepIndex[key]
	if !ok && t.pre == nil && len(t.sc.Steps) > 0 {
		// The same shift verified again (its pods or Services changed, so
		// its fingerprint did): the same step.
		last := &t.sc.Steps[len(t.sc.Steps)-1]
		if last.Kind == string(v.Kind) && last.Label == stepLabel(ro, v, t.sc, t.newHash) && last.Phase == string(v1alpha1.VerificationVerified) {
			i, ok = len(t.sc.Steps)-1, true
			t.stepIndex[key] = i
			if phase == last.Phase {
				last.Attempts += v.Attempts
				return
			}
			last.Finished = 0
		}
	}
	if !ok {
		s := Step{
			Scenario: t.sc.Name,
			Kind:     string(v.Kind),
			Label:    stepLabel(ro, v, t.sc, t.newHash),
			Desired:  verificationShare(ro, v, t.newHash),
			Started:  t.startedAt(v, now),
		}
		if h := t.pre; h != nil {
			if h.Finished == 0 {
				// Passed in the update that wrote the weights: the last
				// observation written is from before it passed.
				h.Finished, h.Phase, h.Targets = now, PhasePassed, ""
			}
			s.HealthFirst = h
			t.pre, t.preKey = nil, ""
			text := fmt.Sprintf("%s: the pods that get more traffic were healthy in their target group after %s", s.Label, (h.Finished - h.Started).Round(100*time.Millisecond))
			if h.Targets != "" {
				text += " (" + h.Targets + ")"
			}
			t.r.event(t.sc.Name, levelInfo, text+"; weights written", false)
		}
		t.sc.Steps = append(t.sc.Steps, s)
		i = len(t.sc.Steps) - 1
		t.stepIndex[key] = i
	}
	s := &t.sc.Steps[i]
	was := s.Phase
	s.Phase, s.Reason, s.Message, s.Attempts = phase, v.Reason, v.Message, v.Attempts
	s.Targets = observationText(v.TargetGroups)
	if final(phase) && !final(was) {
		s.Finished = now
		took := s.Took().Round(100 * time.Millisecond)
		checks := plural(int(v.Attempts), "check")
		switch v.Phase {
		case v1alpha1.VerificationVerified:
			text := fmt.Sprintf("verified %s in %s (%s)", s.Label, took, checks)
			if s.Targets != "" {
				text += ": " + s.Targets
			}
			t.r.event(t.sc.Name, levelOK, text, true)
		default:
			t.r.event(t.sc.Name, levelError, fmt.Sprintf("%s %s after %s (%s): %s", s.Label, phaseWords(phase), took, checks, firstLine(v.Message)), true)
		}
	}
}

// startedAt is when a verification first seen now began: now, unless it
// was decided before we saw it (then the status says how long it took).
func (t *tracker) startedAt(v *v1alpha1.VerificationStatus, now time.Duration) time.Duration {
	if final(string(v.Phase)) && v.StartedAt != nil && v.FinishedAt != nil {
		return max(now-v.FinishedAt.Sub(v.StartedAt.Time), t.sc.Started)
	}
	return now
}

// verificationShare is the new version's share a verification of rollout
// ro expects.
func verificationShare(ro *v1alpha1.Rollout, v *v1alpha1.VerificationStatus, newHash string) int {
	if ro.Spec.Strategy.BlueGreen != nil {
		return blueGreenShare(ro, v, newHash)
	}
	switch v.Kind {
	case v1alpha1.VerificationPromotion:
		return 100
	case v1alpha1.VerificationAbort:
		return 0
	}
	d := v.DesiredWeights
	if d == nil {
		return 0
	}
	total := d.Canary + d.Stable
	for _, a := range d.Additional {
		total += a.Weight
	}
	return percent(d.Canary, total)
}

// stepLabel names a verification for people.
func stepLabel(ro *v1alpha1.Rollout, v *v1alpha1.VerificationStatus, sc *ScenarioResult, newHash string) string {
	share := verificationShare(ro, v, newHash)
	switch v.Kind {
	case v1alpha1.VerificationCanaryWeight:
		if share == 100 {
			return "100% on " + sc.To
		}
		return fmt.Sprintf("setWeight %d", share)
	case v1alpha1.VerificationTargetHealth:
		if c := ro.Spec.Strategy.Canary; c != nil && v.StepIndex != nil {
			return fmt.Sprintf("%s healthy before %d%%", sc.To, percent(stepWeight(c.Steps, int(*v.StepIndex), maxWeight(ro)), maxWeight(ro)))
		}
		return sc.To + " healthy before the switch"
	case v1alpha1.VerificationPromotion:
		return "promotion of " + sc.To
	case v1alpha1.VerificationAbort:
		return "abort: all traffic on " + sc.From
	case v1alpha1.VerificationBlueGreenSwitch:
		bg := &ro.Status.BlueGreen
		switch {
		case share == 0:
			return "preview ready, all traffic on " + sc.From
		case bg.ActiveSelector != newHash:
			return "flip to " + sc.To + " (preview group)"
		case v.DesiredWeights != nil && v.DesiredWeights.Stable == 0:
			return "active service on " + sc.To + " (no traffic yet)"
		}
		return "all traffic on " + sc.To + " (active group)"
	}
	return string(v.Kind)
}

// observationText summarises the target health a verification saw, per
// role: "canary 1/1, stable 2/2 healthy".
func observationText(obs []v1alpha1.TargetGroupObservation) string {
	type count struct{ healthy, expected int32 }
	seen := map[string]bool{}
	var roles []string
	counts := map[string]*count{}
	for _, o := range obs {
		id := o.ARN + "|" + o.Role
		if seen[id] {
			continue // one entry per listener
		}
		seen[id] = true
		c := counts[o.Role]
		if c == nil {
			c = &count{}
			counts[o.Role] = c
			roles = append(roles, o.Role)
		}
		c.healthy += o.HealthyTargets
		c.expected += o.ExpectedTargets
	}
	var parts []string
	for _, r := range roles {
		if c := counts[r]; c.expected > 0 {
			parts = append(parts, fmt.Sprintf("%s %d/%d", r, c.healthy, c.expected))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ") + " healthy"
}

// measureWindow is the span the measured share is computed over.
const measureWindow = time.Second

// sample takes one point of the time series.
func (t *tracker) sample(ctx context.Context) {
	w := t.gen.Window()
	targets, _ := t.health.read(ctx)
	runs := t.readRuns(ctx)
	at := t.r.since()
	t.mu.Lock()
	t.observeRuns(runs, at)
	ro := t.ro
	s := Sample{At: at, Scenario: t.sc.Name, Verified: t.verified, Requests: w.Total, Failed: w.Failed, Versions: w.ByVersion, Targets: targets}
	if ro != nil {
		s.Desired = desiredShare(ro, t.newHash)
		s.Phase = string(ro.Status.Phase)
	}
	// The measured share is over the last measureWindow (a sample's window
	// holds only ~20 answers at 40 requests/s).
	t.recent = append(t.recent, w)
	if n := max(1, int(measureWindow/t.r.opts.SampleInterval)); len(t.recent) > n {
		t.recent = t.recent[len(t.recent)-n:]
	}
	okNew, ok := 0, 0
	for _, c := range t.recent {
		okNew += c.ByVersion[t.sc.To]
		ok += c.Total - c.Failed
	}
	if ok > 0 {
		t.measured = 100 * float64(okNew) / float64(ok)
		s.MeasuredFresh = true
	}
	s.Measured = t.measured
	t.samples++
	view := t.viewLocked(s)
	newFailures := w.Failed > 0
	t.mu.Unlock()
	t.r.addSample(s)
	if newFailures {
		t.reportFailures()
	}
	t.r.ui.show(view)
	poke(t.sampled)
}

// reportFailures turns new failed requests into events (the first few).
func (t *tracker) reportFailures() {
	rep := t.gen.Snapshot()
	t.mu.Lock()
	defer t.mu.Unlock()
	for ; t.failures < len(rep.Failures); t.failures++ {
		if t.failures >= 5 {
			if t.failures == 5 {
				t.r.event(t.sc.Name, levelError, "more requests failed (see the report)", false)
			}
			continue
		}
		t.r.event(t.sc.Name, levelError, "request failed: "+strings.TrimSpace(rep.Failures[t.failures].String()), false)
	}
}

// viewLocked is the live view of the current state.
func (t *tracker) viewLocked(s Sample) liveView {
	v := liveView{
		Scenario: t.sc.Name, Title: t.sc.Title, From: t.sc.From, To: t.sc.To,
		Elapsed: s.At - t.sc.Started, Desired: s.Desired, Verified: s.Verified,
		Measured: s.Measured, MeasuredFresh: s.MeasuredFresh, Window: map[string]int{}, WindowFailed: s.Failed,
		Rate: float64(s.Requests) / t.r.opts.SampleInterval.Seconds(), Targets: s.Targets, Phase: s.Phase,
	}
	for _, c := range t.recent {
		for ver, n := range c.ByVersion {
			v.Window[ver] += n
		}
	}
	rep := t.gen.Snapshot()
	v.Requests, v.Failed = rep.Total, rep.Failed
	if n := len(t.sc.Analysis); n > 0 {
		v.Analysis = analysisText(t.sc.Analysis[n-1])
		v.AnalysisPhase = t.sc.Analysis[n-1].Phase
	}
	if t.ro != nil {
		v.Step, v.StepIndex, v.StepCount = stepText(t.ro, t.newHash)
		if vs := t.ro.Status.Verification; vs != nil && t.newHash != "" && !t.known[verificationKey(vs)] {
			v.Verification = fmt.Sprintf("%s %s", vs.Phase, vs.Reason)
			if vs.Attempts > 0 {
				v.Verification += fmt.Sprintf(" (%s)", plural(int(vs.Attempts), "check"))
			}
			if vs.Phase != v1alpha1.VerificationVerified && vs.Message != "" {
				v.Verification += ": " + firstLine(vs.Message)
			}
		}
	}
	return v
}

// waitFor waits until cond holds for the latest status, ctx ends or timeout
// passes; the error then says what was awaited and where the rollout stood.
func (t *tracker) waitFor(ctx context.Context, timeout time.Duration, what string, cond func(ro *v1alpha1.Rollout, newHash string) bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		t.mu.Lock()
		ro, h := t.ro, t.newHash
		t.mu.Unlock()
		if ro != nil && cond(ro, h) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("rollout %s/%s: not %s within %s (%s)", Namespace, t.name, what, timeout, describeRollout(ro))
		case <-t.changed:
		}
	}
}

// waitSamples waits until n more samples are taken (the end state on the
// chart), or ctx ends.
func (t *tracker) waitSamples(ctx context.Context, n int) {
	for range n {
		select {
		case <-ctx.Done():
			return
		case <-t.sampled:
		}
	}
}

// markEnd records that the scenario's outcome was reached now.
func (t *tracker) markEnd() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.endAt = t.r.since()
}

// setUpdate records the generation the update will have, before it is sent,
// so the status that picks it up is recognised whenever it arrives.
func (t *tracker) setUpdate(gen int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.updateGen = gen
}

func describeRollout(ro *v1alpha1.Rollout) string {
	if ro == nil {
		return "not seen yet"
	}
	st := &ro.Status
	s := fmt.Sprintf("phase %s %q, step %d, stable %s, current %s", st.Phase, st.Message, ptr.Deref(st.CurrentStepIndex, -1), st.StableRS, st.CurrentPodHash)
	if v := st.Verification; v != nil {
		s += fmt.Sprintf(", verification %s %s %s: %s", v.Kind, v.Phase, v.Reason, firstLine(v.Message))
	}
	return s
}

// abortText is the head of an abort message: "RolloutAborted: Rollout
// aborted update to revision 2: VerificationTimedOut" (the cause's details
// were shown with the verification).
func abortText(msg string) string {
	parts := strings.SplitN(msg, ": ", 4)
	return strings.Join(parts[:min(len(parts), 3)], ": ")
}

// phaseWords is a verification phase in words.
func phaseWords(phase string) string {
	switch phase {
	case string(v1alpha1.VerificationTimedOut):
		return "timed out"
	case string(v1alpha1.VerificationFailed):
		return "failed"
	}
	return strings.ToLower(phase)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// readRuns lists the AnalysisRuns of the update being tracked: the runs the
// rollout controls that carry the new version's pod-template hash.
func (t *tracker) readRuns(ctx context.Context) []v1alpha1.AnalysisRun {
	t.mu.Lock()
	ro, h := t.ro, t.newHash
	t.mu.Unlock()
	if ro == nil || h == "" {
		return nil
	}
	var list v1alpha1.AnalysisRunList
	if err := t.r.kc.List(ctx, &list, client.InNamespace(Namespace), client.MatchingLabels{analysis.PodTemplateHashLabel: h}); err != nil {
		return nil
	}
	var out []v1alpha1.AnalysisRun
	for _, run := range list.Items {
		if metav1.IsControlledBy(&run, ro) {
			out = append(out, run)
		}
	}
	slices.SortFunc(out, func(a, b v1alpha1.AnalysisRun) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// observeRuns takes in the runs read at now: the scenario's run views,
// and events when a run starts, a metric takes a measurement, and a run
// completes (marked on the chart).
func (t *tracker) observeRuns(runs []v1alpha1.AnalysisRun, now time.Duration) {
	for i := range runs {
		run := &runs[i]
		j := slices.IndexFunc(t.sc.Analysis, func(v AnalysisRunView) bool { return v.Name == run.Name })
		if j < 0 {
			t.sc.Analysis = append(t.sc.Analysis, AnalysisRunView{Name: run.Name, Kind: run.Labels[analysis.RolloutTypeLabel], Started: now})
			j = len(t.sc.Analysis) - 1
			t.r.event(t.sc.Name, levelInfo, fmt.Sprintf("%s analysis run %s started (%s)", strings.ToLower(t.sc.Analysis[j].Kind), run.Name, templateNames(run)), false)
		}
		v := &t.sc.Analysis[j]
		if v.Finished != 0 {
			continue // completed: nothing changes any more (an older copy from the watch)
		}
		was := v.Phase
		v.Phase, v.Message = string(run.Status.Phase), run.Status.Message
		if v.Phase == "" {
			v.Phase = string(v1alpha1.AnalysisPhasePending)
		}
		for _, mr := range run.Status.MetricResults {
			t.observeMetric(v, mr)
		}
		if run.Status.Phase.Completed() && !v1alpha1.AnalysisPhase(was).Completed() {
			v.Finished = now
			level := levelOK
			if run.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
				level = levelError
			}
			text := fmt.Sprintf("analysis run %s %s after %s", run.Name, run.Status.Phase, (v.Finished - v.Started).Round(100*time.Millisecond))
			if run.Status.Message != "" {
				text += ": " + run.Status.Message
			}
			t.r.event(t.sc.Name, level, text, true)
		}
	}
}

// observeMetric takes in one metric's results of run view v, with an
// event for each new measurement.
func (t *tracker) observeMetric(v *AnalysisRunView, mr v1alpha1.MetricResult) {
	k := slices.IndexFunc(v.Metrics, func(m MetricView) bool { return m.Name == mr.Name })
	if k < 0 {
		v.Metrics = append(v.Metrics, MetricView{Name: mr.Name})
		k = len(v.Metrics) - 1
	}
	m := &v.Metrics[k]
	taken := m.Measurements
	if mr.Count+mr.Error < taken {
		return // an older copy
	}
	*m = metricView(mr)
	if m.Measurements <= taken || m.LastPhase == "" {
		return
	}
	level := levelInfo
	switch v1alpha1.AnalysisPhase(m.LastPhase) {
	case v1alpha1.AnalysisPhaseSuccessful:
		level = levelOK
	case v1alpha1.AnalysisPhaseFailed:
		level = levelError
	case v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive:
		level = levelWarn
	}
	t.r.event(t.sc.Name, level, fmt.Sprintf("analysis %s measurement %d: %s, value %s", m.Name, m.Measurements, m.LastPhase, orDash(m.LastValue)), false)
}

// metricView is one metric's results.
func metricView(mr v1alpha1.MetricResult) MetricView {
	m := MetricView{Name: mr.Name, Phase: string(mr.Phase), Measurements: mr.Count + mr.Error,
		Successful: mr.Successful, Failed: mr.Failed, Inconclusive: mr.Inconclusive, Error: mr.Error, Message: mr.Message}
	// The newest finished measurement.
	for i := len(mr.Measurements) - 1; i >= 0; i-- {
		if ms := mr.Measurements[i]; ms.FinishedAt != nil {
			m.LastPhase, m.LastValue = string(ms.Phase), ms.Value
			if ms.Value == "" && ms.Message != "" {
				m.LastValue = ms.Message
			}
			break
		}
	}
	return m
}

// templateNames names the templates a run was built from (Argo's
// template-name annotations are not kept; its metrics say it).
func templateNames(run *v1alpha1.AnalysisRun) string {
	var names []string
	for _, m := range run.Spec.Metrics {
		names = append(names, m.Name)
	}
	return "metrics " + strings.Join(names, ", ")
}

// analysisText is a run in one line: "demo-…-4-1 Failed · canary-5xx-ratio
// Failed (1 failed) [[0.21]] · canary-p99-latency Successful (1 ok) [[0.001]]".
func analysisText(v AnalysisRunView) string {
	parts := []string{fmt.Sprintf("%s %s", v.Name, v.Phase)}
	for _, m := range v.Metrics {
		parts = append(parts, fmt.Sprintf("%s %s (%s) %s", m.Name, m.Phase, countsText(m), orDash(shortValue(m.LastValue))))
	}
	return strings.Join(parts, " · ")
}

// countsText counts a metric's measurements by outcome: "2 ok, 1 failed".
func countsText(m MetricView) string {
	var parts []string
	for _, c := range []struct {
		n    int32
		word string
	}{{m.Successful, "ok"}, {m.Failed, "failed"}, {m.Inconclusive, "inconclusive"}, {m.Error, "error"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.word))
		}
	}
	if len(parts) == 0 {
		return "no measurement yet"
	}
	return strings.Join(parts, ", ")
}

// longNumber is a decimal number with more than four significant digits.
var longNumber = regexp.MustCompile(`\d*\.\d{4,}(e[-+]?\d+)?`)

// shortValue writes the numbers of a measured value with 3 significant
// digits, for the live view and the summary: "[[0.16666666666666666]]" →
// "[[0.167]]". The report keeps the value as the provider wrote it.
func shortValue(v string) string {
	return longNumber.ReplaceAllStringFunc(v, func(n string) string {
		f, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return n
		}
		return strconv.FormatFloat(f, 'g', 3, 64)
	})
}
