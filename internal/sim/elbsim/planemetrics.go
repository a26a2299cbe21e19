package elbsim

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/cloudwatch"
)

// Label names of the data plane's Prometheus metrics. They are stable: the
// local environment's Prometheus and analysis templates query them.
const (
	LabelLoadBalancer = "load_balancer" // CloudWatch's LoadBalancer dimension, "app/<name>/<id>"
	LabelTargetGroup  = "target_group"  // CloudWatch's TargetGroup dimension, "targetgroup/<name>/<id>"; "" when no group
	LabelOrigin       = "origin"        // "target" (the target answered) or "elb" (the load balancer did)
	LabelCodeClass    = "code_class"    // "2xx", "3xx", "4xx", "5xx"
)

// planeMetrics are the data plane's live Prometheus metrics: requests by
// load balancer, target group, origin and status class, and the targets'
// response times. Host counts are read at scrape time (hostGauges).
type planeMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

var (
	descHealthy = prometheus.NewDesc("elbsim_alb_healthy_targets",
		"Healthy targets of a target group behind a load balancer (CloudWatch's HealthyHostCount).", []string{LabelLoadBalancer, LabelTargetGroup}, nil)
	descUnhealthy = prometheus.NewDesc("elbsim_alb_unhealthy_targets",
		"Unhealthy targets of a target group behind a load balancer (CloudWatch's UnHealthyHostCount).", []string{LabelLoadBalancer, LabelTargetGroup}, nil)
)

func newPlaneMetrics() *planeMetrics {
	return &planeMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "elbsim_alb_requests_total",
			Help: "Requests the data plane answered, by load balancer, target group, who answered (target or elb) and status class.",
		}, []string{LabelLoadBalancer, LabelTargetGroup, LabelOrigin, LabelCodeClass}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "elbsim_alb_target_response_time_seconds",
			Help:    "Time from sending a request to a target to its response headers (CloudWatch's TargetResponseTime).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{LabelLoadBalancer, LabelTargetGroup}),
	}
}

func (m *planeMetrics) observe(r cloudwatch.Request) {
	if r.LoadBalancer == "" {
		return
	}
	origin := "elb"
	if r.FromTarget {
		origin = "target"
		m.latency.WithLabelValues(r.LoadBalancer, r.TargetGroup).Observe(r.TargetTime.Seconds())
	}
	m.requests.WithLabelValues(r.LoadBalancer, r.TargetGroup, origin, strconv.Itoa(r.Status/100)+"xx").Inc()
}

// hostGauges exposes the host counts of every target group in use at scrape time.
type hostGauges struct{ s *Server }

func (g hostGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- descHealthy
	ch <- descUnhealthy
}

func (g hostGauges) Collect(ch chan<- prometheus.Metric) {
	for _, h := range g.s.hostCounts() {
		ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, float64(h.Healthy), h.LoadBalancer, h.TargetGroup)
		ch <- prometheus.MustNewConstMetric(descUnhealthy, prometheus.GaugeValue, float64(h.Unhealthy), h.LoadBalancer, h.TargetGroup)
	}
}
