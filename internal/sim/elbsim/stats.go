package elbsim

import (
	"maps"
	"strconv"
	"sync"
)

// invalidAction is the stats key of requests whose Action could not be read.
const invalidAction = "(invalid)"

// ActionStats counts the calls of one Action.
type ActionStats struct {
	Calls     int64            `json:"calls"`
	Throttled int64            `json:"throttled"`
	Errors    map[string]int64 `json:"errors,omitempty"` // by error code (Throttling included)
	// Protocols counts CloudWatch calls by wire protocol (awsQuery, awsJson1_0, rpcv2Cbor).
	Protocols map[string]int64 `json:"protocols,omitempty"`
}

// TargetGroupStats counts the data-plane requests forwarded to one target group.
type TargetGroupStats struct {
	Requests int64            `json:"requests"`
	ByStatus map[string]int64 `json:"byStatus"` // HTTP status code -> responses
	ByTarget map[string]int64 `json:"byTarget"` // "ip:port" -> requests
}

// Stats is the JSON of GET /_elbsim/stats.
type Stats struct {
	Actions      map[string]ActionStats      `json:"actions"`
	TargetGroups map[string]TargetGroupStats `json:"targetGroups"`
	// Versions of the model: the latest committed change, the one Describe*
	// shows, the one the data plane and prober run. They differ while changes
	// are in flight (DescribeDelay, PropagationDelay, Batching).
	ModelVersion   int64 `json:"modelVersion"`
	VisibleVersion int64 `json:"visibleVersion"`
	AppliedVersion int64 `json:"appliedVersion"`
}

type apiStats struct {
	mu      sync.Mutex
	actions map[string]*ActionStats
}

func newAPIStats() *apiStats { return &apiStats{actions: map[string]*ActionStats{}} }

func (a *apiStats) get(action string) *ActionStats {
	if action == "" {
		action = invalidAction
	}
	s := a.actions[action]
	if s == nil {
		s = &ActionStats{}
		a.actions[action] = s
	}
	return s
}

func (a *apiStats) recordCall(action string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.get(action).Calls++
}

func (a *apiStats) recordProtocol(action, protocol string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.get(action)
	if s.Protocols == nil {
		s.Protocols = map[string]int64{}
	}
	s.Protocols[protocol]++
}

func (a *apiStats) recordThrottled(action string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.get(action).Throttled++
}

func (a *apiStats) recordError(action, code string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.get(action)
	if s.Errors == nil {
		s.Errors = map[string]int64{}
	}
	s.Errors[code]++
}

func (a *apiStats) snapshot() map[string]ActionStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]ActionStats, len(a.actions))
	for k, v := range a.actions {
		c := *v
		c.Errors = maps.Clone(v.Errors)
		c.Protocols = maps.Clone(v.Protocols)
		out[k] = c
	}
	return out
}

// Stats returns the API call counters and the data-plane counters per target group.
func (s *Server) Stats() Stats {
	out := Stats{Actions: s.stats.snapshot(), TargetGroups: map[string]TargetGroupStats{},
		ModelVersion: s.model.State().Version, VisibleVersion: s.visible.Load().Version, AppliedVersion: s.applier.version()}
	for arn, g := range s.plane.Stats() {
		ts := TargetGroupStats{Requests: g.Requests, ByStatus: map[string]int64{}, ByTarget: map[string]int64{}}
		for code, n := range g.ByStatus {
			ts.ByStatus[strconv.Itoa(code)] = n
		}
		for t, n := range g.ByTarget {
			ts.ByTarget[t] = n
		}
		out.TargetGroups[arn] = ts
	}
	return out
}
