package dataplane

import "sync"

// GroupStats counts the traffic a target group received through the data plane.
type GroupStats struct {
	// Requests routed to the group: sent to a target, or answered 503 because
	// the group had no routable target.
	Requests int64
	// ByStatus counts the status codes returned for the group's requests: the
	// target's, 502 when the target could not be reached, 503 with no routable
	// target, 460 when the client left before the answer (ALB's code).
	ByStatus map[int]int64
	// ByTarget counts requests sent to each target, by "ip:port".
	ByTarget map[string]int64
	// NoRoutableTarget counts the 503s answered because no target was routable.
	NoRoutableTarget int64
}

// stats holds the per-target-group counters behind one lock; a lock per request
// is far below the cost of proxying the request.
type stats struct {
	mu     sync.Mutex
	groups map[string]*GroupStats
}

func newStats() *stats { return &stats{groups: map[string]*GroupStats{}} }

func (s *stats) groupLocked(tgARN string) *GroupStats {
	g := s.groups[tgARN]
	if g == nil {
		g = &GroupStats{ByStatus: map[int]int64{}, ByTarget: map[string]int64{}}
		s.groups[tgARN] = g
	}
	return g
}

func (s *stats) sent(tgARN, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupLocked(tgARN)
	g.Requests++
	g.ByTarget[target]++
}

func (s *stats) noRoutable(tgARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groupLocked(tgARN)
	g.Requests++
	g.NoRoutableTarget++
	g.ByStatus[503]++
}

func (s *stats) status(tgARN string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groupLocked(tgARN).ByStatus[code]++
}

// snapshot returns a deep copy.
func (s *stats) snapshot() map[string]GroupStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]GroupStats, len(s.groups))
	for arn, g := range s.groups {
		c := GroupStats{Requests: g.Requests, NoRoutableTarget: g.NoRoutableTarget,
			ByStatus: make(map[int]int64, len(g.ByStatus)), ByTarget: make(map[string]int64, len(g.ByTarget))}
		for k, v := range g.ByStatus {
			c.ByStatus[k] = v
		}
		for k, v := range g.ByTarget {
			c.ByTarget[k] = v
		}
		out[arn] = c
	}
	return out
}

func (s *stats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups = map[string]*GroupStats{}
}

// Stats returns a copy of the counters of every target group that received traffic, by ARN.
func (p *Plane) Stats() map[string]GroupStats { return p.stats.snapshot() }

// ResetStats zeroes every counter (for benchmarks and demos that measure one phase).
func (p *Plane) ResetStats() { p.stats.reset() }
