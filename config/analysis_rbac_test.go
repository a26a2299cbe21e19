package config

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// The ClusterRole lets the analysis controller do its work and no more:
// AnalysisRuns, templates read only, Jobs without update, Secrets get only.
func TestClusterRoleCoversAnalysis(t *testing.T) {
	data, err := os.ReadFile("rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(data, role); err != nil {
		t.Fatal(err)
	}
	verbs := func(group, resource string) []string {
		for _, r := range role.Rules {
			if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) {
				return r.Verbs
			}
		}
		return nil
	}
	for _, tc := range []struct {
		group, resource string
		want            []string
	}{
		{"argoproj.io", "analysisruns", []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
		{"argoproj.io", "analysistemplates", []string{"get", "list", "watch"}},
		{"argoproj.io", "clusteranalysistemplates", []string{"get", "list", "watch"}},
		{"batch", "jobs", []string{"get", "list", "watch", "create", "delete"}},
		{"", "secrets", []string{"get"}},
	} {
		if got := verbs(tc.group, tc.resource); !slices.Equal(got, tc.want) {
			t.Errorf("%s/%s: verbs %v, want %v", tc.group, tc.resource, got, tc.want)
		}
	}
}

// The CloudWatch policy grants exactly cloudwatch:GetMetricData; the base
// policy stays ELBv2 only.
func TestCloudWatchIAMPolicy(t *testing.T) {
	actions := func(path string) []string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Statement []struct{ Action []string } }
		if err := json.Unmarshal(data, &p); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range p.Statement {
			out = append(out, s.Action...)
		}
		return out
	}
	if got := actions("iam-policy-cloudwatch.json"); !slices.Equal(got, []string{"cloudwatch:GetMetricData"}) {
		t.Errorf("iam-policy-cloudwatch.json: %v", got)
	}
	for _, a := range actions("iam-policy.json") {
		if len(a) < 21 || a[:21] != "elasticloadbalancing:" {
			t.Errorf("iam-policy.json grants %s", a)
		}
	}
}
