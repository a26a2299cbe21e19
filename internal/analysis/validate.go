package analysis

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// ValidateMetrics checks the rules Argo checks on every reconcile, on metrics
// whose args are substituted: at least one metric, unique names, and each
// metric valid (ValidateMetric). The error names the metric by index.
func ValidateMetrics(metrics []v1alpha1.Metric) error {
	if len(metrics) == 0 {
		return errors.New("no metrics specified")
	}
	seen := map[string]bool{}
	for i, m := range metrics {
		if seen[m.Name] {
			return fmt.Errorf("metrics[%d]: duplicate name '%s'", i, m.Name)
		}
		seen[m.Name] = true
		if err := ValidateMetric(m); err != nil {
			return fmt.Errorf("metrics[%d]: %w", i, err)
		}
	}
	return nil
}

// intValue is an IntOrString's number, def when unset.
func intValue(v interface{ IntValue() int }, isNil bool, def int) int {
	if isNil {
		return def
	}
	return v.IntValue()
}

// limits are a metric's limits with Argo's defaults.
type limits struct {
	count, failure, inconclusive, consecutiveError, consecutiveSuccess int
}

// DefaultConsecutiveErrorLimit is consecutiveErrorLimit when unset.
const DefaultConsecutiveErrorLimit = 4

func limitsOf(m v1alpha1.Metric) limits {
	return limits{
		count:              intValue(m.Count, m.Count == nil, 0),
		failure:            intValue(m.FailureLimit, m.FailureLimit == nil, 0),
		inconclusive:       intValue(m.InconclusiveLimit, m.InconclusiveLimit == nil, 0),
		consecutiveError:   intValue(m.ConsecutiveErrorLimit, m.ConsecutiveErrorLimit == nil, DefaultConsecutiveErrorLimit),
		consecutiveSuccess: intValue(m.ConsecutiveSuccessLimit, m.ConsecutiveSuccessLimit == nil, 0),
	}
}

// ValidateMetric checks one metric: limits in range and consistent with
// count, an interval when count > 1, durations that parse, exactly one
// provider.
func ValidateMetric(m v1alpha1.Metric) error {
	l := limitsOf(m)
	if err := validateLimits(l); err != nil {
		return err
	}
	if err := validateCount(l, m.Interval); err != nil {
		return err
	}
	if m.Interval != "" {
		if _, err := m.Interval.Duration(); err != nil {
			return fmt.Errorf("invalid interval string: %w", err)
		}
	}
	if m.InitialDelay != "" {
		if _, err := m.InitialDelay.Duration(); err != nil {
			return fmt.Errorf("invalid startDelay string: %w", err)
		}
	}
	switch n := len(ProviderNames(m.Provider)); {
	case n == 0:
		return errors.New("no provider specified")
	case n > 1:
		return errors.New("multiple providers specified")
	}
	return nil
}

// validateLimits checks each limit's range.
func validateLimits(l limits) error {
	switch {
	case l.consecutiveSuccess < 0:
		return errors.New("consecutiveSuccessLimit must be >= 0")
	case l.failure < -1:
		return errors.New("failureLimit must be >= 0, or -1 to be disabled")
	case l.consecutiveSuccess == 0 && l.failure == -1:
		return errors.New("failureLimit and consecutiveSuccessLimit cannot both be disabled")
	case l.inconclusive < 0:
		return errors.New("inconclusiveLimit must be >= 0")
	case l.consecutiveError < 0:
		return errors.New("consecutiveErrorLimit must be >= 0")
	}
	return nil
}

// validateCount checks count against the limits and the interval.
func validateCount(l limits, interval v1alpha1.DurationString) error {
	if l.count > 0 {
		if l.failure >= 0 && l.count < l.failure+l.consecutiveSuccess {
			return fmt.Errorf("count (%d) must be >= failureLimit + consecutiveSuccessLimit (%d + %d) if both >= 0", l.count, l.failure, l.consecutiveSuccess)
		}
		if l.failure < 0 && l.count < l.consecutiveSuccess {
			return errors.New("count must be >= consecutiveSuccessLimit")
		}
		if l.count < l.inconclusive {
			return errors.New("count must be >= inconclusiveLimit")
		}
	}
	if l.count > 1 && interval == "" {
		return errors.New("interval must be specified when count > 1")
	}
	return nil
}

// ProviderNames are the providers a metric sets, by their field names
// (a plugin counts once per plugin it names).
func ProviderNames(p v1alpha1.MetricProvider) []string {
	var names []string
	add := func(set bool, name string) {
		if set {
			names = append(names, name)
		}
	}
	add(p.Prometheus != nil, "prometheus")
	add(p.Web != nil, "web")
	add(p.Job != nil, "job")
	add(p.CloudWatch != nil, "cloudWatch")
	add(p.Kayenta != nil, "kayenta")
	add(p.Datadog != nil, "datadog")
	add(p.Wavefront != nil, "wavefront")
	add(p.NewRelic != nil, "newRelic")
	add(p.Graphite != nil, "graphite")
	add(p.Influxdb != nil, "influxdb")
	add(p.SkyWalking != nil, "skywalking")
	if p.Plugin != nil {
		for _, name := range pluginNames(p.Plugin.Raw) {
			names = append(names, "plugin "+name)
		}
	}
	return names
}

// dryRunMetrics maps each metric name a dryRun rule matches (an unanchored
// regular expression) to true; a rule that matches none is an error.
func dryRunMetrics(rules []v1alpha1.DryRun, metrics []v1alpha1.Metric) (map[string]bool, error) {
	out := map[string]bool{}
	for i, r := range rules {
		n := 0
		for _, m := range metrics {
			if matches(r.MetricName, m.Name) {
				out[m.Name] = true
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("dryRun[%d]: Rule didn't match any metric name(s)", i)
		}
	}
	return out, nil
}

// retentionLimits maps each metric name a measurementRetention rule matches
// to the rule's limit (a later rule wins); a rule that matches none is an
// error.
func retentionLimits(rules []v1alpha1.MeasurementRetention, metrics []v1alpha1.Metric) (map[string]int32, error) {
	out := map[string]int32{}
	for i, r := range rules {
		n := 0
		for _, m := range metrics {
			if matches(r.MetricName, m.Name) {
				out[m.Name] = r.Limit
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("measurementRetention[%d]: Rule didn't match any metric name(s)", i)
		}
	}
	return out, nil
}

// matches is regexp.MatchString, an invalid expression matching nothing.
func matches(pattern, name string) bool {
	ok, err := regexp.MatchString(pattern, name)
	return err == nil && ok
}

// pluginNames are the keys of a plugin provider's object, sorted.
func pluginNames(raw []byte) []string {
	var plugins map[string]json.RawMessage
	if err := json.Unmarshal(raw, &plugins); err != nil {
		return []string{"(unreadable)"}
	}
	return slices.Sorted(maps.Keys(plugins))
}
