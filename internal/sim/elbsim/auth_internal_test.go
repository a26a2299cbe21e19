package elbsim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestVerifierAgainstSDKSigner signs requests with the SDK's own SigV4 signer
// and checks that the verifier accepts them, and rejects tampered ones.
func TestVerifierAgainstSDKSigner(t *testing.T) {
	v, err := newVerifier("AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
	if err != nil {
		t.Fatal(err)
	}
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	sign := func(target, body string, extra map[string]string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader([]byte(body)))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		for k, val := range extra {
			r.Header.Set(k, val)
		}
		sum := sha256.Sum256([]byte(body))
		if err := signer.SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "elasticloadbalancing", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	body := "Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=a%20b"
	cases := []struct {
		name   string
		target string
		extra  map[string]string
	}{
		{"plain", "http://127.0.0.1:4566/", nil},
		{"query string", "http://127.0.0.1:4566/?b=2&a=1&a=0&sp=a%20b", nil},
		{"escaped path", "http://127.0.0.1:4566/some%20path/x", nil},
		{"spaces in a header", "http://127.0.0.1:4566/", map[string]string{"X-Amz-Meta": "  a   b  "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := sign(tc.target, body, tc.extra)
			if qe := v.verify(r, []byte(body)); qe != nil {
				t.Fatalf("SDK-signed request rejected: %v (Authorization %s)", qe, r.Header.Get("Authorization"))
			}
			if qe := v.verify(r, []byte(body+"&x=1")); qe == nil || qe.Code != "SignatureDoesNotMatch" {
				t.Fatalf("tampered body accepted: %v", qe)
			}
		})
	}
	r := sign("http://127.0.0.1:4566/", body, nil)
	r.Header.Set("X-Amz-Date", "20200101T000000Z")
	if qe := v.verify(r, []byte(body)); qe == nil || qe.Code != "SignatureDoesNotMatch" {
		t.Fatalf("changed date accepted: %v", qe)
	}
	r = sign("http://127.0.0.1:4566/", body, nil)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2020")
	if qe := v.verify(r, []byte(body)); qe == nil || qe.Code != "IncompleteSignature" {
		t.Fatalf("malformed Authorization: %v", qe)
	}
	if _, err := newVerifier("no-colon"); err == nil {
		t.Fatal("newVerifier accepted a value without KEY:SECRET")
	}
}
