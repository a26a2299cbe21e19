package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// Analysis gates, with Argo Rollouts' semantics: a step analysis completes
// its step when its AnalysisRun succeeds; background analysis runs beside
// the steps from its startingStep; blue-green pre-promotion analysis gates
// the switch and post-promotion analysis the promotion. A run that fails
// (or errors) aborts the rollout; one that is inconclusive pauses it
// (InconclusiveAnalysisRun) until a user promotes: past the step, or, for
// the other kinds, with a new run. The rollout knows its runs by the names
// its status records (status.canary.currentStepAnalysisRunStatus, ...), so a
// restart resumes with the same runs; a run's name (its Argo name, or the
// next <name>.N no run has) is recorded before the run is created, so that
// a crash between the create and the status write cannot lose the run.

// gateOutcome is what an analysis gate lets the rollout do.
type gateOutcome int

const (
	gateWait    gateOutcome = iota // the run is not done, or the rollout paused on it
	gatePass                       // the run succeeded (or a user promoted past it)
	gateAborted                    // the run failed: the rollout was aborted
)

// analysisGate is one gate: what the run is, and where its status is kept.
type analysisGate struct {
	kind analysis.RunKind
	ra   *v1alpha1.RolloutAnalysis
	rec  **v1alpha1.RolloutAnalysisRunStatus
	step int32
}

// decodeAnalysis reads a raw Rollout analysis field (steps[].analysis,
// prePromotionAnalysis, ...); an unreadable one is a spec error.
func decodeAnalysis(raw *runtime.RawExtension, field string) (*v1alpha1.RolloutAnalysisBackground, error) {
	if raw == nil || len(raw.Raw) == 0 {
		return nil, nil
	}
	var a v1alpha1.RolloutAnalysisBackground
	if err := json.Unmarshal(raw.Raw, &a); err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return &a, nil
}

// analysisField is the analysis field at path, as checkAnalysisTemplates
// decoded it in this pass (decoded here when it did not).
func (c *rolloutContext) analysisField(raw *runtime.RawExtension, path string) (*v1alpha1.RolloutAnalysisBackground, error) {
	if a, ok := c.analyses[path]; ok {
		return a, nil
	}
	return decodeAnalysis(raw, path)
}

// runGate drives gate g one step: it creates the run when there is none,
// copies its phase into the status record, and turns the phase into what
// the rollout does.
func (c *rolloutContext) runGate(ctx context.Context, g analysisGate) (gateOutcome, error) {
	run, err := c.currentRun(ctx, g)
	if err != nil || run == nil && *g.rec != nil {
		// Created now under the recorded name, or not readable.
		return gateWait, err
	}
	if run == nil {
		return gateWait, c.startRun(ctx, g)
	}
	phase := run.Status.Phase
	prev := *g.rec
	*g.rec = &v1alpha1.RolloutAnalysisRunStatus{Name: run.Name, Status: string(phase), Message: run.Status.Message}
	switch phase {
	case v1alpha1.AnalysisPhaseSuccessful:
		return gatePass, nil
	case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError:
		c.abort(fmt.Sprintf("%s analysis phase %s", gateLabel(g.kind), strings.ToLower(string(phase))), run.Status.Message)
		return gateAborted, nil
	case v1alpha1.AnalysisPhaseInconclusive:
		return c.inconclusive(ctx, g, run.Name, prev != nil && prev.Name == run.Name && prev.Status == string(phase))
	}
	c.wait(0, "waiting for the %s analysis run %s (%s)", strings.ToLower(gateLabel(g.kind)), run.Name, phaseOrPending(phase))
	return gateWait, nil
}

func phaseOrPending(p v1alpha1.AnalysisPhase) string {
	if p == "" {
		return string(v1alpha1.AnalysisPhasePending)
	}
	return string(p)
}

// inconclusive pauses the rollout on an inconclusive run, once. After a
// user cleared that pause (promote), a step analysis passes; the other
// kinds run again.
//
// seen: the status already recorded the run as Inconclusive, so an earlier
// pass paused on it (the pause condition and the record are written
// together). Only then does a missing pause condition mean a promote:
// status.controllerPause alone does not say whose pause was cleared (a
// pause step's, or a blue-green pause promoted earlier, which keeps it set
// until the switch completes), and taking it for a promote replaced the
// inconclusive run without a pause (Argo's needsNewAnalysisRun excludes the
// pause step's and the blue-green pause's controllerPause for this).
func (c *rolloutContext) inconclusive(ctx context.Context, g analysisGate, name string, seen bool) (gateOutcome, error) {
	reason := v1alpha1.PauseReasonInconclusiveAnalysisRun
	why := fmt.Sprintf("the %s analysis run %s is inconclusive: promote to go on, or abort", strings.ToLower(gateLabel(g.kind)), name)
	switch {
	case c.hasPauseCondition(reason):
		c.gateWhy = why
		c.wait(0, "%s", why)
		return gateWait, nil
	case !seen:
		c.status.PauseConditions = append(c.status.PauseConditions, v1alpha1.PauseCondition{Reason: reason, StartTime: metav1.NewTime(c.now)})
		c.status.ControllerPause = true
		c.progressed = true
		c.warning(v1alpha1.ReasonAnalysisRunInconclusive, "%s analysis run %s is inconclusive: the rollout pauses; promote to go on, or abort", gateLabel(g.kind), name)
		c.gateWhy = why
		c.wait(0, "%s", why)
		return gateWait, nil
	}
	// Promoted: the pause condition was cleared.
	c.status.ControllerPause = false
	c.progressed = true
	if g.kind == analysis.KindStep {
		c.normal(v1alpha1.ReasonRolloutResumed, "Rollout is resumed past the inconclusive analysis run %s", name)
		return gatePass, nil
	}
	c.normal(v1alpha1.ReasonRolloutResumed, "Rollout is resumed: the inconclusive %s analysis runs again", strings.ToLower(gateLabel(g.kind)))
	*g.rec = nil
	return gateWait, c.startRun(ctx, g)
}

// currentRun reads the run the gate's record names, when it is this
// gate's (the same update, and for a step analysis the same step). A run
// the record names that does not exist is created under that name
// (startRun records the name first).
func (c *rolloutContext) currentRun(ctx context.Context, g analysisGate) (*v1alpha1.AnalysisRun, error) {
	rec := *g.rec
	if rec == nil || rec.Name == "" {
		return nil, nil
	}
	var run v1alpha1.AnalysisRun
	err := c.r.client.Get(ctx, client.ObjectKey{Namespace: c.ro.Namespace, Name: rec.Name}, &run)
	if apierrors.IsNotFound(err) {
		return nil, c.createRun(ctx, g, rec.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading analysis run %s/%s: %w", c.ro.Namespace, rec.Name, err)
	}
	if !c.runIsFor(&run, g) {
		*g.rec = nil
		return nil, nil
	}
	return &run, nil
}

// runIsFor reports whether run is this rollout's run for gate g.
func (c *rolloutContext) runIsFor(run *v1alpha1.AnalysisRun, g analysisGate) bool {
	return metav1.IsControlledBy(run, c.ro) && run.Labels[analysis.PodTemplateHashLabel] == c.newHash && run.Labels[analysis.RolloutTypeLabel] == string(g.kind) &&
		(g.kind != analysis.KindStep || run.Labels[analysis.StepIndexLabel] == strconv.Itoa(int(g.step)))
}

// buildRun builds the gate's run, named by RunName; false when the
// analysis cannot be built (a spec error, recorded).
func (c *rolloutContext) buildRun(ctx context.Context, g analysisGate) (*v1alpha1.AnalysisRun, bool) {
	if c.newRS == nil {
		return nil, false
	}
	req := analysis.RunRequest{Rollout: c.ro, Analysis: *g.ra, Kind: g.kind,
		PodTemplateHash: c.newHash, StableHash: c.status.StableRS, Revision: strconv.FormatInt(replicaset.Revision(c.newRS), 10)}
	if g.kind == analysis.KindStep {
		req.StepIndex = ptr.To(g.step)
	}
	run, err := analysis.BuildRun(ctx, c.r.client, req)
	if err != nil {
		c.specError("%s analysis: %v", strings.ToLower(gateLabel(g.kind)), err)
		return nil, false
	}
	return run, true
}

// startRun names the gate's run: its Argo name, or the next <name>.N no
// run has, recorded in the gate's status before the run is created (on the
// next pass, by currentRun). Written ahead, the record always names the
// run this gate measures with: a pass that dies between the run's creation
// and its status write leaves the name recorded, and the next pass takes
// up the run under it whatever it found (creating it and recording it in
// one pass, the run was lost with the status write: the next pass found it
// finished and passed it over for a new <name>.N, so a run that failed
// before that pass was replaced by one that could succeed). A name any
// run has is never chosen: a run left from before an abort, a retry, an
// edit of the steps or an inconclusive result is never this gate's.
func (c *rolloutContext) startRun(ctx context.Context, g analysisGate) error {
	run, ok := c.buildRun(ctx, g)
	if !ok {
		return nil
	}
	base := run.Name
	for n := 0; n < 100; n++ {
		name := base
		if n > 0 {
			name = analysis.CollisionName(base, n)
		}
		var found v1alpha1.AnalysisRun
		err := c.r.client.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: name}, &found)
		if apierrors.IsNotFound(err) {
			*g.rec = &v1alpha1.RolloutAnalysisRunStatus{Name: name}
			c.progressed = true
			c.after(0)
			c.wait(0, "creating the %s analysis run %s", strings.ToLower(gateLabel(g.kind)), name)
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading analysis run %s/%s: %w", run.Namespace, name, err)
		}
	}
	return fmt.Errorf("no free name for analysis run %s in namespace %s", base, c.ro.Namespace)
}

// createRun creates the gate's run under the name its record holds. A run
// found there already (a create whose answer was lost, a cache that did not
// show it yet) is taken up when it is this gate's; otherwise the record is
// dropped and a new name chosen on the next pass.
func (c *rolloutContext) createRun(ctx context.Context, g analysisGate, name string) error {
	run, ok := c.buildRun(ctx, g)
	if !ok {
		return nil
	}
	if base := run.Name; name != base && !strings.HasPrefix(name, base+".") {
		// Named for another run of the gate's record (another step).
		*g.rec = nil
		return c.startRun(ctx, g)
	}
	run.Name = name
	err := c.r.client.Create(ctx, run.DeepCopy())
	if err == nil {
		c.normal(v1alpha1.ReasonAnalysisRunCreated, "Created %s AnalysisRun %s", gateLabel(g.kind), run.Name)
		c.progressed = true
		c.wait(0, "waiting for the %s analysis run %s (Pending)", strings.ToLower(gateLabel(g.kind)), run.Name)
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating analysis run %s/%s: %w", run.Namespace, run.Name, err)
	}
	var found v1alpha1.AnalysisRun
	if err := c.r.client.Get(ctx, client.ObjectKeyFromObject(run), &found); err != nil {
		return fmt.Errorf("reading analysis run %s/%s: %w", run.Namespace, run.Name, err)
	}
	if !c.runIsFor(&found, g) || found.Spec.Terminate {
		*g.rec = nil
		c.after(0)
	}
	return nil
}

// gateLabel names a kind of run as Argo Rollouts' abort messages do.
func gateLabel(k analysis.RunKind) string {
	switch k {
	case analysis.KindStep:
		return "Step-based"
	case analysis.KindPrePromotion:
		return "Blue/green pre-promotion"
	case analysis.KindPostPromotion:
		return "Blue/green post-promotion"
	}
	return "Background"
}

// tidyRuns looks after the rollout's runs that no live gate records: it
// ends every one still measuring (a step left behind, an aborted or
// promoted update, a replaced template) with spec.terminate, as Argo
// Rollouts does, and deletes the completed ones beyond spec.analysis's
// history limits (analysis.HistoryToDelete). Only runs this rollout
// controls are touched; a run its status names, as read or as about to be
// written, is never deleted.
func (c *rolloutContext) tidyRuns(ctx context.Context, live ...*v1alpha1.RolloutAnalysisRunStatus) error {
	var list v1alpha1.AnalysisRunList
	if err := c.r.client.List(ctx, &list, client.InNamespace(c.ro.Namespace)); err != nil {
		if apierrors.IsNotFound(err) || runtime.IsNotRegisteredError(err) {
			return nil
		}
		return fmt.Errorf("listing the analysis runs of namespace %s: %w", c.ro.Namespace, err)
	}
	runs := slices.DeleteFunc(list.Items, func(r v1alpha1.AnalysisRun) bool { return !metav1.IsControlledBy(&r, c.ro) })
	keep := map[string]bool{}
	for _, r := range live {
		if r != nil {
			keep[r.Name] = true
		}
	}
	for i := range runs {
		run := &runs[i]
		if keep[run.Name] || run.Spec.Terminate || run.Status.Phase.Completed() {
			continue
		}
		n := run.DeepCopy()
		n.Spec.Terminate = true
		if err := c.r.client.Patch(ctx, n, client.MergeFrom(run)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("terminating analysis run %s/%s: %w", run.Namespace, run.Name, err)
		}
		c.normal(v1alpha1.ReasonAnalysisRunTerminated, "Terminated AnalysisRun %s (no longer needed)", run.Name)
		c.after(time.Second)
	}
	return c.deleteOldRuns(ctx, runs)
}

// deleteOldRuns deletes the rollout's completed runs beyond its history
// limits, and those whose ReplicaSet is gone.
func (c *rolloutContext) deleteOldRuns(ctx context.Context, runs []v1alpha1.AnalysisRun) error {
	referenced := map[string]bool{}
	for _, st := range []*v1alpha1.RolloutStatus{&c.ro.Status, c.status} {
		for _, r := range []*v1alpha1.RolloutAnalysisRunStatus{st.Canary.CurrentStepAnalysisRunStatus, st.Canary.CurrentBackgroundAnalysisRunStatus,
			st.BlueGreen.PrePromotionAnalysisRunStatus, st.BlueGreen.PostPromotionAnalysisRunStatus} {
			if r != nil {
				referenced[r.Name] = true
			}
		}
	}
	hashes := map[string]bool{}
	for _, rs := range c.obs.rss {
		if h := rs.Labels[replicaset.HashLabel]; h != "" {
			hashes[h] = true
		}
	}
	if c.newRS != nil {
		hashes[c.newHash] = true
	}
	successful, unsuccessful := c.ro.Spec.RunHistoryLimits()
	uids := map[string]types.UID{}
	for i := range runs {
		uids[runs[i].Name] = runs[i].UID
	}
	for _, name := range analysis.HistoryToDelete(runs, referenced, hashes, successful, unsuccessful) {
		// The UID precondition: the run decided on, not one of the same
		// name created since.
		uid := uids[name]
		run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: c.ro.Namespace, Name: name}}
		err := c.r.client.Delete(ctx, run, client.Preconditions{UID: &uid})
		switch {
		case err == nil:
			log.FromContext(ctx).Info("deleted an analysis run beyond the rollout's run history limits", "analysisRun", name)
		case apierrors.IsNotFound(err), apierrors.IsConflict(err): // gone, or another run by that name now
		default:
			return fmt.Errorf("deleting analysis run %s/%s: %w", c.ro.Namespace, name, err)
		}
	}
	return nil
}

// liveRuns are the runs the rollout's gates still wait on: none once the
// update is over, aborted or promoted in full; the current step's, the
// background's and the blue-green pre- and post-promotion runs otherwise.
func (c *rolloutContext) liveRuns() []*v1alpha1.RolloutAnalysisRunStatus {
	if c.mode != modeProgress || c.status.PromoteFull {
		return nil
	}
	if c.ro.Spec.Strategy.BlueGreen != nil {
		return []*v1alpha1.RolloutAnalysisRunStatus{c.status.BlueGreen.PrePromotionAnalysisRunStatus, c.status.BlueGreen.PostPromotionAnalysisRunStatus}
	}
	cs := c.ro.Spec.Strategy.Canary
	if i := int(ptr.Deref(c.status.CurrentStepIndex, 0)); i >= len(cs.Steps) || cs.Steps[i].Analysis == nil {
		// Moved past the analysis step (promoted, skipped): its run is
		// no longer the current step's, as Argo drops it.
		c.status.Canary.CurrentStepAnalysisRunStatus = nil
	}
	return []*v1alpha1.RolloutAnalysisRunStatus{c.status.Canary.CurrentStepAnalysisRunStatus, c.status.Canary.CurrentBackgroundAnalysisRunStatus}
}

// stepAnalysis runs the analysis step i: done when its run succeeds (or a
// user promoted past an inconclusive one).
func (c *rolloutContext) stepAnalysis(ctx context.Context, st *v1alpha1.CanaryStep, i int) (bool, error) {
	a, err := c.analysisField(st.Analysis, stepAnalysisPath(i))
	if err != nil {
		c.specError("%v", err)
		return false, nil
	}
	out, err := c.runGate(ctx, analysisGate{kind: analysis.KindStep, ra: &a.RolloutAnalysis, rec: &c.status.Canary.CurrentStepAnalysisRunStatus, step: int32(i)})
	if out != gatePass || err != nil {
		return false, err
	}
	c.status.Canary.CurrentStepAnalysisRunStatus = nil
	return true, nil
}

// backgroundAnalysis runs the canary's background analysis from its
// startingStep on, beside the steps: it holds nothing while it measures;
// a failure aborts the update, an inconclusive result pauses it.
func (c *rolloutContext) backgroundAnalysis(ctx context.Context) error {
	cs := c.ro.Spec.Strategy.Canary
	a, err := c.analysisField(cs.Analysis, backgroundAnalysisPath)
	if err != nil {
		c.specError("%v", err)
		return nil
	}
	if a == nil || len(a.Templates) == 0 || c.mode != modeProgress || c.status.PromoteFull || c.status.StableRS == "" ||
		ptr.Deref(c.status.CurrentStepIndex, 0) < ptr.Deref(a.StartingStep, 0) {
		return nil
	}
	_, err = c.runGate(ctx, analysisGate{kind: analysis.KindBackground, ra: &a.RolloutAnalysis, rec: &c.status.Canary.CurrentBackgroundAnalysisRunStatus})
	return err
}

// promotionAnalysis runs a blue-green pre- or post-promotion analysis and
// reports whether it passed (true when there is none, or promote --full).
func (c *rolloutContext) promotionAnalysis(ctx context.Context, kind analysis.RunKind) (bool, error) {
	bg := c.ro.Spec.Strategy.BlueGreen
	raw, rec, field := bg.PrePromotionAnalysis, &c.status.BlueGreen.PrePromotionAnalysisRunStatus, prePromotionAnalysisPath
	if kind == analysis.KindPostPromotion {
		raw, rec, field = bg.PostPromotionAnalysis, &c.status.BlueGreen.PostPromotionAnalysisRunStatus, postPromotionAnalysisPath
	}
	a, err := c.analysisField(raw, field)
	if err != nil {
		c.specError("%v", err)
		return false, nil
	}
	if a == nil || len(a.Templates) == 0 || c.status.PromoteFull {
		return true, nil
	}
	out, err := c.runGate(ctx, analysisGate{kind: kind, ra: &a.RolloutAnalysis, rec: rec})
	return out == gatePass, err
}

// The paths of a rollout's analysis fields.
const (
	backgroundAnalysisPath    = "spec.strategy.canary.analysis"
	prePromotionAnalysisPath  = "spec.strategy.blueGreen.prePromotionAnalysis"
	postPromotionAnalysisPath = "spec.strategy.blueGreen.postPromotionAnalysis"
)

func stepAnalysisPath(i int) string { return fmt.Sprintf("spec.strategy.canary.steps[%d].analysis", i) }

// checkAnalysisTemplates decodes each analysis of the rollout once a pass
// (the gates read c.analyses) and records an invalid spec for each one that
// cannot be decoded or whose templates cannot be read or merged (a missing
// template, as Argo Rollouts' reference validation has it): the rollout
// changes nothing until it is fixed, and looks again on its requeue
// (specError).
func (c *rolloutContext) checkAnalysisTemplates(ctx context.Context) {
	type field struct {
		raw  *runtime.RawExtension
		path string
	}
	var fields []field
	if cs := c.ro.Spec.Strategy.Canary; cs != nil {
		fields = append(fields, field{cs.Analysis, backgroundAnalysisPath})
		for i := range cs.Steps {
			fields = append(fields, field{cs.Steps[i].Analysis, stepAnalysisPath(i)})
		}
	}
	if bg := c.ro.Spec.Strategy.BlueGreen; bg != nil {
		fields = append(fields, field{bg.PrePromotionAnalysis, prePromotionAnalysisPath}, field{bg.PostPromotionAnalysis, postPromotionAnalysisPath})
	}
	c.analyses = map[string]*v1alpha1.RolloutAnalysisBackground{}
	for _, f := range fields {
		a, err := decodeAnalysis(f.raw, f.path)
		if err != nil {
			c.specError("%v", err)
			continue
		}
		c.analyses[f.path] = a
		if a == nil || len(a.Templates) == 0 {
			continue
		}
		background := f.path == backgroundAnalysisPath
		if err := analysis.CheckTemplates(ctx, c.r.client, c.ro.Namespace, a.Templates, background); err != nil {
			c.specError("%s: %v", f.path, err)
		}
	}
}

// recordedGates are the gates whose runs the status may record now: the
// current step's analysis, blue-green's pre- and post-promotion analysis.
func (c *rolloutContext) recordedGates() []analysisGate {
	var gates []analysisGate
	if cs := c.ro.Spec.Strategy.Canary; cs != nil {
		if i := int(ptr.Deref(c.status.CurrentStepIndex, 0)); i >= 0 && i < len(cs.Steps) && cs.Steps[i].Analysis != nil {
			gates = append(gates, analysisGate{kind: analysis.KindStep, rec: &c.status.Canary.CurrentStepAnalysisRunStatus, step: int32(i)})
		}
	}
	if c.ro.Spec.Strategy.BlueGreen != nil {
		gates = append(gates, analysisGate{kind: analysis.KindPrePromotion, rec: &c.status.BlueGreen.PrePromotionAnalysisRunStatus},
			analysisGate{kind: analysis.KindPostPromotion, rec: &c.status.BlueGreen.PostPromotionAnalysisRunStatus})
	}
	return gates
}

// abortOnFailedRuns acts, at the start of a pass, on a failed or errored
// run of the current step's analysis or of a blue-green promotion analysis:
// the rollout aborts before anything that holds it this pass (spec.paused,
// traffic not settled yet, a restart under way) keeps the pass from
// reaching the gate. Only a run the gate's status records (and that is
// the gate's) is read; none is created here. Argo reconciles a rollout's
// runs on every pass and aborts on a failed one; reached only at the gate,
// a failed step or post-promotion analysis of a rollout paused by hand left
// the new version serving, its run recorded as Running.
func (c *rolloutContext) abortOnFailedRuns(ctx context.Context) error {
	if c.mode != modeProgress || c.status.PromoteFull {
		return nil
	}
	for _, g := range c.recordedGates() {
		rec := *g.rec
		if rec == nil || rec.Name == "" {
			continue
		}
		var run v1alpha1.AnalysisRun
		if err := c.r.client.Get(ctx, client.ObjectKey{Namespace: c.ro.Namespace, Name: rec.Name}, &run); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("reading analysis run %s/%s: %w", c.ro.Namespace, rec.Name, err)
		}
		if phase := run.Status.Phase; c.runIsFor(&run, g) && (phase == v1alpha1.AnalysisPhaseFailed || phase == v1alpha1.AnalysisPhaseError) {
			*g.rec = &v1alpha1.RolloutAnalysisRunStatus{Name: run.Name, Status: string(phase), Message: run.Status.Message}
			c.abort(fmt.Sprintf("%s analysis phase %s", gateLabel(g.kind), strings.ToLower(string(phase))), run.Status.Message)
			return nil
		}
	}
	return nil
}
