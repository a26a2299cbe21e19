package bench

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awselbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go"
)

// background is another client of the same account and region: the AWS
// Load Balancer Controller, which reads its load balancers, listeners,
// rules, target groups and target health while it reconciles Ingresses.
// Its Describe* calls come out of the same AWS bucket as the verifier's.
type background struct {
	stopc chan struct{}
	done  chan struct{}

	mu     sync.Mutex
	counts map[string]callCount // by Action
}

// callCount is the calls of one Action and how many were throttled.
type callCount struct{ calls, throttled int64 }

// startBackground makes rate Describe* calls per second, evenly spaced, on
// a client that does not retry (so that each attempt is counted here) until
// stop.
func (e *env) startBackground(rate float64) *background {
	b := &background{stopc: make(chan struct{}), done: make(chan struct{}), counts: map[string]callCount{}}
	c := awselbv2.NewFromConfig(e.awsCfg, func(o *awselbv2.Options) {
		o.BaseEndpoint = aws.String(e.srv.Endpoint())
		o.Retryer = aws.NopRetryer{}
	})
	go func() {
		defer close(b.done)
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			// The first call goes at once, as the other client is already
			// running when a phase starts (a fast phase still shares the
			// account's limit with it); then one per tick.
			if i > 0 {
				select {
				case <-b.stopc:
					return
				case <-tick.C:
				}
			}
			// Not cancelled by stop: every call that was sent is counted.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			action, err := e.lbcCall(ctx, c, i)
			cancel()
			b.record(action, err)
		}
	}()
	return b
}

// lbcCall makes the i-th call of the load balancer controller's round:
// target health of a group, the rules of a listener, the target groups and
// the listeners of a load balancer.
func (e *env) lbcCall(ctx context.Context, c *awselbv2.Client, i int) (string, error) {
	r := e.rollouts[(i/4)%len(e.rollouts)]
	var err error
	switch i % 4 {
	case 0:
		_, err = c.DescribeTargetHealth(ctx, &awselbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(r.canary)})
		return "DescribeTargetHealth", err
	case 1:
		_, err = c.DescribeRules(ctx, &awselbv2.DescribeRulesInput{ListenerArn: aws.String(r.listeners[0])})
		return "DescribeRules", err
	case 2:
		_, err = c.DescribeTargetGroups(ctx, &awselbv2.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(r.lbARN)})
		return "DescribeTargetGroups", err
	default:
		_, err = c.DescribeListeners(ctx, &awselbv2.DescribeListenersInput{LoadBalancerArn: aws.String(r.lbARN)})
		return "DescribeListeners", err
	}
}

func (b *background) record(action string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.counts[action]
	n.calls++
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "Throttling" {
		n.throttled++
	}
	b.counts[action] = n
}

// stop ends the calls and returns them by Action.
func (b *background) stop() map[string]callCount {
	close(b.stopc)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.counts
}
