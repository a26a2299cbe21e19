package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable prints the phases side by side.
func (r Report) WriteTable(w io.Writer) error {
	c := r.Config
	if _, err := fmt.Fprintf(w, "%d rollouts on %d ALBs (%d listeners each), one weight change each, spread over %v; elbsim Describe* limit: bucket 40, 10/s\n",
		c.Rollouts, c.ALBs, c.Listeners, c.Spread); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// tabwriter buffers until Flush, which reports write errors.
	_, _ = fmt.Fprintln(tw, "method\tverified\tELBv2 calls\tcalls/verification\tthrottled\tp50\tp99\tmax\twall")
	for _, p := range r.Phases {
		_, _ = fmt.Fprintf(tw, "%s\t%d/%d\t%d\t%.1f\t%d\t%s\t%s\t%s\t%s\n", p.Name, p.Verified, p.Rollouts, p.Calls, p.CallsPerVerification(), p.Throttled,
			pct(p, 0.50), pct(p, 0.99), pct(p, 1), p.Wall.Round(time.Second))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range r.Phases {
		var parts []string
		for _, op := range slices.Sorted(maps.Keys(p.ByOperation)) {
			part := fmt.Sprintf("%s %d", op, p.ByOperation[op])
			if n := p.ThrottledByOperation[op]; n > 0 {
				part += fmt.Sprintf(" (%d throttled)", n)
			}
			parts = append(parts, part)
		}
		if _, err := fmt.Fprintf(w, "%s calls: %s\n", p.Name, strings.Join(parts, ", ")); err != nil {
			return err
		}
		if p.Others.Rate > 0 {
			if _, err := fmt.Fprintf(w, "%s: the other client (load balancer controller, %.1f Describe*/s) made %d calls, %d throttled\n",
				p.Name, p.Others.Rate, p.Others.Calls, p.Others.Throttled); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "latency = from the ALB applying the change (ModifyRule answered) to Verified; \">X\" = not verified within the %v cap\n", c.MaxDuration)
	return err
}

func pct(p Phase, q float64) string {
	if d, ok := p.Percentile(q); ok {
		return d.Round(10 * time.Millisecond).String()
	}
	return ">" + p.Wall.Round(time.Second).String()
}
