package localalb

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Tag keys the AWS Load Balancer Controller puts on what it creates. The rollout
// verifier finds target groups by these tags, never by name.
const (
	TagCluster  = "elbv2.k8s.aws/cluster"
	TagStack    = "ingress.k8s.aws/stack"
	TagResource = "ingress.k8s.aws/resource"
	// ResourceLoadBalancer is the TagResource value of the load balancer.
	ResourceLoadBalancer = "LoadBalancer"
)

var nonAlnum = regexp.MustCompile(`[[:^alnum:]]`)

// StackID identifies an ingress group: an explicit group (group.name annotation) is
// cluster-wide and named by the group; an ingress without one is its own group.
type StackID struct {
	Namespace string // empty for an explicit group
	Name      string
}

// Explicit reports whether the stack is an explicit (named) ingress group.
func (s StackID) Explicit() bool { return s.Namespace == "" }

// String is the value of the ingress.k8s.aws/stack tag: the group name, or
// <namespace>/<ingress>.
func (s StackID) String() string {
	if s.Explicit() {
		return s.Name
	}
	return s.Namespace + "/" + s.Name
}

// key is the reconcile key of the stack.
func (s StackID) key() types.NamespacedName {
	return types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
}

func hash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// LoadBalancerName names the ALB of a stack the way the real controller does:
// k8s-<ns8>-<name8>-<hash10>, or k8s-<group17>-<hash10> for explicit groups.
func LoadBalancerName(cluster string, stack StackID, scheme string) string {
	uuid := hash(cluster, stack.String(), scheme)
	if stack.Explicit() {
		return fmt.Sprintf("k8s-%.17s-%.10s", nonAlnum.ReplaceAllString(stack.Name, ""), uuid)
	}
	return fmt.Sprintf("k8s-%.8s-%.8s-%.10s", nonAlnum.ReplaceAllString(stack.Namespace, ""),
		nonAlnum.ReplaceAllString(stack.Name, ""), uuid)
}

// TargetGroupName names a target group the way the real controller does:
// k8s-<ns8>-<svc8>-<hash10> (at most 32 characters), the hash covering the cluster,
// the stack, the service UID, the service port as written, the target port, the
// target type and the protocol.
func TargetGroupName(cluster string, stack StackID, svcNamespace, svcName string, svcUID types.UID,
	svcPort intstr.IntOrString, targetPort int32) string {
	uuid := hash(cluster, stack.String(), string(svcUID), svcPort.String(), fmt.Sprint(targetPort), "ip", "HTTP", "HTTP1")
	name := fmt.Sprintf("k8s-%.8s-%.8s-%.10s", nonAlnum.ReplaceAllString(svcNamespace, ""),
		nonAlnum.ReplaceAllString(svcName, ""), uuid)
	if len(name) > 32 {
		name = name[:32]
	}
	return name
}

// TargetGroupResource is the ingress.k8s.aws/resource tag of a target group:
// <ns>/<ingress>-<service>:<port as written in the ingress>.
func TargetGroupResource(namespace, ingress, service string, port intstr.IntOrString) string {
	return fmt.Sprintf("%s/%s-%s:%s", namespace, ingress, service, port.String())
}
