package dataplane

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// sampleLog collects the Samples of a Plane.
type sampleLog struct {
	mu sync.Mutex
	s  []Sample
}

func (l *sampleLog) add(s Sample) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.s = append(l.s, s)
}

func (l *sampleLog) all() []Sample {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Sample(nil), l.s...)
}

// TestSamples checks the Sample of each kind of answer: the target's (with
// its response time), the load balancer's 503 without a routable target,
// its 502 for a refused connection, and a fixed response.
func TestSamples(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(30 * time.Millisecond) // the target's own response time, measured below
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(slow.Close)
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedTarget := targetOf(t, refused.Listener.Addr().String())
	refused.Close()

	b := &staticBackend{}
	b.set("tg-slow", targetOf(t, slow.Listener.Addr().String()))
	b.set("tg-refused", refusedTarget)
	var log sampleLog
	p := New(Options{Backend: b, OnRequest: log.add})
	t.Cleanup(func() { _ = p.Close() })
	url, err := p.Apply("listener-1", ListenerConfig{LoadBalancerARN: "lb-1", Port: 80, Rules: []Rule{
		{Priority: 1, Conditions: []Condition{{Field: "path-pattern", Values: []string{"/slow"}}},
			Actions: []Action{{Type: ActionForward, Forward: []WeightedGroup{{TargetGroupARN: "tg-slow", Weight: 1}}}}},
		{Priority: 2, Conditions: []Condition{{Field: "path-pattern", Values: []string{"/refused"}}},
			Actions: []Action{{Type: ActionForward, Forward: []WeightedGroup{{TargetGroupARN: "tg-refused", Weight: 1}}}}},
		{Priority: 3, Conditions: []Condition{{Field: "path-pattern", Values: []string{"/empty"}}},
			Actions: []Action{{Type: ActionForward, Forward: []WeightedGroup{{TargetGroupARN: "tg-empty", Weight: 1}}}}},
		{IsDefault: true, Actions: []Action{{Type: ActionFixedResponse, FixedResponse: &FixedResponse{StatusCode: 418}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient()
	before := time.Now()
	for _, path := range []string{"/slow", "/refused", "/empty", "/other"} {
		get(t, c, mustReq(t, url+path))
	}
	got := log.all()
	if len(got) != 4 {
		t.Fatalf("%d samples, want 4: %+v", len(got), got)
	}
	want := []Sample{
		{LoadBalancerARN: "lb-1", TargetGroupARN: "tg-slow", Target: slow.Listener.Addr().String(), Status: 500, FromTarget: true},
		{LoadBalancerARN: "lb-1", TargetGroupARN: "tg-refused", Target: refused.Listener.Addr().String(), Status: 502},
		{LoadBalancerARN: "lb-1", TargetGroupARN: "tg-empty", Status: 503},
		{LoadBalancerARN: "lb-1", Status: 418},
	}
	for i, s := range got {
		if s.Time.Before(before) || s.Time.After(time.Now()) {
			t.Errorf("sample %d: time %v outside the test", i, s.Time)
		}
		tt := s.TargetTime
		s.Time, s.TargetTime = time.Time{}, 0
		if s != want[i] {
			t.Errorf("sample %d: %+v, want %+v", i, s, want[i])
		}
		if i == 0 && (tt < 30*time.Millisecond || tt > 5*time.Second) {
			t.Errorf("target response time %v, want at least the target's 30ms", tt)
		}
		if i > 0 && tt != 0 {
			t.Errorf("sample %d: target response time %v for an answer the load balancer made", i, tt)
		}
	}
}
