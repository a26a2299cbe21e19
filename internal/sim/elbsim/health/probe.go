package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// probeSpec is everything one probe needs, copied out under the Prober lock.
type probeSpec struct {
	target  Target
	check   Check
	port    string
	timeout time.Duration
	matcher Matcher
	failing bool
}

// result is the outcome of one probe; reason and desc explain a failure.
type result struct {
	ok     bool
	reason string
	desc   string
}

func codeMismatch(code int) result {
	return result{reason: ReasonResponseCodeMismatch, desc: fmt.Sprintf("Health checks failed with these codes: [%d]", code)}
}

// probe performs one health check of a target.
func (p *Prober) probe(ctx context.Context, s probeSpec) result {
	if s.failing {
		return codeMismatch(http.StatusInternalServerError)
	}
	if !p.reach.AllowsIP(s.target.ID) {
		// elbsim never leaves the machine: only loopback targets (and ranges
		// named in Options.TargetRanges) are contacted.
		return result{reason: ReasonFailedHealthChecks,
			desc: descFailedHealthChecks + ": elbsim only probes IP targets in " + p.reach.String() + ", not " + s.target.ID}
	}
	scheme := "http"
	if strings.EqualFold(s.check.Protocol, "HTTPS") {
		scheme = "https"
	}
	url := scheme + "://" + net.JoinHostPort(s.target.ID, s.port) + s.check.Path

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return result{reason: ReasonFailedHealthChecks, desc: descFailedHealthChecks}
	}
	req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
	resp, err := p.client.Do(req)
	if err != nil {
		if isTimeout(ctx, err) {
			return result{reason: ReasonTimeout, desc: descTimeout}
		}
		return result{reason: ReasonFailedHealthChecks, desc: descFailedHealthChecks}
	}
	// Drain a little so the keep-alive connection can be reused; ignore body errors.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if !s.matcher.Match(resp.StatusCode) {
		return codeMismatch(resp.StatusCode)
	}
	return result{ok: true}
}

func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
