package elbsim_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
	"github.com/aws/smithy-go/transport/http/protocol/rpcv2"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// cwProtocols are the three protocols CloudWatch's clients speak, each set on
// the real SDK client: its own (RPC v2 CBOR), and the awsJson1_0 and
// awsQuery protocols of smithy-go, which older SDK versions used.
var cwProtocols = map[string]func(*cloudwatch.Options){
	"rpcv2Cbor":  func(o *cloudwatch.Options) { o.Protocol = rpcv2.NewCBOR(schemas.GraniteServiceVersion20100801) },
	"awsJson1_0": func(o *cloudwatch.Options) { o.Protocol = awsjson.New10(schemas.GraniteServiceVersion20100801) },
	"awsQuery":   func(o *cloudwatch.Options) { o.Protocol = awsquery.New(schemas.GraniteServiceVersion20100801) },
}

// albTraffic is an ALB with three target groups behind path rules, and the
// traffic sent through it: 30 requests to stable (200), 20 to canary (5 of
// them 500), 2 to a group without targets (the load balancer's 503).
type albTraffic struct {
	lb, stable, canary, empty string // CloudWatch dimension values
	start                     time.Time
}

func sendALBTraffic(t *testing.T, e *env) albTraffic {
	t.Helper()
	stableB := newBackend(t, "stable")
	canaryB := &backend{}
	canaryB.serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/fail") {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	lb := e.lb("cw-lb")
	stable, canary, empty := e.tg("cw-stable", fastChecks), e.tg("cw-canary", fastChecks), e.tg("cw-empty", fastChecks)
	l := e.listener(lb.LoadBalancerArn, 80, forward(weighted{stable.TargetGroupArn, 1}))
	for i, r := range []struct {
		path string
		tg   *string
	}{{"/canary/*", canary.TargetGroupArn}, {"/empty/*", empty.TargetGroupArn}} {
		if _, err := e.c.CreateRule(e.ctx, &elbv2.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(int32(i + 1)),
			Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{r.path}}}},
			Actions:    []types.Action{forward(weighted{r.tg, 1})}}); err != nil {
			t.Fatalf("CreateRule: %v", err)
		}
	}
	e.register(stable.TargetGroupArn, stableB.target())
	e.register(canary.TargetGroupArn, canaryB.target())
	e.waitHealthy(stable.TargetGroupArn, 1)
	e.waitHealthy(canary.TargetGroupArn, 1)
	url := e.listenerURL(lb.DNSName, 80)
	out := albTraffic{lb: elbsim.LoadBalancerDimension(*lb.LoadBalancerArn), stable: elbsim.TargetGroupDimension(*stable.TargetGroupArn),
		canary: elbsim.TargetGroupDimension(*canary.TargetGroupArn), empty: elbsim.TargetGroupDimension(*empty.TargetGroupArn), start: time.Now()}
	send := func(path string, n, want int) {
		for range n {
			resp, err := http.Get(url + path)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
			}
		}
	}
	send("/", 30, 200)
	send("/canary/ok", 15, 200)
	send("/canary/fail", 5, 500)
	send("/empty/x", 2, 503)
	return out
}

func metricQuery(id, name, stat string, period int32, dims ...string) cwtypes.MetricDataQuery {
	m := &cwtypes.Metric{Namespace: aws.String("AWS/ApplicationELB"), MetricName: aws.String(name)}
	for i := 0; i+1 < len(dims); i += 2 {
		m.Dimensions = append(m.Dimensions, cwtypes.Dimension{Name: aws.String(dims[i]), Value: aws.String(dims[i+1])})
	}
	return cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{Metric: m, Period: aws.Int32(period), Stat: aws.String(stat)}}
}

func sum(vs []float64) float64 {
	s := 0.0
	for _, v := range vs {
		s += v
	}
	return s
}

// TestCloudWatchGetMetricData sends real traffic through the data plane and
// reads it back with GetMetricData from the real SDK client in each protocol:
// request and status counts per load balancer and target group, response
// times, host counts, metric math and the data points' timestamps.
func TestCloudWatchGetMetricData(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	tr := sendALBTraffic(t, e)
	lbDim := []string{"LoadBalancer", tr.lb}
	tgDim := func(tg string) []string { return []string{"LoadBalancer", tr.lb, "TargetGroup", tg} }
	f := false
	req := metricQuery("req", "RequestCount", "Sum", 60, tgDim(tr.canary)...)
	req.ReturnData = &f
	queries := []cwtypes.MetricDataQuery{
		metricQuery("lbreq", "RequestCount", "Sum", 60, lbDim...),
		metricQuery("stablereq", "RequestCount", "Sum", 60, tgDim(tr.stable)...),
		metricQuery("canaryreq", "RequestCount", "Sum", 10, tgDim(tr.canary)...),
		metricQuery("canary5xx", "HTTPCode_Target_5XX_Count", "Sum", 60, tgDim(tr.canary)...),
		metricQuery("canary2xx", "HTTPCode_Target_2XX_Count", "Sum", 60, tgDim(tr.canary)...),
		metricQuery("lb5xx", "HTTPCode_Target_5XX_Count", "Sum", 60, lbDim...),
		metricQuery("elb5xx", "HTTPCode_ELB_5XX_Count", "Sum", 60, lbDim...),
		metricQuery("rtn", "TargetResponseTime", "SampleCount", 60, tgDim(tr.canary)...),
		metricQuery("rtp99", "TargetResponseTime", "p99", 60, tgDim(tr.canary)...),
		req,
		{Id: aws.String("rate"), Expression: aws.String("canary5xx / req"), Label: aws.String("canary 5xx ratio")},
	}
	for name, proto := range cwProtocols {
		t.Run(name, func(t *testing.T) {
			cw := elbsimtest.CloudWatchClient(e.s, "us-east-1", "", proto)
			before := e.s.Stats().Actions["GetMetricData"].Protocols[name]
			out, err := cw.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{MetricDataQueries: queries,
				StartTime: aws.Time(tr.start.Add(-time.Minute)), EndTime: aws.Time(time.Now().Add(time.Minute))})
			if err != nil {
				t.Fatalf("GetMetricData: %v", err)
			}
			if n := e.s.Stats().Actions["GetMetricData"].Protocols[name]; n != before+1 {
				t.Errorf("elbsim counted %d %s calls, want %d", n, name, before+1)
			}
			got := map[string]cwtypes.MetricDataResult{}
			for _, r := range out.MetricDataResults {
				got[*r.Id] = r
				if r.StatusCode != cwtypes.StatusCodeComplete || len(r.Timestamps) != len(r.Values) {
					t.Errorf("%s: status %s, %d timestamps for %d values", *r.Id, r.StatusCode, len(r.Timestamps), len(r.Values))
				}
			}
			want := map[string]float64{"lbreq": 50, "stablereq": 30, "canaryreq": 20, "canary5xx": 5, "canary2xx": 15,
				"lb5xx": 5, "elb5xx": 2, "rtn": 20}
			for id, w := range want {
				if s := sum(got[id].Values); s != w {
					t.Errorf("%s: %v (sum %v), want %v", id, got[id].Values, s, w)
				}
			}
			if _, ok := got["req"]; ok {
				t.Error("a query with ReturnData false came back")
			}
			if v := got["rtp99"].Values; len(v) == 0 || v[0] <= 0 || v[0] > 5 {
				t.Errorf("TargetResponseTime p99 %v, want a positive number of seconds", v)
			}
			rate := got["rate"]
			if aws.ToString(rate.Label) != "canary 5xx ratio" || len(rate.Values) == 0 || sum(rate.Values) <= 0 || sum(rate.Values) > 1 {
				t.Errorf("rate %q %v, want the 5xx share of the canary's requests", aws.ToString(rate.Label), rate.Values)
			}
			for _, ts := range got["canaryreq"].Timestamps {
				if ts.Unix()%10 != 0 || ts.Before(tr.start.Add(-10*time.Second)) || ts.After(time.Now()) {
					t.Errorf("canaryreq timestamp %v: want a 10-second boundary during the traffic", ts)
				}
			}
		})
	}

	// HealthyHostCount is sampled every second: one healthy canary target, none unhealthy.
	cw := elbsimtest.CloudWatchClient(e.s, "us-east-1", "")
	poll.Until(t, 30*time.Second, "HealthyHostCount of the canary", func() bool {
		out, err := cw.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
			MetricDataQueries: []cwtypes.MetricDataQuery{
				metricQuery("h", "HealthyHostCount", "Minimum", 1, tgDim(tr.canary)...),
				metricQuery("u", "UnHealthyHostCount", "Maximum", 60, tgDim(tr.canary)...),
			},
			StartTime: aws.Time(tr.start), EndTime: aws.Time(time.Now().Add(time.Minute)), ScanBy: cwtypes.ScanByTimestampDescending})
		if err != nil {
			t.Fatalf("GetMetricData: %v", err)
		}
		h, u := out.MetricDataResults[0].Values, out.MetricDataResults[1].Values
		return len(h) > 0 && h[0] == 1 && len(u) > 0 && u[0] == 0
	})
}

// TestCloudWatchErrors checks CloudWatch's errors in each protocol: the same
// error code reaches the SDK (typed where CloudWatch models the error), and
// AccessDenied injected through the admin API names cloudwatch:GetMetricData.
func TestCloudWatchErrors(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	now := time.Now()
	ok := metricQuery("m1", "RequestCount", "Sum", 60, "LoadBalancer", "app/x/0123456789abcdef")
	badPeriod := metricQuery("m1", "RequestCount", "Sum", 45, "LoadBalancer", "app/x/0123456789abcdef")
	for name, proto := range cwProtocols {
		t.Run(name, func(t *testing.T) {
			cw := elbsimtest.CloudWatchClient(e.s, "us-east-1", "", proto, func(o *cloudwatch.Options) { o.RetryMaxAttempts = 1 })
			get := func(qs ...cwtypes.MetricDataQuery) error {
				_, err := cw.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{MetricDataQueries: qs,
					StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now)})
				return err
			}
			// The wire carries CloudWatch's Query code; the awsQuery client
			// reports a modelled error by its shape name, the JSON and CBOR
			// clients by the Query code (x-amzn-query-error).
			code := func(wire, shape string) string {
				if name == "awsQuery" {
					return shape
				}
				return wire
			}
			var ipv *cwtypes.InvalidParameterValueException
			if err := get(badPeriod); !errors.As(err, &ipv) || apiCode(err) != code("InvalidParameterValue", "InvalidParameterValueException") || !strings.Contains(err.Error(), "Period") {
				t.Errorf("period 45: %v (code %q), want InvalidParameterValueException", err, apiCode(err))
			}
			var ipc *cwtypes.InvalidParameterCombinationException
			both := ok
			both.Expression = aws.String("m1")
			if err := get(both); !errors.As(err, &ipc) || apiCode(err) != code("InvalidParameterCombination", "InvalidParameterCombinationException") {
				t.Errorf("MetricStat and Expression: %v (code %q)", err, apiCode(err))
			}
			var ve *cwtypes.ValidationException
			if err := get(ok, cwtypes.MetricDataQuery{Id: aws.String("e1"), Expression: aws.String("m1 / m9")}); !errors.As(err, &ve) ||
				apiCode(err) != code("ValidationError", "ValidationException") || !strings.Contains(err.Error(), "m9") {
				t.Errorf("unknown reference: %v (code %q)", err, apiCode(err))
			}
			e.s.Faults().DenyAction("GetMetricData")
			err := get(ok)
			e.s.Faults().AllowAction("GetMetricData")
			if apiCode(err) != "AccessDenied" || !strings.Contains(err.Error(), "cloudwatch:GetMetricData") {
				t.Errorf("AccessDenied: %v (code %q)", err, apiCode(err))
			}
			if err := get(ok); err != nil {
				t.Errorf("after the fault: %v", err)
			}
		})
	}
}

// TestCloudWatchListMetrics lists the metrics the traffic produced.
func TestCloudWatchListMetrics(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	tr := sendALBTraffic(t, e)
	cw := elbsimtest.CloudWatchClient(e.s, "us-east-1", "")
	out, err := cw.ListMetrics(context.Background(), &cloudwatch.ListMetricsInput{Namespace: aws.String("AWS/ApplicationELB"),
		Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("TargetGroup"), Value: aws.String(tr.canary)}}})
	if err != nil {
		t.Fatalf("ListMetrics: %v", err)
	}
	names := map[string]bool{}
	for _, m := range out.Metrics {
		names[aws.ToString(m.MetricName)] = true
	}
	for _, n := range []string{"RequestCount", "HTTPCode_Target_2XX_Count", "HTTPCode_Target_5XX_Count", "TargetResponseTime"} {
		if !names[n] {
			t.Errorf("ListMetrics lacks %s: %v", n, names)
		}
	}
	if names["HTTPCode_ELB_5XX_Count"] {
		t.Error("HTTPCode_ELB_5XX_Count is not published per target group")
	}
}

// promValue returns the value of the sample of metric whose labels include
// all of labels, from Prometheus text, and whether there is one.
func promValue(text, metric string, labels map[string]string) (float64, bool) {
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(line, "{")
		if !ok || name != metric {
			continue
		}
		lbls, val, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && strings.Contains(","+lbls+",", ","+k+"="+strconv.Quote(v)+",")
		}
		if f, err := strconv.ParseFloat(val, 64); match && err == nil {
			return f, true
		}
	}
	return 0, false
}

// TestDataPlanePrometheusMetrics reads the data plane's metrics after real
// traffic: requests by origin and status class per target group and load
// balancer, the response-time histogram, and the host gauges.
func TestDataPlanePrometheusMetrics(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	tr := sendALBTraffic(t, e)
	text := string(adminDo(t, "GET", e.s.Endpoint()+"/_elbsim/metrics", "", 200))
	checks := []struct {
		metric string
		labels map[string]string
		want   float64
	}{
		{"elbsim_alb_requests_total", map[string]string{"load_balancer": tr.lb, "target_group": tr.canary, "origin": "target", "code_class": "5xx"}, 5},
		{"elbsim_alb_requests_total", map[string]string{"load_balancer": tr.lb, "target_group": tr.canary, "origin": "target", "code_class": "2xx"}, 15},
		{"elbsim_alb_requests_total", map[string]string{"load_balancer": tr.lb, "target_group": tr.stable, "origin": "target", "code_class": "2xx"}, 30},
		{"elbsim_alb_requests_total", map[string]string{"load_balancer": tr.lb, "target_group": tr.empty, "origin": "elb", "code_class": "5xx"}, 2},
		{"elbsim_alb_target_response_time_seconds_count", map[string]string{"load_balancer": tr.lb, "target_group": tr.canary}, 20},
		{"elbsim_alb_target_response_time_seconds_bucket", map[string]string{"load_balancer": tr.lb, "target_group": tr.canary, "le": "+Inf"}, 20},
		{"elbsim_alb_healthy_targets", map[string]string{"load_balancer": tr.lb, "target_group": tr.canary}, 1},
		{"elbsim_alb_unhealthy_targets", map[string]string{"load_balancer": tr.lb, "target_group": tr.canary}, 0},
		{"elbsim_alb_healthy_targets", map[string]string{"load_balancer": tr.lb, "target_group": tr.empty}, 0},
	}
	for _, c := range checks {
		if v, ok := promValue(text, c.metric, c.labels); !ok || v != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.metric, c.labels, v, ok, c.want)
		}
	}
	if t.Failed() {
		t.Log(text)
	}
}
