package cloudwatch

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/cwproto"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// Limits of GetMetricData, as CloudWatch has them.
const (
	MaxQueries    = 500
	MaxDatapoints = 100800
)

// Service answers CloudWatch's GetMetricData and ListMetrics for the
// AWS/ApplicationELB namespace from a Store.
type Service struct {
	store *Store
}

// New returns a Service reading store.
func New(store *Store) *Service { return &Service{store: store} }

var idPattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// plan is a validated GetMetricData request.
type plan struct {
	start, end time.Time
	queries    []cwproto.MetricDataQuery
	byID       map[string]int
	exprs      map[string]node
	stats      map[string]statistic
	ascending  bool
	max        int
	offset     int
}

// GetMetricData evaluates the queries of in.
func (s *Service) GetMetricData(in *cwproto.GetMetricDataInput) (*cwproto.GetMetricDataOutput, *query.Error) {
	p, qe := newPlan(in)
	if qe != nil {
		return nil, qe
	}
	ev := &evaluation{s: s, p: p, done: map[string]*timeSeries{}, busy: map[string]bool{}}
	var results []cwproto.MetricDataResult
	var series []*timeSeries
	for _, q := range p.queries {
		ts, err := ev.series(q.ID)
		if err != nil {
			return nil, query.Client(cwproto.CodeValidationError, "Error in expression %s: %v", q.ID, err)
		}
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		results = append(results, cwproto.MetricDataResult{ID: q.ID, Label: label(q), StatusCode: "Complete"})
		series = append(series, ts)
	}
	return p.page(results, series)
}

func label(q cwproto.MetricDataQuery) string {
	switch {
	case q.Label != "":
		return q.Label
	case q.MetricStat != nil && q.MetricStat.Metric != nil:
		return q.MetricStat.Metric.MetricName
	}
	return q.ID
}

func newPlan(in *cwproto.GetMetricDataInput) (*plan, *query.Error) {
	p := &plan{queries: in.MetricDataQueries, byID: map[string]int{}, exprs: map[string]node{}, stats: map[string]statistic{}, max: MaxDatapoints}
	if qe := p.checkRequest(in); qe != nil {
		return nil, qe
	}
	for i, q := range in.MetricDataQueries {
		if qe := p.checkQuery(i, q); qe != nil {
			return nil, qe
		}
	}
	for id, e := range p.exprs {
		used := map[string]bool{}
		refs(e, used)
		for ref := range used {
			if _, ok := p.byID[ref]; !ok {
				return nil, query.Client(cwproto.CodeValidationError, "Error in expression %s: Unrecognized reference %s: no query has that Id.", id, ref)
			}
		}
	}
	return p, nil
}

func (p *plan) checkRequest(in *cwproto.GetMetricDataInput) *query.Error {
	switch {
	case len(in.MetricDataQueries) == 0:
		return cwproto.Missing("MetricDataQueries")
	case len(in.MetricDataQueries) > MaxQueries:
		return cwproto.InvalidValue("The collection MetricDataQueries must not have a size greater than %d.", MaxQueries)
	case in.StartTime == nil:
		return cwproto.Missing("StartTime")
	case in.EndTime == nil:
		return cwproto.Missing("EndTime")
	case !in.StartTime.Before(in.EndTime.Time):
		return cwproto.InvalidValue("The parameter StartTime must be less than the parameter EndTime.")
	}
	p.start, p.end = in.StartTime.Time, in.EndTime.Time
	switch in.ScanBy {
	case "", "TimestampDescending":
	case "TimestampAscending":
		p.ascending = true
	default:
		return cwproto.InvalidValue("The value %s for parameter ScanBy is not valid: use TimestampDescending or TimestampAscending.", in.ScanBy)
	}
	if in.MaxDatapoints != nil {
		if *in.MaxDatapoints < 1 {
			return cwproto.InvalidValue("The parameter MaxDatapoints must be at least 1.")
		}
		p.max = min(int(*in.MaxDatapoints), MaxDatapoints)
	}
	if in.NextToken != "" {
		off, ok := parseToken(in.NextToken)
		if !ok {
			return query.Client(cwproto.CodeInvalidNextToken, "The NextToken %q is not one elbsim gave.", in.NextToken)
		}
		p.offset = off
	}
	return nil
}

func (p *plan) checkQuery(i int, q cwproto.MetricDataQuery) *query.Error {
	at := fmt.Sprintf("MetricDataQueries.member.%d", i+1)
	switch {
	case q.ID == "":
		return cwproto.Missing(at + ".Id")
	case !idPattern.MatchString(q.ID):
		return cwproto.InvalidValue("The value %s for parameter %s.Id is not valid: an Id starts with a lowercase letter and has only letters, digits and underscores.", q.ID, at)
	case q.MetricStat != nil && q.Expression != "":
		return query.Client(cwproto.CodeInvalidParameterCombination, "The parameters %s.MetricStat and %s.Expression are mutually exclusive.", at, at)
	case q.MetricStat == nil && q.Expression == "":
		return query.Client(cwproto.CodeInvalidParameterCombination, "%s needs either MetricStat or Expression.", at)
	}
	if _, dup := p.byID[q.ID]; dup {
		return cwproto.InvalidValue("The Id %s is used by more than one query; Ids must be unique.", q.ID)
	}
	p.byID[q.ID] = i
	if q.Expression != "" {
		e, err := parseExpr(q.Expression)
		if err != nil {
			return query.Client(cwproto.CodeValidationError, "Error in expression %s: %v", q.ID, err)
		}
		p.exprs[q.ID] = e
		return nil
	}
	return p.checkMetricStat(at+".MetricStat", q)
}

func (p *plan) checkMetricStat(at string, q cwproto.MetricDataQuery) *query.Error {
	ms := q.MetricStat
	switch {
	case ms.Metric == nil:
		return cwproto.Missing(at + ".Metric")
	case ms.Metric.MetricName == "":
		return cwproto.Missing(at + ".Metric.MetricName")
	case ms.Period == nil:
		return cwproto.Missing(at + ".Period")
	case !validPeriod(*ms.Period):
		return cwproto.InvalidValue("The value %d for parameter %s.Period is not valid: a period is 1, 5, 10, 30 or a multiple of 60 seconds.", *ms.Period, at)
	case ms.Stat == "":
		return cwproto.Missing(at + ".Stat")
	}
	st, ok := parseStat(ms.Stat)
	if !ok {
		return cwproto.InvalidValue("The value %s for parameter %s.Stat is not valid: elbsim computes Sum, Average, Minimum, Maximum, SampleCount and percentiles pNN or pNN.NN.", ms.Stat, at)
	}
	p.stats[q.ID] = st
	return nil
}

func validPeriod(p int32) bool {
	return p == 1 || p == 5 || p == 10 || p == 30 || p > 0 && p%60 == 0
}

// evaluation computes each query's series once, following expression references.
type evaluation struct {
	s    *Service
	p    *plan
	done map[string]*timeSeries
	busy map[string]bool
}

func (e *evaluation) series(id string) (*timeSeries, error) {
	if ts, ok := e.done[id]; ok {
		return ts, nil
	}
	if e.busy[id] {
		return nil, fmt.Errorf("circular reference to %s", id)
	}
	e.busy[id] = true
	defer delete(e.busy, id)
	q := e.p.queries[e.p.byID[id]]
	var ts *timeSeries
	if expr, ok := e.p.exprs[id]; ok {
		v, err := eval(expr, e.series)
		if err != nil {
			return nil, err
		}
		if v.ts == nil {
			return nil, fmt.Errorf("the expression %q gives a number, not a time series", q.Expression)
		}
		ts = v.ts
	} else {
		ts = e.s.metricSeries(q.MetricStat, e.p.stats[id], e.p.start, e.p.end)
	}
	e.done[id] = ts
	return ts, nil
}

// alignedRange rounds start down as CloudWatch does (to the minute for
// periods of a minute or more, else to a multiple of the period).
func alignedRange(start, end time.Time, period int64) (int64, int64) {
	step := min(period, 60)
	s := start.Unix()
	s -= ((s % step) + step) % step
	e := end.Unix()
	if end.After(time.Unix(e, 0)) {
		e++ // a fractional end still includes its second
	}
	return s, e
}

// metricSeries computes one MetricStat over [start, end).
func (s *Service) metricSeries(ms *cwproto.MetricStat, st statistic, start, end time.Time) *timeSeries {
	period := int64(*ms.Period)
	from, to := alignedRange(start, end, period)
	ts := &timeSeries{start: from, end: to, period: period}
	def, key, ok := resolve(ms.Metric)
	if !ok || ms.Unit != "" && ms.Unit != def.unit {
		return ts // no such metric: CloudWatch answers no data points
	}
	n := (to - from + period - 1) / period
	sets := make([]sampleSet, n)
	s.store.each(key, from, to, func(b *bucket) {
		def.collect(b, &sets[(b.sec-from)/period])
	})
	for i := range sets {
		if !sets[i].empty() {
			ts.add(from+int64(i)*period, sets[i].compute(st))
		}
	}
	return ts
}

// resolve finds the metric and series a Metric names: namespace
// AWS/ApplicationELB, a metric of the catalog, and exactly the dimension set
// {LoadBalancer} or {LoadBalancer, TargetGroup} the metric is published with.
func resolve(m *cwproto.Metric) (metricDef, seriesKey, bool) {
	def, ok := catalog[m.MetricName]
	if !ok || m.Namespace != Namespace {
		return def, seriesKey{}, false
	}
	dims := map[string]string{}
	for _, d := range m.Dimensions {
		dims[d.Name] = d.Value
	}
	lb, hasLB := dims[DimLoadBalancer]
	tg, hasTG := dims[DimTargetGroup]
	switch {
	case !hasLB || len(dims) != len(m.Dimensions):
		return def, seriesKey{}, false
	case len(dims) == 1 && def.perLB:
		return def, seriesKey{loadBalancer: lb}, true
	case len(dims) == 2 && hasTG && def.perTG:
		return def, seriesKey{loadBalancer: lb, targetGroup: tg}, true
	}
	return def, seriesKey{}, false
}

// page orders each result's data points, cuts the page [offset, offset+max)
// out of all of them, and sets NextToken when more remain.
func (p *plan) page(results []cwproto.MetricDataResult, series []*timeSeries) (*cwproto.GetMetricDataOutput, *query.Error) {
	total := 0
	for _, ts := range series {
		total += len(ts.times)
	}
	if p.offset > total {
		return nil, query.Client(cwproto.CodeInvalidNextToken, "The NextToken is past the end of this request's data points.")
	}
	out := &cwproto.GetMetricDataOutput{MetricDataResults: results}
	pos, stop := 0, p.offset+p.max
	for i, ts := range series {
		times, values := slices.Clone(ts.times), slices.Clone(ts.values)
		if !p.ascending {
			slices.Reverse(times)
			slices.Reverse(values)
		}
		lo := min(max(p.offset-pos, 0), len(times))
		hi := min(max(stop-pos, 0), len(times))
		for j := lo; j < hi; j++ {
			out.MetricDataResults[i].Timestamps = append(out.MetricDataResults[i].Timestamps, cwproto.Time{Time: time.Unix(times[j], 0).UTC()})
			out.MetricDataResults[i].Values = append(out.MetricDataResults[i].Values, values[j])
		}
		if hi < len(times) {
			out.MetricDataResults[i].StatusCode = "PartialData"
		}
		pos += len(times)
	}
	if stop < total {
		out.NextToken = makeToken(stop)
	}
	return out, nil
}

const tokenPrefix = "elbsim-cw:"

func makeToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + strconv.Itoa(offset)))
}

func parseToken(tok string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	s, ok := strings.CutPrefix(string(b), tokenPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}
