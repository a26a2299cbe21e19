package health

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Check holds the health-check settings of one target group, as in
// DescribeTargetGroups. Zero fields take the raw AWS defaults for HTTP
// (see DefaultCheck), except Enabled: a zero Check has health checks disabled.
type Check struct {
	Enabled            bool
	Protocol           string // "HTTP" (default) or "HTTPS"
	Port               string // "traffic-port" (default) or a port number
	Path               string // default "/"
	Interval           time.Duration
	Timeout            time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
	Matcher            string // "200", "200-299", "200,202" or a mix such as "200,300-399"
}

// TrafficPort is the Check.Port value that means "probe the port the target was registered with".
const TrafficPort = "traffic-port"

// DefaultCheck returns the raw AWS defaults of an HTTP target group:
// interval 30 s, timeout 6 s, healthy threshold 5, unhealthy threshold 2, matcher 200, path "/".
func DefaultCheck() Check {
	return Check{
		Enabled:            true,
		Protocol:           "HTTP",
		Port:               TrafficPort,
		Path:               "/",
		Interval:           30 * time.Second,
		Timeout:            6 * time.Second,
		HealthyThreshold:   5,
		UnhealthyThreshold: 2,
		Matcher:            "200",
	}
}

// withDefaults fills zero fields from DefaultCheck, keeping Enabled as given.
func (c Check) withDefaults() Check {
	d := DefaultCheck()
	if c.Protocol == "" {
		c.Protocol = d.Protocol
	}
	if c.Port == "" {
		c.Port = d.Port
	}
	if c.Path == "" {
		c.Path = d.Path
	}
	if !strings.HasPrefix(c.Path, "/") {
		c.Path = "/" + c.Path
	}
	if c.Interval <= 0 {
		c.Interval = d.Interval
	}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.HealthyThreshold <= 0 {
		c.HealthyThreshold = d.HealthyThreshold
	}
	if c.UnhealthyThreshold <= 0 {
		c.UnhealthyThreshold = d.UnhealthyThreshold
	}
	if c.Matcher == "" {
		c.Matcher = d.Matcher
	}
	return c
}

// probePort returns the port the health check of t uses, as DescribeTargetHealth's HealthCheckPort.
func (c Check) probePort(t Target) string {
	if c.Port == "" || c.Port == TrafficPort {
		return strconv.Itoa(int(t.Port))
	}
	if n, err := strconv.Atoi(c.Port); err != nil || n < 1 || n > 65535 {
		// An invalid override cannot be probed; fall back to the traffic port.
		return strconv.Itoa(int(t.Port))
	}
	return c.Port
}

// Matcher is a parsed success-code matcher: a list of inclusive status-code ranges.
type Matcher []CodeRange

// CodeRange is an inclusive range of HTTP status codes.
type CodeRange struct{ Lo, Hi int }

// ParseMatcher parses an ALB HTTP success-code matcher: single codes, ranges and
// comma-separated lists of both, each code within 200-499 as AWS requires
// (for example "200", "200-299", "200,202", "200,300-399").
func ParseMatcher(s string) (Matcher, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("health-check matcher is empty: give success codes such as \"200\" or \"200-299\"")
	}
	var m Matcher
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		l, errLo := parseCode(lo)
		h, errHi := parseCode(hi)
		if errLo != nil || errHi != nil {
			return nil, fmt.Errorf("health-check matcher %q: %q is not a status code or range of codes between 200 and 499", s, part)
		}
		if l > h {
			return nil, fmt.Errorf("health-check matcher %q: range %q runs backwards", s, part)
		}
		m = append(m, CodeRange{Lo: l, Hi: h})
	}
	return m, nil
}

func parseCode(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	if n < 200 || n > 499 {
		return 0, fmt.Errorf("status code %d outside 200-499", n)
	}
	return n, nil
}

// Match reports whether code is a success code.
func (m Matcher) Match(code int) bool {
	for _, r := range m {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}
