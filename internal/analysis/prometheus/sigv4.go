package prometheus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// apsService is the SigV4 signing name of Amazon Managed Prometheus.
const apsService = "aps"

// AWSSigner signs with the AWS SDK's SigV4 signer. Credentials come from
// the SDK's default chain (environment, IRSA, EKS Pod Identity, instance
// role), a shared-config profile when the metric names one, and a role
// assumed through STS when it names a roleArn.
type AWSSigner struct {
	// Base is the AWS configuration to start from (region, credentials);
	// nil: the SDK's default configuration.
	Base *aws.Config
}

// Transport returns next wrapped to sign each request for the metric.
func (s AWSSigner) Transport(ctx context.Context, cfg v1alpha1.Sigv4Config, next http.RoundTripper) (http.RoundTripper, error) {
	var awsCfg aws.Config
	switch {
	case s.Base != nil && cfg.Profile == "":
		awsCfg = s.Base.Copy()
	default:
		var opts []func(*config.LoadOptions) error
		if cfg.Profile != "" {
			opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
		}
		loaded, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("loading AWS configuration: %w", err)
		}
		awsCfg = loaded
	}
	if cfg.Region != "" {
		awsCfg.Region = cfg.Region
	}
	if awsCfg.Region == "" {
		return nil, fmt.Errorf("no AWS region to sign for: set authentication.sigv4.region or the controller's AWS region")
	}
	if cfg.RoleARN != "" {
		awsCfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(awsCfg), cfg.RoleARN))
	}
	return &sigv4Transport{creds: awsCfg.Credentials, region: awsCfg.Region, signer: v4.NewSigner(), next: next}, nil
}

// sigv4Transport signs each request before sending it.
type sigv4Transport struct {
	creds  aws.CredentialsProvider
	region string
	signer *v4.Signer
	next   http.RoundTripper
}

func (t *sigv4Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	sum := sha256.Sum256(body)
	if t.creds == nil {
		return nil, fmt.Errorf("sigv4: no AWS credentials")
	}
	creds, err := t.creds.Retrieve(req.Context())
	if err != nil {
		return nil, fmt.Errorf("sigv4: AWS credentials: %w", err)
	}
	if err := t.signer.SignHTTP(req.Context(), creds, req, hex.EncodeToString(sum[:]), apsService, t.region, time.Now()); err != nil {
		return nil, fmt.Errorf("sigv4: signing: %w", err)
	}
	return t.next.RoundTrip(req)
}
