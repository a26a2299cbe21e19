package cloudwatch

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/fxamacker/cbor/v2"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// cloudWatch is a GetMetricData endpoint speaking the SDK's protocol
// (Smithy RPC v2 CBOR): it records the request and answers with answer, or
// with an error code.
type cloudWatch struct {
	request map[string]any
	path    string
	errCode string
}

func (c *cloudWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.path = r.URL.Path
	body, _ := io.ReadAll(r.Body)
	c.request = nil
	_ = cbor.Unmarshal(body, &c.request)
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	if c.errCode != "" {
		w.Header().Set("X-Amzn-Query-Error", c.errCode+";Sender")
		w.WriteHeader(http.StatusForbidden)
		out, _ := cbor.Marshal(map[string]any{"__type": c.errCode, "message": "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: cloudwatch:GetMetricData"})
		_, _ = w.Write(out)
		return
	}
	ts := cbor.Tag{Number: 1, Content: float64(1700000000)}
	out, _ := cbor.Marshal(map[string]any{
		"MetricDataResults": []any{
			map[string]any{"Id": "rate", "Label": "rate", "StatusCode": "Complete", "Values": []float64{0.0029, 0.0061}, "Timestamps": []any{ts, ts}},
		},
		"Messages": []any{map[string]any{"Code": "MaxQueryTimeRangeExceed", "Value": "x"}},
	})
	_, _ = w.Write(out)
}

func newTestProvider(t *testing.T, h http.Handler) *Provider {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")}
	p := New(cfg, Options{EndpointURL: srv.URL})
	p.Now = func() time.Time { return time.Unix(1700000600, 0) }
	return p
}

func albMetric() v1alpha1.Metric {
	ns, expr := "AWS/ApplicationELB", "errors / requests"
	period := intstr.FromInt32(60)
	return v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{CloudWatch: &v1alpha1.CloudWatchMetric{Interval: "10m", MetricDataQueries: []v1alpha1.CloudWatchMetricDataQuery{
		{Id: "rate", Expression: &expr},
		{Id: "errors", ReturnData: aws.Bool(false), MetricStat: &v1alpha1.CloudWatchMetricStat{Period: intstr.FromInt32(60), Stat: "Sum", Unit: "Count",
			Metric: v1alpha1.CloudWatchMetricStatMetric{Namespace: &ns, MetricName: "HTTPCode_Target_5XX_Count", Dimensions: []v1alpha1.CloudWatchMetricStatMetricDimension{
				{Name: "LoadBalancer", Value: "app/lb/1"}, {Name: "TargetGroup", Value: "targetgroup/tg/2"}}}}},
		{Id: "requests", ReturnData: aws.Bool(false), Period: &period, Expression: aws.String("SUM(METRICS())")},
	}}}}
}

func TestQuery(t *testing.T) {
	cw := &cloudWatch{}
	p := newTestProvider(t, cw)
	res, err := p.Query(context.Background(), albMetric())
	if err != nil {
		t.Fatal(err)
	}
	results, ok := res.Value.([]types.MetricDataResult)
	if !ok || len(results) != 1 || aws.ToString(results[0].Id) != "rate" || results[0].StatusCode != types.StatusCodeComplete || len(results[0].Values) != 2 {
		t.Fatalf("result %#v", res.Value)
	}
	if res.Formatted != "[[0.0029 0.0061]]" || !strings.Contains(res.Metadata["messages"], "MaxQueryTimeRangeExceed") {
		t.Errorf("value %q metadata %v", res.Formatted, res.Metadata)
	}
	if !strings.HasSuffix(cw.path, "/GetMetricData") {
		t.Errorf("path %s", cw.path)
	}
	queries, _ := cw.request["MetricDataQueries"].([]any)
	if len(queries) != 3 {
		t.Fatalf("request %v", cw.request)
	}
	stat := queries[1].(map[any]any)["MetricStat"].(map[any]any)
	metric := stat["Metric"].(map[any]any)
	if metric["MetricName"] != "HTTPCode_Target_5XX_Count" || stat["Stat"] != "Sum" || stat["Unit"] != "Count" || len(metric["Dimensions"].([]any)) != 2 {
		t.Errorf("metricStat %v", stat)
	}
	start, _ := cw.request["StartTime"].(time.Time)
	end, _ := cw.request["EndTime"].(time.Time)
	if end.Sub(start) != 10*time.Minute || !end.Equal(time.Unix(1700000600, 0)) {
		t.Errorf("window %v..%v, want the 10m interval", start, end)
	}
}

// AccessDenied names the IAM action and the policy file.
func TestAccessDenied(t *testing.T) {
	p := newTestProvider(t, &cloudWatch{errCode: "AccessDenied"})
	_, err := p.Query(context.Background(), albMetric())
	if err == nil || !strings.Contains(err.Error(), "cloudwatch:GetMetricData") || !strings.Contains(err.Error(), "config/iam-policy-cloudwatch.json") {
		t.Errorf("err %v", err)
	}
	p = newTestProvider(t, &cloudWatch{errCode: "InvalidParameterValue"})
	if _, err := p.Query(context.Background(), albMetric()); err == nil || strings.Contains(err.Error(), "iam-policy") {
		t.Errorf("another error blames IAM: %v", err)
	}
}
