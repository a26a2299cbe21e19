package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterReusesTheRegisteredCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	newCounter := func() prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "albrollouts_test_total", Help: "test"})
	}
	first := Register(reg, newCounter())
	second := Register(reg, newCounter())
	if first != second {
		t.Fatal("second Register returned a new collector instead of the registered one")
	}
	second.Inc()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if got := mfs[0].GetMetric()[0].GetCounter().GetValue(); got != 1 {
		t.Fatalf("counter = %v, want 1", got)
	}
}
