package cloudwatch

import (
	"sort"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/cwproto"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// listPage is ListMetrics' page size, as CloudWatch's.
const listPage = 500

// ListMetrics lists the metrics that have data in the Store, filtered by
// namespace, name and dimensions, 500 a page.
func (s *Service) ListMetrics(in *cwproto.ListMetricsInput) (*cwproto.ListMetricsOutput, *query.Error) {
	if len(in.Dimensions) > 10 {
		return nil, cwproto.InvalidValue("The collection Dimensions must not have a size greater than 10.")
	}
	offset := 0
	if in.NextToken != "" {
		off, ok := parseToken(in.NextToken)
		if !ok {
			return nil, query.Client(cwproto.CodeInvalidNextToken, "The NextToken %q is not one elbsim gave.", in.NextToken)
		}
		offset = off
	}
	var all []cwproto.Metric
	if in.Namespace == "" || in.Namespace == Namespace {
		for key, data := range s.store.keys() {
			all = append(all, metricsOf(key, data, in)...)
		}
	}
	sort.Slice(all, func(i, j int) bool { return metricLess(all[i], all[j]) })
	out := &cwproto.ListMetricsOutput{Metrics: []cwproto.Metric{}}
	if offset < len(all) {
		end := min(offset+listPage, len(all))
		out.Metrics = all[offset:end]
		if end < len(all) {
			out.NextToken = makeToken(end)
		}
	}
	return out, nil
}

// metricsOf lists the metrics of one series that pass the filters.
func metricsOf(key seriesKey, data seriesData, in *cwproto.ListMetricsInput) []cwproto.Metric {
	dims := []cwproto.Dimension{{Name: DimLoadBalancer, Value: key.loadBalancer}}
	if key.targetGroup != "" {
		dims = append(dims, cwproto.Dimension{Name: DimTargetGroup, Value: key.targetGroup})
	}
	if !matches(dims, in.Dimensions) {
		return nil
	}
	var out []cwproto.Metric
	for name, def := range catalog {
		published := def.perLB && key.targetGroup == "" || def.perTG && key.targetGroup != ""
		if !published || !def.has(data) || in.MetricName != "" && in.MetricName != name {
			continue
		}
		out = append(out, cwproto.Metric{Namespace: Namespace, MetricName: name, Dimensions: dims})
	}
	return out
}

func matches(dims []cwproto.Dimension, filters []cwproto.DimensionFilter) bool {
	for _, f := range filters {
		found := false
		for _, d := range dims {
			if d.Name == f.Name && (f.Value == "" || f.Value == d.Value) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func metricLess(a, b cwproto.Metric) bool {
	if a.MetricName != b.MetricName {
		return a.MetricName < b.MetricName
	}
	if len(a.Dimensions) != len(b.Dimensions) {
		return len(a.Dimensions) < len(b.Dimensions)
	}
	for i := range a.Dimensions {
		if a.Dimensions[i].Value != b.Dimensions[i].Value {
			return a.Dimensions[i].Value < b.Dimensions[i].Value
		}
	}
	return false
}
