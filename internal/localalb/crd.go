package localalb

import _ "embed"

// targetGroupBindingCRD is a copy of config/crd/external/elbv2.k8s.aws_targetgroupbindings.yaml
// (a test keeps them equal), for installing the CRD when the repository is not at hand.
//
//go:embed crd/elbv2.k8s.aws_targetgroupbindings.yaml
var targetGroupBindingCRD []byte

// TargetGroupBindingCRD returns the YAML of the TargetGroupBinding CRD.
func TargetGroupBindingCRD() []byte { return append([]byte(nil), targetGroupBindingCRD...) }
