package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSlug(t *testing.T) {
	for heading, want := range map[string]string{
		"Quick start": "quick-start",
		"Safety: the write guard and the randomized simulation": "safety-the-write-guard-and-the-randomized-simulation",
		"Status, conditions, events, metrics":                   "status-conditions-events-metrics",
		"elbsim, the ELBv2 emulator":                            "elbsim-the-elbv2-emulator",
		"`make demo` and `make test`":                           "make-demo-and-make-test",
		"The rollout controller → Measured":                     "the-rollout-controller--measured",
		"A [link](other.md) in a *heading*":                     "a-link-in-a-heading",
		"snake_case and kebab-case":                             "snake_case-and-kebab-case",
		"Über 100 %":                                            "über-100-",
	} {
		if got := Slug(heading); got != want {
			t.Errorf("Slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

func TestAnchors(t *testing.T) {
	src := "# Title\n\n## Measured\n\n```sh\n## not a heading\n```\n\n### Measured\n\n## Closed ##\n<a id=\"Custom\"></a>\n"
	got := anchors(src)
	want := map[string]bool{"title": true, "measured": true, "measured-1": true, "closed": true, "custom": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("anchors = %v, want %v", got, want)
	}
}

func TestExtractLinks(t *testing.T) {
	src := strings.Join([]string{
		"See [a](docs/a.md#x) and ![img](pic.png \"title\").",
		"`[not](a-link.md)` but [b](<b c.md>) and [f](f(1).md).",
		"```",
		"[in code](nope.md)",
		"```",
		"[ref]: docs/ref.md",
		"[ext](https://example.com/x.md)",
	}, "\n")
	var got []string
	for _, l := range extractLinks(src) {
		got = append(got, l.target)
	}
	want := []string{"docs/a.md#x", "pic.png", "b c.md", "f(1).md", "docs/ref.md", "https://example.com/x.md"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("links = %q, want %q", got, want)
	}
}

func TestProblems(t *testing.T) {
	root := t.TempDir()
	write := func(name, content string) {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", "# Top\n\n[ok](docs/a.md#part-one) [self](#top) [dir](docs/) [code](main.go#L3)\n"+
		"[gone](docs/missing.md) [bad anchor](docs/a.md#part-two) [bad self](#nowhere) [up](../x.md)\n")
	write("docs/a.md", "# A\n\n## Part one\n\n[back](../README.md#top) [bad](../README.md#bottom)\n")
	write("main.go", "package main\n")

	files, err := markdownFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"README.md", "docs/a.md"}; !reflect.DeepEqual(files, want) {
		t.Fatalf("files = %q, want %q", files, want)
	}
	c := newChecker(root)
	var got []string
	for _, f := range files {
		p, err := c.problems(f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p...)
	}
	want := []string{
		"README.md:4: docs/missing.md: docs/missing.md does not exist",
		"README.md:4: docs/a.md#part-two: no heading #part-two in docs/a.md",
		"README.md:4: #nowhere: no heading #nowhere in README.md",
		"README.md:4: ../x.md: leaves the repository",
		"docs/a.md:5: ../README.md#bottom: no heading #bottom in README.md",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
