// Command linkcheck fails on a broken relative link in the project's Markdown:
// README.md and every docs/**/*.md. `make test` and `make lint` run it:
//
//	go run ./hack/linkcheck            # from the repository root
//	go run ./hack/linkcheck -root DIR  # another checkout
//
// A link is broken when its file (or directory) does not exist, or when its
// #anchor names no heading of the target Markdown file (or of the same file,
// for a bare #anchor). Anchors are GitHub's heading slugs: the heading's text
// lower-cased, punctuation dropped, each space a hyphen, and -1, -2, ... on
// repeats. Links with a scheme (https:, mailto:) are not followed; anchors
// into files other than Markdown (a .go file's #L10) are not checked. Links
// inside fenced code blocks and code spans are not links and are skipped.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	files, err := markdownFiles(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "linkcheck:", err)
		os.Exit(2)
	}
	c := newChecker(*root)
	var broken []string
	links := 0
	for _, f := range files {
		p, err := c.problems(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "linkcheck:", err)
			os.Exit(2)
		}
		broken = append(broken, p...)
		links += c.linksSeen
	}
	for _, b := range broken {
		fmt.Println(b)
	}
	if len(broken) > 0 {
		fmt.Printf("linkcheck: %d broken link(s) in %d Markdown files\n", len(broken), len(files))
		os.Exit(1)
	}
	fmt.Printf("linkcheck: %d relative links in %d Markdown files, none broken\n", links, len(files))
}

// markdownFiles lists README.md and docs/**/*.md under root, as slash paths
// relative to root, sorted.
func markdownFiles(root string) ([]string, error) {
	var files []string
	if _, err := os.Stat(filepath.Join(root, "README.md")); err == nil {
		files = append(files, "README.md")
	}
	docs := filepath.Join(root, "docs")
	if _, err := os.Stat(docs); err == nil {
		err := filepath.WalkDir(docs, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".md") {
				rel, err := filepath.Rel(root, p)
				if err != nil {
					return err
				}
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no README.md or docs/*.md under %s", root)
	}
	sort.Strings(files)
	return files, nil
}

type checker struct {
	root      string
	anchors   map[string]map[string]bool // Markdown file (slash path) -> its anchors
	linksSeen int                        // relative links of the last file checked
}

func newChecker(root string) *checker {
	return &checker{root: root, anchors: map[string]map[string]bool{}}
}

// problems returns one line per broken relative link in the Markdown file
// file (a slash path relative to the root): "file:line: link: why".
func (c *checker) problems(file string) ([]string, error) {
	src, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(file)))
	if err != nil {
		return nil, err
	}
	c.linksSeen = 0
	var out []string
	for _, l := range extractLinks(string(src)) {
		target := l.target
		if isExternal(target) {
			continue
		}
		c.linksSeen++
		p, frag, _ := strings.Cut(target, "#")
		if q := strings.IndexByte(p, '?'); q >= 0 {
			p = p[:q]
		}
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		dest := file
		if p != "" {
			if strings.HasPrefix(p, "/") {
				dest = path.Clean(strings.TrimPrefix(p, "/"))
			} else {
				dest = path.Join(path.Dir(file), p)
			}
			if strings.HasPrefix(dest, "../") || dest == ".." {
				out = append(out, fmt.Sprintf("%s:%d: %s: leaves the repository", file, l.line, target))
				continue
			}
			if _, err := os.Stat(filepath.Join(c.root, filepath.FromSlash(dest))); err != nil {
				out = append(out, fmt.Sprintf("%s:%d: %s: %s does not exist", file, l.line, target, dest))
				continue
			}
		}
		if frag == "" || !strings.HasSuffix(dest, ".md") {
			continue
		}
		if u, err := url.PathUnescape(frag); err == nil {
			frag = u
		}
		anchors, err := c.anchorsOf(dest)
		if err != nil {
			return nil, err
		}
		if !anchors[strings.ToLower(frag)] {
			out = append(out, fmt.Sprintf("%s:%d: %s: no heading #%s in %s", file, l.line, target, frag, dest))
		}
	}
	return out, nil
}

func (c *checker) anchorsOf(file string) (map[string]bool, error) {
	if a, ok := c.anchors[file]; ok {
		return a, nil
	}
	src, err := os.ReadFile(filepath.Join(c.root, filepath.FromSlash(file)))
	if err != nil {
		return nil, err
	}
	a := anchors(string(src))
	c.anchors[file] = a
	return a, nil
}

var schemeRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)

func isExternal(target string) bool {
	return schemeRE.MatchString(target) || strings.HasPrefix(target, "//")
}

type link struct {
	target string
	line   int
}

// lines yields the lines of a Markdown source outside fenced code blocks,
// with their 1-based numbers.
func lines(src string, yield func(n int, line string)) {
	var fence string // the opening fence while inside a fenced block
	sc := bufio.NewScanner(strings.NewReader(src))
	sc.Buffer(make([]byte, 1024*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]+" ") == "" {
				fence = ""
			}
			continue
		}
		if f := fenceOf(trimmed); f != "" && len(line)-len(trimmed) < 4 {
			fence = f
			continue
		}
		yield(n, line)
	}
}

// fenceOf returns the fence (``` or ~~~, three or more) a line opens, or "".
func fenceOf(trimmed string) string {
	for _, ch := range []byte{'`', '~'} {
		i := 0
		for i < len(trimmed) && trimmed[i] == ch {
			i++
		}
		if i >= 3 {
			return trimmed[:i]
		}
	}
	return ""
}

var refDefRE = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)`)

// extractLinks finds inline links and images ([text](target), ![alt](target))
// and reference definitions ([id]: target) outside code.
func extractLinks(src string) []link {
	var out []link
	lines(src, func(n int, line string) {
		if m := refDefRE.FindStringSubmatch(line); m != nil {
			out = append(out, link{strings.Trim(m[1], "<>"), n})
			return
		}
		s := stripCodeSpans(line)
		for i := 0; i+1 < len(s); i++ {
			if s[i] != ']' || s[i+1] != '(' {
				continue
			}
			j, depth := i+2, 1
			for ; j < len(s) && depth > 0; j++ {
				switch s[j] {
				case '\\':
					j++
				case '(':
					depth++
				case ')':
					depth--
				}
			}
			j-- // the closing ')'
			if depth != 0 {
				continue
			}
			dest := strings.TrimSpace(s[i+2 : j])
			if strings.HasPrefix(dest, "<") {
				if k := strings.IndexByte(dest, '>'); k > 0 {
					dest = dest[1:k]
				}
			} else if k := strings.IndexAny(dest, " \t"); k >= 0 {
				dest = dest[:k] // drop a "title"
			}
			if dest != "" {
				out = append(out, link{dest, n})
			}
			i = j
		}
	})
	return out
}

// stripCodeSpans blanks out `code spans`, so that text in them is no link.
func stripCodeSpans(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); {
		if b[i] != '`' {
			i++
			continue
		}
		n := 0
		for i+n < len(b) && b[i+n] == '`' {
			n++
		}
		closeAt := strings.Index(string(b[i+n:]), strings.Repeat("`", n))
		if closeAt < 0 {
			i += n
			continue
		}
		end := i + n + closeAt + n
		for k := i; k < end; k++ {
			b[k] = ' '
		}
		i = end
	}
	return string(b)
}

var (
	atxRE      = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	htmlIDRE   = regexp.MustCompile(`<a\s+(?:name|id)="([^"]+)"`)
	inlineLink = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTagRE  = regexp.MustCompile(`<[^>]+>`)
)

// anchors returns the anchors GitHub gives a Markdown file: one slug per ATX
// heading (with -1, -2, ... on repeats) and every <a name|id="...">.
func anchors(src string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	lines(src, func(_ int, line string) {
		for _, m := range htmlIDRE.FindAllStringSubmatch(line, -1) {
			out[strings.ToLower(m[1])] = true
		}
		m := atxRE.FindStringSubmatch(line)
		if m == nil {
			return
		}
		s := Slug(m[2])
		if k, ok := seen[s]; ok {
			seen[s] = k + 1
			s = fmt.Sprintf("%s-%d", s, k+1)
		} else {
			seen[s] = 0
		}
		out[s] = true
	})
	return out
}

// Slug is GitHub's anchor for a heading's Markdown text: the rendered text
// lower-cased, with every character that is not a letter, a digit, a mark,
// '_', '-' or a space dropped, and each space turned into '-'.
func Slug(heading string) string {
	t := inlineLink.ReplaceAllString(heading, "$1")
	t = htmlTagRE.ReplaceAllString(t, "")
	var b strings.Builder
	for _, r := range strings.ToLower(t) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_', unicode.IsLetter(r), unicode.IsDigit(r), unicode.IsMark(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
