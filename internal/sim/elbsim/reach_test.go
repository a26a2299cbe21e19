package elbsim_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/reach"
)

// Targets outside loopback are refused unless their range is named in
// Options.TargetRanges (a pod range local to a private network namespace).
func TestTargetRanges(t *testing.T) {
	target := types.TargetDescription{Id: aws.String("198.18.0.7"), Port: aws.Int32(8080)}

	def := newEnv(t, elbsim.Options{})
	tg := def.tg("refused")
	_, err := def.c.RegisterTargets(t.Context(), &elbv2.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: []types.TargetDescription{target}})
	var invalid *types.InvalidTargetException
	if !errors.As(err, &invalid) {
		t.Fatalf("registering 198.18.0.7 without a target range: %v, want InvalidTarget", err)
	}

	pods, err := reach.Parse([]string{"198.18.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	ranged := newEnv(t, elbsim.Options{TargetRanges: pods})
	tg = ranged.tg("accepted")
	ranged.register(tg.TargetGroupArn, target)
	if hs := ranged.health(tg.TargetGroupArn); len(hs) != 1 || aws.ToString(hs[0].Target.Id) != "198.18.0.7" {
		t.Fatalf("health after registering 198.18.0.7 with the range allowed: %+v", hs)
	}
}
