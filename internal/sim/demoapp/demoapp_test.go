package demoapp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

func TestParseImage(t *testing.T) {
	cases := []struct {
		image, version string
		ok             bool
	}{
		{"albrollouts/demo:v1", "v1", true},
		{"docker.io/albrollouts/demo:2.0.1", "2.0.1", true},
		{"albrollouts/demo", "latest", true},
		{"albrollouts/demo@sha256:abc", "sha256:abc", true},
		{"albrollouts/demo:", "", false},
		{"albrollouts/demonstration:v1", "", false},
		{"albrollouts/demo/v1", "", false},
		{"ghcr.io/albrollouts/demo:v1", "", false}, // another registry's image of that name
		{"nginx:1.27", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		v, ok := ParseImage(c.image)
		if v != c.version || ok != c.ok {
			t.Errorf("ParseImage(%q) = %q, %t; want %q, %t", c.image, v, ok, c.version, c.ok)
		}
	}
}

func TestParseImageRefAndVersion(t *testing.T) {
	cases := []struct {
		ref, repo, version string
	}{
		{"nginx:1.19-alpine", "nginx", "1.19-alpine"},
		{"argoproj/rollouts-demo:blue", "argoproj/rollouts-demo", "blue"},
		{"nginx", "nginx", "latest"},
		{"docker.io/library/nginx", "docker.io/library/nginx", "latest"},
		{"registry.local:5000/team/app", "registry.local:5000/team/app", "latest"}, // the port is no tag
		{"registry.local:5000/team/app:v2", "registry.local:5000/team/app", "v2"},
		{"nginx@sha256:0123abcd", "nginx", "sha256:0123abcd"},
		{"nginx:1.27@sha256:0123abcd", "nginx", "sha256:0123abcd"}, // the digest is what runs
	}
	for _, c := range cases {
		img, err := ParseImageRef(c.ref)
		if err != nil {
			t.Errorf("ParseImageRef(%q): %v", c.ref, err)
			continue
		}
		if img.Repository != c.repo || img.Version() != c.version {
			t.Errorf("ParseImageRef(%q) = repository %q version %q; want %q, %q", c.ref, img.Repository, img.Version(), c.repo, c.version)
		}
		if img.IsDemo() {
			t.Errorf("%q taken for the demo app", c.ref)
		}
	}
	for _, bad := range []string{"", "nginx:", "nginx@", "nginx:1.27@", ":v1", "@sha256:x", "registry:5000/", "ngi nx:1", "nginx:1\n"} {
		if img, err := ParseImageRef(bad); err == nil {
			t.Errorf("ParseImageRef(%q) = %+v; want an error", bad, img)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	base := Config{Version: "v1"}
	c, err := ConfigFromEnv(base, map[string]string{
		EnvErrorRate: "0.25", EnvLatency: "20ms", EnvHealthFail: "true", EnvStartupDelay: "2s", "OTHER": "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Version: "v1", ErrorRate: 0.25, Latency: 20 * time.Millisecond, HealthFail: true, StartupDelay: 2 * time.Second}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	for _, bad := range []map[string]string{
		{EnvErrorRate: "1.5"}, {EnvErrorRate: "lots"}, {EnvErrorRate: "NaN"},
		{EnvLatency: "fast"}, {EnvLatency: "-1s"}, {EnvHealthFail: "maybe"}, {EnvStartupDelay: "soon"},
	} {
		_, err := ConfigFromEnv(base, bad)
		if err == nil {
			t.Errorf("ConfigFromEnv(%v): want an error", bad)
			continue
		}
		for k := range bad {
			if !strings.Contains(err.Error(), k) {
				t.Errorf("error %q does not name the variable %s", err, k)
			}
		}
	}
}

func get(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestMainPathReportsVersionAndPod(t *testing.T) {
	app := New(Config{Version: "v7", PodName: "web-1", PodIP: "127.1.0.9"})
	rec := get(t, app, http.MethodGet, "/some/path")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	if got := rec.Header().Get(VersionHeader); got != "v7" {
		t.Errorf("%s = %q", VersionHeader, got)
	}
	if got := rec.Header().Get(PodHeader); got != "web-1" {
		t.Errorf("%s = %q", PodHeader, got)
	}
	var body Response
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body != (Response{Version: "v7", Pod: "web-1", PodIP: "127.1.0.9", Path: "/some/path", Status: 200}) {
		t.Errorf("body %+v", body)
	}
}

func TestErrorRate(t *testing.T) {
	app := New(Config{Version: "v1", ErrorRate: 1})
	if rec := get(t, app, http.MethodGet, "/"); rec.Code != http.StatusInternalServerError {
		t.Fatalf("ERROR_RATE=1: status %d", rec.Code)
	}
	if rec := get(t, app, http.MethodGet, HealthPath); rec.Code != http.StatusOK {
		t.Fatalf("ERROR_RATE must not affect %s: status %d", HealthPath, rec.Code)
	}
	app.SetErrorRate(0.5)
	const n = 4000
	errs := 0
	for range n {
		if get(t, app, http.MethodGet, "/").Code == http.StatusInternalServerError {
			errs++
		}
	}
	// Binomial(4000, 0.5): standard deviation ~32; 6 sigma is ~190.
	if errs < 1810 || errs > 2190 {
		t.Errorf("ERROR_RATE=0.5: %d of %d requests failed", errs, n)
	}
	app.SetErrorRate(0)
	if rec := get(t, app, http.MethodGet, "/"); rec.Code != http.StatusOK {
		t.Fatalf("ERROR_RATE=0: status %d", rec.Code)
	}
}

func TestHealthFailAndAdminToggle(t *testing.T) {
	app := New(Config{Version: "v1", HealthFail: true})
	if rec := get(t, app, http.MethodGet, HealthPath); rec.Code != http.StatusInternalServerError {
		t.Fatalf("HEALTH_FAIL=true: status %d", rec.Code)
	}
	if rec := get(t, app, http.MethodPost, "/admin/health-fail?on=false"); rec.Code != http.StatusOK {
		t.Fatalf("toggle: status %d", rec.Code)
	}
	if rec := get(t, app, http.MethodGet, HealthPath); rec.Code != http.StatusOK {
		t.Fatalf("after toggle off: status %d", rec.Code)
	}
	if rec := get(t, app, http.MethodGet, "/admin/health-fail?on=true"); rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET on admin endpoint: status %d", rec.Code)
	}
	if rec := get(t, app, http.MethodPost, "/admin/health-fail?on=perhaps"); rec.Code != http.StatusBadRequest {
		t.Fatalf("bad toggle value: status %d", rec.Code)
	}
	if app.HealthFailing() {
		t.Fatal("bad requests must not change the state")
	}
	if rec := get(t, app, http.MethodPost, "/admin/error-rate?value=1"); rec.Code != http.StatusOK || app.ErrorRate() != 1 {
		t.Fatalf("error-rate toggle: status %d, rate %g", rec.Code, app.ErrorRate())
	}
}

func TestLatencyIsCancelledWithTheRequest(t *testing.T) {
	app := New(Config{Version: "v1", Latency: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a cancelled request kept waiting for LATENCY")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestServeWithStartupDelay(t *testing.T) {
	addr := freeAddr(t)
	gate := make(chan struct{})
	s := &Server{app: New(Config{Version: "v3"}), addrs: []string{addr}, started: make(chan struct{}), stop: make(chan struct{})}
	s.srv = &http.Server{Handler: s.app, ReadHeaderTimeout: time.Second}
	// Run with a startup gate instead of a real delay: the server must not listen
	// before the gate opens.
	go func() {
		<-gate
		s.run()
	}()
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Fatal("connected before start-up finished")
	}
	if s.Listening() {
		t.Fatal("Listening() true before start-up finished")
	}
	close(gate)
	poll.Eventually(t, 30*time.Second, "the server to listen", func() (bool, string) {
		return s.Listening(), fmt.Sprintf("not listening: %v", s.Err())
	})
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.Header.Get(VersionHeader) != "v3" {
		t.Errorf("version header %q", resp.Header.Get(VersionHeader))
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Fatal("still serving after Shutdown")
	}
}

func TestServeShutdownDuringStartupDelay(t *testing.T) {
	s := Serve(New(Config{Version: "v1", StartupDelay: time.Hour}), []string{freeAddr(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Listening() {
		t.Fatal("listening after Shutdown")
	}
}

func TestServeReportsBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	s := Serve(New(Config{Version: "v1", PodName: "p"}), []string{ln.Addr().String()})
	poll.Until(t, 30*time.Second, "an error for an address in use", func() bool { return s.Err() != nil })
	if !strings.Contains(s.Err().Error(), ln.Addr().String()) {
		t.Errorf("error %q does not name the address", s.Err())
	}
	if s.Listening() {
		t.Fatal("Listening() true after a bind failure")
	}
	_ = s.Shutdown(context.Background())
}

// The stand-in for a generic image: every path answers 200 with the version, and the
// paths its probes use fail while health fails, like /healthz does.
func TestProbePathsFailWithHealth(t *testing.T) {
	app := New(Config{Version: "blue", ProbePaths: []string{"/ready", "live?verbose=1", "/"}})
	for _, p := range []string{"/", "/ready", "/live", "/color", "/some/deep/path"} {
		rec := get(t, app, http.MethodGet, p)
		if rec.Code != http.StatusOK || rec.Header().Get(VersionHeader) != "blue" {
			t.Errorf("GET %s: status %d version %q, want 200 blue", p, rec.Code, rec.Header().Get(VersionHeader))
		}
		var body Response
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Version != "blue" || body.Path != p {
			t.Errorf("GET %s: body %q (%v)", p, rec.Body.String(), err)
		}
	}
	if rec := get(t, app, http.MethodPost, "/admin/health-fail?on=true"); rec.Code != http.StatusOK {
		t.Fatalf("toggle: status %d", rec.Code)
	}
	for _, p := range []string{"/", "/ready", "/live", "/live?x=1", HealthPath} {
		if rec := get(t, app, http.MethodGet, p); rec.Code != http.StatusInternalServerError {
			t.Errorf("health failing: GET %s answered %d, want 500", p, rec.Code)
		}
	}
	for _, p := range []string{"/color", "/ready/more", "/readyz"} {
		if rec := get(t, app, http.MethodGet, p); rec.Code != http.StatusOK {
			t.Errorf("health failing: GET %s (not probed) answered %d, want 200", p, rec.Code)
		}
	}
	app.SetHealthFail(false)
	if rec := get(t, app, http.MethodGet, "/ready"); rec.Code != http.StatusOK {
		t.Errorf("after the toggle: GET /ready answered %d", rec.Code)
	}

	// HEALTH_FAIL from the environment does the same from the start.
	cfg, err := ConfigFromEnv(Config{Version: "1.19-alpine", ProbePaths: []string{"/"}}, map[string]string{EnvHealthFail: "true"})
	if err != nil {
		t.Fatal(err)
	}
	if rec := get(t, New(cfg), http.MethodGet, "/"); rec.Code != http.StatusInternalServerError {
		t.Errorf("HEALTH_FAIL=true: GET / (probed) answered %d, want 500", rec.Code)
	}
	// The demo app (no probe paths) keeps serving its main path while unhealthy.
	if rec := get(t, New(Config{Version: "v1", HealthFail: true}), http.MethodGet, "/"); rec.Code != http.StatusOK {
		t.Errorf("demo app with HEALTH_FAIL: GET / answered %d, want 200", rec.Code)
	}
}
