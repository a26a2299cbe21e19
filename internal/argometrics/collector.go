package argometrics

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// Source is where the gauges are read at scrape time.
type Source struct {
	// Reader lists Rollouts and AnalysisRuns: the manager's cache, so that
	// a scrape costs no API request. Nil: no gauges.
	Reader client.Reader
	// InstanceID selects the objects of this controller instance, as the
	// controllers shard them (--instance-id; empty: those without the label).
	InstanceID string
	// Elected, if set, closes once this replica leads (the manager's
	// Elected()): until then the gauges are empty, so that with several
	// replicas only the leader reports each rollout, as in Argo Rollouts.
	Elected <-chan struct{}
	// Log reports a failed list; default: discard.
	Log logr.Logger
}

// leading reports whether s's replica leads (or elects no leader).
func (s Source) leading() bool {
	if s.Elected == nil {
		return true
	}
	select {
	case <-s.Elected:
		return true
	default:
		return false
	}
}

// listTimeout bounds one scrape's reads of the cache.
const listTimeout = 10 * time.Second

// cacheCollector is the prometheus.Collector of the gauges read from the
// cache: rollout_info, rollout_info_replicas_*, rollout_phase and the
// analysis_run_* gauges. Its source is replaced when a second controller
// registers with the same registry (tests); the newest one is read.
type cacheCollector struct {
	mu  sync.RWMutex
	src Source
}

func (c *cacheCollector) setSource(s Source) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.src = s
}

func (c *cacheCollector) source() Source {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.src
}

// Describe implements prometheus.Collector.
func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		rolloutInfoDesc, rolloutAvailableDesc, rolloutUnavailableDesc, rolloutDesiredDesc, rolloutUpdatedDesc, rolloutPhaseDesc,
		runInfoDesc, runPhaseDesc, runMetricTypeDesc, runMetricPhaseDesc,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it lists this instance's
// Rollouts and AnalysisRuns and sends their gauges.
func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.source()
	if src.Reader == nil || !src.leading() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	sel := client.MatchingLabelsSelector{Selector: instanceSelector(src.InstanceID)}
	var rollouts v1alpha1.RolloutList
	if err := src.Reader.List(ctx, &rollouts, sel); err != nil {
		logOrDiscard(src.Log).Error(err, "listing rollouts for their metrics")
	} else {
		for i := range rollouts.Items {
			collectRollout(ch, &rollouts.Items[i])
		}
	}
	var runs v1alpha1.AnalysisRunList
	if err := src.Reader.List(ctx, &runs, sel); err != nil {
		logOrDiscard(src.Log).Error(err, "listing analysis runs for their metrics")
	} else {
		for i := range runs.Items {
			collectAnalysisRun(ch, &runs.Items[i])
		}
	}
}

// instanceSelector selects the objects labelled with id, or without the
// instance label when id is empty.
func instanceSelector(id string) labels.Selector {
	var req *labels.Requirement
	if id == "" {
		req, _ = labels.NewRequirement(replicaset.InstanceIDLabel, selection.DoesNotExist, nil)
	} else {
		var err error
		req, err = labels.NewRequirement(replicaset.InstanceIDLabel, selection.Equals, []string{id})
		if err != nil {
			// Not a label value: no object can carry it.
			return labels.Nothing()
		}
	}
	return labels.NewSelector().Add(*req)
}

func logOrDiscard(l logr.Logger) logr.Logger {
	if l.GetSink() == nil {
		return logr.Discard()
	}
	return l
}
