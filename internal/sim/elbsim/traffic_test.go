package elbsim_test

import (
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// TestWeightedTraffic sends 10 000 real HTTP requests through a listener that
// forwards 90/10/0 to three target groups and checks where they land: within
// 5 sigma of the binomial expectation, none to the weight-0 group, and none to
// a target that is still initial.
func TestWeightedTraffic(t *testing.T) {
	e := newEnv(t, elbsim.Options{TimeScale: 0.01})
	lb := e.lb("traffic")
	blue, green, zero := e.tg("blue", fastChecks), e.tg("green", fastChecks), e.tg("zero", fastChecks)
	blueBE, greenBE, zeroBE := newBackend(t, "blue"), newBackend(t, "green"), newBackend(t, "zero")
	// flapper answers its health checks 200, 500, 200, 500…: never two passes or
	// two failures in a row, so with thresholds of 2 it stays initial for good.
	flapper := newFlapper(t)
	e.listener(lb.LoadBalancerArn, 80, forward(weighted{blue.TargetGroupArn, 90}, weighted{green.TargetGroupArn, 10}, weighted{zero.TargetGroupArn, 0}))
	e.register(blue.TargetGroupArn, blueBE.target())
	e.register(green.TargetGroupArn, greenBE.target())
	e.register(zero.TargetGroupArn, zeroBE.target())
	e.waitHealthy(blue.TargetGroupArn, 1)
	e.waitHealthy(green.TargetGroupArn, 1)
	e.waitHealthy(zero.TargetGroupArn, 1)
	e.register(blue.TargetGroupArn, flapper.target())
	poll.Until(t, 30*time.Second, "three health checks of the flapping target", func() bool { return flapper.checks.Load() >= 3 })
	url := e.listenerURL(lb.DNSName, 80)

	const n = 10000
	counts := sendRequests(t, url, n, 8)
	if counts["blue"]+counts["green"] != n {
		t.Fatalf("responses %v, want %d from blue and green", counts, n)
	}
	// Binomial: mean n*p, sigma sqrt(n*p*(1-p)) = 30 for p = 0.9.
	mean, sigma := n*0.9, math.Sqrt(n*0.9*0.1)
	if d := math.Abs(float64(counts["blue"]) - mean); d > 5*sigma {
		t.Fatalf("blue got %d of %d requests: %.0f away from %.0f, more than 5 sigma (%.0f)", counts["blue"], n, d, mean, 5*sigma)
	}
	if zeroBE.hits.Load() != 0 {
		t.Fatalf("the weight-0 group's target got %d requests", zeroBE.hits.Load())
	}
	if flapper.hits.Load() != 0 {
		t.Fatalf("the initial target got %d requests", flapper.hits.Load())
	}
	th, err := e.c.DescribeTargetHealth(e.ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: blue.TargetGroupArn, Targets: []types.TargetDescription{flapper.target()}})
	if err != nil || th.TargetHealthDescriptions[0].TargetHealth.State != types.TargetHealthStateEnumInitial {
		t.Fatalf("the flapping target should still be initial: %v %+v", err, th)
	}
	// elbsim's own counters agree with the backends.
	st := e.s.Stats().TargetGroups
	if st[*blue.TargetGroupArn].Requests != counts["blue"] || st[*green.TargetGroupArn].ByStatus["200"] != counts["green"] || st[*zero.TargetGroupArn].Requests != 0 {
		t.Fatalf("data-plane stats %+v, counted %v", st, counts)
	}
	t.Logf("blue %d, green %d (expected %.0f ± %.0f)", counts["blue"], counts["green"], mean, 5*sigma)

	// Shift all traffic to green: after propagation every request lands there.
	if _, err := e.c.ModifyListener(e.ctx, &elbv2.ModifyListenerInput{ListenerArn: e.listenerARN(lb.LoadBalancerArn),
		DefaultActions: []types.Action{forward(weighted{blue.TargetGroupArn, 0}, weighted{green.TargetGroupArn, 1})}}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, 30*time.Second, "the shift to reach the data plane", func() bool { return e.s.Stats().AppliedVersion == e.s.Stats().ModelVersion })
	if got := sendRequests(t, url, 200, 4); got["green"] != 200 {
		t.Fatalf("after shifting to green: %v", got)
	}
}

// TestNoTargetsAnswers503: a group with no registered target gets 503s.
func TestNoTargetsAnswers503(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	lb := e.lb("empty")
	tg := e.tg("empty")
	e.listener(lb.LoadBalancerArn, 8080, types.Action{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn})
	url := e.listenerURL(lb.DNSName, 8080)
	if got := sendRequests(t, url, 20, 2); got["503"] != 20 {
		t.Fatalf("responses %v, want 20 × 503", got)
	}
}

func (e *env) listenerARN(lbARN *string) *string {
	e.t.Helper()
	out, err := e.c.DescribeListeners(e.ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lbARN})
	if err != nil || len(out.Listeners) == 0 {
		e.t.Fatalf("DescribeListeners: %v", err)
	}
	return out.Listeners[0].ListenerArn
}

// sendRequests GETs url n times from workers goroutines and counts answers by
// body for 200s and by status code otherwise.
func sendRequests(t *testing.T, url string, n, workers int) map[string]int64 {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers, Proxy: nil}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	counts := map[string]int64{}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				resp, err := client.Get(url + "/")
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil {
					errs <- err
					return
				}
				key := string(body)
				if resp.StatusCode != 200 {
					key = strconv.Itoa(resp.StatusCode)
				}
				mu.Lock()
				counts[key]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("request: %v", err)
	}
	return counts
}

// flapper is a backend whose health endpoint alternates between 200 and 500.
type flapper struct {
	backend
	checks atomic.Int64
}

func newFlapper(t *testing.T) *flapper {
	f := &flapper{}
	f.serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			if f.checks.Add(1)%2 == 0 {
				w.WriteHeader(http.StatusInternalServerError)
			}
			return
		}
		f.hits.Add(1)
		_, _ = w.Write([]byte("flapper"))
	}))
	return f
}
