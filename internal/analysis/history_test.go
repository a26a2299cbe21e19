package analysis

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// histRun is a run of the rollout created at minute min, with a pod-template
// hash ("" for none) and a phase.
func histRun(name string, min int, hash string, phase v1alpha1.AnalysisPhase) v1alpha1.AnalysisRun {
	r := v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: name,
		CreationTimestamp: metav1.NewTime(time.Date(2026, 12, 1, 10, min, 0, 0, time.UTC))}}
	if hash != "" {
		r.Labels = map[string]string{PodTemplateHashLabel: hash}
	}
	r.Status.Phase = phase
	return r
}

func TestHistoryToDelete(t *testing.T) {
	const (
		ok   = v1alpha1.AnalysisPhaseSuccessful
		bad  = v1alpha1.AnalysisPhaseFailed
		errd = v1alpha1.AnalysisPhaseError
		inc  = v1alpha1.AnalysisPhaseInconclusive
		run  = v1alpha1.AnalysisPhaseRunning
	)
	live := map[string]bool{"h1": true, "h2": true, "h3": true}
	gone := metav1.NewTime(time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC))
	deleting := histRun("deleting", 0, "h1", ok)
	deleting.DeletionTimestamp = &gone
	for _, tc := range []struct {
		name    string
		runs    []v1alpha1.AnalysisRun
		ref     map[string]bool
		ok, bad int32
		want    []string
	}{
		{name: "within the limits", ok: 5, bad: 5,
			runs: []v1alpha1.AnalysisRun{histRun("a", 1, "h1", ok), histRun("b", 2, "h1", bad), histRun("c", 3, "h2", ok)}},
		{name: "the oldest successful beyond the limit", ok: 2, bad: 5,
			runs: []v1alpha1.AnalysisRun{histRun("s1", 1, "h1", ok), histRun("s3", 3, "h2", ok), histRun("s2", 2, "h1", ok), histRun("s4", 4, "h3", ok)},
			want: []string{"s2", "s1"}},
		{name: "unsuccessful counts Failed, Error and Inconclusive together", ok: 5, bad: 2,
			runs: []v1alpha1.AnalysisRun{histRun("f", 1, "h1", bad), histRun("e", 2, "h1", errd), histRun("i", 3, "h2", inc), histRun("s", 0, "h1", ok)},
			want: []string{"f"}},
		{name: "the two limits apart", ok: 1, bad: 1,
			runs: []v1alpha1.AnalysisRun{histRun("s1", 1, "h1", ok), histRun("f1", 2, "h1", bad), histRun("s2", 3, "h2", ok), histRun("f2", 4, "h2", bad)},
			want: []string{"f1", "s1"}},
		{name: "a run the status names is kept and not counted", ok: 1, bad: 1, ref: map[string]bool{"s3": true, "s1": true},
			runs: []v1alpha1.AnalysisRun{histRun("s1", 1, "h1", ok), histRun("s2", 2, "h1", ok), histRun("s3", 3, "h2", ok)}},
		{name: "a run still measuring is kept and not counted, whatever its ReplicaSet", ok: 0, bad: 0,
			runs: []v1alpha1.AnalysisRun{histRun("r", 1, "h1", run), histRun("p", 2, "h2", ""), histRun("orphan", 3, "gone", run), histRun("s", 0, "h1", ok)},
			want: []string{"s"}},
		{name: "a completed run whose ReplicaSet is gone, or with no hash label", ok: 5, bad: 5,
			runs: []v1alpha1.AnalysisRun{histRun("old", 1, "h0", ok), histRun("nolabel", 2, "", bad), histRun("s", 3, "h1", ok)},
			want: []string{"nolabel", "old"}},
		{name: "a run already being deleted is left alone", ok: 0, bad: 0, runs: []v1alpha1.AnalysisRun{deleting}},
		{name: "a negative limit keeps none", ok: -1, bad: -1,
			runs: []v1alpha1.AnalysisRun{histRun("s", 1, "h1", ok), histRun("f", 2, "h1", bad)}, want: []string{"f", "s"}},
		{name: "equal creation times: by name, the greater kept", ok: 1, bad: 1,
			runs: []v1alpha1.AnalysisRun{histRun("web-h1-2-1", 1, "h1", ok), histRun("web-h1-2-1.1", 1, "h1", ok)},
			want: []string{"web-h1-2-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.runs)
			got := HistoryToDelete(tc.runs, tc.ref, live, tc.ok, tc.bad)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("HistoryToDelete = %v, want %v", got, tc.want)
			}
			for i := range in {
				if in[i].Name != tc.runs[i].Name {
					t.Fatalf("the runs passed in were reordered")
				}
			}
		})
	}
}

func TestRunHistoryLimits(t *testing.T) {
	var spec v1alpha1.RolloutSpec
	if s, u := spec.RunHistoryLimits(); s != 5 || u != 5 {
		t.Fatalf("defaults %d, %d; want Argo's 5, 5", s, u)
	}
	spec.Analysis = &v1alpha1.AnalysisRunStrategy{UnsuccessfulRunHistoryLimit: i32(0)}
	if s, u := spec.RunHistoryLimits(); s != 5 || u != 0 {
		t.Fatalf("unsuccessful 0: %d, %d", s, u)
	}
	spec.Analysis = &v1alpha1.AnalysisRunStrategy{SuccessfulRunHistoryLimit: i32(2)}
	if s, u := spec.RunHistoryLimits(); s != 2 || u != 5 {
		t.Fatalf("successful 2: %d, %d", s, u)
	}
}
