package dataplane

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Cookie names ALB uses for stickiness: AWSALBTG pins a target group; AWSALB
// is set with the same meaning for clients that only look for it.
const (
	CookieGroup  = "AWSALBTG"
	CookieTarget = "AWSALB"
)

// statusClientClosed is the status ALB logs when the client closes the
// connection before the response; it is only counted, never sent.
const statusClientClosed = 460

// ServeHTTP routes one request through the listener's current rules.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := l.rt.Load()
	in := arrival{start: l.plane.now(), lbARN: rt.lbARN, port: l.port}
	rule := rt.match(r, clientAddr(r))
	if rule == nil {
		l.plane.emit(in.elb("", "", http.StatusServiceUnavailable))
		writePage(w, http.StatusServiceUnavailable, "503 Service Temporarily Unavailable")
		return
	}
	a := rule.action
	switch a.kind {
	case ActionFixedResponse:
		ct := a.fixed.ContentType
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		l.plane.emit(in.elb("", "", a.fixed.StatusCode))
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Server", "awselb/2.0")
		w.WriteHeader(a.fixed.StatusCode)
		_, _ = w.Write([]byte(a.fixed.Body)) // a failed write means the client left
	case ActionRedirect:
		code := a.redirect.StatusCode
		if code == 0 {
			code = http.StatusFound
		}
		l.plane.emit(in.elb("", "", code))
		w.Header().Set("Server", "awselb/2.0")
		http.Redirect(w, r, redirectURL(a.redirect, r, l.port), code)
	default:
		l.plane.forward(w, r, a, in)
	}
}

// forward picks a target group and a target and proxies the request there.
func (p *Plane) forward(w http.ResponseWriter, r *http.Request, a *compiledAction, in arrival) {
	tgARN := ""
	if a.sticky > 0 {
		tgARN = p.stickyGroup(r, a)
	}
	var targets []string
	if tgARN != "" {
		targets = p.routable(tgARN)
	}
	if len(targets) == 0 { // no valid cookie, or its group has nothing routable: draw again
		tgARN = p.pickGroup(a)
		if tgARN == "" { // every weight is 0
			p.emit(in.elb("", "", http.StatusServiceUnavailable))
			writePage(w, http.StatusServiceUnavailable, "503 Service Temporarily Unavailable")
			return
		}
		targets = p.routable(tgARN)
	}
	if len(targets) == 0 {
		p.stats.noRoutable(tgARN)
		p.emit(in.elb(tgARN, "", http.StatusServiceUnavailable))
		writePage(w, http.StatusServiceUnavailable, "503 Service Temporarily Unavailable")
		return
	}
	target := targets[p.nextIndex(tgARN)%uint64(len(targets))]
	p.stats.sent(tgARN, target)
	if !p.reach.AllowsHostPort(target) { // elbsim never leaves the machine
		p.stats.status(tgARN, http.StatusBadGateway)
		p.emit(in.elb(tgARN, target, http.StatusBadGateway))
		writePage(w, http.StatusBadGateway, "502 Bad Gateway")
		return
	}
	if a.sticky > 0 {
		setStickyCookies(w, tgARN, p.now().Add(a.sticky), a.sticky)
	}
	px := &proxied{tgARN: tgARN, target: target, in: in, sent: p.now()}
	ctx := context.WithValue(r.Context(), proxiedKey{}, px)
	p.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// routable returns the group's routable targets as ip:port. Non-loopback
// targets are kept and answered 502, so the mistake shows instead of hiding.
func (p *Plane) routable(tgARN string) []string {
	if p.backend == nil {
		return nil
	}
	ts := p.backend.Routable(tgARN)
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = net.JoinHostPort(t.ID, strconv.Itoa(int(t.Port)))
	}
	return out
}

// pickGroup draws a target group by weight; "" when no group has a weight.
func (p *Plane) pickGroup(a *compiledAction) string {
	if a.total <= 0 {
		return ""
	}
	n := p.intN(a.total)
	for _, g := range a.groups {
		n -= int64(g.Weight)
		if n < 0 {
			return g.TargetGroupARN
		}
	}
	return a.groups[len(a.groups)-1].TargetGroupARN
}

// stickyGroup returns the group a valid stickiness cookie pins the request to:
// unexpired, and naming a group of this action with a weight above 0.
func (p *Plane) stickyGroup(r *http.Request, a *compiledAction) string {
	for _, name := range []string{CookieGroup, CookieTarget} {
		c, err := r.Cookie(name)
		if err != nil {
			continue
		}
		arn, ok := parseStickyValue(c.Value, p.now())
		if !ok {
			continue
		}
		for _, g := range a.groups {
			if g.TargetGroupARN == arn {
				return arn
			}
		}
	}
	return ""
}

// stickyValue encodes a target group and an expiry as an opaque cookie value.
func stickyValue(tgARN string, expires time.Time) string {
	return "v1." + base64.RawURLEncoding.EncodeToString([]byte(tgARN)) + "." + strconv.FormatInt(expires.Unix(), 10)
}

func parseStickyValue(v string, now time.Time) (string, bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return "", false
	}
	arn, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || now.Unix() >= exp {
		return "", false
	}
	return string(arn), true
}

// setStickyCookies (re)sets both stickiness cookies; ALB refreshes them on every response.
func setStickyCookies(w http.ResponseWriter, tgARN string, expires time.Time, d time.Duration) {
	v := stickyValue(tgARN, expires)
	for _, name := range []string{CookieGroup, CookieTarget} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: v, Path: "/", Expires: expires, MaxAge: int(d.Seconds())})
	}
}

// rewrite points the outgoing request at the chosen target and adds ALB's headers.
// The ReverseProxy has already removed hop-by-hop and X-Forwarded-* headers from pr.Out.
func rewrite(pr *httputil.ProxyRequest) {
	px := proxiedOf(pr.In.Context())
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = px.target
	pr.Out.Host = pr.In.Host // ALB keeps the client's Host header

	client := ""
	if a := clientAddr(pr.In); a.IsValid() {
		client = a.String()
	}
	xff := client
	if prior := strings.Join(pr.In.Header.Values("X-Forwarded-For"), ", "); prior != "" {
		xff = prior + ", " + client
	}
	pr.Out.Header.Set("X-Forwarded-For", xff)
	pr.Out.Header.Set("X-Forwarded-Proto", "http")
	pr.Out.Header.Set("X-Forwarded-Port", px.in.port)
	if pr.Out.Header.Get("X-Amzn-Trace-Id") == "" {
		pr.Out.Header.Set("X-Amzn-Trace-Id", fmt.Sprintf("Root=1-%08x-%012x%012x", time.Now().Unix(),
			rand.Uint64()&0xffffffffffff, rand.Uint64()&0xffffffffffff))
	}
}

// recordResponse counts the status code of a proxied response.
func (p *Plane) recordResponse(resp *http.Response) error {
	if px := proxiedOf(resp.Request.Context()); px != nil {
		p.stats.status(px.tgARN, resp.StatusCode)
		p.emit(Sample{Time: px.in.start, LoadBalancerARN: px.in.lbARN, TargetGroupARN: px.tgARN, Target: px.target,
			Status: resp.StatusCode, FromTarget: true, TargetTime: p.now().Sub(px.sent)})
	}
	return nil
}

// proxyError answers 502 when the target cannot be reached or answers garbage.
func (p *Plane) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	px := proxiedOf(r.Context())
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		if px != nil {
			p.stats.status(px.tgARN, statusClientClosed)
			p.emit(px.in.elb(px.tgARN, px.target, statusClientClosed))
		}
		return // the client is gone; nobody to answer
	}
	if px != nil {
		p.stats.status(px.tgARN, http.StatusBadGateway)
		p.emit(px.in.elb(px.tgARN, px.target, http.StatusBadGateway))
	}
	writePage(w, http.StatusBadGateway, "502 Bad Gateway")
}

// writePage writes an error page like the ones ALB generates.
func writePage(w http.ResponseWriter, code int, title string) {
	h := w.Header()
	h.Set("Server", "awselb/2.0")
	h.Set("Content-Type", "text/html")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n</body>\r\n</html>\r\n", title, title)
}

// clientAddr is the address of the client connection (not X-Forwarded-For).
func clientAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
