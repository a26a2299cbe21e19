package elbsim

import (
	"net/http"
	"strconv"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/health"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/model"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// operation runs one decoded API call.
type operation func(s *Server, in any) (any, *query.Error)

// write wraps a mutation of the committed model.
func write[I, O any](f func(*model.Model, *I) (*O, *query.Error)) operation {
	return func(s *Server, in any) (any, *query.Error) {
		i, ok := in.(*I)
		if !ok {
			return nil, badInput(in)
		}
		out, err := f(s.model, i)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// read wraps a Describe* call, answered from the visible (possibly delayed) State.
func read[I, O any](f func(*model.State, *I) (*O, *query.Error)) operation {
	return func(s *Server, in any) (any, *query.Error) {
		i, ok := in.(*I)
		if !ok {
			return nil, badInput(in)
		}
		out, err := f(s.visible.Load(), i)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

func badInput(in any) *query.Error {
	return query.Errorf(http.StatusInternalServerError, query.CodeInternalFailure, "elbsim bug: unexpected input type %T", in)
}

var operations = map[string]operation{
	"CreateLoadBalancer":            write((*model.Model).CreateLoadBalancer),
	"DescribeLoadBalancers":         read((*model.State).DescribeLoadBalancers),
	"DeleteLoadBalancer":            write((*model.Model).DeleteLoadBalancer),
	"CreateListener":                write((*model.Model).CreateListener),
	"DescribeListeners":             read((*model.State).DescribeListeners),
	"ModifyListener":                write((*model.Model).ModifyListener),
	"DeleteListener":                write((*model.Model).DeleteListener),
	"CreateRule":                    write((*model.Model).CreateRule),
	"DescribeRules":                 read((*model.State).DescribeRules),
	"ModifyRule":                    write((*model.Model).ModifyRule),
	"DeleteRule":                    write((*model.Model).DeleteRule),
	"SetRulePriorities":             write((*model.Model).SetRulePriorities),
	"CreateTargetGroup":             write((*model.Model).CreateTargetGroup),
	"DescribeTargetGroups":          read((*model.State).DescribeTargetGroups),
	"ModifyTargetGroup":             write((*model.Model).ModifyTargetGroup),
	"DeleteTargetGroup":             write((*model.Model).DeleteTargetGroup),
	"DescribeTargetGroupAttributes": read((*model.State).DescribeTargetGroupAttributes),
	"ModifyTargetGroupAttributes":   write((*model.Model).ModifyTargetGroupAttributes),
	"RegisterTargets":               write((*model.Model).RegisterTargets),
	"DeregisterTargets":             write((*model.Model).DeregisterTargets),
	"AddTags":                       write((*model.Model).AddTags),
	"RemoveTags":                    write((*model.Model).RemoveTags),
	"DescribeTags":                  read((*model.State).DescribeTags),
	"DescribeTargetHealth": func(s *Server, in any) (any, *query.Error) {
		i, ok := in.(*query.DescribeTargetHealthInput)
		if !ok {
			return nil, badInput(in)
		}
		out, err := s.describeTargetHealth(i)
		if err != nil {
			return nil, err
		}
		return out, nil
	},
}

func (s *Server) dispatch(action string, in any) (any, *query.Error) {
	op, ok := operations[action]
	if !ok {
		return nil, query.Client(query.CodeInvalidAction, "The action %s is not valid for this web service.", action)
	}
	return op(s, in)
}

// describeTargetHealth combines three views: the visible State (which targets
// Describe* may know about yet), the committed State (what has really been
// (de)registered) and the prober (live health, which lags the committed State
// by the propagation delay). Where the prober has not caught up with a change
// Describe* already shows, the answer is what AWS shows in that window:
// initial / Elb.RegistrationInProgress for a new target, draining for a removed one.
func (s *Server) describeTargetHealth(in *query.DescribeTargetHealthInput) (*query.TargetHealthResult, *query.Error) {
	vis := s.visible.Load()
	tg, qe := vis.TargetGroup(in.TargetGroupArn)
	if qe != nil {
		return nil, qe
	}
	asked, qe := vis.HealthTargets(tg, in.Targets)
	if qe != nil {
		return nil, qe
	}
	committed := s.model.State().TargetGroups[tg.ARN]
	out := &query.TargetHealthResult{}
	if len(asked) > 0 {
		for _, t := range asked {
			out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, s.targetHealth(tg, committed, t))
		}
		return out, nil
	}
	seen := map[health.Target]bool{}
	for _, t := range tg.Targets {
		seen[health.Target{ID: t.ID, Port: t.Port}] = true
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, s.targetHealth(tg, committed, t))
	}
	for _, st := range s.prober.Status(tg.ARN) {
		if seen[st.Target] {
			continue
		}
		d := s.targetHealth(tg, committed, model.Target{ID: st.Target.ID, Port: st.Target.Port})
		if d.TargetHealth.State == string(health.StateDraining) {
			out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, d)
		}
	}
	sortedTargets(out.TargetHealthDescriptions)
	return out, nil
}

func (s *Server) targetHealth(vis, committed *model.TargetGroup, t model.Target) query.TargetHealthDescription {
	ps := s.prober.StatusOf(vis.ARN, health.Target{ID: t.ID, Port: t.Port})
	visReg := vis.HasTarget(t.ID, t.Port)
	comReg := committed != nil && committed.HasTarget(t.ID, t.Port)
	state, reason, desc := string(ps.State), ps.Reason, ps.Description
	probed := ps.State != health.StateUnused || ps.Reason != health.ReasonNotRegistered
	switch {
	case visReg && !probed:
		state, reason, desc = string(health.StateInitial), health.ReasonRegistrationInProgress, "Target registration is in progress"
	case !visReg && comReg:
		// Registered, but Describe* does not show it yet.
		state, reason, desc = string(health.StateUnused), health.ReasonNotRegistered, "Target is not registered to the target group"
	case !visReg && probed && ps.State != health.StateDraining:
		// Deregistered, but the prober has not heard of it yet.
		state, reason, desc = string(health.StateDraining), health.ReasonDeregistrationInProgress, "Target deregistration is in progress"
	}
	hcPort := ps.HealthCheckPort
	if hcPort == "" {
		hcPort = healthCheckPort(vis, t)
	}
	return query.TargetHealthDescription{
		Target:          query.TargetDescription{ID: t.ID, Port: &t.Port},
		HealthCheckPort: hcPort,
		TargetHealth:    query.TargetHealth{State: state, Reason: reason, Description: desc},
	}
}

func healthCheckPort(tg *model.TargetGroup, t model.Target) string {
	if tg.HealthCheck.Port == "" || tg.HealthCheck.Port == "traffic-port" {
		return strconv.Itoa(int(t.Port))
	}
	return tg.HealthCheck.Port
}
