package analysis

import (
	"math"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// The outcome table of argo-analysis.md 2.4: no condition is Successful;
// one condition is binary; with both, failure wins, else success, else
// Inconclusive; an evaluation error is an Error.
func TestEvaluateOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name             string
		success, failure string
		result           any
		want             v1alpha1.AnalysisPhase
	}{
		{"no conditions", "", "", 0.1, v1alpha1.AnalysisPhaseSuccessful},
		{"no conditions, nil result", "", "", nil, v1alpha1.AnalysisPhaseSuccessful},
		{"success only, true", "result > 0.5", "", 0.9, v1alpha1.AnalysisPhaseSuccessful},
		{"success only, false", "result > 0.5", "", 0.1, v1alpha1.AnalysisPhaseFailed},
		{"failure only, true", "", "result > 0.5", 0.9, v1alpha1.AnalysisPhaseFailed},
		{"failure only, false", "", "result > 0.5", 0.1, v1alpha1.AnalysisPhaseSuccessful},
		{"both, failure wins", "result > 0", "result > 0.5", 0.9, v1alpha1.AnalysisPhaseFailed},
		{"both, success", "result > 0.5", "result < 0.1", 0.9, v1alpha1.AnalysisPhaseSuccessful},
		{"both, neither", "result > 0.5", "result < 0.1", 0.3, v1alpha1.AnalysisPhaseInconclusive},
		{"vector", "result[0] >= 0.95", "", []float64{0.97, 0.5}, v1alpha1.AnalysisPhaseSuccessful},
		{"empty vector is an Error", "result[0] >= 0.95", "", []float64{}, v1alpha1.AnalysisPhaseError},
		{"guarded empty vector", "len(result) > 0 && result[0] >= 0.95", "", []float64{}, v1alpha1.AnalysisPhaseFailed},
		{"not a bool", "result", "", 0.3, v1alpha1.AnalysisPhaseError},
		{"syntax", "result >", "", 0.3, v1alpha1.AnalysisPhaseError},
		{"web object", "result.ok && result.successPercent >= 0.90", "", map[string]any{"ok": true, "successPercent": 0.95}, v1alpha1.AnalysisPhaseSuccessful},
		{"web bool", "result == true", "", true, v1alpha1.AnalysisPhaseSuccessful},
		{"pointer dereferenced", "result == 3.0", "", ptr(3.0), v1alpha1.AnalysisPhaseSuccessful},
		{"asInt of string", `asInt(result) == 42`, "", "42", v1alpha1.AnalysisPhaseSuccessful},
		{"asFloat of string", `asFloat(result) > 0.9`, "", "0.95", v1alpha1.AnalysisPhaseSuccessful},
		{"asFloat of int", `asFloat(result) == 3`, "", 3, v1alpha1.AnalysisPhaseSuccessful},
		{"asInt of bad string is an Error", `asInt(result) == 1`, "", "x", v1alpha1.AnalysisPhaseError},
		{"asFloat of a map is an Error", `asFloat(result) == 1`, "", map[string]any{}, v1alpha1.AnalysisPhaseError},
		{"isNaN", "isNaN(result)", "", math.NaN(), v1alpha1.AnalysisPhaseSuccessful},
		{"isInf", "isInf(result[0])", "", []float64{math.Inf(-1)}, v1alpha1.AnalysisPhaseSuccessful},
		{"isNil ignores its argument", "isNil(123)", "", nil, v1alpha1.AnalysisPhaseSuccessful},
		{"isNil of a set result", "isNil(result)", "", 1.0, v1alpha1.AnalysisPhaseFailed},
		{"isNil of a nil slice", "isNil(result)", "", []float64(nil), v1alpha1.AnalysisPhaseSuccessful},
		{"default on nil", "default(result, 5) == 5", "", nil, v1alpha1.AnalysisPhaseSuccessful},
		{"default ignores its first argument", "default(7, 5) == 2.0", "", 2.0, v1alpha1.AnalysisPhaseSuccessful},
		{"built-ins", "all(result, {# < 1000}) && sum(result) > 10", "", []float64{5, 6}, v1alpha1.AnalysisPhaseSuccessful},
		{"filter and count", "len(filter(result, # > 1)) == 1", "", []float64{1, 2}, v1alpha1.AnalysisPhaseSuccessful},
		{"cloudwatch struct fields", `string(result[0].StatusCode) == "Complete" && result[0].Values[0] < 0.01 && result[0].Id == "rate"`, "",
			[]types.MetricDataResult{{Id: aws.String("rate"), StatusCode: types.StatusCodeComplete, Values: []float64{0.001}}}, v1alpha1.AnalysisPhaseSuccessful},
		// StatusCode is the SDK's named string type: expr compares it to a
		// string only through string(), in Argo as here.
		{"cloudwatch StatusCode without string() is an Error", `result[0].StatusCode == "Complete"`, "",
			[]types.MetricDataResult{{StatusCode: types.StatusCodeComplete}}, v1alpha1.AnalysisPhaseError},
		{"cloudwatch empty values make all() true", `all(result[0].Values, {# <= 0.01})`, "",
			[]types.MetricDataResult{{StatusCode: types.StatusCodeComplete}}, v1alpha1.AnalysisPhaseSuccessful},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Evaluate(tc.result, v1alpha1.Metric{SuccessCondition: tc.success, FailureCondition: tc.failure})
			if got != tc.want {
				t.Fatalf("Evaluate = %s (%v), want %s", got, err, tc.want)
			}
			if (got == v1alpha1.AnalysisPhaseError) != (err != nil) {
				t.Fatalf("phase %s with error %v", got, err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// Error messages name the condition and say when the provider returned no data.
func TestEvaluateErrorMessages(t *testing.T) {
	_, err := Evaluate([]float64{}, v1alpha1.Metric{SuccessCondition: "result[0] > 1"})
	want := `could not evaluate successCondition "result[0] > 1": metric result is nil or empty: no data returned from the metric provider`
	if err == nil || err.Error() != want {
		t.Errorf("empty result: %v, want %s", err, want)
	}
	_, err = Evaluate(1.0, v1alpha1.Metric{FailureCondition: "result"})
	if err == nil || !strings.HasPrefix(err.Error(), `could not evaluate failureCondition "result": expected bool, but got float64`) {
		t.Errorf("non-bool: %v", err)
	}
	_, err = Evaluate(1.0, v1alpha1.Metric{SuccessCondition: "result >"})
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("syntax error keeps expr's source excerpt: %q", err)
	}
}
