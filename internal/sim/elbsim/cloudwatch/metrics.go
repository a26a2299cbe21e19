package cloudwatch

// Namespace is the CloudWatch namespace of Application Load Balancer metrics.
const Namespace = "AWS/ApplicationELB"

// Dimension names of AWS/ApplicationELB.
const (
	DimLoadBalancer     = "LoadBalancer"
	DimTargetGroup      = "TargetGroup"
	DimAvailabilityZone = "AvailabilityZone"
)

// Units of the metrics.
const (
	UnitCount   = "Count"
	UnitSeconds = "Seconds"
)

// source is where a metric's values come from.
type source int

const (
	fromCounter   source = iota // per-second request counts
	fromResponses               // per-request response times
	fromHealthy                 // per-second healthy-target counts
	fromUnhealthy               // per-second unhealthy-target counts
)

// metricDef is one metric of AWS/ApplicationELB elbsim computes, and the
// dimension sets CloudWatch publishes it with: {LoadBalancer} (perLB) and
// {LoadBalancer, TargetGroup} (perTG).
type metricDef struct {
	unit    string
	source  source
	counter counter
	perLB   bool
	perTG   bool
}

// catalog lists the metrics. Like ALB, the load balancer's own answers
// (HTTPCode_ELB_*) are published per load balancer only and host counts per
// target group only.
var catalog = map[string]metricDef{
	"RequestCount":              {unit: UnitCount, counter: cRequests, perLB: true, perTG: true},
	"HTTPCode_Target_2XX_Count": {unit: UnitCount, counter: cTarget2XX, perLB: true, perTG: true},
	"HTTPCode_Target_3XX_Count": {unit: UnitCount, counter: cTarget3XX, perLB: true, perTG: true},
	"HTTPCode_Target_4XX_Count": {unit: UnitCount, counter: cTarget4XX, perLB: true, perTG: true},
	"HTTPCode_Target_5XX_Count": {unit: UnitCount, counter: cTarget5XX, perLB: true, perTG: true},
	"HTTPCode_ELB_3XX_Count":    {unit: UnitCount, counter: cELB3XX, perLB: true},
	"HTTPCode_ELB_4XX_Count":    {unit: UnitCount, counter: cELB4XX, perLB: true},
	"HTTPCode_ELB_5XX_Count":    {unit: UnitCount, counter: cELB5XX, perLB: true},
	"HTTPCode_ELB_500_Count":    {unit: UnitCount, counter: cELB500, perLB: true},
	"HTTPCode_ELB_502_Count":    {unit: UnitCount, counter: cELB502, perLB: true},
	"HTTPCode_ELB_503_Count":    {unit: UnitCount, counter: cELB503, perLB: true},
	"HTTPCode_ELB_504_Count":    {unit: UnitCount, counter: cELB504, perLB: true},
	"TargetResponseTime":        {unit: UnitSeconds, source: fromResponses, perLB: true, perTG: true},
	"HealthyHostCount":          {unit: UnitCount, source: fromHealthy, perTG: true},
	"UnHealthyHostCount":        {unit: UnitCount, source: fromUnhealthy, perTG: true},
}

// has reports whether the series data d holds values of the metric.
func (m metricDef) has(d seriesData) bool {
	switch m.source {
	case fromResponses:
		return d.rt
	case fromHealthy, fromUnhealthy:
		return d.health
	}
	return d.counts[m.counter]
}

// collect adds the values of the metric in bucket b to set.
func (m metricDef) collect(b *bucket, set *sampleSet) {
	switch m.source {
	case fromCounter:
		if n := b.counts[m.counter]; n > 0 { // ALB publishes no zero counts
			set.exact = append(set.exact, float64(n))
		}
	case fromResponses:
		if b.rt != nil {
			if set.hist == nil {
				set.hist = &histogram{}
			}
			set.hist.merge(b.rt)
		}
	case fromHealthy:
		if b.hasHealth {
			set.exact = append(set.exact, float64(b.healthy))
		}
	case fromUnhealthy:
		if b.hasHealth {
			set.exact = append(set.exact, float64(b.unhealthy))
		}
	}
}
