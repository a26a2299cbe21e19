package dataplane

import "time"

// Sample describes one request a listener answered: what CloudWatch's
// AWS/ApplicationELB metrics and elbsim's Prometheus metrics are computed from.
// The data plane hands every Sample to Options.OnRequest and keeps none.
type Sample struct {
	// Time is when the request reached the listener.
	Time time.Time
	// LoadBalancerARN is the listener's load balancer (ListenerConfig.LoadBalancerARN).
	LoadBalancerARN string
	// TargetGroupARN is the group the request was routed to; "" when no rule
	// forwarded it (fixed-response, redirect, no rule, every weight 0).
	TargetGroupARN string
	// Target is the "ip:port" the request was sent to; "" when none was
	// chosen (the group had no routable target, or no group was chosen).
	Target string
	// Status is the HTTP status the client got: the target's when FromTarget,
	// else the load balancer's own (502, 503, fixed-response, redirect), or 460
	// when the client closed the connection before the answer.
	Status int
	// FromTarget is true when the target answered (Status is its status code).
	FromTarget bool
	// TargetTime is the time from sending the request to the target to
	// receiving its response headers (CloudWatch's TargetResponseTime); set
	// only when FromTarget.
	TargetTime time.Duration
}

// emit hands s to the OnRequest hook, if there is one.
func (p *Plane) emit(s Sample) {
	if p.onRequest != nil {
		p.onRequest(s)
	}
}

// arrival is what the data plane knows of a request when it arrives.
type arrival struct {
	start time.Time
	lbARN string
	port  string // the listener's bound port
}

// elb is a Sample for an answer the load balancer made itself.
func (a arrival) elb(tgARN, target string, status int) Sample {
	return Sample{Time: a.start, LoadBalancerARN: a.lbARN, TargetGroupARN: tgARN, Target: target, Status: status}
}
