package health

import (
	"sort"
	"time"
)

// Snapshot is the saved state of a Prober, for elbsim's state file. It
// marshals to JSON with encoding/json.
type Snapshot struct {
	Groups []GroupSnapshot `json:"groups"`
}

// GroupSnapshot is one target group in a Snapshot.
type GroupSnapshot struct {
	TargetGroupARN      string           `json:"targetGroupArn"`
	Check               Check            `json:"check"`
	DeregistrationDelay time.Duration    `json:"deregistrationDelay"`
	InUse               bool             `json:"inUse"`
	Targets             []TargetSnapshot `json:"targets"`
}

// TargetSnapshot is one target in a GroupSnapshot: its probe state (initial,
// healthy, unhealthy or draining), not the derived unused/unavailable states.
type TargetSnapshot struct {
	Target        Target    `json:"target"`
	State         State     `json:"state"`
	Reason        string    `json:"reason,omitempty"`
	Description   string    `json:"description,omitempty"`
	DrainingUntil time.Time `json:"drainingUntil,omitzero"`
}

// Snapshot returns the groups, their settings and their targets' states,
// ordered by ARN and target.
func (p *Prober) Snapshot() Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s Snapshot
	for arn, g := range p.groups {
		p.purgeLocked(g)
		gs := GroupSnapshot{TargetGroupARN: arn, Check: g.check, DeregistrationDelay: g.deregDelay, InUse: g.inUse}
		for _, t := range g.targets {
			gs.Targets = append(gs.Targets, TargetSnapshot{Target: t.t, State: t.state, Reason: t.reason,
				Description: t.desc, DrainingUntil: t.drainUntil})
		}
		sort.Slice(gs.Targets, func(i, j int) bool { return targetLess(gs.Targets[i].Target, gs.Targets[j].Target) })
		s.Groups = append(s.Groups, gs)
	}
	sort.Slice(s.Groups, func(i, j int) bool { return s.Groups[i].TargetGroupARN < s.Groups[j].TargetGroupARN })
	return s
}

// Restore loads a Snapshot, replacing groups with the same ARN. Healthy and
// unhealthy targets keep their state (probing resumes and corrects it);
// draining targets whose delay has passed are dropped.
func (p *Prober) Restore(s Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	for _, gs := range s.Groups {
		if old := p.groups[gs.TargetGroupARN]; old != nil {
			for _, t := range old.targets {
				t.stopProbing()
			}
		}
		c := gs.Check.withDefaults()
		m, err := ParseMatcher(c.Matcher)
		if err != nil {
			m = Matcher{{Lo: 200, Hi: 200}}
		}
		g := &group{check: c, matcher: m, deregDelay: gs.DeregistrationDelay, inUse: gs.InUse, targets: map[Target]*target{}}
		p.groups[gs.TargetGroupARN] = g
		for _, ts := range gs.Targets {
			g.targets[ts.Target] = restoredTarget(ts)
		}
		p.purgeLocked(g)
		for _, t := range g.targets {
			if g.probed() && t.state != StateDraining {
				p.startLocked(gs.TargetGroupARN, g, t)
			}
		}
	}
}

func restoredTarget(ts TargetSnapshot) *target {
	t := newTarget(ts.Target)
	switch ts.State {
	case StateHealthy:
		t.state, t.reason, t.desc = StateHealthy, "", ""
	case StateUnhealthy:
		t.state, t.reason, t.desc = StateUnhealthy, ts.Reason, ts.Description
		if t.reason == "" {
			t.reason, t.desc = ReasonFailedHealthChecks, descFailedHealthChecks
		}
	case StateDraining:
		t.state, t.reason, t.desc = StateDraining, ReasonDeregistrationInProgress, descDeregistrationInProgress
		t.drainUntil = ts.DrainingUntil
	}
	return t
}
