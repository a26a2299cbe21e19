package elbsim

import (
	"net/http"
	"strings"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/cloudwatch"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/cwproto"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/dataplane"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/health"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// healthSampleInterval is how often the healthy and unhealthy target counts
// are sampled for HealthyHostCount and UnHealthyHostCount (and the Prometheus gauges).
const healthSampleInterval = time.Second

// LoadBalancerDimension is the CloudWatch LoadBalancer dimension of a load
// balancer ARN: "app/<name>/<id>", the ARN's part after "loadbalancer/".
func LoadBalancerDimension(arn string) string {
	if i := strings.Index(arn, ":loadbalancer/"); i >= 0 {
		return arn[i+len(":loadbalancer/"):]
	}
	return arn
}

// TargetGroupDimension is the CloudWatch TargetGroup dimension of a target
// group ARN: "targetgroup/<name>/<id>", the ARN's resource part.
func TargetGroupDimension(arn string) string {
	if i := strings.LastIndex(arn, ":targetgroup/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// onRequest records one data-plane answer for CloudWatch and Prometheus.
func (s *Server) onRequest(smp dataplane.Sample) {
	r := cloudwatch.Request{Time: smp.Time, LoadBalancer: LoadBalancerDimension(smp.LoadBalancerARN),
		TargetChosen: smp.Target != "", Status: smp.Status, FromTarget: smp.FromTarget, TargetTime: smp.TargetTime}
	if smp.LoadBalancerARN == "" {
		r.LoadBalancer = ""
	}
	if smp.TargetGroupARN != "" {
		r.TargetGroup = TargetGroupDimension(smp.TargetGroupARN)
	}
	s.cwStore.Record(r)
	s.prom.observe(r)
}

// sampleHealth records, every healthSampleInterval until stop, how many
// targets of each target group in use are healthy and unhealthy, once per
// load balancer that forwards to the group.
func (s *Server) sampleHealth(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(healthSampleInterval)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case now := <-t.C:
			s.recordHealth(now)
			if n%60 == 0 {
				s.cwStore.Prune(now)
			}
		}
	}
}

// HostCounts are the healthy and unhealthy targets of a target group behind a load balancer.
type HostCounts struct {
	LoadBalancer, TargetGroup string // CloudWatch dimension values
	Healthy, Unhealthy        int
}

// hostCounts counts the targets of every target group in use by state.
func (s *Server) hostCounts() []HostCounts {
	st := s.model.State()
	var out []HostCounts
	for arn := range st.TargetGroups {
		lbs := st.LoadBalancersOf(arn)
		if len(lbs) == 0 {
			continue
		}
		healthy, unhealthy := 0, 0
		for _, ts := range s.prober.Status(arn) {
			switch ts.State {
			case health.StateHealthy:
				healthy++
			case health.StateUnhealthy:
				unhealthy++
			}
		}
		for _, lb := range lbs {
			out = append(out, HostCounts{LoadBalancer: LoadBalancerDimension(lb), TargetGroup: TargetGroupDimension(arn), Healthy: healthy, Unhealthy: unhealthy})
		}
	}
	return out
}

func (s *Server) recordHealth(now time.Time) {
	for _, h := range s.hostCounts() {
		s.cwStore.RecordHealth(now, h.LoadBalancer, h.TargetGroup, h.Healthy, h.Unhealthy)
	}
}

// handleCloudWatch runs one CloudWatch call and writes its result; an error
// is returned for the caller to write in the call's protocol.
func (s *Server) handleCloudWatch(w http.ResponseWriter, r *http.Request, reqID string, c *cwproto.Call) *query.Error {
	if !cwproto.Known(c.Operation) {
		return cwproto.UnknownOperation(c.Operation)
	}
	s.stats.recordCall(c.Operation)
	s.stats.recordProtocol(c.Operation, string(c.Protocol))
	if qe := s.checkFaults(r, c.Operation); qe != nil {
		return qe
	}
	in, qe := c.Decode()
	if qe != nil {
		return qe
	}
	var out any
	switch in := in.(type) {
	case *cwproto.GetMetricDataInput:
		out, qe = s.cw.GetMetricData(in)
	case *cwproto.ListMetricsInput:
		out, qe = s.cw.ListMetrics(in)
	default:
		qe = badInput(in)
	}
	if qe != nil {
		return qe
	}
	c.WriteResult(w, reqID, out)
	return nil
}
