package nodeagent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// prober runs one container's readiness probe the way the kubelet's probe worker
// does. Its ticker starts with the container, one tick every periodSeconds, and
// one extra probe is due the moment the container is reported running (after its
// postStart hook), as the kubelet triggers one then. A probe due before
// initialDelaySeconds have passed since the container started, or while the
// container is not running yet, is skipped. So with initialDelaySeconds 10 and
// periodSeconds 30 the first probe runs 30 s after the start, as on a real node.
// The container turns ready after successThreshold consecutive successes and
// unready after failureThreshold consecutive failures. It starts unready.
type prober struct {
	probe     *corev1.Probe
	container *corev1.Container
	podIP     string
	client    *http.Client
	scale     float64
	startedAt time.Time     // when the container started; initialDelaySeconds count from here
	running   chan struct{} // closed when the container is reported running; nil: from the start
	onChange  func()        // called (from the probe goroutine) when readiness flips
	ready     atomic.Bool
	lastError atomic.Pointer[string]
}

// Probe timing defaults of the kubelet.
const (
	defaultProbePeriod     = 10 * time.Second
	defaultProbeTimeout    = time.Second
	defaultFailureThresh   = 3
	defaultSuccessThresh   = 1
	minScaledProbeInterval = 50 * time.Millisecond
)

func (p *prober) run(ctx context.Context) {
	s := p.probe
	initialDelay := scaled(time.Duration(s.InitialDelaySeconds)*time.Second, p.scale, 0)
	period := defaultProbePeriod
	if s.PeriodSeconds > 0 {
		period = time.Duration(s.PeriodSeconds) * time.Second
	}
	period = scaled(period, p.scale, minScaledProbeInterval)
	successThresh, failureThresh := int32(defaultSuccessThresh), int32(defaultFailureThresh)
	if s.SuccessThreshold > 0 {
		successThresh = s.SuccessThreshold
	}
	if s.FailureThreshold > 0 {
		failureThresh = s.FailureThreshold
	}
	if p.startedAt.IsZero() {
		p.startedAt = time.Now()
	}
	running := p.running
	if running == nil {
		running = make(chan struct{})
		close(running)
	}
	isRunning := false
	tick := time.NewTicker(period)
	defer tick.Stop()
	var successes, failures int32
	for {
		select {
		case <-running:
			isRunning = true
		default:
		}
		if isRunning && time.Since(p.startedAt) >= initialDelay {
			err := p.once(ctx)
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				successes, failures = successes+1, 0
				p.lastError.Store(nil)
				if successes >= successThresh && !p.ready.Swap(true) {
					p.onChange()
				}
			} else {
				successes, failures = 0, failures+1
				msg := err.Error()
				p.lastError.Store(&msg)
				if failures >= failureThresh && p.ready.Swap(false) {
					p.onChange()
				}
			}
		}
		var trigger <-chan struct{}
		if !isRunning {
			trigger = running // the probe the kubelet triggers when the container runs
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-trigger:
		}
	}
}

// once performs one probe. The probe timeout is not time-scaled: it bounds a real
// network round trip, and a scaled one would fail on a busy machine.
func (p *prober) once(ctx context.Context) error {
	timeout := defaultProbeTimeout
	if p.probe.TimeoutSeconds > 0 {
		timeout = time.Duration(p.probe.TimeoutSeconds) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch h := p.probe.ProbeHandler; {
	case h.HTTPGet != nil:
		return p.httpGet(ctx, h.HTTPGet)
	case h.TCPSocket != nil:
		port, err := resolvePort(h.TCPSocket.Port, p.container)
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(p.podIP, strconv.Itoa(int(port))))
		if err != nil {
			return fmt.Errorf("tcp probe failed: %w", err)
		}
		return conn.Close()
	default:
		// exec and grpc probes cannot run against the demo app; treat them as passing
		// so that a manifest written for a real cluster still comes up.
		return nil
	}
}

func (p *prober) httpGet(ctx context.Context, g *corev1.HTTPGetAction) error {
	if g.Scheme == corev1.URISchemeHTTPS {
		return fmt.Errorf("https readiness probes are not supported by the local node agent")
	}
	port, err := resolvePort(g.Port, p.container)
	if err != nil {
		return err
	}
	path := g.Path
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	url := "http://" + net.JoinHostPort(p.podIP, strconv.Itoa(int(port))) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("readiness probe: %w", err)
	}
	req.Header.Set("User-Agent", "kube-probe/albrollouts-local")
	for _, h := range g.HTTPHeaders {
		req.Header.Set(h.Name, h.Value)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("readiness probe failed: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("readiness probe failed: HTTP probe failed with statuscode: %d", resp.StatusCode)
	}
	return nil
}

// resolvePort turns a probe port (a number or a container port name) into a number.
func resolvePort(port intstr.IntOrString, c *corev1.Container) (int32, error) {
	if port.Type == intstr.Int {
		if port.IntVal <= 0 || port.IntVal > 65535 {
			return 0, fmt.Errorf("probe port %d is out of range", port.IntVal)
		}
		return port.IntVal, nil
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil && n > 0 && n <= 65535 {
		return int32(n), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == port.StrVal {
			return cp.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("probe port %q names no port of container %q", port.StrVal, c.Name)
}

// scaled multiplies d by the time scale, with a floor so a tiny scale cannot turn a
// period into a busy loop.
func scaled(d time.Duration, scale float64, floor time.Duration) time.Duration {
	if scale > 0 && scale != 1 {
		d = time.Duration(float64(d) * scale)
	}
	if d < floor {
		d = floor
	}
	return d
}

// sleepCtx waits for d or until ctx ends, whichever is first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
