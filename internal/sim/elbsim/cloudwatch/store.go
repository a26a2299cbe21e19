package cloudwatch

import (
	"math"
	"sync"
	"time"
)

// DefaultRetention is how long the Store keeps one-second data: CloudWatch's
// retention of high-resolution data points.
const DefaultRetention = 3 * time.Hour

// Request is one request the load balancer answered, as the Store records it.
// LoadBalancer and TargetGroup are dimension values ("app/name/id",
// "targetgroup/name/id"); TargetGroup is "" when no rule forwarded the request.
type Request struct {
	Time         time.Time
	LoadBalancer string
	TargetGroup  string
	TargetChosen bool // a target was chosen (RequestCount counts only these)
	Status       int
	FromTarget   bool          // Status is the target's
	TargetTime   time.Duration // when FromTarget
}

// counter indexes the per-second counts of a bucket.
type counter int

const (
	cRequests counter = iota
	cTarget2XX
	cTarget3XX
	cTarget4XX
	cTarget5XX
	cELB3XX
	cELB4XX
	cELB5XX
	cELB500
	cELB502
	cELB503
	cELB504
	numCounters
)

// bucket is one second of one series.
type bucket struct {
	sec       int64
	counts    [numCounters]uint32
	rt        *histogram // TargetResponseTime samples of the second
	hasHealth bool
	healthy   uint32
	unhealthy uint32
}

// seriesKey names a series: a load balancer as a whole (targetGroup ""), or
// one of its target groups.
type seriesKey struct{ loadBalancer, targetGroup string }

// series is a ring of one-second buckets: slot sec % len holds second sec
// while it is within the retention.
type series struct {
	slots  []*bucket
	newest int64
}

// Store holds what CloudWatch's AWS/ApplicationELB metrics are computed from,
// in one-second buckets per load balancer and per (load balancer, target
// group), for a fixed retention: memory is bounded by the number of series
// times the retention, whatever the request rate. It is safe for concurrent use.
type Store struct {
	mu        sync.Mutex
	retention int64 // seconds
	series    map[seriesKey]*series
}

// NewStore returns an empty Store keeping retention (DefaultRetention if <= 0),
// at one-second resolution.
func NewStore(retention time.Duration) *Store {
	if retention <= 0 {
		retention = DefaultRetention
	}
	return &Store{retention: max(int64(retention/time.Second), 1), series: map[seriesKey]*series{}}
}

// bucketLocked returns the bucket of second sec of key, creating or recycling it.
func (s *Store) bucketLocked(key seriesKey, sec int64) *bucket {
	sr := s.series[key]
	if sr == nil {
		sr = &series{slots: make([]*bucket, s.retention)}
		s.series[key] = sr
	}
	i := sec % s.retention
	if i < 0 {
		i += s.retention
	}
	b := sr.slots[i]
	switch {
	case b == nil:
		b = &bucket{sec: sec}
		sr.slots[i] = b
	case b.sec != sec:
		if b.sec > sec { // older than what the slot holds: outside the retention
			return nil
		}
		*b = bucket{sec: sec}
	}
	sr.newest = max(sr.newest, sec)
	return b
}

// Record adds one request to its load balancer's series and, when it was
// routed to a target group, to that group's series.
func (s *Store) Record(r Request) {
	if r.LoadBalancer == "" {
		return
	}
	sec := r.Time.Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bucketLocked(seriesKey{r.LoadBalancer, ""}, sec); b != nil {
		b.add(r, true)
	}
	if r.TargetGroup != "" {
		if b := s.bucketLocked(seriesKey{r.LoadBalancer, r.TargetGroup}, sec); b != nil {
			b.add(r, false)
		}
	}
}

func (b *bucket) add(r Request, wholeLB bool) {
	if r.TargetChosen {
		b.counts[cRequests]++
	}
	class := r.Status / 100
	if r.FromTarget {
		if class >= 2 && class <= 5 {
			b.counts[cTarget2XX+counter(class-2)]++
		}
		if b.rt == nil {
			b.rt = &histogram{}
		}
		b.rt.add(r.TargetTime.Seconds())
		return
	}
	if !wholeLB { // the load balancer's own answers are counted per load balancer only
		return
	}
	if class >= 3 && class <= 5 {
		b.counts[cELB3XX+counter(class-3)]++
	}
	switch r.Status {
	case 500:
		b.counts[cELB500]++
	case 502:
		b.counts[cELB502]++
	case 503:
		b.counts[cELB503]++
	case 504:
		b.counts[cELB504]++
	}
}

// RecordHealth records the number of healthy and unhealthy targets of a
// target group behind a load balancer at t (the last sample of a second wins).
func (s *Store) RecordHealth(t time.Time, loadBalancer, targetGroup string, healthy, unhealthy int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bucketLocked(seriesKey{loadBalancer, targetGroup}, t.Unix()); b != nil {
		b.hasHealth, b.healthy, b.unhealthy = true, uint32(healthy), uint32(unhealthy)
	}
}

// Prune drops the series with no data within the retention before now.
func (s *Store) Prune(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, sr := range s.series {
		if now.Unix()-sr.newest >= s.retention {
			delete(s.series, k)
		}
	}
}

// each calls f for every bucket of key in [from, to) seconds, in time order.
func (s *Store) each(key seriesKey, from, to int64, f func(*bucket)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.series[key]
	if sr == nil {
		return
	}
	from = max(from, sr.newest-s.retention+1)
	to = min(to, sr.newest+1)
	for sec := from; sec < to; sec++ {
		i := sec % s.retention
		if i < 0 {
			i += s.retention
		}
		if b := sr.slots[i]; b != nil && b.sec == sec {
			f(b)
		}
	}
}

// keys returns the series keys and, for each, what kinds of data it holds.
func (s *Store) keys() map[seriesKey]seriesData {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[seriesKey]seriesData, len(s.series))
	for k, sr := range s.series {
		var d seriesData
		for _, b := range sr.slots {
			if b == nil {
				continue
			}
			for c, n := range b.counts {
				if n > 0 {
					d.counts[c] = true
				}
			}
			d.rt = d.rt || b.rt != nil
			d.health = d.health || b.hasHealth
		}
		out[k] = d
	}
	return out
}

// seriesData tells which metrics a series has data for.
type seriesData struct {
	counts [numCounters]bool
	rt     bool
	health bool
}

// histogram holds response times (seconds) with a relative error of at most
// 1 %: bin i holds values in (γ^(i-1), γ^i], γ = 1.02, and answers
// 2γ^i/(γ+1) for them. Count, sum, minimum and maximum are exact.
type histogram struct {
	n        uint64
	sum      float64
	min, max float64
	bins     map[int32]uint64
}

const (
	histGamma = 1.02
	// histFloor is the smallest value binned apart (1 µs); smaller ones share its bin.
	histFloor = 1e-6
)

var histLogGamma = math.Log(histGamma)

func histBin(v float64) int32 {
	return int32(math.Ceil(math.Log(max(v, histFloor)) / histLogGamma))
}

func histValue(i int32) float64 {
	return 2 * math.Pow(histGamma, float64(i)) / (histGamma + 1)
}

func (h *histogram) add(v float64) {
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if h.n == 0 || v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
	if h.bins == nil {
		h.bins = map[int32]uint64{}
	}
	h.bins[histBin(v)]++
}

func (h *histogram) merge(o *histogram) {
	if o == nil || o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if h.n == 0 || o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
	if h.bins == nil {
		h.bins = map[int32]uint64{}
	}
	for i, c := range o.bins {
		h.bins[i] += c
	}
}
