package cloudwatch

import (
	"math"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/cwproto"
)

const (
	lb  = "app/web/0123456789abcdef"
	tgA = "targetgroup/stable/0123456789abcdef"
	tgB = "targetgroup/canary/fedcba9876543210"
)

// t0 is a minute boundary.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func int32p(v int32) *int32 { return &v }

func stat(id, name string, period int32, statName string, dims ...string) cwproto.MetricDataQuery {
	m := &cwproto.Metric{Namespace: Namespace, MetricName: name}
	for i := 0; i+1 < len(dims); i += 2 {
		m.Dimensions = append(m.Dimensions, cwproto.Dimension{Name: dims[i], Value: dims[i+1]})
	}
	return cwproto.MetricDataQuery{ID: id, MetricStat: &cwproto.MetricStat{Metric: m, Period: int32p(period), Stat: statName}}
}

func run(t *testing.T, s *Service, from, to time.Time, qs ...cwproto.MetricDataQuery) map[string]cwproto.MetricDataResult {
	t.Helper()
	out, qe := s.GetMetricData(&cwproto.GetMetricDataInput{MetricDataQueries: qs, StartTime: &cwproto.Time{Time: from},
		EndTime: &cwproto.Time{Time: to}, ScanBy: "TimestampAscending"})
	if qe != nil {
		t.Fatalf("GetMetricData: %v", qe)
	}
	res := map[string]cwproto.MetricDataResult{}
	for _, r := range out.MetricDataResults {
		res[r.ID] = r
	}
	return res
}

func values(r cwproto.MetricDataResult) []float64 { return r.Values }

func near(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Abs(b) }

// fixture: in second 0, 10 requests to A (2 of them 500, 10ms..100ms); in
// second 1, 5 to B (200, 200ms) and 3 load-balancer 503s without a target;
// in second 70, 1 request to A.
func fixture() *Service {
	st := NewStore(0)
	for i := range 10 {
		status := 200
		if i < 2 {
			status = 500
		}
		st.Record(Request{Time: t0.Add(time.Duration(i) * time.Millisecond), LoadBalancer: lb, TargetGroup: tgA, TargetChosen: true,
			Status: status, FromTarget: true, TargetTime: time.Duration(i+1) * 10 * time.Millisecond})
	}
	for range 5 {
		st.Record(Request{Time: t0.Add(time.Second), LoadBalancer: lb, TargetGroup: tgB, TargetChosen: true, Status: 200, FromTarget: true, TargetTime: 200 * time.Millisecond})
	}
	for range 3 {
		st.Record(Request{Time: t0.Add(time.Second), LoadBalancer: lb, TargetGroup: tgB, Status: 503})
	}
	st.Record(Request{Time: t0.Add(70 * time.Second), LoadBalancer: lb, TargetGroup: tgA, TargetChosen: true, Status: 200, FromTarget: true, TargetTime: time.Millisecond})
	for s := range 3 {
		st.RecordHealth(t0.Add(time.Duration(s)*time.Second), lb, tgA, 2+s%2, 1)
	}
	return New(st)
}

func TestCounts(t *testing.T) {
	s := fixture()
	res := run(t, s, t0, t0.Add(2*time.Minute),
		stat("lbreq", "RequestCount", 60, "Sum", DimLoadBalancer, lb),
		stat("areq", "RequestCount", 60, "Sum", DimLoadBalancer, lb, DimTargetGroup, tgA),
		stat("a5xx", "HTTPCode_Target_5XX_Count", 60, "Sum", DimLoadBalancer, lb, DimTargetGroup, tgA),
		stat("lb5xx", "HTTPCode_Target_5XX_Count", 60, "Sum", DimLoadBalancer, lb),
		stat("elb5xx", "HTTPCode_ELB_5XX_Count", 60, "Sum", DimLoadBalancer, lb),
		stat("elb503", "HTTPCode_ELB_503_Count", 1, "Sum", DimLoadBalancer, lb),
		stat("elbtg", "HTTPCode_ELB_5XX_Count", 60, "Sum", DimLoadBalancer, lb, DimTargetGroup, tgB),
		stat("breq1", "RequestCount", 1, "Sum", DimLoadBalancer, lb, DimTargetGroup, tgB),
		stat("samples", "RequestCount", 60, "SampleCount", DimLoadBalancer, lb),
		stat("tgonly", "RequestCount", 60, "Sum", DimTargetGroup, tgA),
	)
	want := map[string][]float64{
		"lbreq":   {15, 1},
		"areq":    {10, 1},
		"a5xx":    {2},
		"lb5xx":   {2},
		"elb5xx":  {3},
		"elb503":  {3},
		"elbtg":   nil, // not published per target group
		"breq1":   {5},
		"samples": {2, 1}, // seconds with requests
		"tgonly":  nil,    // no such dimension set
	}
	for id, w := range want {
		if got := values(res[id]); !equal(got, w) {
			t.Errorf("%s: %v, want %v", id, got, w)
		}
	}
	if ts := res["breq1"].Timestamps; len(ts) != 1 || !ts[0].Equal(t0.Add(time.Second)) {
		t.Errorf("breq1 timestamps %v, want %v", ts, t0.Add(time.Second))
	}
	if ts := res["lbreq"].Timestamps; len(ts) != 2 || !ts[1].Equal(t0.Add(time.Minute)) {
		t.Errorf("lbreq timestamps %v", ts)
	}
	if res["lbreq"].Label != "RequestCount" {
		t.Errorf("label %q", res["lbreq"].Label)
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestResponseTimeAndHealth(t *testing.T) {
	s := fixture()
	dims := []string{DimLoadBalancer, lb, DimTargetGroup, tgA}
	res := run(t, s, t0, t0.Add(time.Minute),
		stat("avg", "TargetResponseTime", 60, "Average", dims...),
		stat("p50", "TargetResponseTime", 60, "p50", dims...),
		stat("p99", "TargetResponseTime", 60, "p99", dims...),
		stat("max", "TargetResponseTime", 60, "Maximum", dims...),
		stat("min", "TargetResponseTime", 60, "Minimum", dims...),
		stat("n", "TargetResponseTime", 60, "SampleCount", dims...),
		stat("healthy", "HealthyHostCount", 60, "Minimum", dims...),
		stat("healthymax", "HealthyHostCount", 60, "Maximum", dims...),
		stat("unhealthy", "UnHealthyHostCount", 60, "Average", dims...),
		stat("lbp99", "TargetResponseTime", 60, "p99", DimLoadBalancer, lb),
	)
	checks := map[string]float64{"avg": 0.055, "p50": 0.05, "p99": 0.1, "max": 0.1, "min": 0.01, "n": 10,
		"healthy": 2, "healthymax": 3, "unhealthy": 1, "lbp99": 0.2}
	for id, w := range checks {
		v := values(res[id])
		if len(v) != 1 || !near(v[0], w, 0.011) {
			t.Errorf("%s: %v, want %v (within 1%%)", id, v, w)
		}
	}
}

func TestExpressions(t *testing.T) {
	s := fixture()
	dims := []string{DimLoadBalancer, lb, DimTargetGroup, tgA}
	f := false
	req := stat("req", "RequestCount", 60, "Sum", dims...)
	req.ReturnData = &f
	errs := stat("errs", "HTTPCode_Target_5XX_Count", 60, "Sum", dims...)
	errs.ReturnData = &f
	res := run(t, s, t0, t0.Add(2*time.Minute), req, errs,
		cwproto.MetricDataQuery{ID: "rate", Expression: "errs / req * 100"},
		cwproto.MetricDataQuery{ID: "filled", Expression: "100 * FILL(errs, 0) / req", Label: "error %"},
		cwproto.MetricDataQuery{ID: "neg", Expression: "-(req - 2) ^ 2"},
	)
	if _, ok := res["req"]; ok {
		t.Error("a query with ReturnData false was returned")
	}
	if v := values(res["rate"]); !equal(v, []float64{20}) {
		t.Errorf("rate %v, want [20] (only where both have data)", v)
	}
	if v := values(res["filled"]); !equal(v, []float64{20, 0}) || res["filled"].Label != "error %" {
		t.Errorf("filled %v %q, want [20 0]", v, res["filled"].Label)
	}
	if v := values(res["neg"]); !equal(v, []float64{-64, -1}) {
		t.Errorf("neg %v, want [-64 -1]", v)
	}
}

func TestErrors(t *testing.T) {
	s := fixture()
	now := &cwproto.Time{Time: t0}
	later := &cwproto.Time{Time: t0.Add(time.Minute)}
	ok := stat("m1", "RequestCount", 60, "Sum", DimLoadBalancer, lb)
	bad := func(mod func(*cwproto.MetricDataQuery)) cwproto.MetricDataQuery {
		q := stat("m1", "RequestCount", 60, "Sum", DimLoadBalancer, lb)
		mod(&q)
		return q
	}
	cases := []struct {
		name string
		in   cwproto.GetMetricDataInput
		code string
	}{
		{"no queries", cwproto.GetMetricDataInput{StartTime: now, EndTime: later}, cwproto.CodeMissingParameter},
		{"no start", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{ok}, EndTime: later}, cwproto.CodeMissingParameter},
		{"start after end", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{ok}, StartTime: later, EndTime: now}, cwproto.CodeInvalidParameterValue},
		{"period 7", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{bad(func(q *cwproto.MetricDataQuery) { q.MetricStat.Period = int32p(7) })}, StartTime: now, EndTime: later}, cwproto.CodeInvalidParameterValue},
		{"period 90", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{bad(func(q *cwproto.MetricDataQuery) { q.MetricStat.Period = int32p(90) })}, StartTime: now, EndTime: later}, cwproto.CodeInvalidParameterValue},
		{"stat", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{bad(func(q *cwproto.MetricDataQuery) { q.MetricStat.Stat = "p101" })}, StartTime: now, EndTime: later}, cwproto.CodeInvalidParameterValue},
		{"id", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{bad(func(q *cwproto.MetricDataQuery) { q.ID = "M1" })}, StartTime: now, EndTime: later}, cwproto.CodeInvalidParameterValue},
		{"both", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{bad(func(q *cwproto.MetricDataQuery) { q.Expression = "1" })}, StartTime: now, EndTime: later}, cwproto.CodeInvalidParameterCombination},
		{"duplicate", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{ok, ok}, StartTime: now, EndTime: later}, cwproto.CodeInvalidParameterValue},
		{"unknown ref", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{ok, {ID: "e", Expression: "m1/m2"}}, StartTime: now, EndTime: later}, cwproto.CodeValidationError},
		{"syntax", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{ok, {ID: "e", Expression: "m1 /"}}, StartTime: now, EndTime: later}, cwproto.CodeValidationError},
		{"function", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{ok, {ID: "e", Expression: "ANOMALY_DETECTION_BAND(m1)"}}, StartTime: now, EndTime: later}, cwproto.CodeValidationError},
		{"cycle", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{{ID: "a", Expression: "b+1"}, {ID: "b", Expression: "a+1"}}, StartTime: now, EndTime: later}, cwproto.CodeValidationError},
		{"scalar", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{{ID: "a", Expression: "1+1"}}, StartTime: now, EndTime: later}, cwproto.CodeValidationError},
		{"token", cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{ok}, StartTime: now, EndTime: later, NextToken: "nope"}, cwproto.CodeInvalidNextToken},
	}
	for _, c := range cases {
		_, qe := s.GetMetricData(&c.in)
		if qe == nil || qe.Code != c.code || qe.Status != 400 {
			t.Errorf("%s: %v, want %s", c.name, qe, c.code)
		}
	}
}

func TestPagesAndOrder(t *testing.T) {
	s := fixture()
	q := stat("m1", "RequestCount", 1, "Sum", DimLoadBalancer, lb)
	in := &cwproto.GetMetricDataInput{MetricDataQueries: []cwproto.MetricDataQuery{q}, StartTime: &cwproto.Time{Time: t0},
		EndTime: &cwproto.Time{Time: t0.Add(2 * time.Minute)}, MaxDatapoints: int32p(2)}
	out, qe := s.GetMetricData(in)
	if qe != nil {
		t.Fatal(qe)
	}
	r := out.MetricDataResults[0]
	if !equal(r.Values, []float64{1, 5}) || r.StatusCode != "PartialData" || out.NextToken == "" {
		t.Fatalf("page 1: %v %s %q (want the newest first: 1 at 70 s, 5 at 1 s)", r.Values, r.StatusCode, out.NextToken)
	}
	in.NextToken = out.NextToken
	out, qe = s.GetMetricData(in)
	if qe != nil {
		t.Fatal(qe)
	}
	r = out.MetricDataResults[0]
	if !equal(r.Values, []float64{10}) || r.StatusCode != "Complete" || out.NextToken != "" {
		t.Fatalf("page 2: %v %s %q", r.Values, r.StatusCode, out.NextToken)
	}
}

func TestListMetrics(t *testing.T) {
	s := fixture()
	out, qe := s.ListMetrics(&cwproto.ListMetricsInput{Namespace: Namespace, Dimensions: []cwproto.DimensionFilter{{Name: DimTargetGroup, Value: tgA}}})
	if qe != nil {
		t.Fatal(qe)
	}
	names := map[string]bool{}
	for _, m := range out.Metrics {
		names[m.MetricName] = true
		if len(m.Dimensions) != 2 || m.Dimensions[1].Value != tgA {
			t.Errorf("dimensions %v", m.Dimensions)
		}
	}
	for _, n := range []string{"RequestCount", "HTTPCode_Target_2XX_Count", "HTTPCode_Target_5XX_Count", "TargetResponseTime", "HealthyHostCount", "UnHealthyHostCount"} {
		if !names[n] {
			t.Errorf("%s missing from %v", n, names)
		}
	}
	if names["HTTPCode_ELB_5XX_Count"] || names["HTTPCode_Target_4XX_Count"] {
		t.Errorf("metrics without data or not published per target group: %v", names)
	}
}

// TestStoreBounded checks that a series keeps only its retention: a second
// older than the retention is dropped, and recording far in the past is ignored.
func TestStoreBounded(t *testing.T) {
	st := NewStore(10 * time.Second)
	for s := range 25 {
		st.Record(Request{Time: t0.Add(time.Duration(s) * time.Second), LoadBalancer: lb, TargetChosen: true, Status: 200, FromTarget: true})
	}
	st.Record(Request{Time: t0, LoadBalancer: lb, TargetChosen: true, Status: 200, FromTarget: true}) // too old now
	n := 0
	st.each(seriesKey{loadBalancer: lb}, t0.Unix(), t0.Add(time.Hour).Unix(), func(b *bucket) { n += int(b.counts[cRequests]) })
	if n != 10 {
		t.Fatalf("%d requests kept, want the last 10 seconds' 10", n)
	}
	if len(st.series[seriesKey{loadBalancer: lb}].slots) != 10 {
		t.Fatal("the ring grew")
	}
	st.Prune(t0.Add(time.Hour))
	if len(st.series) != 0 {
		t.Fatal("an idle series was not pruned")
	}
}
