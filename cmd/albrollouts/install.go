package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/config"
	"github.com/albrollouts/albrollouts/internal/version"
)

// What the embedded manifests (config/rbac, config/manager) name, and what install
// changes. The default image is version.ImageRef(): the release image of this
// binary's version.
const (
	installDefaultNamespace = "albrollouts-system"
	installContainer        = "controller"
	installPlaceholder      = "<set me>"
	roleARNAnnotation       = "eks.amazonaws.com/role-arn"
	regionEnv               = "AWS_REGION"
)

// installOptions are the flags of `albrollouts install`. A flag given with an empty
// value (--role-arn "", --aws-region "") removes the placeholder instead of setting it.
type installOptions struct {
	namespace  string
	image      string
	region     string
	regionSet  bool
	roleARN    string
	roleARNSet bool
	instanceID string
	crdsOnly   bool
}

func init() {
	register(func() *cobra.Command {
		o := installOptions{}
		cmd := &cobra.Command{
			Use:   "install",
			Short: "Print the CRDs, RBAC, ServiceAccount and controller Deployment, for `kubectl apply -f -`",
			Long: `install prints, from the copy this binary embeds, the objects that
config/default builds (kubectl apply -k config/default): the albrollouts-system
Namespace, the Rollout CRD (and the CRDs of Argo's Experiment, AnalysisRun,
AnalysisTemplate and ClusterAnalysisTemplate, which Argo's kubectl plugin lists),
the controller's ServiceAccount and least-privilege RBAC, the controller Deployment
and its metrics Service, and the ClusterAnalysisTemplate alb-canary-health (the
canary target group's 5xx ratio and p99 response time from CloudWatch). Pipe it
to kubectl:

  albrollouts install --aws-region eu-west-1 \
    --role-arn arn:aws:iam::123456789012:role/albrollouts | kubectl apply -f -

The TargetGroupBinding CRD is not printed: the AWS Load Balancer Controller
installs its own.`,
			Args: cobra.NoArgs,
			PreRunE: func(cmd *cobra.Command, _ []string) error {
				o.regionSet = cmd.Flags().Changed("aws-region")
				o.roleARNSet = cmd.Flags().Changed("role-arn")
				return o.validate()
			},
			RunE: func(cmd *cobra.Command, _ []string) error {
				objs, err := renderInstall(o)
				if err != nil {
					return err
				}
				if !o.crdsOnly {
					warnPlaceholders(cmd.ErrOrStderr(), o)
				}
				return writeManifests(cmd.OutOrStdout(), objs)
			},
		}
		f := cmd.Flags()
		f.StringVar(&o.namespace, "namespace", installDefaultNamespace, "namespace of the controller, its ServiceAccount and leader-election Lease")
		f.StringVar(&o.image, "image", version.ImageRef(), "controller image")
		f.StringVar(&o.region, "aws-region", "", `AWS region of the ALBs (the controller's AWS_REGION); "" leaves it to the environment`)
		f.StringVar(&o.roleARN, "role-arn", "", `IAM role for IRSA (ServiceAccount annotation `+roleARNAnnotation+`); "" removes the annotation, e.g. for EKS Pod Identity`)
		f.StringVar(&o.instanceID, "instance-id", "", "controller instance ID: the controller only handles Rollouts labelled argo-rollouts.argoproj.io/controller-instance-id=<id>")
		f.BoolVar(&o.crdsOnly, "crds-only", false, "print only the CRDs")
		cmd.MarkFlagsMutuallyExclusive("crds-only", "namespace")
		cmd.MarkFlagsMutuallyExclusive("crds-only", "image")
		cmd.MarkFlagsMutuallyExclusive("crds-only", "aws-region")
		cmd.MarkFlagsMutuallyExclusive("crds-only", "role-arn")
		cmd.MarkFlagsMutuallyExclusive("crds-only", "instance-id")
		return cmd
	})
}

var (
	// An IAM role ARN in any partition (aws, aws-cn, aws-us-gov, ...).
	roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$`)
	// An AWS region name: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ...
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

func (o installOptions) validate() error {
	if errs := validation.IsDNS1123Label(o.namespace); len(errs) > 0 {
		return fmt.Errorf("--namespace %q is not a valid namespace name: %s", o.namespace, strings.Join(errs, "; "))
	}
	if o.image == "" || strings.ContainsAny(o.image, " \t\r\n") {
		return fmt.Errorf("--image %q: want an image reference such as %s", o.image, version.ImageRef())
	}
	if o.region != "" && !regionPattern.MatchString(o.region) {
		return fmt.Errorf("--aws-region %q is not an AWS region name such as eu-west-1", o.region)
	}
	if o.roleARN != "" && !roleARNPattern.MatchString(o.roleARN) {
		return fmt.Errorf("--role-arn %q is not an IAM role ARN such as arn:aws:iam::123456789012:role/albrollouts", o.roleARN)
	}
	if o.instanceID != "" {
		if errs := validation.IsValidLabelValue(o.instanceID); len(errs) > 0 {
			return fmt.Errorf("--instance-id %q must be usable as a label value: %s", o.instanceID, strings.Join(errs, "; "))
		}
	}
	return nil
}

// renderInstall returns the objects to apply, in an order kubectl can apply them in
// (the Namespace before what goes into it).
func renderInstall(o installOptions) ([]*unstructured.Unstructured, error) {
	files := config.RolloutCRDs()
	if !o.crdsOnly {
		files = slices.Concat(files, config.RBAC(), config.Manager(), config.AnalysisTemplates())
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		got, err := parseManifests(f)
		if err != nil {
			return nil, err
		}
		objs = append(objs, got...)
	}
	if !o.crdsOnly {
		for _, u := range objs {
			if err := o.apply(u); err != nil {
				return nil, err
			}
		}
	}
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int {
		if d := applyOrder(a.GetKind()) - applyOrder(b.GetKind()); d != 0 {
			return d
		}
		return strings.Compare(a.GetName(), b.GetName())
	})
	return objs, nil
}

// applyOrder ranks kinds so that what others refer to comes first.
func applyOrder(kind string) int {
	order := []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "Role",
		"ClusterRoleBinding", "RoleBinding", "Service", "Deployment", "ClusterAnalysisTemplate"}
	if i := slices.Index(order, kind); i >= 0 {
		return i
	}
	return len(order)
}

// parseManifests reads the objects of one embedded file.
func parseManifests(f config.File) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(f.Data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("embedded config/%s: %w", f.Path, err)
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("embedded config/%s: %w", f.Path, err)
		}
		if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
			continue // a comment-only document
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("embedded config/%s: %w", f.Path, err)
		}
		out = append(out, u)
	}
}

// apply changes one object as the flags say.
func (o installOptions) apply(u *unstructured.Unstructured) error {
	ns := o.namespace
	renamed := ns != installDefaultNamespace
	switch u.GetKind() {
	case "Namespace":
		u.SetName(ns)
	case "ClusterRole":
		// A second installation in another namespace gets its own cluster-wide RBAC,
		// so that deleting one leaves the other's permissions alone.
		if renamed {
			u.SetName(u.GetName() + "-" + ns)
		}
	case "ClusterRoleBinding", "RoleBinding":
		if renamed && u.GetKind() == "ClusterRoleBinding" {
			u.SetName(u.GetName() + "-" + ns)
			role, _, _ := unstructured.NestedString(u.Object, "roleRef", "name")
			if err := unstructured.SetNestedField(u.Object, role+"-"+ns, "roleRef", "name"); err != nil {
				return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
			}
		}
		subjects, _, err := unstructured.NestedSlice(u.Object, "subjects")
		if err != nil {
			return fmt.Errorf("%s %s: %w", u.GetKind(), u.GetName(), err)
		}
		for _, s := range subjects {
			if m, ok := s.(map[string]any); ok && m["kind"] == "ServiceAccount" {
				m["namespace"] = ns
			}
		}
		if err := unstructured.SetNestedSlice(u.Object, subjects, "subjects"); err != nil {
			return err
		}
	case "ServiceAccount":
		if o.roleARNSet {
			ann := u.GetAnnotations()
			if o.roleARN == "" {
				delete(ann, roleARNAnnotation)
			} else {
				ann[roleARNAnnotation] = o.roleARN
			}
			u.SetAnnotations(ann)
		}
	case "Deployment":
		if err := o.applyDeployment(u); err != nil {
			return err
		}
	}
	if u.GetNamespace() != "" {
		u.SetNamespace(ns)
	}
	return nil
}

// applyDeployment sets the controller container's image, region and arguments.
func (o installOptions) applyDeployment(u *unstructured.Unstructured) error {
	containers, _, err := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	if err != nil {
		return fmt.Errorf("embedded config/manager: Deployment %s: %w", u.GetName(), err)
	}
	found := false
	for _, c := range containers {
		m, ok := c.(map[string]any)
		if !ok || m["name"] != installContainer {
			continue
		}
		found = true
		m["image"] = o.image
		if o.instanceID != "" {
			args, _, _ := unstructured.NestedStringSlice(m, "args")
			if err := unstructured.SetNestedStringSlice(m, append(args, "--instance-id="+o.instanceID), "args"); err != nil {
				return err
			}
		}
		if o.regionSet {
			env, _, _ := unstructured.NestedSlice(m, "env")
			isRegion := func(e any) bool {
				v, ok := e.(map[string]any)
				return ok && v["name"] == regionEnv
			}
			if o.region == "" {
				env = slices.DeleteFunc(env, isRegion)
			} else if i := slices.IndexFunc(env, isRegion); i >= 0 {
				env[i].(map[string]any)["value"] = o.region
			} else {
				env = append(env, map[string]any{"name": regionEnv, "value": o.region})
			}
			if len(env) == 0 {
				delete(m, "env")
			} else if err := unstructured.SetNestedSlice(m, env, "env"); err != nil {
				return err
			}
		}
	}
	if !found {
		return fmt.Errorf("embedded config/manager: Deployment %s has no container %q", u.GetName(), installContainer)
	}
	return unstructured.SetNestedSlice(u.Object, containers, "spec", "template", "spec", "containers")
}

// warnPlaceholders tells, on stderr, which values are still placeholders.
func warnPlaceholders(w io.Writer, o installOptions) {
	if !o.regionSet {
		_, _ = fmt.Fprintf(w, "albrollouts install: %s is %q: pass --aws-region (or --aws-region \"\" to take it from the environment)\n", regionEnv, installPlaceholder)
	}
	if !o.roleARNSet {
		_, _ = fmt.Fprintf(w, "albrollouts install: the ServiceAccount's %s is %q: pass --role-arn (or --role-arn \"\" for EKS Pod Identity)\n", roleARNAnnotation, installPlaceholder)
	}
}

// writeManifests prints the objects as one multi-document YAML stream.
func writeManifests(w io.Writer, objs []*unstructured.Unstructured) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n# kubectl apply -f -\n", version.String())
	for _, u := range objs {
		data, err := yaml.Marshal(u.Object)
		if err != nil {
			return fmt.Errorf("write %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		b.WriteString("---\n")
		b.Write(data)
	}
	_, err := w.Write(b.Bytes())
	return err
}
