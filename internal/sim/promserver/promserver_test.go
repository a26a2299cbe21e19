package promserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
	"github.com/albrollouts/albrollouts/internal/sim/promserver"
)

// requirePrometheus skips the test when the prometheus binary is missing,
// except in CI, where `make test-deps` installs it and the test must run.
func requirePrometheus(t *testing.T) {
	t.Helper()
	if _, err := promserver.Find(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// alb is an elbsim ALB forwarding to one loopback target that answers 500 to
// every fourth request.
func alb(t *testing.T) (s *elbsim.Server, listenerURL, lbDim, tgDim string) {
	t.Helper()
	var n atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" && n.Add(1)%4 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(target.Close)
	s, c := elbsimtest.Start(t, elbsim.Options{TimeScale: 0.01})
	ctx := context.Background()
	lb, err := c.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("prom-lb")})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := c.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("prom-tg"), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(80), TargetType: types.TargetTypeEnumIp, VpcId: aws.String("vpc-0123456789abcdef0"), HealthCheckPath: aws.String("/health"),
		HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(4), HealthyThresholdCount: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	lbARN, tgARN := lb.LoadBalancers[0].LoadBalancerArn, tg.TargetGroups[0].TargetGroupArn
	if _, err := c.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(80), Protocol: types.ProtocolEnumHttp,
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tgARN}}}); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	if _, err := c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: tgARN,
		Targets: []types.TargetDescription{{Id: aws.String(u.Hostname()), Port: aws.Int32(int32(port))}}}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, "the target healthy", func() bool {
		h, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tgARN})
		return err == nil && len(h.TargetHealthDescriptions) == 1 && h.TargetHealthDescriptions[0].TargetHealth.State == types.TargetHealthStateEnumHealthy
	})
	poll.Until(t, 30*time.Second, "the listener on the data plane", func() bool {
		listenerURL, _ = s.ListenerURL(*lb.LoadBalancers[0].DNSName, 80)
		return listenerURL != ""
	})
	return s, listenerURL, elbsim.LoadBalancerDimension(*lbARN), elbsim.TargetGroupDimension(*tgARN)
}

// query runs an instant PromQL query and returns the single value of its vector.
func query(ctx context.Context, api promv1.API, q string) (float64, error) {
	v, _, _, err := api.Query(ctx, q, time.Now())
	if err != nil {
		return 0, err
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 1 {
		return 0, fmt.Errorf("%s: %v, want one sample", q, v)
	}
	return float64(vec[0].Value), nil
}

// TestPrometheusScrapesTheDataPlane runs Debian's Prometheus against elbsim,
// sends traffic through the ALB and reads the counts, the 5xx rate and the
// host gauge back through Prometheus's HTTP API with the Prometheus Go client.
func TestPrometheusScrapesTheDataPlane(t *testing.T) {
	requirePrometheus(t)
	s, listenerURL, lbDim, tgDim := alb(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u, _ := url.Parse(s.Endpoint())
	prom, err := promserver.Start(ctx, promserver.Options{Dir: t.TempDir(),
		Jobs: []promserver.Job{{Name: "elbsim", MetricsPath: "/_elbsim/metrics", Targets: []string{u.Host}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := prom.Close(); err != nil {
			t.Error(err)
		}
	})
	client, err := promapi.NewClient(promapi.Config{Address: prom.URL()})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(client)
	sel := fmt.Sprintf(`load_balancer=%q, target_group=%q`, lbDim, tgDim)
	expect := func(want map[string]float64) {
		t.Helper()
		for q, w := range want {
			poll.Slow.Eventually(t, 60*time.Second, q, func() (bool, string) {
				v, err := query(ctx, api, q)
				if err != nil {
					return false, err.Error()
				}
				return v == w, fmt.Sprintf("%v, want %v", v, w)
			})
		}
	}
	send := func(n int) {
		for range n {
			resp, err := http.Get(listenerURL + "/")
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
		}
	}
	// Prometheus first sees the counters at 20; rate() needs them to grow after that.
	send(20)
	expect(map[string]float64{`sum(elbsim_alb_requests_total{` + sel + `})`: 20, `count(up{job="elbsim"} == 1)`: 1})
	send(20)
	expect(map[string]float64{
		`sum(elbsim_alb_requests_total{` + sel + `})`:                                          40,
		`sum(elbsim_alb_requests_total{` + sel + `, code_class="5xx"})`:                        10,
		`sum(elbsim_alb_target_response_time_seconds_count{` + sel + `})`:                      40,
		`sum(elbsim_alb_healthy_targets{` + sel + `})`:                                         1,
		`sum(rate(elbsim_alb_requests_total{` + sel + `}[1m])) > bool 0`:                       1,
		`sum(increase(elbsim_alb_requests_total{` + sel + `, code_class="5xx"}[1m])) > bool 0`: 1,
	})
	var pe *promv1.Error
	if _, _, _, err := api.Query(ctx, "sum(", time.Now()); !errors.As(err, &pe) {
		t.Errorf("a bad query: %v, want the API's error", err)
	}
}
