package elbv2

import (
	"github.com/prometheus/client_golang/prometheus"

	sharedmetrics "github.com/albrollouts/albrollouts/internal/metrics"
)

// Call outcomes, the values of the "outcome" label.
const (
	OutcomeSuccess      = "success"
	OutcomeThrottled    = "throttled"
	OutcomeAccessDenied = "access_denied"
	OutcomeNotFound     = "not_found"
	OutcomeError        = "error"
)

// metrics are the provider's Prometheus collectors.
type metrics struct {
	calls     *prometheus.CounterVec   // one per API call as the provider sees it (after SDK retries)
	duration  *prometheus.HistogramVec // wall time of those calls, retries and rate-limit waits included
	throttles *prometheus.CounterVec   // individual attempts AWS answered with Throttling
	waits     *prometheus.HistogramVec // time each attempt waited for the client-side rate limit
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "albrollouts_elbv2_api_calls_total",
			Help: "ELBv2 API calls made by the verifier, by operation and outcome (success, throttled, access_denied, not_found, error).",
		}, []string{"operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "albrollouts_elbv2_api_call_duration_seconds",
			Help:    "Duration of ELBv2 API calls including SDK retries and client-side rate limiting.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"operation"}),
		throttles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "albrollouts_elbv2_api_throttled_attempts_total",
			Help: "Individual ELBv2 request attempts answered with Throttling (the SDK retries them with backoff).",
		}, []string{"operation"}),
		waits: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "albrollouts_elbv2_rate_limit_wait_seconds",
			Help:    "Time each ELBv2 request attempt waited for the client-side rate limit, by operation and queue priority (finish, first, poll, low).",
			Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"operation", "priority"}),
	}
	if reg != nil {
		m.calls = sharedmetrics.Register(reg, m.calls)
		m.duration = sharedmetrics.Register(reg, m.duration)
		m.throttles = sharedmetrics.Register(reg, m.throttles)
		m.waits = sharedmetrics.Register(reg, m.waits)
	}
	return m
}

func outcomeOf(err *Error) string {
	if err == nil {
		return OutcomeSuccess
	}
	switch err.Kind {
	case KindThrottled:
		return OutcomeThrottled
	case KindAccessDenied:
		return OutcomeAccessDenied
	case KindLoadBalancerNotFound, KindListenerNotFound, KindTargetGroupNotFound:
		return OutcomeNotFound
	}
	return OutcomeError
}
