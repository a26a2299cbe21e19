package analysis

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func arg(name, value string) v1alpha1.Argument { return v1alpha1.Argument{Name: name, Value: &value} }

func TestResolveMetric(t *testing.T) {
	count := intstr.FromString("{{args.n}}")
	m := v1alpha1.Metric{
		Name:             "rate",
		Count:            &count,
		Interval:         "1m",
		SuccessCondition: "result[0] < {{ args.max }}",
		Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{
			URL:     "http://x/{{args.svc}}",
			Headers: []v1alpha1.WebMetricHeader{{Key: "Authorization", Value: "Bearer {{args.token}}"}},
		}},
	}
	got, err := ResolveMetric(m, []v1alpha1.Argument{arg("n", "3"), arg("max", "0.5"), arg("svc", `a"b\n`), arg("token", "t0k"), arg("unused", "x")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Count.IntValue() != 3 || *got.EffectiveCount() != 3 {
		t.Errorf("count %v, want 3", got.Count)
	}
	if got.SuccessCondition != "result[0] < 0.5" || got.Provider.Web.URL != `http://x/a"b\n` || got.Provider.Web.Headers[0].Value != "Bearer t0k" {
		t.Errorf("resolved %+v %+v", got, got.Provider.Web)
	}
	if m.Provider.Web.URL != "http://x/{{args.svc}}" {
		t.Error("the stored metric changed")
	}
	for _, tc := range []struct {
		args []v1alpha1.Argument
		want string
	}{
		{[]v1alpha1.Argument{arg("n", "3"), arg("max", "1"), arg("svc", "s"), {Name: "token"}}, `argument "token" was not supplied`},
		{[]v1alpha1.Argument{arg("n", "3"), arg("max", "1"), arg("svc", "s")}, "failed to resolve {{args.token}}"},
	} {
		if _, err := ResolveMetric(m, tc.args); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err %v, want %q", err, tc.want)
		}
	}
	bad := v1alpha1.Metric{Name: "x", SuccessCondition: "{{args.a"}
	if _, err := ResolveMetric(bad, []v1alpha1.Argument{arg("a", "1")}); err == nil {
		t.Error("an unclosed {{ resolved")
	}
}

func TestSecretsResolvedAndRedacted(t *testing.T) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "tok"}, Data: map[string][]byte{"key": []byte("s3cr3t")}}
	r := fake.NewClientBuilder().WithObjects(s).Build()
	args := []v1alpha1.Argument{arg("plain", "p"), {Name: "token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "tok", Key: "key"}}}}
	got, secrets, err := withSecrets(context.Background(), r, "ns", args)
	if err != nil {
		t.Fatal(err)
	}
	if *got[1].Value != "s3cr3t" || got[1].ValueFrom != nil || len(secrets) != 1 {
		t.Errorf("args %+v secrets %d", got, len(secrets))
	}
	if args[1].Value != nil {
		t.Error("the run's args changed")
	}
	red := redactor(secrets)
	m := red.measurement(v1alpha1.Measurement{Message: "GET http://x?token=s3cr3t failed", Value: "s3cr3t", Metadata: map[string]string{"q": "s3cr3t"}})
	if strings.Contains(m.Message+m.Value+m.Metadata["q"], "s3cr3t") || !strings.Contains(m.Message, Redacted) {
		t.Errorf("not redacted: %+v", m)
	}
	placeholders := withoutSecrets(args)
	if *placeholders[1].Value != secretPlaceholder {
		t.Errorf("placeholder %v", placeholders[1])
	}
	_, _, err = withSecrets(context.Background(), r, "ns", []v1alpha1.Argument{{Name: "t", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "tok", Key: "nope"}}}})
	if err == nil || err.Error() != "key 'nope' does not exist in secret 'tok'" {
		t.Errorf("missing key: %v", err)
	}
	_, _, err = withSecrets(context.Background(), r, "ns", []v1alpha1.Argument{{Name: "t", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "gone", Key: "k"}}}})
	if err == nil || !strings.Contains(err.Error(), "ns/gone") {
		t.Errorf("missing secret: %v", err)
	}
}
