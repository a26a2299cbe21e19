// Package rolloutctl is what the albrollouts CLI does to Rollouts
// (argoproj.io/v1alpha1) on any cluster: read them with their ReplicaSets and
// pods, compute their phase, watch them, and send the same writes as Argo
// Rollouts' kubectl plugin (promote, abort, retry, pause, restart, undo, set
// image).
//
// Reads go through unstructured objects and are converted to the typed API
// afterwards, so fields a cluster's CRD has and this API lacks are kept
// wherever an object is printed or written back (set image updates the
// unstructured object it read). The patch construction is pure (see patch.go)
// and the Client only sends what it builds.
package rolloutctl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// ErrNothingToDo is wrapped by the errors of commands that would not change
// anything (nothing to promote, not aborted, already at that revision...).
var ErrNothingToDo = errors.New("nothing to do")

// Client runs rollout operations in one namespace of one cluster.
type Client struct {
	kube client.WithWatch
	ns   string
	// Now is the clock of restart; time.Now when nil.
	Now func() time.Time
}

// New returns a Client on kube for namespace ns. kube's scheme must know the
// types of NewScheme.
func New(kube client.WithWatch, ns string) *Client {
	return &Client{kube: kube, ns: ns}
}

// Namespace is the Client's namespace ("" only for List across namespaces).
func (c *Client) Namespace() string { return c.ns }

// NewScheme returns a scheme with the Kubernetes built-in types and the Rollout API.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // static registration; fails only on a programming error
		}
	}
	return s
}

// KubeOptions select the cluster and namespace like kubectl does: the
// kubeconfig (--kubeconfig, else $KUBECONFIG, else ~/.kube/config, else the
// in-cluster configuration), its context, and the namespace (else the
// context's, else "default").
type KubeOptions struct {
	Kubeconfig string
	Context    string
	Namespace  string
}

func (o KubeOptions) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	overrides.Context.Namespace = o.Namespace
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// RESTConfig returns the REST configuration and the namespace the options select.
func (o KubeOptions) RESTConfig() (*rest.Config, string, error) {
	cc := o.clientConfig()
	if o.Context != "" {
		if names := o.Contexts(); len(names) > 0 && !slices.Contains(names, o.Context) {
			return nil, "", fmt.Errorf("the kubeconfig has no context %q (contexts: %s)", o.Context, strings.Join(names, ", "))
		}
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, "", errors.New("no Kubernetes configuration found: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config")
		}
		return nil, "", fmt.Errorf("load kubeconfig: %w", err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", fmt.Errorf("load kubeconfig: %w", err)
	}
	cfg.UserAgent = "albrollouts"
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, ns, nil
}

// Contexts lists the context names of the kubeconfig (for completion).
func (o KubeOptions) Contexts() []string {
	raw, err := o.clientConfig().RawConfig()
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(raw.Contexts))
	for n := range raw.Contexts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Connect builds a Client from the options.
func Connect(o KubeOptions) (*Client, error) {
	cfg, ns, err := o.RESTConfig()
	if err != nil {
		return nil, err
	}
	kube, err := client.NewWithWatch(cfg, client.Options{Scheme: NewScheme()})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	return New(kube, ns), nil
}

// Object is a Rollout as read from the cluster: the typed form for logic and
// rendering, and the object as the API server sent it, for printing.
type Object struct {
	Rollout *v1alpha1.Rollout
	Raw     *unstructured.Unstructured
}

func newUnstructured(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(v1alpha1.Kind))
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// fromUnstructured converts u to the typed API. Fields the API does not know
// are ignored (they stay in u).
func fromUnstructured(u *unstructured.Unstructured) (*v1alpha1.Rollout, error) {
	r := &v1alpha1.Rollout{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), r); err != nil {
		return nil, fmt.Errorf("rollout %q in namespace %q does not fit the argoproj.io/v1alpha1 Rollout API: %w", u.GetName(), u.GetNamespace(), err)
	}
	return r, nil
}

// Get reads one rollout.
func (c *Client) Get(ctx context.Context, name string) (*Object, error) {
	u := newUnstructured(c.ns, name)
	if err := c.kube.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
		return nil, c.explain("get", name, err)
	}
	r, err := fromUnstructured(u)
	if err != nil {
		return nil, err
	}
	return &Object{Rollout: r, Raw: u}, nil
}

// List reads the rollouts of the namespace, or of every namespace, sorted by
// namespace and name.
func (c *Client) List(ctx context.Context, allNamespaces bool) ([]Object, error) {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(v1alpha1.Kind + "List"))
	var opts []client.ListOption
	where := "in all namespaces"
	if !allNamespaces {
		opts = append(opts, client.InNamespace(c.ns))
		where = fmt.Sprintf("in namespace %q", c.ns)
	}
	if err := c.kube.List(ctx, l, opts...); err != nil {
		if e := crdMissing(err); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("list rollouts %s: %w", where, err)
	}
	out := make([]Object, 0, len(l.Items))
	for i := range l.Items {
		u := &l.Items[i]
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(v1alpha1.Kind))
		r, err := fromUnstructured(u)
		if err != nil {
			return nil, err
		}
		out = append(out, Object{Rollout: r, Raw: u})
	}
	slices.SortFunc(out, func(a, b Object) int {
		if n := strings.Compare(a.Raw.GetNamespace(), b.Raw.GetNamespace()); n != 0 {
			return n
		}
		return strings.Compare(a.Raw.GetName(), b.Raw.GetName())
	})
	return out, nil
}

// Names lists the names of the namespace's rollouts that start with prefix
// (for shell completion).
func (c *Client) Names(ctx context.Context, prefix string) ([]string, error) {
	l := &unstructured.UnstructuredList{}
	l.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(v1alpha1.Kind + "List"))
	if err := c.kube.List(ctx, l, client.InNamespace(c.ns)); err != nil {
		return nil, err
	}
	var names []string
	for _, u := range l.Items {
		if strings.HasPrefix(u.GetName(), prefix) {
			names = append(names, u.GetName())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Namespaces lists the cluster's namespaces that start with prefix (for shell
// completion).
func (c *Client) Namespaces(ctx context.Context, prefix string) ([]string, error) {
	l := &corev1.NamespaceList{}
	if err := c.kube.List(ctx, l); err != nil {
		return nil, err
	}
	var names []string
	for _, n := range l.Items {
		if strings.HasPrefix(n.Name, prefix) {
			names = append(names, n.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// explain turns an API error about rollout name into a sentence that says
// what failed and what to do.
func (c *Client) explain(verb, name string, err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("rollout %q not found in namespace %q (list them with 'albrollouts list -n %s', or pick another namespace with -n)", name, c.ns, c.ns)
	case crdMissing(err) != nil:
		return crdMissing(err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("%s rollout %q in namespace %q: not allowed by RBAC: %w", verb, name, c.ns, err)
	case apierrors.IsConflict(err):
		return fmt.Errorf("%s rollout %q in namespace %q: it changed while being updated; run the command again: %w", verb, name, c.ns, err)
	}
	return fmt.Errorf("%s rollout %q in namespace %q: %w", verb, name, c.ns, err)
}

// crdMissing returns the error to show when the cluster has no Rollout CRD, or nil.
func crdMissing(err error) error {
	if meta.IsNoMatchError(err) {
		return errors.New("this cluster has no Rollout CRD (rollouts.argoproj.io, version v1alpha1): install it with 'kubectl apply -f config/crd/bases/' or install Argo Rollouts")
	}
	return nil
}

// Kube returns the Kubernetes client, for commands that read other objects
// (the verify command reads Services, Ingresses and pods).
func (c *Client) Kube() client.WithWatch { return c.kube }
