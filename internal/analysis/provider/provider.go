// Package provider holds what the analysis providers (prometheus, web,
// cloudwatch, job) share: the result of a synchronous query and the HTTP
// client options of Argo's authentication block. Each provider is its own
// package; internal/analysis chooses one per metric and judges its results.
package provider

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Result is what one synchronous query measured.
type Result struct {
	// Value is what the metric's conditions see as `result`.
	Value any
	// Formatted is the measurement's value in status.
	Formatted string
	// Metadata goes into the measurement's metadata (e.g. Prometheus warnings).
	Metadata map[string]string
}

// HTTPClient is an http.Client for one measurement: its timeout, TLS
// verification skipped when insecure, and OAuth2 client credentials or basic
// authentication when the block asks for them. transport is the base
// transport (nil: http.DefaultTransport).
func HTTPClient(ctx context.Context, timeout time.Duration, insecure bool, auth v1alpha1.Authentication, transport http.RoundTripper) (*http.Client, error) {
	if transport == nil {
		transport = http.DefaultTransport
	}
	if insecure {
		t, ok := transport.(*http.Transport)
		if !ok {
			return nil, errors.New("insecure: true needs an HTTP transport")
		}
		t = t.Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the metric asks for it (insecure: true)
		transport = t
	}
	if b := auth.BasicAuth; b.Username != "" || b.Password != "" {
		if b.Username == "" || b.Password == "" {
			return nil, errors.New("basicAuth needs both username and password")
		}
		transport = basicAuth{user: b.Username, password: b.Password, next: transport}
	}
	c := &http.Client{Timeout: timeout, Transport: transport}
	if o := auth.OAuth2; o.TokenURL != "" {
		if o.ClientID == "" || o.ClientSecret == "" {
			return nil, errors.New("missing mandatory parameter in metric for OAuth2 setup: oauth2 needs clientId and clientSecret")
		}
		cfg := clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes}
		return cfg.Client(context.WithValue(ctx, oauth2.HTTPClient, c)), nil
	}
	return c, nil
}

// basicAuth adds HTTP basic authentication to every request.
type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b basicAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(req)
}
