package dataplane

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// benchSetup starts one target and a plane forwarding to it; it returns the
// direct URL of the target and the URL of the plane's listener.
func benchSetup(b *testing.B) (direct, viaPlane string) {
	b.Helper()
	a := newApp(b, "app")
	be := &staticBackend{}
	be.set(tgStable, a.target(b))
	p := newPlane(b, be)
	return a.srv.URL, apply(b, p, forwardTo(WeightedGroup{tgStable, 1}))
}

// timedGet sends one GET and returns how long it took until the whole body was read.
func timedGet(b *testing.B, c *http.Client, url string) time.Duration {
	start := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		b.Error(err)
		return 0
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Errorf("GET %s: status %d, %v", url, resp.StatusCode, err)
	}
	return time.Since(start)
}

// BenchmarkProxy measures the latency the plane adds to one proxied request:
// every iteration sends one request straight to the target and one through
// the plane, sequentially over keep-alive connections.
func BenchmarkProxy(b *testing.B) {
	direct, viaPlane := benchSetup(b)
	c := newClient()
	timedGet(b, c, direct) // open the keep-alive connections first
	timedGet(b, c, viaPlane)
	var sumDirect, sumPlane time.Duration
	n := 0
	for b.Loop() {
		sumDirect += timedGet(b, c, direct)
		sumPlane += timedGet(b, c, viaPlane)
		n++
	}
	us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	b.ReportMetric(us(sumDirect), "direct-us/req")
	b.ReportMetric(us(sumPlane), "plane-us/req")
	b.ReportMetric(us(sumPlane-sumDirect), "added-us/req")
}

// BenchmarkProxyLoad1000rps is a small open-loop load test: 1500 requests at
// 1000 requests per second straight to the target, then 1500 through the
// plane, reporting p50/p99 latency of both and the difference. One iteration
// is the whole test (about 3 s), whatever -benchtime says.
func BenchmarkProxyLoad1000rps(b *testing.B) {
	const (
		requests = 1500
		rate     = 1000
	)
	direct, viaPlane := benchSetup(b)
	c := newClient()
	for b.Loop() {
		d, _ := paced(b, c, direct, requests, rate)
		pl, rps := paced(b, c, viaPlane, requests, rate)
		b.ReportMetric(us(pct(d, 50)), "direct-p50-us")
		b.ReportMetric(us(pct(d, 99)), "direct-p99-us")
		b.ReportMetric(us(pct(pl, 50)), "plane-p50-us")
		b.ReportMetric(us(pct(pl, 99)), "plane-p99-us")
		b.ReportMetric(us(pct(pl, 50)-pct(d, 50)), "added-p50-us")
		b.ReportMetric(us(pct(pl, 99)-pct(d, 99)), "added-p99-us")
		b.ReportMetric(rps, "plane-rps")
	}
}

// paced sends n requests at the given rate without waiting for answers
// (open loop, at most 256 in flight) and returns their latencies, sorted, and
// the rate achieved.
func paced(b *testing.B, c *http.Client, url string, n, rate int) ([]time.Duration, float64) {
	lat := make([]time.Duration, n)
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval))) // pacing, not waiting for state
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			lat[i] = timedGet(b, c, url)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	return lat, float64(n) / elapsed.Seconds()
}

func pct(sorted []time.Duration, p int) time.Duration { return sorted[(len(sorted)-1)*p/100] }

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
