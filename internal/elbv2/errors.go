package elbv2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Kind classifies an ELBv2 failure. Its value doubles as the CamelCase reason
// used in status conditions and events.
type Kind string

// The kinds of failure the provider reports.
const (
	// KindThrottled: AWS answered Throttling even after the SDK's retries. Retry later.
	KindThrottled Kind = "Throttled"
	// KindAccessDenied: the caller's IAM policy lacks the action. An operator must fix IAM.
	KindAccessDenied Kind = "AccessDenied"
	// KindRegionMismatch: the load balancer's DNS name names another region than the client's.
	KindRegionMismatch Kind = "RegionMismatch"
	// KindLoadBalancerNotFound: no load balancer with that DNS name or ARN (deleted, or another account).
	KindLoadBalancerNotFound Kind = "LoadBalancerNotFound"
	// KindListenerNotFound: a listener disappeared between two calls (being reconfigured or deleted).
	KindListenerNotFound Kind = "ListenerNotFound"
	// KindTargetGroupNotFound: a target group disappeared (deleted or replaced).
	KindTargetGroupNotFound Kind = "TargetGroupNotFound"
	// KindCredentials: no AWS credentials could be loaded.
	KindCredentials Kind = "AWSCredentialsUnavailable"
	// KindNetwork: the request could not be sent or no answer came back.
	KindNetwork Kind = "AWSUnreachable"
	// KindOther: any other AWS error.
	KindOther Kind = "AWSError"
)

// Error is a classified ELBv2 failure, written for the person who has to act on it.
//
// One *Error may be returned to every caller of a coalesced call, so it is
// immutable once returned: nobody, inside this package or out, changes its
// fields. Derive a copy to say more.
type Error struct {
	Kind      Kind
	Operation string // e.g. DescribeTargetGroups; empty for checks made before calling
	Resource  string // ARN or DNS name the call was about, if any
	// AccessDenied only: the IAM action that was denied and, when AWS names it,
	// the principal that was denied.
	Action    string
	Principal string
	// Detail is the explanation for kinds that are detected locally (region mismatch, load balancer not found).
	Detail string
	Err    error // the underlying SDK error, if any
}

// Reason returns the CamelCase reason for conditions and events.
func (e *Error) Reason() string { return string(e.Kind) }

// Unwrap returns the underlying SDK error.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether repeating the call soon can succeed without anyone
// changing anything. The verifier retries every kind until its deadline anyway
// (an operator may fix IAM meanwhile); this only tells how to word the diagnosis.
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindThrottled, KindNetwork, KindListenerNotFound, KindOther:
		return true
	}
	return false
}

func (e *Error) Error() string {
	var b strings.Builder
	switch e.Kind {
	case KindAccessDenied:
		fmt.Fprintf(&b, "%s denied", e.Action)
		if e.Principal != "" {
			fmt.Fprintf(&b, " for %s", e.Principal)
		}
		if e.Resource != "" {
			fmt.Fprintf(&b, " on %s", e.Resource)
		}
		fmt.Fprintf(&b, ": add %q to the controller's IAM policy (see config/iam-policy.json)", e.Action)
		return b.String()
	case KindRegionMismatch, KindLoadBalancerNotFound, KindThrottled:
		if e.Detail != "" {
			return e.Detail
		}
	}
	if e.Operation != "" {
		b.WriteString(e.Operation)
		if e.Resource != "" {
			fmt.Fprintf(&b, " %s", e.Resource)
		}
		b.WriteString(": ")
	}
	switch e.Kind {
	case KindThrottled:
		b.WriteString("throttled by AWS (Rate exceeded) after retries; will retry with backoff")
	case KindListenerNotFound:
		b.WriteString("listener not found (it was deleted or replaced); will re-read the load balancer")
	case KindTargetGroupNotFound:
		b.WriteString("target group not found (deleted or replaced by the load balancer controller)")
	case KindLoadBalancerNotFound:
		b.WriteString("load balancer not found (deleted?)")
	case KindCredentials:
		b.WriteString(credentialsAdvice(e.Err))
	case KindNetwork:
		b.WriteString("cannot reach the ELBv2 endpoint (network, DNS, proxy or --endpoint-url)")
	}
	if e.Err != nil {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), ": ") {
			b.WriteString(": ")
		}
		b.WriteString(rootMessage(e.Err))
	}
	return b.String()
}

// rootMessage is the innermost useful text of an SDK error chain: the API
// error's code and message, or the error itself.
func rootMessage(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode() + ": " + api.ErrorMessage()
	}
	return err.Error()
}

// KindOf returns the Kind of err if it is (or wraps) an *Error, else "".
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// principalRE finds the principal in AWS AccessDenied messages such as
// "User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to perform: elasticloadbalancing:DescribeRules".
var principalRE = regexp.MustCompile(`User: (\S+) is not authorized to perform: (\S+)`)

// classify turns an SDK error of one operation into an *Error. A failure
// of the credentials chain is classified first: it may wrap an API error of
// STS (a denied AssumeRoleWithWebIdentity) or a network error (instance
// metadata timing out) that says nothing about ELBv2.
func classify(op, resource string, err error) *Error {
	e := &Error{Kind: KindOther, Operation: op, Resource: resource, Err: err}
	var api smithy.APIError
	switch {
	case isCredentials(err):
		e.Kind = KindCredentials
	case errors.As(err, &api):
		e.Kind = kindOfCode(api.ErrorCode())
		if e.Kind == KindAccessDenied {
			e.Action = IAMAction(op)
			if m := principalRE.FindStringSubmatch(api.ErrorMessage()); m != nil {
				e.Principal = m[1]
				e.Action = strings.TrimSuffix(m[2], ",")
			}
		}
	case isNetwork(err):
		e.Kind = KindNetwork
	}
	return e
}

// credentialsError marks a failure of the credentials provider (see
// markCredentials), so that it is told apart from the ELBv2 call's own errors.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return "retrieving AWS credentials: " + e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// markedCredentials wraps a credentials provider and marks its errors.
type markedCredentials struct{ aws.CredentialsProvider }

func (m markedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := m.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return c, &credentialsError{err: err}
	}
	return c, nil
}

// markCredentials wraps p so that classify recognises its failures.
func markCredentials(p aws.CredentialsProvider) aws.CredentialsProvider {
	if p == nil {
		return nil
	}
	return markedCredentials{p}
}

// isCredentials reports whether err comes from resolving credentials: our
// mark, or (for SDK clients built elsewhere) the SDK's own wording of an
// identity or credentials failure.
func isCredentials(err error) bool {
	var ce *credentialsError
	if errors.As(err, &ce) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "get identity: ") || strings.Contains(s, "failed to retrieve credentials")
}

// credentialsAdvice says what to fix when credentials could not be had.
func credentialsAdvice(err error) string {
	var api smithy.APIError
	switch {
	case err != nil && errors.As(err, &api):
		return fmt.Sprintf("AWS credentials could not be obtained: the credential provider's call was refused (%s): "+
			"check the trust policy of the controller's IAM role (IRSA: the cluster's OIDC provider and the subject system:serviceaccount:<namespace>:<serviceaccount>; "+
			"EKS Pod Identity: the pods.eks.amazonaws.com principal and the pod identity association) and the role named on the service account; "+
			"the ELBv2 permissions were not evaluated", api.ErrorCode())
	case err != nil && isNetwork(err):
		return "AWS credentials could not be obtained: the credential endpoint did not answer (instance metadata, the EKS Pod Identity agent, or STS): " +
			"check the node's metadata access (IMDSv2 hop limit 2 for pods), the Pod Identity agent, and network policies"
	}
	return "no AWS credentials: give the controller an IAM role (IRSA / EKS Pod Identity) or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE"
}

func kindOfCode(code string) Kind {
	switch code {
	case "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "RequestThrottled", "RequestThrottledException":
		return KindThrottled
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
		return KindAccessDenied
	case "LoadBalancerNotFound", "LoadBalancerNotFoundException":
		return KindLoadBalancerNotFound
	case "ListenerNotFound", "ListenerNotFoundException":
		return KindListenerNotFound
	case "TargetGroupNotFound", "TargetGroupNotFoundException":
		return KindTargetGroupNotFound
	}
	return KindOther
}

func isNetwork(err error) bool {
	var send *smithyhttp.RequestSendError
	var netErr net.Error
	return errors.As(err, &send) || errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded)
}

// isThrottle reports whether err is an AWS throttling answer.
func isThrottle(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && kindOfCode(api.ErrorCode()) == KindThrottled
}
