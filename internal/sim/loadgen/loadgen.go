// Package loadgen sends steady HTTP traffic through an ALB listener and
// counts what comes back: successes and failures (a status other than 2xx,
// or no answer), and which app version answered (the demo app's
// X-App-Version header). End-to-end tests assert on its counts; the demo
// shows the measured traffic split from it.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sync"
	"time"
)

// VersionHeader is the header the demo app (and the node agent's stand-in
// for other images) answers its version in.
const VersionHeader = "X-App-Version"

// Options configure a Generator.
type Options struct {
	// URL is requested with GET (e.g. the listener URL plus "/").
	URL string
	// Rate is requests per second (default 20).
	Rate float64
	// Timeout bounds one request (default 5 s).
	Timeout time.Duration
	// Header is added to every request (e.g. a header route's match).
	Header http.Header
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Failure is one failed request.
type Failure struct {
	Time   time.Time
	Status int // 0 when no answer came
	Err    string
	Body   string
}

func (f Failure) String() string {
	if f.Status == 0 {
		return fmt.Sprintf("%s: %s", f.Time.Format("15:04:05.000"), f.Err)
	}
	return fmt.Sprintf("%s: HTTP %d %s", f.Time.Format("15:04:05.000"), f.Status, f.Body)
}

// Counts are the answers in some period.
type Counts struct {
	Total     int
	Failed    int
	ByVersion map[string]int // successful answers per version
	ByStatus  map[int]int
}

func (c Counts) clone() Counts {
	return Counts{Total: c.Total, Failed: c.Failed, ByVersion: maps.Clone(c.ByVersion), ByStatus: maps.Clone(c.ByStatus)}
}

// Share is the fraction of successful answers from version v.
func (c Counts) Share(v string) float64 {
	ok := 0
	for _, n := range c.ByVersion {
		ok += n
	}
	if ok == 0 {
		return 0
	}
	return float64(c.ByVersion[v]) / float64(ok)
}

// Report is everything a generator saw.
type Report struct {
	Counts
	Failures []Failure // at most 200 kept
	Duration time.Duration
}

// Generator sends requests at a steady rate until stopped.
type Generator struct {
	o      Options
	client *http.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
	start  time.Time

	mu       sync.Mutex
	total    Counts
	window   Counts // since the last Window call
	failures []Failure
}

// Start begins sending requests.
func Start(o Options) *Generator {
	if o.Rate <= 0 {
		o.Rate = 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g := &Generator{
		o:      o,
		client: &http.Client{Timeout: o.Timeout, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}},
		start:  o.Now(),
		total:  Counts{ByVersion: map[string]int{}, ByStatus: map[int]int{}},
		window: Counts{ByVersion: map[string]int{}, ByStatus: map[int]int{}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	g.wg.Add(1)
	go g.loop(ctx)
	return g
}

func (g *Generator) loop(ctx context.Context) {
	defer g.wg.Done()
	tick := time.NewTicker(time.Duration(float64(time.Second) / g.o.Rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				g.one(ctx)
			}()
		}
	}
}

func (g *Generator) one(ctx context.Context) {
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, g.o.URL, nil)
	if err != nil {
		g.record(0, "", err.Error(), "")
		return
	}
	for k, vs := range g.o.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.record(0, "", err.Error(), "")
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	g.record(resp.StatusCode, resp.Header.Get(VersionHeader), "", string(body))
}

func (g *Generator) record(status int, version, errText, body string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	failed := status < 200 || status > 299
	for _, c := range []*Counts{&g.total, &g.window} {
		c.Total++
		c.ByStatus[status]++
		if failed {
			c.Failed++
		} else {
			c.ByVersion[version]++
		}
	}
	if failed && len(g.failures) < 200 {
		if len(body) > 120 {
			body = body[:120]
		}
		g.failures = append(g.failures, Failure{Time: g.o.Now(), Status: status, Err: errText, Body: body})
	}
}

// Window returns the counts since the previous Window call (or the start).
func (g *Generator) Window() Counts {
	g.mu.Lock()
	defer g.mu.Unlock()
	w := g.window.clone()
	g.window = Counts{ByVersion: map[string]int{}, ByStatus: map[int]int{}}
	return w
}

// Snapshot returns the report so far without stopping.
func (g *Generator) Snapshot() Report {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Report{Counts: g.total.clone(), Failures: append([]Failure(nil), g.failures...), Duration: g.o.Now().Sub(g.start)}
}

// Stop stops sending, waits for requests in flight, and reports.
func (g *Generator) Stop() Report {
	g.cancel()
	g.wg.Wait()
	g.client.CloseIdleConnections()
	return g.Snapshot()
}
