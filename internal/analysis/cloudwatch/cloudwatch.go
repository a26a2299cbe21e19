// Package cloudwatch is the analysis provider that calls CloudWatch's
// GetMetricData (Argo's cloudWatch metric) with the AWS SDK.
package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis/provider"
)

// DefaultInterval is the look-back window when the provider's interval is unset.
const DefaultInterval = 5 * time.Minute

// IAMAction is the one IAM action the provider needs
// (config/iam-policy-cloudwatch.json).
const IAMAction = "cloudwatch:GetMetricData"

// API is the part of the CloudWatch client the provider calls.
type API interface {
	GetMetricData(ctx context.Context, in *awscw.GetMetricDataInput, optFns ...func(*awscw.Options)) (*awscw.GetMetricDataOutput, error)
}

// Provider calls GetMetricData.
type Provider struct {
	// Client is the CloudWatch client (one per process).
	Client API
	// Now is the end of the window (nil: time.Now).
	Now func() time.Time
}

// Options configure New.
type Options struct {
	// EndpointURL overrides the CloudWatch endpoint (a local emulator); empty:
	// the SDK's (which also reads AWS_ENDPOINT_URL_CLOUDWATCH).
	EndpointURL string
}

// New returns a provider whose client uses cfg (region, credentials).
func New(cfg aws.Config, o Options) *Provider {
	client := awscw.NewFromConfig(cfg, func(co *awscw.Options) {
		if o.EndpointURL != "" {
			co.BaseEndpoint = aws.String(o.EndpointURL)
		}
	})
	return &Provider{Client: client}
}

// Query makes one GetMetricData call over the last interval (default 5m)
// with the metric's queries. The result is the SDK's []MetricDataResult (so
// conditions read result[0].Values, result[0].StatusCode, ...); the value is
// every result's values, as [[v v] [v]]. Only the first page is read.
func (p *Provider) Query(ctx context.Context, m v1alpha1.Metric) (provider.Result, error) {
	cw := m.Provider.CloudWatch
	if cw == nil {
		return provider.Result{}, errors.New("metric has no cloudWatch provider")
	}
	if p.Client == nil {
		return provider.Result{}, errors.New("cloudWatch: this controller has no CloudWatch client (no AWS configuration)")
	}
	window := DefaultInterval
	if cw.Interval != "" {
		d, err := cw.Interval.Duration()
		if err != nil {
			return provider.Result{}, fmt.Errorf("cloudWatch interval %q: %w", cw.Interval, err)
		}
		window = d
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	out, err := p.Client.GetMetricData(ctx, &awscw.GetMetricDataInput{
		StartTime:         aws.Time(now.Add(-window)),
		EndTime:           aws.Time(now),
		MetricDataQueries: queries(cw.MetricDataQueries),
	})
	if err != nil {
		return provider.Result{}, explain(err)
	}
	values := make([][]float64, len(out.MetricDataResults))
	for i, r := range out.MetricDataResults {
		values[i] = r.Values
	}
	res := provider.Result{Value: out.MetricDataResults, Formatted: fmt.Sprintf("%+v", values)}
	if len(out.Messages) > 0 {
		res.Metadata = map[string]string{"messages": fmt.Sprintf("%v", messages(out.Messages))}
	}
	return res, nil
}

// messages renders GetMetricData's messages as code: value.
func messages(ms []types.MessageData) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = aws.ToString(m.Code) + ": " + aws.ToString(m.Value)
	}
	return out
}

// queries converts the metric's queries one for one: Id always, MetricName,
// Stat and Period always for a metricStat, Unit when set.
func queries(qs []v1alpha1.CloudWatchMetricDataQuery) []types.MetricDataQuery {
	out := make([]types.MetricDataQuery, 0, len(qs))
	for _, q := range qs {
		mq := types.MetricDataQuery{
			Id:         aws.String(q.Id),
			Expression: q.Expression,
			Label:      q.Label,
			ReturnData: q.ReturnData,
		}
		if q.Period != nil {
			mq.Period = aws.Int32(int32(q.Period.IntValue()))
		}
		if s := q.MetricStat; s != nil {
			stat := &types.MetricStat{
				Metric: &types.Metric{MetricName: aws.String(s.Metric.MetricName), Namespace: s.Metric.Namespace},
				Period: aws.Int32(int32(s.Period.IntValue())),
				Stat:   aws.String(s.Stat),
			}
			for _, d := range s.Metric.Dimensions {
				stat.Metric.Dimensions = append(stat.Metric.Dimensions, types.Dimension{Name: aws.String(d.Name), Value: aws.String(d.Value)})
			}
			if s.Unit != "" {
				stat.Unit = types.StandardUnit(s.Unit)
			}
			mq.MetricStat = stat
		}
		out = append(out, mq)
	}
	return out
}

// accessDeniedCodes are the error codes AWS gives a call IAM refuses.
var accessDeniedCodes = map[string]bool{
	"AccessDenied": true, "AccessDeniedException": true, "UnauthorizedOperation": true,
}

// explain turns an AccessDenied into a message that names the IAM action
// and the policy that grants it; other errors keep the SDK's message.
func explain(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && accessDeniedCodes[apiErr.ErrorCode()] {
		return fmt.Errorf("CloudWatch refused GetMetricData (%s): the controller's IAM role needs the action %s "+
			"(config/iam-policy-cloudwatch.json): %w", apiErr.ErrorCode(), IAMAction, err)
	}
	return fmt.Errorf("CloudWatch GetMetricData: %w", err)
}
