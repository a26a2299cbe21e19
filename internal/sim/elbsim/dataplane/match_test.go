package dataplane

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything/at/all", true},
		{"/api/*", "/api/", true},
		{"/api/*", "/api/v1/users", true},
		{"/api/*", "/api", false},
		{"/img/*.png", "/img/a/b.png", true},
		{"/img/*.png", "/img/a/b.png.jpg", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "aéc", true}, // '?' is one character, not one byte
		{"*a*b*c*", "xxaxxbxxcxx", true},
		{"*a*b*c*", "xxaxxcxxbxx", false},
		{"a*", "b", false},
		{"*.example.com", "www.example.com", true},
		{"*.example.com", "example.com", false},
		{"[abc]", "[abc]", true}, // brackets are literal in ALB patterns
		{"[abc]", "a", false},
		{"a**b", "ab", true},
	}
	for _, tc := range cases {
		if got := globMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

// fixed returns an action answering body, so a test can see which rule matched.
func fixed(body string) []Action {
	return []Action{{Type: ActionFixedResponse, FixedResponse: &FixedResponse{StatusCode: 200, Body: body}}}
}

// routeRule compiles rules (plus a default rule) and returns the body of the rule matching the request.
func routeRule(t *testing.T, rules []Rule, method, target, client string, headers map[string]string) string {
	t.Helper()
	rules = append(rules, Rule{IsDefault: true, Actions: fixed("default")})
	rt, err := compile(ListenerConfig{Port: 80, Protocol: "HTTP", Rules: rules})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	r := httptest.NewRequest(method, target, nil)
	for k, v := range headers {
		if strings.EqualFold(k, "Host") {
			r.Host = v
			continue
		}
		r.Header.Add(k, v)
	}
	addr := netip.Addr{}
	if client != "" {
		addr = netip.MustParseAddr(client)
	}
	cr := rt.match(r, addr)
	if cr == nil {
		return ""
	}
	return cr.action.fixed.Body
}

func TestConditionMatching(t *testing.T) {
	type req struct {
		method, target, client string
		headers                map[string]string
	}
	get := func(target string) req { return req{method: "GET", target: target, client: "127.0.0.1"} }
	withHeaders := func(target string, h map[string]string) req {
		return req{method: "GET", target: target, client: "127.0.0.1", headers: h}
	}
	cases := []struct {
		name string
		cond Condition
		req  req
		want bool
	}{
		// path-pattern: case-sensitive, wildcards, path only (no query).
		{"path exact", Condition{Field: FieldPathPattern, Values: []string{"/api"}}, get("/api"), true},
		{"path wildcard", Condition{Field: FieldPathPattern, Values: []string{"/api/*"}}, get("/api/v1?x=1"), true},
		{"path case-sensitive", Condition{Field: FieldPathPattern, Values: []string{"/API/*"}}, get("/api/v1"), false},
		{"path any value", Condition{Field: FieldPathPattern, Values: []string{"/a", "/b"}}, get("/b"), true},
		{"path ignores query", Condition{Field: FieldPathPattern, Values: []string{"/a"}}, get("/a?b"), true},
		{"path question mark", Condition{Field: FieldPathPattern, Values: []string{"/v?"}}, get("/v2"), true},
		{"path no match", Condition{Field: FieldPathPattern, Values: []string{"/a"}}, get("/ab"), false},
		// host-header: case-insensitive, wildcards, port ignored.
		{"host exact", Condition{Field: FieldHostHeader, Values: []string{"app.example.com"}},
			withHeaders("/", map[string]string{"Host": "app.example.com"}), true},
		{"host case-insensitive", Condition{Field: FieldHostHeader, Values: []string{"App.Example.COM"}},
			withHeaders("/", map[string]string{"Host": "app.EXAMPLE.com"}), true},
		{"host wildcard and port", Condition{Field: FieldHostHeader, Values: []string{"*.example.com"}},
			withHeaders("/", map[string]string{"Host": "canary.example.com:8080"}), true},
		{"host no match", Condition{Field: FieldHostHeader, Values: []string{"*.example.com"}},
			withHeaders("/", map[string]string{"Host": "example.org"}), false},
		// http-header: name and value case-insensitive, wildcards, any of several header values.
		{"header exact", Condition{Field: FieldHTTPHeader, HeaderName: "X-Canary", Values: []string{"1"}},
			withHeaders("/", map[string]string{"X-Canary": "1"}), true},
		{"header name case", Condition{Field: FieldHTTPHeader, HeaderName: "x-canary", Values: []string{"yes"}},
			withHeaders("/", map[string]string{"X-CANARY": "YES"}), true},
		{"header wildcard", Condition{Field: FieldHTTPHeader, HeaderName: "User-Agent", Values: []string{"*Mobile*"}},
			withHeaders("/", map[string]string{"User-Agent": "Mozilla/5.0 (iPhone) mobile Safari"}), true},
		{"header absent", Condition{Field: FieldHTTPHeader, HeaderName: "X-Canary", Values: []string{"*"}}, get("/"), false},
		{"header other value", Condition{Field: FieldHTTPHeader, HeaderName: "X-Canary", Values: []string{"1"}},
			withHeaders("/", map[string]string{"X-Canary": "0"}), false},
		// http-request-method: exact.
		{"method", Condition{Field: FieldHTTPRequestMethod, Values: []string{"POST", "PUT"}},
			req{method: "PUT", target: "/", client: "127.0.0.1"}, true},
		{"method other", Condition{Field: FieldHTTPRequestMethod, Values: []string{"POST"}}, get("/"), false},
		// query-string: key optional, wildcards, case-insensitive.
		{"query pair", Condition{Field: FieldQueryString, QueryStrings: []QueryString{{Key: "version", Value: "v2"}}},
			get("/?version=v2"), true},
		{"query case-insensitive", Condition{Field: FieldQueryString, QueryStrings: []QueryString{{Key: "Version", Value: "V2"}}},
			get("/?VERSION=v2"), true},
		{"query wildcard", Condition{Field: FieldQueryString, QueryStrings: []QueryString{{Key: "v", Value: "2.*"}}},
			get("/?a=b&v=2.13"), true},
		{"query value any key", Condition{Field: FieldQueryString, QueryStrings: []QueryString{{Value: "canary"}}},
			get("/?track=canary"), true},
		{"query second pair", Condition{Field: FieldQueryString, QueryStrings: []QueryString{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}},
			get("/?b=2"), true},
		{"query wrong value", Condition{Field: FieldQueryString, QueryStrings: []QueryString{{Key: "version", Value: "v2"}}},
			get("/?version=v1"), false},
		{"query absent", Condition{Field: FieldQueryString, QueryStrings: []QueryString{{Key: "version", Value: "*"}}},
			get("/"), false},
		// source-ip: CIDR of the connection's client.
		{"source in cidr", Condition{Field: FieldSourceIP, Values: []string{"127.0.0.0/8"}},
			req{method: "GET", target: "/", client: "127.0.0.9"}, true},
		{"source second cidr", Condition{Field: FieldSourceIP, Values: []string{"10.0.0.0/8", "127.0.0.2/32"}},
			req{method: "GET", target: "/", client: "127.0.0.2"}, true},
		{"source bare ip", Condition{Field: FieldSourceIP, Values: []string{"127.0.0.3"}},
			req{method: "GET", target: "/", client: "127.0.0.3"}, true},
		{"source ipv6", Condition{Field: FieldSourceIP, Values: []string{"::1/128"}},
			req{method: "GET", target: "/", client: "::1"}, true},
		{"source outside", Condition{Field: FieldSourceIP, Values: []string{"127.0.0.0/24"}},
			req{method: "GET", target: "/", client: "127.0.1.1"}, false},
		{"source ignores x-forwarded-for", Condition{Field: FieldSourceIP, Values: []string{"127.0.0.5/32"}},
			req{method: "GET", target: "/", client: "127.0.0.1", headers: map[string]string{"X-Forwarded-For": "127.0.0.5"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rules := []Rule{{Priority: 1, Conditions: []Condition{tc.cond}, Actions: fixed("rule")}}
			got := routeRule(t, rules, tc.req.method, tc.req.target, tc.req.client, tc.req.headers) == "rule"
			if got != tc.want {
				t.Fatalf("matched = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRulePriorityAndConjunction(t *testing.T) {
	canaryHeader := Condition{Field: FieldHTTPHeader, HeaderName: "X-Canary", Values: []string{"1"}}
	api := Condition{Field: FieldPathPattern, Values: []string{"/api/*"}}
	rules := []Rule{
		// Deliberately out of order: priority decides, not position.
		{Priority: 20, Conditions: []Condition{api}, Actions: fixed("api")},
		{Priority: 10, Conditions: []Condition{api, canaryHeader}, Actions: fixed("api-canary")},
		{Priority: 30, Conditions: []Condition{canaryHeader}, Actions: fixed("canary")},
	}
	cases := []struct {
		target string
		canary bool
		want   string
	}{
		{"/api/x", true, "api-canary"}, // both conditions of priority 10 hold
		{"/api/x", false, "api"},       // priority 10 needs both
		{"/web", true, "canary"},
		{"/web", false, "default"}, // the default rule comes last
	}
	for _, tc := range cases {
		h := map[string]string{}
		if tc.canary {
			h["X-Canary"] = "1"
		}
		if got := routeRule(t, rules, "GET", tc.target, "127.0.0.1", h); got != tc.want {
			t.Errorf("%s canary=%v: rule %q, want %q", tc.target, tc.canary, got, tc.want)
		}
	}
	// A default rule listed first still comes last.
	rt, err := compile(ListenerConfig{Rules: []Rule{
		{IsDefault: true, Actions: fixed("default")},
		{Priority: 5, Conditions: []Condition{api}, Actions: fixed("api")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rt.match(httptest.NewRequest("GET", "/api/a", nil), netip.Addr{}).action.fixed.Body; got != "api" {
		t.Fatalf("rule %q, want api", got)
	}
}

func TestCompileRejectsBadConfig(t *testing.T) {
	fwd := []Action{{Type: ActionForward, Forward: []WeightedGroup{{TargetGroupARN: "tg", Weight: 1}}}}
	cases := []struct {
		name string
		rule Rule
		want string
	}{
		{"unknown field", Rule{Priority: 1, Conditions: []Condition{{Field: "cookie", Values: []string{"a"}}}, Actions: fwd}, "unknown condition field"},
		{"no values", Rule{Priority: 1, Conditions: []Condition{{Field: FieldPathPattern}}, Actions: fwd}, "no values"},
		{"header without name", Rule{Priority: 1, Conditions: []Condition{{Field: FieldHTTPHeader, Values: []string{"1"}}}, Actions: fwd}, "no header name"},
		{"bad cidr", Rule{Priority: 1, Conditions: []Condition{{Field: FieldSourceIP, Values: []string{"127.0.0.0/99"}}}, Actions: fwd}, "not a CIDR"},
		{"query without pairs", Rule{Priority: 1, Conditions: []Condition{{Field: FieldQueryString}}, Actions: fwd}, "no key/value"},
		{"no action", Rule{Priority: 1, Actions: []Action{{Type: "authenticate-oidc"}}}, "no forward"},
		{"weight too big", Rule{Priority: 1, Actions: []Action{{Type: ActionForward, Forward: []WeightedGroup{{TargetGroupARN: "tg", Weight: 1000}}}}}, "outside 0..999"},
		{"empty forward", Rule{Priority: 1, Actions: []Action{{Type: ActionForward}}}, "no target groups"},
		{"fixed 3xx", Rule{Priority: 1, Actions: []Action{{Type: ActionFixedResponse, FixedResponse: &FixedResponse{StatusCode: 302}}}}, "2XX, 4XX or 5XX"},
		{"redirect 307", Rule{Priority: 1, Actions: []Action{{Type: ActionRedirect, Redirect: &Redirect{StatusCode: 307}}}}, "301 or 302"},
	}
	for _, tc := range cases {
		_, err := compile(ListenerConfig{Rules: []Rule{tc.rule}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "priority 1") {
			t.Errorf("%s: error %v, want one naming the rule and containing %q", tc.name, err, tc.want)
		}
	}
}

func TestWeightedPickNeverChoosesWeightZero(t *testing.T) {
	p := New(Options{})
	a, err := compileAction(Action{Type: ActionForward, Forward: []WeightedGroup{
		{TargetGroupARN: "zero-a", Weight: 0}, {TargetGroupARN: "one", Weight: 1}, {TargetGroupARN: "zero-b", Weight: 0},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for range 10000 {
		if g := p.pickGroup(a); g != "one" {
			t.Fatalf("picked %q, a weight-0 group", g)
		}
	}
	all0, err := compileAction(Action{Type: ActionForward, Forward: []WeightedGroup{{TargetGroupARN: "z", Weight: 0}}})
	if err != nil {
		t.Fatal(err)
	}
	if g := p.pickGroup(all0); g != "" {
		t.Fatalf("all weights 0: picked %q, want none", g)
	}
}

func TestStickyValue(t *testing.T) {
	now := time.Now()
	v := stickyValue("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/b", now.Add(time.Minute))
	if arn, ok := parseStickyValue(v, now); !ok || arn != "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/b" {
		t.Fatalf("parse(%q) = %q, %v", v, arn, ok)
	}
	if _, ok := parseStickyValue(v, now.Add(61*time.Second)); ok {
		t.Fatal("expired cookie accepted")
	}
	for _, bad := range []string{"", "v1", "v2.YQ.1", "v1.%%%.1", "v1.YQ.x"} {
		if _, ok := parseStickyValue(bad, now); ok {
			t.Errorf("malformed cookie %q accepted", bad)
		}
	}
}

func TestRedirectURL(t *testing.T) {
	r := httptest.NewRequest("GET", "http://app.example.com:8080/a/b?x=1", nil)
	cases := []struct {
		rd   Redirect
		want string
	}{
		{Redirect{}, "http://app.example.com:8080/a/b?x=1"},
		{Redirect{Protocol: "HTTPS", Port: "443"}, "https://app.example.com/a/b?x=1"},
		{Redirect{Host: "new.#{host}", Path: "/v2/#{path}", Query: "#{query}&y=2"}, "http://new.app.example.com:8080/v2/a/b?x=1&y=2"},
	}
	for _, tc := range cases {
		if got := redirectURL(&tc.rd, r, "8080"); got != tc.want {
			t.Errorf("redirectURL(%+v) = %q, want %q", tc.rd, got, tc.want)
		}
	}
}
