package elbsim_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
)

// BenchmarkDescribeTargetHealth measures DescribeTargetHealth calls per second
// over HTTP with the real SDK, for a group of 20 targets.
func BenchmarkDescribeTargetHealth(b *testing.B) {
	e := newEnv(b, elbsim.Options{TimeScale: 0.01})
	tg := e.tg("bench")
	lb := e.lb("bench")
	e.listener(lb.LoadBalancerArn, 80, types.Action{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn})
	var ts []types.TargetDescription
	for i := range 20 {
		ts = append(ts, target(fmt.Sprintf("127.0.1.%d", i+1), 8080))
	}
	e.register(tg.TargetGroupArn, ts...)
	in := &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn}
	benchCalls(b, func() error { _, err := e.c.DescribeTargetHealth(e.ctx, in); return err })
}

// BenchmarkDescribeRules measures DescribeRules calls per second for a listener with 20 weighted rules.
func BenchmarkDescribeRules(b *testing.B) {
	e := newEnv(b, elbsim.Options{})
	lb := e.lb("bench")
	blue, green := e.tg("blue"), e.tg("green")
	l := e.listener(lb.LoadBalancerArn, 80, forward(weighted{blue.TargetGroupArn, 1}))
	for i := range 20 {
		_, err := e.c.CreateRule(e.ctx, &elbv2.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(int32(i + 1)),
			Conditions: []types.RuleCondition{{Field: aws.String("host-header"), Values: []string{fmt.Sprintf("app%d.example.com", i)}}},
			Actions:    []types.Action{forward(weighted{blue.TargetGroupArn, 90}, weighted{green.TargetGroupArn, 10})}})
		if err != nil {
			b.Fatal(err)
		}
	}
	in := &elbv2.DescribeRulesInput{ListenerArn: l.ListenerArn}
	benchCalls(b, func() error { _, err := e.c.DescribeRules(e.ctx, in); return err })
}

func benchCalls(b *testing.B, call func() error) {
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := call(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	})
}
