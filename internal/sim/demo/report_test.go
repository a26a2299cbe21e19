package demo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/loadgen"
)

// xmlNode is a parsed element with its attributes and children.
type xmlNode struct {
	name     string
	attrs    map[string]string
	children []*xmlNode
	text     strings.Builder
}

// parseXML parses the whole document strictly (the report must be
// well-formed XML) and returns its root element.
func parseXML(t *testing.T, doc []byte) *xmlNode {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	var stack []*xmlNode
	var root *xmlNode
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the report is not well-formed XML: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			n := &xmlNode{name: tk.Name.Local, attrs: map[string]string{}}
			for _, a := range tk.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				stack[len(stack)-1].children = append(stack[len(stack)-1].children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(tk)
			}
		}
	}
	if root == nil {
		t.Fatal("empty report")
	}
	return root
}

func (n *xmlNode) all(f func(*xmlNode) bool) []*xmlNode {
	var out []*xmlNode
	if f(n) {
		out = append(out, n)
	}
	for _, c := range n.children {
		out = append(out, c.all(f)...)
	}
	return out
}

func (n *xmlNode) allText() string {
	var b strings.Builder
	b.WriteString(n.text.String())
	for _, c := range n.children {
		b.WriteString(c.allText())
	}
	return b.String()
}

// chartSeries returns, per series, the points of its polylines in the
// report's chart, and the number of samples the chart says it holds.
func chartSeries(t *testing.T, doc []byte) (map[string][][2]float64, int, *xmlNode) {
	t.Helper()
	root := parseXML(t, doc)
	svgs := root.all(func(n *xmlNode) bool { return n.name == "svg" })
	if len(svgs) != 1 {
		t.Fatalf("%d svg elements, want 1", len(svgs))
	}
	series := map[string][][2]float64{}
	for _, pl := range svgs[0].all(func(n *xmlNode) bool { return n.name == "polyline" && n.attrs["data-series"] != "" }) {
		for _, p := range strings.Fields(pl.attrs["points"]) {
			var x, y float64
			if _, err := fmt.Sscanf(p, "%f,%f", &x, &y); err != nil {
				t.Fatalf("point %q: %v", p, err)
			}
			series[pl.attrs["data-series"]] = append(series[pl.attrs["data-series"]], [2]float64{x, y})
		}
	}
	n := 0
	if _, err := fmt.Sscan(svgs[0].attrs["data-samples"], &n); err != nil {
		t.Fatalf("data-samples %q: %v", svgs[0].attrs["data-samples"], err)
	}
	return series, n, svgs[0]
}

func TestReportIsXMLWithOnePointPerSample(t *testing.T) {
	r := goodResult()
	r.Failed, r.Requests = 2, 1100
	r.Failures = []Failure{
		{Scenario: ScenarioCanary, At: 20 * time.Second, Failure: loadgen.Failure{Time: time.Now(), Status: 503, Body: "<html>no healthy target & more</html>"}},
		{Scenario: ScenarioCanary, At: 21 * time.Second, Failure: loadgen.Failure{Time: time.Now(), Err: "connection refused"}},
	}
	var b bytes.Buffer
	if err := WriteReport(&b, r); err != nil {
		t.Fatal(err)
	}
	doc := b.Bytes()
	if strings.Contains(b.String(), "<script") || strings.Contains(b.String(), "<link") || strings.Contains(b.String(), "http://") && !strings.Contains(b.String(), "http://www.w3.org/") {
		t.Errorf("the report refers to something outside itself")
	}
	series, n, svg := chartSeries(t, doc)
	if n != len(r.Samples) {
		t.Errorf("data-samples %d, want %d", n, len(r.Samples))
	}
	for _, name := range []string{SeriesDesired, SeriesVerified, SeriesMeasured} {
		pts := series[name]
		if len(pts) != len(r.Samples) {
			t.Errorf("series %s has %d points, want one per sample (%d)", name, len(pts), len(r.Samples))
			continue
		}
		// x follows time; y is the value on a 0-100 scale, top is 100.
		for i := 1; i < len(pts); i++ {
			if pts[i][0] < pts[i-1][0] {
				t.Fatalf("series %s: x goes back at point %d", name, i)
			}
		}
		for i, s := range r.Samples {
			v := float64(s.Desired)
			switch name {
			case SeriesVerified:
				v = float64(s.Verified)
			case SeriesMeasured:
				v = s.Measured
			}
			want := chartScale{}.y(v)
			if d := pts[i][1] - want; d > 0.06 || d < -0.06 {
				t.Fatalf("series %s point %d: y %.1f, want %.1f (value %.1f)", name, i, pts[i][1], want, v)
			}
		}
	}
	// One polyline per scenario and series.
	lines := svg.all(func(n *xmlNode) bool { return n.name == "polyline" && n.attrs["data-series"] != "" })
	if len(lines) != 3*len(r.Scenarios) {
		t.Errorf("%d polylines, want %d", len(lines), 3*len(r.Scenarios))
	}
	events := svg.all(func(n *xmlNode) bool { return n.name == "g" && strings.HasPrefix(n.attrs["class"], "event") })
	if len(events) != 2 {
		t.Errorf("%d verification marks, want 2", len(events))
	}
	if !strings.Contains(events[1].allText(), `<unhealthy> & "more"`) || events[1].attrs["class"] != "event bad" {
		t.Errorf("timed-out mark %q class %q", events[1].allText(), events[1].attrs["class"])
	}
	fails := svg.all(func(n *xmlNode) bool { return n.name == "path" && n.attrs["class"] == "failure" })
	if len(fails) != 2 || !strings.Contains(fails[0].allText(), "HTTP 503") {
		t.Errorf("failure marks: %d", len(fails))
	}
	root := parseXML(t, doc)
	text := root.allText()
	for _, want := range []string{"Problems:", "2 of 1100 requests failed", "setWeight 25", "promotion of v2", "abort: all traffic on v2", "switch to green", "1s"} {
		if !strings.Contains(text, want) {
			t.Errorf("report text lacks %q", want)
		}
	}
	rows := root.all(func(n *xmlNode) bool { return n.name == "tr" })
	steps := 0
	for _, sc := range r.Scenarios {
		steps += len(sc.Steps)
	}
	// step rows + scenario rows + event rows + 3 header rows
	if want := steps + len(r.Scenarios) + len(r.Events) + 3; len(rows) != want {
		t.Errorf("%d table rows, want %d", len(rows), want)
	}
}

func TestReportWithoutSamples(t *testing.T) {
	r := &Result{}
	var b bytes.Buffer
	if err := WriteReport(&b, r); err != nil {
		t.Fatal(err)
	}
	root := parseXML(t, b.Bytes())
	if len(root.all(func(n *xmlNode) bool { return n.name == "svg" })) != 0 {
		t.Errorf("a chart without samples")
	}
	// One sample: no division by zero, one point per series.
	r.Samples = []Sample{{At: time.Second, Scenario: ScenarioCanary, Desired: 10, Verified: 10, Measured: 9}}
	r.Scenarios = []ScenarioResult{{Name: ScenarioCanary}}
	b.Reset()
	_ = WriteReport(&b, r)
	series, n, _ := chartSeries(t, b.Bytes())
	if n != 1 || len(series[SeriesMeasured]) != 1 || strings.Contains(b.String(), "NaN") {
		t.Errorf("one sample: %v", series)
	}
}

func TestWriteReportFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "demo-report.html")
	if err := writeReportFile(path, goodResult()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parseXML(t, b)
	if err := writeReportFile(filepath.Join(path, "x.html"), goodResult()); err == nil || !strings.Contains(err.Error(), "write report") {
		t.Errorf("writing under a file: %v", err)
	}
}
