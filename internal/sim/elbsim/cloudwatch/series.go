package cloudwatch

import "math"

// timeSeries is the result of one query: values at period starts (epoch
// seconds, ascending) over the query's time range.
type timeSeries struct {
	start, end int64 // the aligned range [start, end)
	period     int64
	times      []int64
	values     []float64
}

// empty returns a series over the same range and period, without values.
func (t *timeSeries) empty() *timeSeries {
	return &timeSeries{start: t.start, end: t.end, period: t.period}
}

// add appends a value, leaving out what is not a finite number.
func (t *timeSeries) add(at int64, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	t.times = append(t.times, at)
	t.values = append(t.values, v)
}

// fill returns the series with v at every period start it has no value for.
func (t *timeSeries) fill(v float64) *timeSeries {
	out := t.empty()
	i := 0
	for at := t.start; at < t.end; at += t.period {
		if i < len(t.times) && t.times[i] == at {
			out.add(at, t.values[i])
			i++
			continue
		}
		out.add(at, v)
	}
	return out
}
