package analysis

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Evaluate judges one provider result with the metric's conditions, as Argo
// does: no condition is Successful; with only a successCondition, false is
// Failed; with only a failureCondition, false is Successful; with both, a true
// failureCondition is Failed, else a true successCondition is Successful,
// else Inconclusive. A condition that does not compile, fails to run or is
// not a bool makes the measurement an Error, with the error returned.
func Evaluate(result any, m v1alpha1.Metric) (v1alpha1.AnalysisPhase, error) {
	var success, failure bool
	var err error
	if m.SuccessCondition != "" {
		if success, err = EvalCondition(result, m.SuccessCondition); err != nil {
			return v1alpha1.AnalysisPhaseError, conditionError(err, "successCondition", m.SuccessCondition, result)
		}
	}
	if m.FailureCondition != "" {
		if failure, err = EvalCondition(result, m.FailureCondition); err != nil {
			return v1alpha1.AnalysisPhaseError, conditionError(err, "failureCondition", m.FailureCondition, result)
		}
	}
	switch {
	case m.SuccessCondition == "" && m.FailureCondition == "":
		return v1alpha1.AnalysisPhaseSuccessful, nil
	case m.FailureCondition == "":
		failure = !success
	case m.SuccessCondition == "":
		success = !failure
	}
	switch {
	case failure:
		return v1alpha1.AnalysisPhaseFailed, nil
	case success:
		return v1alpha1.AnalysisPhaseSuccessful, nil
	default:
		return v1alpha1.AnalysisPhaseInconclusive, nil
	}
}

// conditionError names the condition that could not be evaluated; a result
// with no data gets a message saying so (the usual cause: result[0] on an
// empty Prometheus vector).
func conditionError(err error, which, condition string, result any) error {
	if nilOrEmpty(result) {
		return fmt.Errorf("could not evaluate %s %q: metric result is nil or empty: no data returned from the metric provider", which, condition)
	}
	return fmt.Errorf("could not evaluate %s %q: %w", which, condition, err)
}

// EvalCondition runs one condition against result. The environment is
// Argo's: result (a pointer dereferenced), asInt, asFloat, isNaN, isInf,
// isNil and default (both of which look at result itself, whatever their
// argument), and expr's built-ins (len, all, any, filter, map, sum, ...).
func EvalCondition(result any, condition string) (bool, error) {
	env := map[string]any{
		"result":  deref(result),
		"asInt":   asInt,
		"asFloat": asFloat,
		"isNaN":   math.IsNaN,
		"isInf":   func(f float64) bool { return math.IsInf(f, 0) },
		"isNil":   func(any) bool { return isNil(result) },
		"default": func(_, fallback any) any {
			if isNil(result) {
				return fallback
			}
			return deref(result)
		},
	}
	program, err := expr.Compile(condition, expr.Env(env))
	if err != nil {
		return false, plainExprError(err)
	}
	out, err := expr.Run(program, env)
	if err != nil {
		return false, plainExprError(err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("expected bool, but got %T", out)
	}
	return b, nil
}

// plainExprError keeps an expr error's message without the source excerpt it
// draws under it.
func plainExprError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return errors.New(fe.Message)
	}
	return err
}

// asInt converts a number or a numeric string to int64; anything else panics,
// which expr reports as an evaluation error.
func asInt(in any) int64 {
	switch v := deref(in).(type) {
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			panic(err)
		}
		return n
	case float64:
		return int64(v)
	case float32:
		return int64(v)
	}
	rv := reflect.ValueOf(deref(in))
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int64(rv.Uint())
	}
	panic(fmt.Sprintf("asInt() not supported on %T %v", in, in))
}

// asFloat converts a number or a numeric string to float64; anything else
// panics, which expr reports as an evaluation error.
func asFloat(in any) float64 {
	switch v := deref(in).(type) {
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			panic(err)
		}
		return f
	case float64:
		return v
	case float32:
		return float64(v)
	}
	rv := reflect.ValueOf(deref(in))
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint())
	}
	panic(fmt.Sprintf("asFloat() not supported on %T %v", in, in))
}

// isNil reports a nil interface, or a nil pointer, map, slice, channel or func.
func isNil(in any) bool {
	if in == nil {
		return true
	}
	v := reflect.ValueOf(in)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Chan, reflect.Func, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// nilOrEmpty is isNil, or an empty slice or array.
func nilOrEmpty(in any) bool {
	if isNil(in) {
		return true
	}
	v := reflect.ValueOf(in)
	return (v.Kind() == reflect.Slice || v.Kind() == reflect.Array) && v.Len() == 0
}

// deref returns what a non-nil pointer points at, nil for any nil value, and
// anything else as it is.
func deref(in any) any {
	if isNil(in) {
		return nil
	}
	if v := reflect.ValueOf(in); v.Kind() == reflect.Pointer {
		return v.Elem().Interface()
	}
	return in
}
