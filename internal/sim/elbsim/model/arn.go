package model

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// Resource kinds, as they appear in ARNs.
const (
	kindLoadBalancer = "loadbalancer"
	kindListener     = "listener"
	kindRule         = "listener-rule"
	kindTargetGroup  = "targetgroup"
)

var kindNames = map[string]string{
	kindLoadBalancer: "load balancer",
	kindListener:     "listener",
	kindRule:         "listener rule",
	kindTargetGroup:  "target group",
}

// ARN forms:
//
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/LBNAME/LBID/ID
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/LBNAME/LBID/LISTENERID/ID
//	arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID
func (st *State) arnPrefix() string {
	return "arn:aws:elasticloadbalancing:" + st.Region + ":" + st.Account + ":"
}

// arnKind returns the resource kind of an ELBv2 ARN, or "" if s is not one.
func arnKind(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "elasticloadbalancing" {
		return ""
	}
	res := strings.Split(parts[5], "/")
	want := map[string]int{kindLoadBalancer: 4, kindListener: 5, kindRule: 6, kindTargetGroup: 3}
	if n, ok := want[res[0]]; !ok || len(res) != n {
		return ""
	}
	for _, r := range res {
		if r == "" {
			return ""
		}
	}
	return res[0]
}

// checkARN answers ValidationError "'x' is not a valid <kind> ARN" unless s is an ARN of that kind.
func checkARN(s, kind string) *query.Error {
	if s == "" {
		return query.Validation("A %s ARN must be specified", kindNames[kind])
	}
	if arnKind(s) != kind {
		return query.Validation("'%s' is not a valid %s ARN", s, kindNames[kind])
	}
	return nil
}

func newID(r io.Reader) string {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		_, _ = rand.Read(b[:]) // fall back to crypto/rand, which never fails
	}
	return hex.EncodeToString(b[:])
}

// dnsDigits returns the 9-10 digit number AWS puts in ALB DNS names.
func dnsDigits(r io.Reader) string {
	n, err := rand.Int(r, big.NewInt(9_000_000_000))
	if err != nil {
		n, _ = rand.Int(rand.Reader, big.NewInt(9_000_000_000))
	}
	return fmt.Sprint(n.Int64() + 1_000_000_000)
}

// hostedZones are the ALB canonical hosted zone ids of some regions.
var hostedZones = map[string]string{
	"us-east-1":      "Z35SXDOTRQ7X7K",
	"us-east-2":      "Z3AADJGX6KTTL2",
	"us-west-1":      "Z368ELLRRE2KJ0",
	"us-west-2":      "Z1H1FL5HABSF5",
	"eu-west-1":      "Z32O12XQLNTSW2",
	"eu-central-1":   "Z215JYRZR1TBD5",
	"ap-northeast-1": "Z14GRHDCWA56QT",
	"ap-southeast-1": "Z1LMS91P8CMLE5",
	"ap-southeast-2": "Z1GM3OXH4ZPM65",
}

func hostedZone(region string) string {
	if z, ok := hostedZones[region]; ok {
		return z
	}
	return hostedZones["us-east-1"]
}

const (
	defaultVpcID         = "vpc-0e1b5100000000001"
	defaultSecurityGroup = "sg-0e1b5100000000001"
)
