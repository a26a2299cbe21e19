package elbsim

import (
	"maps"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

var (
	descCalls = prometheus.NewDesc("elbsim_api_calls_total",
		"ELBv2 API calls received, by Action.", []string{"action"}, nil)
	descThrottled = prometheus.NewDesc("elbsim_api_throttled_total",
		"ELBv2 API calls answered Throttling, by Action.", []string{"action"}, nil)
	descErrors = prometheus.NewDesc("elbsim_api_errors_total",
		"ELBv2 API calls answered with an error, by Action and error code.", []string{"action", "code"}, nil)
	descTGRequests = prometheus.NewDesc("elbsim_target_group_requests_total",
		"Data-plane requests routed to a target group.", []string{"target_group"}, nil)
	descTGResponses = prometheus.NewDesc("elbsim_target_group_responses_total",
		"Data-plane responses for a target group's requests, by HTTP status code.", []string{"target_group", "code"}, nil)
	descTargetRequests = prometheus.NewDesc("elbsim_target_requests_total",
		"Data-plane requests sent to a target (ip:port) of a target group.", []string{"target_group", "target"}, nil)
)

// collector exposes Server.Stats as Prometheus counters, read at scrape time.
type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCalls, descThrottled, descErrors, descTGRequests, descTGResponses, descTargetRequests} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	for _, action := range slices.Sorted(maps.Keys(st.Actions)) {
		a := st.Actions[action]
		ch <- prometheus.MustNewConstMetric(descCalls, prometheus.CounterValue, float64(a.Calls), action)
		ch <- prometheus.MustNewConstMetric(descThrottled, prometheus.CounterValue, float64(a.Throttled), action)
		for _, code := range slices.Sorted(maps.Keys(a.Errors)) {
			ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(a.Errors[code]), action, code)
		}
	}
	for _, tg := range slices.Sorted(maps.Keys(st.TargetGroups)) {
		g := st.TargetGroups[tg]
		ch <- prometheus.MustNewConstMetric(descTGRequests, prometheus.CounterValue, float64(g.Requests), tg)
		for _, code := range slices.Sorted(maps.Keys(g.ByStatus)) {
			ch <- prometheus.MustNewConstMetric(descTGResponses, prometheus.CounterValue, float64(g.ByStatus[code]), tg, code)
		}
		for _, t := range slices.Sorted(maps.Keys(g.ByTarget)) {
			ch <- prometheus.MustNewConstMetric(descTargetRequests, prometheus.CounterValue, float64(g.ByTarget[t]), tg, t)
		}
	}
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	s.metricsOnce.Do(func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collector{s}, s.prom.requests, s.prom.latency, hostGauges{s})
		s.metricsH = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	})
	s.metricsH.ServeHTTP(w, r)
}
