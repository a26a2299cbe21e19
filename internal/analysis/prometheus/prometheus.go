// Package prometheus is the analysis provider that runs a PromQL query
// (Argo's prometheus metric), with the Prometheus Go client, and signs it
// with SigV4 for Amazon Managed Prometheus.
package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis/provider"
)

// AddressEnv is read when a metric has no address, as Argo reads it.
const AddressEnv = "ARGO_ROLLOUTS_PROMETHEUS_ADDRESS"

// DefaultTimeout is the query timeout when timeout is unset (or 0).
const DefaultTimeout = 30 * time.Second

// ResolvedQueryKey is the metric result's metadata key of the query with
// its args substituted.
const ResolvedQueryKey = "ResolvedPrometheusQuery"

// Provider runs Prometheus queries.
type Provider struct {
	// Transport is the base HTTP transport (nil: http.DefaultTransport).
	Transport http.RoundTripper
	// Signer signs requests to Amazon Managed Prometheus (addresses with
	// aps-workspaces) when the metric has a sigv4 block; nil: such metrics
	// are an error.
	Signer Signer
	// Now is the query time (nil: time.Now).
	Now func() time.Time
}

// Signer wraps a transport so that it signs every request with SigV4.
type Signer interface {
	Transport(ctx context.Context, cfg v1alpha1.Sigv4Config, next http.RoundTripper) (http.RoundTripper, error)
}

// Metadata is what the metric result keeps: the resolved query.
func Metadata(m v1alpha1.Metric) map[string]string {
	if m.Provider.Prometheus == nil || m.Provider.Prometheus.Query == "" {
		return nil
	}
	return map[string]string{ResolvedQueryKey: m.Provider.Prometheus.Query}
}

// Query runs the metric's query. A scalar is a float64 result; a vector is
// []float64, one value per series; a matrix (a range query) is []float64 of
// every sample of every series. Warnings go into the measurement's metadata.
func (p *Provider) Query(ctx context.Context, m v1alpha1.Metric) (provider.Result, error) {
	pm := m.Provider.Prometheus
	if pm == nil {
		return provider.Result{}, errors.New("metric has no prometheus provider")
	}
	address, err := address(pm.Address)
	if err != nil {
		return provider.Result{}, err
	}
	timeout := DefaultTimeout
	if pm.Timeout != nil {
		if *pm.Timeout < 0 {
			return provider.Result{}, errors.New("prometheus timeout should not be negative")
		}
		if *pm.Timeout > 0 {
			timeout = time.Duration(*pm.Timeout) * time.Second
		}
	}
	rt, err := p.transport(ctx, address, pm)
	if err != nil {
		return provider.Result{}, err
	}
	client, err := api.NewClient(api.Config{Address: address, RoundTripper: rt})
	if err != nil {
		return provider.Result{}, fmt.Errorf("prometheus address %q: %w", address, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	value, warnings, err := p.query(ctx, promv1.NewAPI(client), pm)
	if err != nil {
		return provider.Result{}, fmt.Errorf("prometheus query at %s: %w", address, err)
	}
	res, err := result(value)
	if err != nil {
		return provider.Result{}, err
	}
	if len(warnings) > 0 {
		quoted := make([]string, len(warnings))
		for i, w := range warnings {
			quoted[i] = strconv.Quote(w)
		}
		res.Metadata = map[string]string{"warnings": strings.Join(quoted, ", ")}
	}
	return res, nil
}

// address is the metric's address, or $ARGO_ROLLOUTS_PROMETHEUS_ADDRESS; it
// must be a URL with a scheme and a host.
func address(a string) (string, error) {
	if a == "" {
		a = os.Getenv(AddressEnv)
	}
	if a == "" {
		return "", fmt.Errorf("prometheus address is empty: set provider.prometheus.address (or %s on the controller)", AddressEnv)
	}
	u, err := url.Parse(a)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("prometheus address %q is not a URL with a scheme and a host", a)
	}
	return a, nil
}

// transport is the base transport with the metric's TLS, headers,
// authentication and, for Amazon Managed Prometheus, SigV4 signing.
func (p *Provider) transport(ctx context.Context, address string, pm *v1alpha1.PrometheusMetric) (http.RoundTripper, error) {
	c, err := provider.HTTPClient(ctx, 0, pm.Insecure, v1alpha1.Authentication{OAuth2: pm.Authentication.OAuth2, BasicAuth: pm.Authentication.BasicAuth}, p.Transport)
	if err != nil {
		return nil, err
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	if strings.Contains(address, "aps-workspaces") && pm.Authentication.Sigv4 != (v1alpha1.Sigv4Config{}) {
		if p.Signer == nil {
			return nil, errors.New("sigv4: this controller has no AWS signer")
		}
		if rt, err = p.Signer.Transport(ctx, pm.Authentication.Sigv4, rt); err != nil {
			return nil, fmt.Errorf("sigv4: %w", err)
		}
	}
	if len(pm.Headers) > 0 {
		rt = headers{h: pm.Headers, next: rt}
	}
	return rt, nil
}

// query runs an instant query at now, or a range query.
func (p *Provider) query(ctx context.Context, a promv1.API, pm *v1alpha1.PrometheusMetric) (model.Value, promv1.Warnings, error) {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	if pm.RangeQuery == nil {
		v, w, _, err := a.Query(ctx, pm.Query, now)
		return v, w, err
	}
	start, err := evalTime(pm.RangeQuery.Start)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to parse rangeQuery.start as time: %w", err)
	}
	end, err := evalTime(pm.RangeQuery.End)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to parse rangeQuery.end as time: %w", err)
	}
	step, err := pm.RangeQuery.Step.Duration()
	if err != nil {
		return nil, nil, fmt.Errorf("failed to parse rangeQuery.step as duration: %w", err)
	}
	v, w, _, err := a.QueryRange(ctx, pm.Query, promv1.Range{Start: start, End: end, Step: step})
	return v, w, err
}

// evalTime evaluates a range bound such as now() - duration("5m").
func evalTime(expression string) (time.Time, error) {
	out, err := expr.Eval(expression, map[string]any{})
	if err != nil {
		return time.Time{}, err
	}
	t, ok := out.(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("expected time.Time, but got %T", out)
	}
	return t, nil
}

// result converts a query's value into what conditions see.
func result(v model.Value) (provider.Result, error) {
	switch value := v.(type) {
	case *model.Scalar:
		return provider.Result{Value: float64(value.Value), Formatted: value.Value.String()}, nil
	case model.Vector:
		var samples []model.SampleValue
		for _, s := range value {
			if s != nil {
				samples = append(samples, s.Value)
			}
		}
		return floats(samples), nil
	case model.Matrix:
		var samples []model.SampleValue
		for _, series := range value {
			if series == nil {
				continue
			}
			for _, s := range series.Values {
				samples = append(samples, s.Value)
			}
		}
		return floats(samples), nil
	}
	return provider.Result{}, errors.New("Prometheus metric type not supported") //nolint:staticcheck // Argo's message
}

// floats is a []float64 result (empty, not nil, when there is no sample),
// formatted as [a,b].
func floats(samples []model.SampleValue) provider.Result {
	out := make([]float64, len(samples))
	parts := make([]string, len(samples))
	for i, s := range samples {
		out[i] = float64(s)
		parts[i] = s.String()
	}
	return provider.Result{Value: out, Formatted: "[" + strings.Join(parts, ",") + "]"}
}

// headers sets the metric's headers on every request.
type headers struct {
	h    []v1alpha1.WebMetricHeader
	next http.RoundTripper
}

func (h headers) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for _, kv := range h.h {
		req.Header.Set(kv.Key, kv.Value)
	}
	return h.next.RoundTrip(req)
}
