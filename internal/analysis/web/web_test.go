package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func metric(w v1alpha1.WebMetric) v1alpha1.Metric {
	return v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Web: &w}}
}

func TestQuery(t *testing.T) {
	var got struct {
		method, body, contentType, auth, custom string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.body, got.contentType, got.custom = r.Method, string(b), r.Header.Get("Content-Type"), r.Header.Get("X-Custom")
		u, p, _ := r.BasicAuth()
		got.auth = u + ":" + p
		switch r.URL.Path {
		case "/json":
			_, _ = io.WriteString(w, `{"data": {"ok": true, "successPercent": 0.97, "list": [1, 2]}}`)
		case "/text":
			_, _ = io.WriteString(w, `healthy`)
		case "/fail":
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	p := &Provider{}
	ctx := context.Background()

	res, err := p.Query(ctx, metric(v1alpha1.WebMetric{URL: srv.URL + "/json", JSONPath: "{$.data}", Headers: []v1alpha1.WebMetricHeader{{Key: "X-Custom", Value: "a"}, {Key: "X-Custom", Value: "b"}}}))
	if err != nil {
		t.Fatal(err)
	}
	obj, ok := res.Value.(map[string]any)
	if !ok || obj["successPercent"] != 0.97 || got.method != "GET" || got.custom != "b" {
		t.Errorf("result %#v (%s, header %q)", res.Value, got.method, got.custom)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(res.Formatted), &back); err != nil || back["ok"] != true {
		t.Errorf("value %q", res.Formatted)
	}
	if res, err := p.Query(ctx, metric(v1alpha1.WebMetric{URL: srv.URL + "/json", JSONPath: "{$.data.list}"})); err != nil || res.Formatted != "[1,2]" {
		t.Errorf("list: %v %v", res, err)
	}
	if res, err := p.Query(ctx, metric(v1alpha1.WebMetric{URL: srv.URL + "/json"})); err != nil || !strings.HasPrefix(res.Formatted, `{"data":`) {
		t.Errorf("default jsonPath {$}: %v %v", res, err)
	}
	if res, err := p.Query(ctx, metric(v1alpha1.WebMetric{URL: srv.URL + "/text"})); err != nil || res.Value != "healthy" || res.Formatted != "healthy" {
		t.Errorf("text: %#v %v", res, err)
	}
	_, err = p.Query(ctx, metric(v1alpha1.WebMetric{URL: srv.URL + "/json", Method: "POST", JSONBody: json.RawMessage(`{"q": 1}`),
		Authentication: v1alpha1.Authentication{BasicAuth: v1alpha1.BasicAuth{Username: "u", Password: "p"}}}))
	if err != nil || got.method != "POST" || got.body != `{"q": 1}` || got.contentType != "application/json" || got.auth != "u:p" {
		t.Errorf("POST jsonBody: %v %+v", err, got)
	}
	for _, tc := range []struct {
		w    v1alpha1.WebMetric
		want string
	}{
		{v1alpha1.WebMetric{URL: srv.URL + "/fail"}, "received non 2xx response code: 503"},
		{v1alpha1.WebMetric{URL: srv.URL + "/json", JSONPath: "{$.nope}"}, "Could not find JSONPath in body"},
		{v1alpha1.WebMetric{URL: srv.URL + "/json", Body: "x"}, "Body/JSONBody can only be used with POST or PUT"},
		{v1alpha1.WebMetric{URL: srv.URL + "/json", Method: "PUT", Body: "x", JSONBody: json.RawMessage(`{}`)}, "use either Body or JSONBody"},
		{v1alpha1.WebMetric{URL: "http://127.0.0.1:1/unreachable"}, "connect"},
	} {
		if _, err := p.Query(ctx, metric(tc.w)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.w, err, tc.want)
		}
	}
}

func TestTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// timeoutSeconds is whole seconds; the context bounds the test.
	done := make(chan error, 1)
	go func() {
		_, err := (&Provider{}).Query(ctx, metric(v1alpha1.WebMetric{URL: srv.URL, TimeoutSeconds: 1}))
		done <- err
	}()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("err %v, want a timeout", err)
	}
}
