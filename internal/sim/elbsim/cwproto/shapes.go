package cwproto

// The shapes of the operations elbsim serves, with CloudWatch's member names
// (API 2010-08-01). The `xml` tag drives the Query protocol both ways (lists
// as Name>member); the `json` tag drives JSON and CBOR (fxamacker/cbor reads
// `json` tags). Optional numbers and booleans are pointers.

// Dimension names one dimension of a metric.
type Dimension struct {
	Name  string `xml:"Name" json:"Name"`
	Value string `xml:"Value" json:"Value"`
}

// Metric is a metric: namespace, name and the full set of its dimensions.
type Metric struct {
	Namespace  string      `xml:"Namespace,omitempty" json:"Namespace,omitempty"`
	MetricName string      `xml:"MetricName,omitempty" json:"MetricName,omitempty"`
	Dimensions []Dimension `xml:"Dimensions>member" json:"Dimensions,omitempty"`
}

// MetricStat is a metric with the period and statistic to compute.
type MetricStat struct {
	Metric *Metric `xml:"Metric" json:"Metric,omitempty"`
	Period *int32  `xml:"Period" json:"Period,omitempty"`
	Stat   string  `xml:"Stat" json:"Stat,omitempty"`
	Unit   string  `xml:"Unit,omitempty" json:"Unit,omitempty"`
}

// MetricDataQuery is one query of GetMetricData: a MetricStat or an Expression.
type MetricDataQuery struct {
	ID         string      `xml:"Id" json:"Id"`
	MetricStat *MetricStat `xml:"MetricStat" json:"MetricStat,omitempty"`
	Expression string      `xml:"Expression,omitempty" json:"Expression,omitempty"`
	Label      string      `xml:"Label,omitempty" json:"Label,omitempty"`
	ReturnData *bool       `xml:"ReturnData" json:"ReturnData,omitempty"`
	Period     *int32      `xml:"Period" json:"Period,omitempty"`
	AccountID  string      `xml:"AccountId,omitempty" json:"AccountId,omitempty"`
}

// LabelOptions is accepted and ignored (labels are not dynamic in elbsim).
type LabelOptions struct {
	Timezone string `xml:"Timezone" json:"Timezone,omitempty"`
}

// GetMetricDataInput is the input of GetMetricData.
type GetMetricDataInput struct {
	MetricDataQueries []MetricDataQuery `xml:"MetricDataQueries>member" json:"MetricDataQueries"`
	StartTime         *Time             `xml:"StartTime" json:"StartTime,omitempty"`
	EndTime           *Time             `xml:"EndTime" json:"EndTime,omitempty"`
	NextToken         string            `xml:"NextToken,omitempty" json:"NextToken,omitempty"`
	ScanBy            string            `xml:"ScanBy,omitempty" json:"ScanBy,omitempty"`
	MaxDatapoints     *int32            `xml:"MaxDatapoints" json:"MaxDatapoints,omitempty"`
	LabelOptions      *LabelOptions     `xml:"LabelOptions" json:"LabelOptions,omitempty"`
}

// MessageData is a message about a query or its result.
type MessageData struct {
	Code  string `xml:"Code" json:"Code"`
	Value string `xml:"Value" json:"Value"`
}

// MetricDataResult is the answer to one query: timestamps and values in the same order.
type MetricDataResult struct {
	ID         string        `xml:"Id" json:"Id"`
	Label      string        `xml:"Label" json:"Label"`
	Timestamps []Time        `xml:"Timestamps>member" json:"Timestamps,omitempty"`
	Values     []float64     `xml:"Values>member" json:"Values,omitempty"`
	StatusCode string        `xml:"StatusCode" json:"StatusCode"`
	Messages   []MessageData `xml:"Messages>member,omitempty" json:"Messages,omitempty"`
}

// GetMetricDataOutput is the output of GetMetricData.
type GetMetricDataOutput struct {
	MetricDataResults []MetricDataResult `xml:"MetricDataResults>member" json:"MetricDataResults"`
	NextToken         string             `xml:"NextToken,omitempty" json:"NextToken,omitempty"`
	Messages          []MessageData      `xml:"Messages>member,omitempty" json:"Messages,omitempty"`
}

// DimensionFilter selects metrics by a dimension, and its value if given.
type DimensionFilter struct {
	Name  string `xml:"Name" json:"Name"`
	Value string `xml:"Value,omitempty" json:"Value,omitempty"`
}

// ListMetricsInput is the input of ListMetrics.
type ListMetricsInput struct {
	Namespace             string            `xml:"Namespace,omitempty" json:"Namespace,omitempty"`
	MetricName            string            `xml:"MetricName,omitempty" json:"MetricName,omitempty"`
	Dimensions            []DimensionFilter `xml:"Dimensions>member" json:"Dimensions,omitempty"`
	NextToken             string            `xml:"NextToken,omitempty" json:"NextToken,omitempty"`
	RecentlyActive        string            `xml:"RecentlyActive,omitempty" json:"RecentlyActive,omitempty"`
	IncludeLinkedAccounts *bool             `xml:"IncludeLinkedAccounts" json:"IncludeLinkedAccounts,omitempty"`
	OwningAccount         string            `xml:"OwningAccount,omitempty" json:"OwningAccount,omitempty"`
}

// ListMetricsOutput is the output of ListMetrics.
type ListMetricsOutput struct {
	Metrics   []Metric `xml:"Metrics>member" json:"Metrics"`
	NextToken string   `xml:"NextToken,omitempty" json:"NextToken,omitempty"`
}
