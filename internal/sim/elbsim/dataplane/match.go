package dataplane

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Condition field names, as in ELBv2 RuleCondition.Field.
const (
	FieldPathPattern       = "path-pattern"
	FieldHostHeader        = "host-header"
	FieldHTTPHeader        = "http-header"
	FieldHTTPRequestMethod = "http-request-method"
	FieldQueryString       = "query-string"
	FieldSourceIP          = "source-ip"
)

// condition is one compiled rule condition. A request matches it when any of
// its values matches.
type condition interface {
	match(r *http.Request, client netip.Addr) bool
}

// compileCondition checks a Condition and turns it into a matcher.
func compileCondition(c Condition) (condition, error) {
	switch c.Field {
	case FieldPathPattern:
		if len(c.Values) == 0 {
			return nil, errNoValues(c.Field)
		}
		return pathCond{patterns: c.Values}, nil
	case FieldHostHeader:
		if len(c.Values) == 0 {
			return nil, errNoValues(c.Field)
		}
		return hostCond{patterns: lowerAll(c.Values)}, nil
	case FieldHTTPHeader:
		if strings.TrimSpace(c.HeaderName) == "" {
			return nil, fmt.Errorf("condition http-header has no header name: set HttpHeaderConfig.HttpHeaderName")
		}
		if len(c.Values) == 0 {
			return nil, errNoValues(c.Field)
		}
		return headerCond{name: http.CanonicalHeaderKey(strings.TrimSpace(c.HeaderName)), patterns: lowerAll(c.Values)}, nil
	case FieldHTTPRequestMethod:
		if len(c.Values) == 0 {
			return nil, errNoValues(c.Field)
		}
		return methodCond{methods: c.Values}, nil
	case FieldQueryString:
		if len(c.QueryStrings) == 0 {
			return nil, fmt.Errorf("condition query-string has no key/value pairs: set QueryStringConfig.Values")
		}
		q := queryCond{}
		for _, kv := range c.QueryStrings {
			if kv.Value == "" {
				return nil, fmt.Errorf("condition query-string: pair with key %q has no value", kv.Key)
			}
			q.pairs = append(q.pairs, QueryString{Key: strings.ToLower(kv.Key), Value: strings.ToLower(kv.Value)})
		}
		return q, nil
	case FieldSourceIP:
		if len(c.Values) == 0 {
			return nil, errNoValues(c.Field)
		}
		s := sourceCond{}
		for _, v := range c.Values {
			pfx, err := parsePrefix(v)
			if err != nil {
				return nil, fmt.Errorf("condition source-ip: %q is not a CIDR block such as 127.0.0.0/8: %w", v, err)
			}
			s.prefixes = append(s.prefixes, pfx)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("unknown condition field %q: use path-pattern, host-header, http-header, http-request-method, query-string or source-ip", c.Field)
	}
}

func errNoValues(field string) error {
	return fmt.Errorf("condition %s has no values", field)
}

func lowerAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.ToLower(v)
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

// pathCond matches the URL path, case-sensitively (the query string is not part of it).
type pathCond struct{ patterns []string }

func (c pathCond) match(r *http.Request, _ netip.Addr) bool {
	return anyGlob(c.patterns, r.URL.Path)
}

// hostCond matches the Host header without its port, case-insensitively.
type hostCond struct{ patterns []string }

func (c hostCond) match(r *http.Request, _ netip.Addr) bool {
	return anyGlob(c.patterns, strings.ToLower(hostOnly(r.Host)))
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// headerCond matches any value of a header (name case-insensitive, values case-insensitive).
type headerCond struct {
	name     string // canonical
	patterns []string
}

func (c headerCond) match(r *http.Request, _ netip.Addr) bool {
	values := r.Header.Values(c.name)
	if c.name == "Host" { // Go moves the Host header out of r.Header
		values = []string{r.Host}
	}
	for _, v := range values {
		if anyGlob(c.patterns, strings.ToLower(v)) {
			return true
		}
	}
	return false
}

// methodCond matches the request method exactly (ALB method names are case-sensitive).
type methodCond struct{ methods []string }

func (c methodCond) match(r *http.Request, _ netip.Addr) bool {
	for _, m := range c.methods {
		if r.Method == m {
			return true
		}
	}
	return false
}

// queryCond matches when any key/value pair is present in the query string.
// Keys and values are compared case-insensitively with wildcards; an empty key
// matches a value under any key.
type queryCond struct{ pairs []QueryString }

func (c queryCond) match(r *http.Request, _ netip.Addr) bool {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil && len(q) == 0 {
		return false
	}
	for key, values := range q {
		key = strings.ToLower(key)
		for _, pair := range c.pairs {
			if pair.Key != "" && !globMatch(pair.Key, key) {
				continue
			}
			for _, v := range values {
				if globMatch(pair.Value, strings.ToLower(v)) {
					return true
				}
			}
		}
	}
	return false
}

// sourceCond matches the client address of the connection (not X-Forwarded-For).
type sourceCond struct{ prefixes []netip.Prefix }

func (c sourceCond) match(_ *http.Request, client netip.Addr) bool {
	if !client.IsValid() {
		return false
	}
	for _, p := range c.prefixes {
		if p.Contains(client) {
			return true
		}
	}
	return false
}

func anyGlob(patterns []string, s string) bool {
	for _, p := range patterns {
		if globMatch(p, s) {
			return true
		}
	}
	return false
}

// globMatch reports whether s matches an ALB wildcard pattern: '*' matches any
// run of characters (including none), '?' exactly one character, everything
// else itself. It backtracks only to the last '*', so it runs in O(len(p)*len(s)).
func globMatch(p, s string) bool {
	px, sx := 0, 0
	starPx, starSx := -1, 0 // where to resume after the last '*'
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, w := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += w
					continue
				}
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		// Mismatch: let the last '*' swallow one more character, if any is left.
		if starPx >= 0 && starSx < len(s) {
			_, w := utf8.DecodeRuneInString(s[starSx:])
			starSx += w
			px, sx = starPx+1, starSx
			continue
		}
		return false
	}
	return true
}
