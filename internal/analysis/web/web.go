// Package web is the analysis provider that calls an HTTP endpoint and
// takes its answer as the measurement's result (Argo's web metric).
package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/util/jsonpath"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis/provider"
)

// DefaultTimeout is the request timeout when timeoutSeconds is unset or not positive.
const DefaultTimeout = 10 * time.Second

// maxBody bounds the answer read (a metric endpoint answers small documents).
const maxBody = 10 << 20

// Provider calls web metrics.
type Provider struct {
	// Transport is the base HTTP transport (nil: http.DefaultTransport).
	Transport http.RoundTripper
}

// Query sends the metric's request and returns the selected part of its
// answer: a JSON answer is decoded (objects as map[string]any, numbers as
// float64) and jsonPath (default {$}) picks the first match, formatted as
// JSON; any other answer is the body as a string. A transport error, a
// status outside 2xx and a jsonPath with no match are errors.
func (p *Provider) Query(ctx context.Context, m v1alpha1.Metric) (provider.Result, error) {
	w := m.Provider.Web
	if w == nil {
		return provider.Result{}, errors.New("metric has no web provider")
	}
	req, err := p.request(ctx, w)
	if err != nil {
		return provider.Result{}, err
	}
	timeout := DefaultTimeout
	if w.TimeoutSeconds > 0 {
		timeout = time.Duration(w.TimeoutSeconds) * time.Second
	}
	c, err := provider.HTTPClient(ctx, timeout, w.Insecure, w.Authentication, p.Transport)
	if err != nil {
		return provider.Result{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return provider.Result{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return provider.Result{}, fmt.Errorf("received non 2xx response code: %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return provider.Result{}, fmt.Errorf("reading the response from %s: %w", w.URL, err)
	}
	return parse(body, w.JSONPath)
}

// request builds the metric's HTTP request.
func (p *Provider) request(ctx context.Context, w *v1alpha1.WebMetric) (*http.Request, error) {
	method := v1alpha1.WebMetricMethodGet
	if w.Method != "" {
		method = w.Method
	}
	hasJSON := len(w.JSONBody) > 0 && string(w.JSONBody) != "null"
	if w.Body != "" && hasJSON {
		return nil, errors.New("use either Body or JSONBody; both cannot exists for WebMetric payload")
	}
	if (w.Body != "" || hasJSON) && method == v1alpha1.WebMetricMethodGet {
		return nil, errors.New("Body/JSONBody can only be used with POST or PUT WebMetric Method types") //nolint:staticcheck // Argo's message
	}
	var body io.Reader
	switch {
	case w.Body != "":
		body = strings.NewReader(w.Body)
	case hasJSON:
		body = bytes.NewReader(w.JSONBody)
	}
	req, err := http.NewRequestWithContext(ctx, string(method), w.URL, body)
	if err != nil {
		return nil, err
	}
	for _, h := range w.Headers {
		req.Header.Set(h.Key, h.Value)
	}
	if hasJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// parse turns an answer into a result: JSON through the JSONPath, anything
// else as a string.
func parse(body []byte, path string) (provider.Result, error) {
	var data any
	if err := json.Unmarshal(body, &data); err != nil {
		return provider.Result{Value: string(body), Formatted: string(body)}, nil
	}
	if path == "" {
		path = "{$}"
	}
	jp := jsonpath.New("metrics")
	if err := jp.Parse(path); err != nil {
		return provider.Result{}, fmt.Errorf("jsonPath %q: %w", path, err)
	}
	found, err := jp.FindResults(data)
	if err != nil {
		return provider.Result{}, fmt.Errorf("Could not find JSONPath in body: %s", err) //nolint:staticcheck,errorlint // Argo's message
	}
	for _, matches := range found {
		if len(matches) == 0 {
			continue
		}
		val := matches[0].Interface()
		formatted, err := json.Marshal(val)
		if err != nil {
			return provider.Result{}, err
		}
		return provider.Result{Value: val, Formatted: string(formatted)}, nil
	}
	return provider.Result{}, errors.New("result of web metric produced no value")
}
