package elbv2_test

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// TestIAMPolicyGrantsExactlyTheOperations keeps config/iam-policy.json and
// the operations the provider calls in step.
func TestIAMPolicyGrantsExactlyTheOperations(t *testing.T) {
	b, err := os.ReadFile("../../config/iam-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Statement []struct {
			Effect   string
			Action   []string
			Resource string
		}
	}
	if err := json.Unmarshal(b, &policy); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range policy.Statement {
		if s.Effect != "Allow" || s.Resource != "*" {
			t.Fatalf("statement %+v: want Allow on *", s)
		}
		got = append(got, s.Action...)
	}
	var want []string
	for _, op := range elbv2.Operations {
		want = append(want, elbv2.IAMAction(op))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("policy grants %v, the provider calls %v", got, want)
	}
}
