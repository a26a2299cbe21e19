package elbsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// verifier checks AWS Signature Version 4 (header form) for one access key.
// It recomputes the canonical request and string to sign from the request
// and compares signatures; it does not check clock skew or the credential scope's region.
type verifier struct {
	accessKey string
	secret    string
}

func newVerifier(keySecret string) (*verifier, error) {
	k, s, ok := strings.Cut(keySecret, ":")
	if !ok || k == "" || s == "" {
		return nil, fmt.Errorf("elbsim: strict auth must be KEY:SECRET, got %q", keySecret)
	}
	return &verifier{accessKey: k, secret: s}, nil
}

func forbidden(code, msg string) *query.Error {
	return &query.Error{Status: http.StatusForbidden, Code: code, Message: msg}
}

// sigV4Auth is a parsed Authorization header.
type sigV4Auth struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseAuthorization(h string) (*sigV4Auth, *query.Error) {
	const algo = "AWS4-HMAC-SHA256"
	if h == "" {
		return nil, forbidden(query.CodeMissingAuthenticationToken, "Request is missing Authentication Token")
	}
	rest, ok := strings.CutPrefix(h, algo+" ")
	if !ok {
		return nil, query.Client(query.CodeIncompleteSignature, "Unsupported authorization type: elbsim verifies %s signatures", algo)
	}
	a := &sigV4Auth{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" {
				return nil, query.Client(query.CodeIncompleteSignature, "Credential '%s' is malformed: expected KEY/DATE/REGION/SERVICE/aws4_request", v)
			}
			a.accessKey, a.date, a.region, a.service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	if a.accessKey == "" || len(a.signedHeaders) == 0 || a.signature == "" {
		return nil, query.Client(query.CodeIncompleteSignature, "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	return a, nil
}

func (v *verifier) verify(r *http.Request, body []byte) *query.Error {
	a, qe := parseAuthorization(r.Header.Get("Authorization"))
	if qe != nil {
		return qe
	}
	if a.accessKey != v.accessKey {
		return forbidden(query.CodeInvalidClientTokenID, "The security token included in the request is invalid.")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return query.Client(query.CodeIncompleteSignature, "Authorization requires the X-Amz-Date header")
	}
	canonical := canonicalRequest(r, a.signedHeaders, payloadHash(r, body))
	scope := a.date + "/" + a.region + "/" + a.service + "/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hexSHA256([]byte(canonical))
	key := hmacSHA256([]byte("AWS4"+v.secret), a.date)
	key = hmacSHA256(key, a.region)
	key = hmacSHA256(key, a.service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return forbidden(query.CodeSignatureDoesNotMatch, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}

func payloadHash(r *http.Request, body []byte) string {
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		return h
	}
	return hexSHA256(body)
}

// canonicalRequest builds the SigV4 canonical request from the signed headers.
func canonicalRequest(r *http.Request, signed []string, payload string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(canonicalURI(r.URL) + "\n")
	b.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, h := range signed {
		b.WriteString(h + ":" + headerValue(r, h) + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n" + payload)
	return b.String()
}

func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(q url.Values) string {
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, uriEncode(k)+"="+uriEncode(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// uriEncode percent-encodes everything but RFC 3986 unreserved characters.
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// headerValue is the canonical value of a signed header: values joined by
// commas, trimmed, inner runs of spaces collapsed. Go's server moves Host and
// Content-Length out of the header map; they are read back from the request.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = append([]string(nil), r.Header.Values("Content-Length")...)
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = append([]string(nil), r.Header.Values(name)...)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

func hexSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
