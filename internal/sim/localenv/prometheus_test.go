package localenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/internal/sim/poll"
	"github.com/albrollouts/albrollouts/internal/sim/promserver"
)

// TestPrometheusWithTheDemoALB runs the environment with Prometheus, applies
// the demo (stable and canary behind one ALB), sends traffic through the ALB
// and reads it back from Prometheus's HTTP API with the Prometheus Go client.
func TestPrometheusWithTheDemoALB(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the local environment")
	}
	if _, err := promserver.Find(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env, err := Start(ctx, Options{Dir: t.TempDir(), TimeScale: 0.1, PodCIDR: "127.65.0.0/24", WithPrometheus: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	}()
	c := env.Client()
	for _, doc := range strings.Split(DemoManifest, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatal(err)
		}
		u.SetNamespace("default")
		if err := c.Create(ctx, u); err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
	var listener string
	poll.Slow.Until(t, 90*time.Second, "the demo ALB's listener", func() bool {
		var ing networkingv1.Ingress
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "demo"}, &ing); err != nil || len(ing.Status.LoadBalancer.Ingress) == 0 {
			return false
		}
		listener, _ = env.ListenerURL(ing.Status.LoadBalancer.Ingress[0].Hostname, 80)
		return listener != ""
	})

	pc, err := promapi.NewClient(promapi.Config{Address: env.PrometheusURL()})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(pc)
	value := func(q string) (float64, string) {
		v, _, _, err := api.Query(ctx, q, time.Now())
		if err != nil {
			return -1, err.Error()
		}
		vec, ok := v.(model.Vector)
		if !ok || len(vec) != 1 {
			return -1, fmt.Sprintf("%v", v)
		}
		return float64(vec[0].Value), vec.String()
	}
	expect := func(q string, want func(float64) bool) {
		t.Helper()
		poll.Slow.Eventually(t, 60*time.Second, q, func() (bool, string) {
			v, msg := value(q)
			return v >= 0 && want(v), msg
		})
	}
	// Three Ready pods, healthy in their target groups: 2 stable and 1 canary.
	expect(`sum(elbsim_alb_healthy_targets)`, func(v float64) bool { return v == 3 })
	send := func(n int) {
		for range n {
			resp, err := http.Get(listener + "/")
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", listener, resp.StatusCode)
			}
		}
	}
	// Prometheus sees the counters first, then their growth: rate() needs both.
	send(20)
	expect(`sum(elbsim_alb_requests_total{origin="target", code_class="2xx"})`, func(v float64) bool { return v == 20 })
	send(60)
	expect(`sum(elbsim_alb_requests_total{origin="target", code_class="2xx"})`, func(v float64) bool { return v == 80 })
	expect(`sum(rate(elbsim_alb_requests_total{origin="target"}[1m]))`, func(v float64) bool { return v > 0 })
	expect(`count(count by (load_balancer) (elbsim_alb_requests_total{load_balancer=~"app/k8s-.+/[0-9a-f]{16}"}))`, func(v float64) bool { return v == 1 })
	expect(`sum(elbsim_alb_target_response_time_seconds_count)`, func(v float64) bool { return v == 80 })
}
