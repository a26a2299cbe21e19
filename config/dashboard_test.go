package config_test

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/tools/events"

	"github.com/albrollouts/albrollouts/internal/argometrics"
	"github.com/albrollouts/albrollouts/internal/controller"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/verify"
)

const dashboardFile = "grafana/albrollouts-dashboard.json"

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

// The shipped dashboard parses, and every metric its PromQL reads is one the
// controller registers: a renamed metric fails here, not on a team's screen.
func TestDashboardUsesRegisteredMetrics(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("%s: no title or uid", dashboardFile)
	}
	registered := registeredMetrics(t)
	used := map[string][]string{} // metric -> panels
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q has an empty query", p.Title)
				}
				for _, m := range promQLMetrics(tg.Expr) {
					used[m] = append(used[m], p.Title)
				}
			}
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		for _, m := range labelValuesMetrics.FindAllStringSubmatch(string(v.Query), -1) {
			used[m[1]] = append(used[m[1]], "variable "+v.Name)
		}
	}
	for m, panels := range used {
		if !registered(m) {
			t.Errorf("%s (panels %q) is not a metric the controller registers", m, panels)
		}
	}
	// What the dashboard is for: rollouts by phase, verification latency
	// and outcomes, ELBv2 calls and throttles.
	for _, m := range []string{"rollout_info", "albrollouts_verification_latency_seconds_bucket", "albrollouts_verifications_total",
		"albrollouts_elbv2_api_calls_total", "albrollouts_elbv2_api_throttled_attempts_total"} {
		if len(used[m]) == 0 {
			t.Errorf("no panel shows %s", m)
		}
	}
}

// registeredMetrics returns whether a name is one of the metrics the real
// constructors register (a histogram's _bucket, _sum and _count included).
func registeredMetrics(t *testing.T) func(string) bool {
	t.Helper()
	reg := &recordingRegisterer{Registry: prometheus.NewRegistry()}
	// The same constructors as controller.NewManager, with this registry.
	p := elbv2.NewWithAPI(nil, elbv2.Options{Registerer: reg})
	v := verify.New(p, verify.Options{Registerer: reg})
	controller.New(nil, v, events.NewFakeRecorder(1), controller.Options{Registerer: reg})
	argometrics.Register(reg, argometrics.Source{})

	names := map[string]bool{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	// Vectors without series are not gathered: their descriptions name them.
	for _, c := range reg.collectors {
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			if m := fqName.FindStringSubmatch(d.String()); m != nil {
				names[m[1]] = true
			}
		}
	}
	for _, want := range []string{"rollout_info", "albrollouts_elbv2_api_calls_total", "albrollouts_verifications_total", "albrollouts_rollout_phase"} {
		if !names[want] {
			t.Fatalf("%s not among the registered metrics %v: the test no longer sees what the controller registers", want, slices.Sorted(maps.Keys(names)))
		}
	}
	return func(name string) bool {
		if names[name] {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && names[base] {
				return true
			}
		}
		return false
	}
}

// recordingRegisterer registers with Registry and keeps the collectors.
type recordingRegisterer struct {
	*prometheus.Registry
	collectors []prometheus.Collector
}

func (r *recordingRegisterer) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	r.collectors = append(r.collectors, c)
	return nil
}

func (r *recordingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var (
	fqName             = regexp.MustCompile(`fqName: "([^"]+)"`)
	labelValuesMetrics = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`)
	promQLStrings      = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promQLMatchers     = regexp.MustCompile(`\{[^}]*\}`)
	promQLRanges       = regexp.MustCompile(`\[[^\]]*\]`)
	promQLGrouping     = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promQLIdentifier   = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)
	promQLKeywords     = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless", "inf", "nan"}
)

// promQLMetrics returns the metric names a PromQL expression reads: the
// identifiers left once strings, label matchers, ranges and groupings are
// removed, that are neither functions (followed by a parenthesis) nor
// keywords.
func promQLMetrics(expr string) []string {
	e := promQLStrings.ReplaceAllString(expr, `""`)
	e = promQLMatchers.ReplaceAllString(e, " ")
	e = promQLRanges.ReplaceAllString(e, " ")
	e = promQLGrouping.ReplaceAllString(e, " ")
	var out []string
	for _, id := range promQLIdentifier.FindAllString(e, -1) {
		if strings.HasSuffix(id, "(") {
			continue
		}
		if id = strings.TrimSpace(id); !slices.Contains(promQLKeywords, strings.ToLower(id)) {
			out = append(out, id)
		}
	}
	return out
}

func TestPromQLMetrics(t *testing.T) {
	for expr, want := range map[string][]string{
		`histogram_quantile(0.95, sum by (le, result) (rate(albrollouts_verification_latency_seconds_bucket{result="verified"}[$__rate_interval])))`:   {"albrollouts_verification_latency_seconds_bucket"},
		`sum by (namespace, name) (rollout_info_replicas_updated{namespace=~"$namespace"}) / sum by (namespace, name) (rollout_info_replicas_desired)`: {"rollout_info_replicas_updated", "rollout_info_replicas_desired"},
		`rollout_info{phase!="Completed"} == 1 and on (name) up`: {"rollout_info", "up"},
	} {
		if got := promQLMetrics(expr); !slices.Equal(got, want) {
			t.Errorf("promQLMetrics(%s) = %v, want %v", expr, got, want)
		}
	}
}
