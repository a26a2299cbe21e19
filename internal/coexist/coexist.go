// Package coexist tells how albrollouts and Argo Rollouts share a cluster:
// which Argo Rollouts controllers run, whose Rollout CRD is installed, and
// which controller each Rollout belongs to. Both shard Rollouts by the label
// argo-rollouts.argoproj.io/controller-instance-id: a controller started
// with --instance-id=<id> takes the Rollouts labelled <id>; one started
// without takes those without the label. A Rollout moves from one controller
// to the other by changing that label.
package coexist

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// RolloutCRDName is the Rollout CRD's name, Argo's and ours.
const RolloutCRDName = "rollouts.argoproj.io"

// Controller is an Argo Rollouts controller Deployment found on the cluster.
type Controller struct {
	Namespace, Name string
	Image           string
	// InstanceID is its --instance-id ("" when it runs without one).
	InstanceID string
	Replicas   int32
}

func (c Controller) String() string {
	id := "no --instance-id"
	if c.InstanceID != "" {
		id = "--instance-id " + c.InstanceID
	}
	return fmt.Sprintf("%s/%s (%s, %s, %d replica(s))", c.Namespace, c.Name, c.Image, id, c.Replicas)
}

// Report is what Inspect found.
type Report struct {
	// CRD: "albrollouts" (ours: it has verifyTargetGroup), "argo" (Argo
	// Rollouts' own, which prunes the fields albrollouts needs), or
	// "missing".
	CRD string
	// ArgoControllers are the Argo Rollouts controllers running.
	ArgoControllers []Controller
	// Ours are the Rollouts the albrollouts controller with the given
	// instance id takes; Argo's those each Argo controller takes, by its
	// instance id; Nobody's those no controller found takes.
	Ours     []string
	Argo     map[string][]string
	Nobody   []string
	Problems []string
}

// IsArgoController reports whether a Deployment runs Argo Rollouts'
// controller: an argoproj/argo-rollouts image (not albrollouts').
func IsArgoController(d *appsv1.Deployment) (image string, ok bool) {
	for _, c := range d.Spec.Template.Spec.Containers {
		if strings.Contains(c.Image, "argoproj/argo-rollouts") || strings.Contains(c.Image, "argoproj/rollouts") {
			return c.Image, true
		}
	}
	return "", false
}

// instanceIDOf reads --instance-id (either form) from a Deployment's
// container arguments.
func instanceIDOf(d *appsv1.Deployment) string {
	for _, c := range d.Spec.Template.Spec.Containers {
		args := slices.Concat(c.Command, c.Args)
		for i, a := range args {
			switch {
			case strings.HasPrefix(a, "--instance-id="):
				return strings.TrimPrefix(a, "--instance-id=")
			case a == "--instance-id" && i+1 < len(args):
				return args[i+1]
			}
		}
	}
	return ""
}

// Inspect reads the cluster: the Rollout CRD, Deployments running Argo
// Rollouts' controller, and every Rollout, and sorts the Rollouts by the
// controller that takes them, albrollouts running with ourID.
func Inspect(ctx context.Context, c client.Reader, ourID string) (Report, error) {
	r := Report{Argo: map[string][]string{}}
	var crd apiextensionsv1.CustomResourceDefinition
	switch err := c.Get(ctx, client.ObjectKey{Name: RolloutCRDName}, &crd); {
	case apierrors.IsNotFound(err):
		r.CRD = "missing"
		r.Problems = append(r.Problems, "no Rollout CRD: install albrollouts' (albrollouts install --crds-only | kubectl apply -f -)")
	case err != nil:
		return r, fmt.Errorf("reading CRD %s: %w", RolloutCRDName, err)
	case hasVerifyTargetGroup(&crd):
		r.CRD = "albrollouts"
	default:
		r.CRD = "argo"
		r.Problems = append(r.Problems, "the installed Rollout CRD is Argo Rollouts' own: it prunes the fields albrollouts needs (verifyTargetGroup, timeoutSeconds, blueGreen.alb, status.verification); install albrollouts' CRD, a superset of Argo's that Argo's controller keeps working with")
	}
	var deps appsv1.DeploymentList
	if err := c.List(ctx, &deps); err != nil {
		return r, fmt.Errorf("listing Deployments: %w", err)
	}
	for i := range deps.Items {
		d := &deps.Items[i]
		if img, ok := IsArgoController(d); ok {
			r.ArgoControllers = append(r.ArgoControllers, Controller{Namespace: d.Namespace, Name: d.Name, Image: img,
				InstanceID: instanceIDOf(d), Replicas: ptrOr(d.Spec.Replicas, 1)})
		}
	}
	sort.Slice(r.ArgoControllers, func(i, j int) bool { return r.ArgoControllers[i].String() < r.ArgoControllers[j].String() })
	argoIDs := map[string]bool{}
	for _, a := range r.ArgoControllers {
		if a.InstanceID == ourID && a.Replicas > 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("Argo Rollouts controller %s and albrollouts take the same Rollouts (both %s): start one of them with another --instance-id, or scale the Argo controller to 0",
				a, describeID(ourID)))
		}
		argoIDs[a.InstanceID] = true
	}
	var ros v1alpha1.RolloutList
	if err := c.List(ctx, &ros); err != nil {
		if r.CRD == "missing" {
			return r, nil
		}
		return r, fmt.Errorf("listing Rollouts: %w", err)
	}
	for _, ro := range ros.Items {
		name := ro.Namespace + "/" + ro.Name
		// Taken by the controller whose instance id is the label's value,
		// or, without the label, by the one without an instance id.
		id := ro.Labels[replicaset.InstanceIDLabel]
		switch {
		case id == ourID:
			r.Ours = append(r.Ours, name)
		case argoIDs[id]:
			r.Argo[id] = append(r.Argo[id], name)
		default:
			r.Nobody = append(r.Nobody, name)
		}
	}
	return r, nil
}

func describeID(id string) string {
	if id == "" {
		return "without --instance-id"
	}
	return "--instance-id " + id
}

func ptrOr(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// hasVerifyTargetGroup reports whether a Rollout CRD is albrollouts': its
// ALB traffic routing has verifyTargetGroup.
func hasVerifyTargetGroup(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, v := range crd.Spec.Versions {
		s := v.Schema
		if s == nil || s.OpenAPIV3Schema == nil {
			continue
		}
		spec, ok := s.OpenAPIV3Schema.Properties["spec"]
		if !ok {
			continue
		}
		strategy := spec.Properties["strategy"]
		canary := strategy.Properties["canary"]
		routing := canary.Properties["trafficRouting"]
		alb := routing.Properties["alb"]
		if _, ok := alb.Properties["verifyTargetGroup"]; ok {
			return true
		}
	}
	return false
}
