package elbsim

import (
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/model"
)

// TestBatcher checks AWS's rule: a change with no other change in the previous
// window is released at once; later ones wait for the next window boundary.
func TestBatcher(t *testing.T) {
	clk := NewFakeClock()
	var released []int64
	b := &batcher{clk: clk, window: 10 * time.Second, release: func(st *model.State) { released = append(released, st.Version) }}
	v := func(n int64) *model.State { return &model.State{Version: n} }
	step := func(d time.Duration, change int64, want ...int64) {
		t.Helper()
		clk.Advance(d)
		if change > 0 {
			b.change(v(change))
		}
		if len(released) != len(want) {
			t.Fatalf("after change %d: released %v, want %v", change, released, want)
		}
		for i := range want {
			if released[i] != want[i] {
				t.Fatalf("after change %d: released %v, want %v", change, released, want)
			}
		}
	}
	step(0, 1, 1)                      // t=0: quiet -> at once
	step(1*time.Second, 2, 1)          // t=1: follows a change -> waits for t=10
	step(4*time.Second, 3, 1)          // t=5: joins the pending batch
	step(4*time.Second, 0, 1)          // t=9: nothing yet
	step(1*time.Second, 0, 1, 3)       // t=10: the batch is released as one (latest state)
	step(15*time.Second, 4, 1, 3, 4)   // t=25: 20 s since the last change -> at once
	step(2*time.Second, 5, 1, 3, 4)    // t=27: waits for the boundary t=35
	step(8*time.Second, 0, 1, 3, 4, 5) // t=35
}

func TestBatcherWithoutWindowReleasesEveryChange(t *testing.T) {
	clk := NewFakeClock()
	var n int
	b := &batcher{clk: clk, release: func(*model.State) { n++ }}
	for i := range 5 {
		b.change(&model.State{Version: int64(i + 1)})
	}
	if n != 5 {
		t.Fatalf("released %d changes, want 5", n)
	}
}
