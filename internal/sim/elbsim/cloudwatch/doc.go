// Package cloudwatch is elbsim's CloudWatch service model: the
// AWS/ApplicationELB metrics computed from elbsim's real data plane and
// health checks, served by GetMetricData (MetricStat and metric math) and
// ListMetrics. The wire shapes are package cwproto's.
//
// The Store keeps one-second buckets per load balancer and per (load
// balancer, target group) for a fixed retention (3 hours, like CloudWatch's
// high-resolution data): per-second request counts by kind (RequestCount,
// HTTPCode_Target_NXX, HTTPCode_ELB_*), a response-time histogram (exact
// count, sum, minimum and maximum; percentiles within 1 %), and the healthy
// and unhealthy target counts sampled each second. Memory is bounded by the
// number of series times the retention, whatever the request rate.
//
// Statistics follow CloudWatch: count metrics are published as one value per
// second that had any (so Sum is the count, SampleCount the number of such
// seconds, and a period without any has no data point, as ALB publishes no
// zero counts); TargetResponseTime has one value per request (SampleCount is
// the number of responses); host counts have one value per second.
// Percentiles use the nearest rank.
package cloudwatch
