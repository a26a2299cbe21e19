package cloudwatch

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Statistic names.
const (
	StatSum         = "Sum"
	StatAverage     = "Average"
	StatMinimum     = "Minimum"
	StatMaximum     = "Maximum"
	StatSampleCount = "SampleCount"
)

// statistic is a parsed Stat: one of the five, or a percentile (p set).
type statistic struct {
	name       string
	percentile float64
	isP        bool
}

// parseStat reads a Stat: Sum, Average, Minimum, Maximum, SampleCount, or pNN
// / pNN.NN (0..100).
func parseStat(s string) (statistic, bool) {
	switch s {
	case StatSum, StatAverage, StatMinimum, StatMaximum, StatSampleCount:
		return statistic{name: s}, true
	}
	rest, ok := strings.CutPrefix(s, "p")
	if !ok {
		rest, ok = strings.CutPrefix(s, "P")
	}
	if !ok || rest == "" || strings.ContainsAny(rest, "+-eE") {
		return statistic{}, false
	}
	if i := strings.IndexByte(rest, '.'); i >= 0 && len(rest)-i-1 > 10 {
		return statistic{}, false
	}
	q, err := strconv.ParseFloat(rest, 64)
	if err != nil || q < 0 || q > 100 {
		return statistic{}, false
	}
	return statistic{name: s, percentile: q, isP: true}, true
}

// sampleSet holds the values of one metric in one period: exact values (one
// per second: counts, host counts) or a histogram (one per request: times).
type sampleSet struct {
	exact []float64
	hist  *histogram
}

func (s *sampleSet) empty() bool { return len(s.exact) == 0 && (s.hist == nil || s.hist.n == 0) }

// compute returns the statistic of a non-empty set.
func (s *sampleSet) compute(st statistic) float64 {
	if s.hist != nil {
		return s.hist.compute(st)
	}
	n := float64(len(s.exact))
	switch {
	case st.isP:
		v := slices.Clone(s.exact)
		sort.Float64s(v)
		return v[rank(st.percentile, len(v))]
	case st.name == StatSampleCount:
		return n
	case st.name == StatMinimum:
		return slices.Min(s.exact)
	case st.name == StatMaximum:
		return slices.Max(s.exact)
	}
	sum := 0.0
	for _, v := range s.exact {
		sum += v
	}
	if st.name == StatAverage {
		return sum / n
	}
	return sum
}

// rank is the 0-based index of the q-th percentile among n sorted values
// (nearest rank: the smallest value with at least q % of the values at or below it).
func rank(q float64, n int) int {
	r := int(math.Ceil(q / 100 * float64(n)))
	return min(max(r, 1), n) - 1
}

func (h *histogram) compute(st statistic) float64 {
	switch {
	case st.isP:
		return h.percentile(st.percentile)
	case st.name == StatSampleCount:
		return float64(h.n)
	case st.name == StatMinimum:
		return h.min
	case st.name == StatMaximum:
		return h.max
	case st.name == StatAverage:
		return h.sum / float64(h.n)
	}
	return h.sum
}

func (h *histogram) percentile(q float64) float64 {
	if q <= 0 {
		return h.min
	}
	if q >= 100 {
		return h.max
	}
	want := uint64(rank(q, int(h.n))) + 1
	bins := make([]int32, 0, len(h.bins))
	for i := range h.bins {
		bins = append(bins, i)
	}
	slices.Sort(bins)
	seen := uint64(0)
	for _, i := range bins {
		seen += h.bins[i]
		if seen >= want {
			return min(max(histValue(i), h.min), h.max)
		}
	}
	return h.max
}
