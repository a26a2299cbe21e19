package localenv

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/albrollouts/albrollouts/internal/sim/promserver"
)

// PrometheusJobElbsim is the scrape job of elbsim's data-plane metrics
// (GET /_elbsim/metrics: elbsim_alb_requests_total, ..._target_response_time_seconds,
// ..._healthy_targets, ..._unhealthy_targets).
const PrometheusJobElbsim = "elbsim"

// startPrometheus runs Prometheus scraping elbsim every second.
func (e *Env) startPrometheus(ctx context.Context) error {
	u, err := url.Parse(e.sim.Endpoint())
	if err != nil {
		return fmt.Errorf("elbsim endpoint: %w", err)
	}
	e.printf("starting Prometheus (scraping elbsim's data plane every second)...\n")
	e.prom, err = promserver.Start(ctx, promserver.Options{
		Dir:    filepath.Join(e.opts.Dir, "prometheus"),
		Listen: e.opts.PrometheusListen,
		Jobs:   []promserver.Job{{Name: PrometheusJobElbsim, MetricsPath: "/_elbsim/metrics", Targets: []string{u.Host}}},
	})
	if err != nil {
		return fmt.Errorf("start prometheus (--with-prometheus): %w", err)
	}
	return nil
}

// PrometheusURL is the address of the Prometheus HTTP API ("" without WithPrometheus).
func (e *Env) PrometheusURL() string {
	if e.prom == nil {
		return ""
	}
	return e.prom.URL()
}
