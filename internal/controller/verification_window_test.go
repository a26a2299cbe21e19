package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func TestVerificationWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	v := &v1alpha1.VerificationStatus{StartedAt: &metav1.Time{Time: t0}, DesiredAt: &metav1.MicroTime{Time: at(300 * time.Millisecond)}}
	w := windowOf(v, 30*time.Second)
	if !w.reads.Equal(at(300 * time.Millisecond)) {
		t.Errorf("reads count from DesiredAt: %v", w.reads)
	}
	if w.closed(at(29*time.Second)) || !w.closed(at(30*time.Second)) {
		t.Error("the window closes exactly one timeout after it opened")
	}
	if w.age(at(12*time.Second)) != 12*time.Second {
		t.Error("age")
	}
	// A record of an older controller (no DesiredAt): reads count from the
	// end of StartedAt's second.
	old := &v1alpha1.VerificationStatus{StartedAt: &metav1.Time{Time: t0}}
	if got := windowOf(old, time.Minute).reads; !got.Equal(at(time.Second)) {
		t.Errorf("reads of a record without DesiredAt count from %v, want the end of the second", got)
	}
	// Reopened after an AWS error: a new window from now, reads from now.
	reopen(v, metav1.Time{Time: at(45 * time.Second)})
	if w := windowOf(v, 30*time.Second); w.closed(at(60*time.Second)) || !w.reads.Equal(at(45*time.Second)) {
		t.Errorf("reopened window: %+v", w)
	}
	// A timed-out window waits one timeout from when it finished.
	done := &v1alpha1.VerificationStatus{FinishedAt: &metav1.Time{Time: t0}}
	if got := retryAfterTimeout(done, 30*time.Second, at(10*time.Second)); got != 20*time.Second {
		t.Errorf("retry after %v, want 20s", got)
	}
	if got := retryAfterTimeout(done, 30*time.Second, at(31*time.Second)); got != 0 {
		t.Errorf("retry after %v once a timeout passed, want 0", got)
	}
	if got := retryAfterTimeout(&v1alpha1.VerificationStatus{}, 30*time.Second, t0); got != 0 {
		t.Errorf("never finished: retry after %v, want 0", got)
	}
}
