package controller

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// window is the time a verification (status.verification) has: it opens
// when its change was written and closes timeout later. Reads sent before
// it opened prove nothing about the change (reads); a check still not
// Verified when it closes has timed out. An AWS error that outlasts the
// window reopens it (the ALB could not be read, which is no reason to
// abort), and a timed-out window is looked at again only after a pause of
// one timeout, unless the rollout is progressing again (a retry).
type window struct {
	opened  time.Time // StartedAt
	reads   time.Time // the freshness bound
	timeout time.Duration
}

// windowOf is the window of verification v.
func windowOf(v *v1alpha1.VerificationStatus, timeout time.Duration) window {
	w := window{reads: freshnessBound(v), timeout: timeout}
	if v.StartedAt != nil {
		w.opened = v.StartedAt.Time
	}
	return w
}

// closed reports whether the window has closed at now.
func (w window) closed(now time.Time) bool { return !now.Before(w.opened.Add(w.timeout)) }

// age is how long the window has been open at now.
func (w window) age(now time.Time) time.Duration { return now.Sub(w.opened) }

// reopen opens v's window anew at now (reads from now on count).
func reopen(v *v1alpha1.VerificationStatus, now metav1.Time) {
	v.StartedAt, v.DesiredAt = &now, &metav1.MicroTime{Time: now.Time}
}

// retryAfterTimeout is how long a timed-out verification v waits before a
// new window opens: none when it never finished or a timeout has passed
// since, else the rest of that timeout.
func retryAfterTimeout(v *v1alpha1.VerificationStatus, timeout time.Duration, now time.Time) time.Duration {
	if v.FinishedAt == nil {
		return 0
	}
	return max(timeout-now.Sub(v.FinishedAt.Time), 0)
}

// freshnessBound is the instant after which an ELBv2 read counts as evidence
// for verification v: when its change was written. The API server keeps
// StartedAt to whole seconds only, so a record without DesiredAt (written by
// an older controller) counts from the end of StartedAt's second: reads sent
// up to a second before the write must not pass for reads after it (an
// abort right after a step would otherwise be verified by reads of the state
// before the step).
func freshnessBound(v *v1alpha1.VerificationStatus) time.Time {
	if v.DesiredAt != nil && !v.DesiredAt.IsZero() {
		return v.DesiredAt.Time
	}
	if v.StartedAt == nil {
		return time.Time{}
	}
	return v.StartedAt.Add(time.Second)
}
