package prometheus

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// promAPI answers /api/v1/query and /api/v1/query_range as Prometheus's
// HTTP API does, with the data given per query.
func promAPI(t *testing.T, answers map[string]string, seen *http.Request) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Error(err)
		}
		*seen = *r
		q := r.Form.Get("query")
		data, ok := answers[q]
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = fmt.Fprintf(w, `{"status":"error","errorType":"bad_data","error":"parse error in %s"}`, q)
			return
		}
		_, _ = fmt.Fprintf(w, `{"status":"success","data":%s,"warnings":["w1"]}`, data)
	}))
}

func TestQuery(t *testing.T) {
	var seen http.Request
	srv := promAPI(t, map[string]string{
		"scalar": `{"resultType":"scalar","result":[1700000000,"0.97"]}`,
		"vector": `{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1700000000,"0.5"]},{"metric":{"a":"2"},"value":[1700000000,"NaN"]}]}`,
		"empty":  `{"resultType":"vector","result":[]}`,
		"matrix": `{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"2"]]},{"metric":{},"values":[[1,"3"]]}]}`,
		"string": `{"resultType":"string","result":[1700000000,"x"]}`,
	}, &seen)
	defer srv.Close()
	p := &Provider{Now: func() time.Time { return time.Unix(1700000000, 0) }}
	query := func(pm v1alpha1.PrometheusMetric) (string, any, error) {
		if pm.Address == "" {
			pm.Address = srv.URL
		}
		res, err := p.Query(context.Background(), v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: &pm}})
		return res.Formatted, res.Value, err
	}
	for q, want := range map[string]string{"scalar": "0.97", "vector": "[0.5,NaN]", "empty": "[]", "matrix": "[1,2,3]"} {
		got, v, err := query(v1alpha1.PrometheusMetric{Query: q, Headers: []v1alpha1.WebMetricHeader{{Key: "X-Scope-OrgID", Value: "team"}}})
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", q, got, err, want)
		}
		if q == "empty" {
			if s, ok := v.([]float64); !ok || s == nil || len(s) != 0 {
				t.Errorf("empty vector is %#v, want []float64{}", v)
			}
		}
		if seen.Header.Get("X-Scope-OrgID") != "team" {
			t.Errorf("%s: header not sent", q)
		}
	}
	// A string result: the client refuses it before the provider sees it.
	if _, _, err := query(v1alpha1.PrometheusMetric{Query: "string"}); err == nil || !strings.Contains(err.Error(), "string") {
		t.Errorf("string result: %v", err)
	}
	if _, _, err := query(v1alpha1.PrometheusMetric{Query: "sum(("}); err == nil || !strings.Contains(err.Error(), "parse error") {
		t.Errorf("bad query: %v", err)
	}
	if _, _, err := query(v1alpha1.PrometheusMetric{Query: "matrix", RangeQuery: &v1alpha1.PrometheusRangeQueryArgs{Start: `now() - duration("5m")`, End: "now()", Step: "1m"}}); err != nil || seen.URL.Path != "/api/v1/query_range" || seen.Form.Get("step") != "60" {
		t.Errorf("range query: %v, %s step %s", err, seen.URL.Path, seen.Form.Get("step"))
	}
	neg := int64(-1)
	if _, _, err := query(v1alpha1.PrometheusMetric{Query: "scalar", Timeout: &neg}); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Errorf("negative timeout: %v", err)
	}
	if _, _, err := query(v1alpha1.PrometheusMetric{Address: "not a url", Query: "scalar"}); err == nil || !strings.Contains(err.Error(), "not a URL") {
		t.Errorf("bad address: %v", err)
	}
	t.Setenv(AddressEnv, srv.URL)
	res, err := p.Query(context.Background(), v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Query: "scalar"}}})
	if err != nil || res.Metadata["warnings"] != `"w1"` {
		t.Errorf("address from %s: %+v %v", AddressEnv, res, err)
	}
	if md := Metadata(v1alpha1.Metric{Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{Query: "up"}}}); md[ResolvedQueryKey] != "up" {
		t.Errorf("metadata %v", md)
	}
}

// Amazon Managed Prometheus: a SigV4 Authorization for the aps service in
// the metric's region, over the request's body.
func TestSigV4(t *testing.T) {
	var seen http.Request
	srv := promAPI(t, map[string]string{"up": `{"resultType":"scalar","result":[1,"1"]}`}, &seen)
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	p := &Provider{Signer: AWSSigner{}}
	// The workspace address is recognised by its path; the test server stands in for it.
	pm := &v1alpha1.PrometheusMetric{Address: srv.URL + "/workspaces/aps-workspaces/ws-1", Query: "up",
		Authentication: v1alpha1.Authentication{Sigv4: v1alpha1.Sigv4Config{Region: "eu-west-1"}}}
	if _, err := p.Query(context.Background(), v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: pm}}); err != nil {
		t.Fatal(err)
	}
	auth := seen.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/eu-west-1/aps/aws4_request") || seen.Header.Get("X-Amz-Date") == "" {
		t.Errorf("Authorization %q", auth)
	}
	// Without aps-workspaces in the address nothing is signed.
	pm.Address = srv.URL
	if _, err := p.Query(context.Background(), v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Prometheus: pm}}); err != nil || seen.Header.Get("Authorization") != "" {
		t.Errorf("signed a plain Prometheus: %v %q", err, seen.Header.Get("Authorization"))
	}
}
