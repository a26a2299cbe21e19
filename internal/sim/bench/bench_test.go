package bench

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
	"time"
)

// TestRunSmoke runs both phases on a few rollouts and checks the report
// is complete: every rollout verified by both methods, calls counted.
func TestRunSmoke(t *testing.T) {
	var log bytes.Buffer
	rep, err := Run(context.Background(), Config{Rollouts: 6, ALBs: 2, Spread: 200 * time.Millisecond,
		NaiveInterval: 500 * time.Millisecond, MaxDuration: 2 * time.Minute, Log: &log})
	t.Log(log.String())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := rep.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if len(rep.Phases) != 3 {
		t.Fatalf("%d phases", len(rep.Phases))
	}
	if shared := rep.Phases[2]; shared.Name != PhaseShared || shared.Others.Calls == 0 {
		t.Fatalf("third phase %s: the other client made %d calls", shared.Name, shared.Others.Calls)
	}
	for _, p := range rep.Phases {
		if p.Verified != 6 || p.Calls == 0 {
			t.Errorf("%s: verified %d/6 with %d calls", p.Name, p.Verified, p.Calls)
		}
	}
	for _, p := range rep.Phases {
		var sum int64
		for _, n := range p.ByOperation {
			sum += n
		}
		if sum != p.Calls || p.ByOperation["DescribeRules"] == 0 {
			t.Errorf("%s: calls by operation %v do not add up to %d", p.Name, p.ByOperation, p.Calls)
		}
	}
	if !strings.Contains(out.String(), "naive per-rollout chain") || !strings.Contains(out.String(), "calls: DescribeListeners") ||
		!strings.Contains(out.String(), "the other client (load balancer controller, 2.0 Describe*/s)") {
		t.Fatalf("table:\n%s", out.String())
	}
}

var rollouts = flag.Int("bench-rollouts", 50, "rollouts for BenchmarkVerifyWeightChange (docs/benchmarks.md numbers: 1000)")

// BenchmarkVerifyWeightChange reports calls per verification, throttled
// calls and latency percentiles of both methods as benchmark metrics.
//
//	go test -run '^$' -bench VerifyWeightChange -benchtime 1x ./internal/sim/bench/ -args -bench-rollouts 1000
func BenchmarkVerifyWeightChange(b *testing.B) {
	for range b.N {
		rep, err := Run(context.Background(), Config{Rollouts: *rollouts})
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range rep.Phases {
			prefix := map[string]string{PhaseOurs: "ours_", PhaseNaive: "naive_", PhaseShared: "shared_"}[p.Name]
			b.ReportMetric(p.CallsPerVerification(), prefix+"calls/verification")
			b.ReportMetric(float64(p.Throttled), prefix+"throttled")
			b.ReportMetric(float64(p.Verified), prefix+"verified")
			if d, ok := p.Percentile(0.5); ok {
				b.ReportMetric(d.Seconds(), prefix+"p50_s")
			}
			if d, ok := p.Percentile(0.99); ok {
				b.ReportMetric(d.Seconds(), prefix+"p99_s")
			}
		}
	}
}
