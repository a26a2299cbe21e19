package rolloutctl

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Role is the part a ReplicaSet plays in its rollout.
type Role string

// Roles of a ReplicaSet, from the rollout's status.
const (
	RoleStable  Role = "stable"  // its hash is status.stableRS
	RoleCanary  Role = "canary"  // canary: its hash is status.currentPodHash, not yet stable
	RolePreview Role = "preview" // blue-green: its hash is status.currentPodHash, not yet active
	RoleActive  Role = "active"  // blue-green: its hash is status.blueGreen.activeSelector
)

// Roles returns the roles of the ReplicaSet with pod-template hash hash in r.
func Roles(r *v1alpha1.Rollout, hash string) []Role {
	if hash == "" {
		return nil
	}
	st := &r.Status
	var roles []Role
	if r.Spec.Strategy.BlueGreen != nil && hash == st.BlueGreen.ActiveSelector {
		roles = append(roles, RoleActive)
	}
	if hash == st.StableRS {
		roles = append(roles, RoleStable)
	}
	if hash == st.CurrentPodHash {
		switch {
		case r.Spec.Strategy.BlueGreen != nil && hash != st.BlueGreen.ActiveSelector:
			roles = append(roles, RolePreview)
		case r.Spec.Strategy.Canary != nil && hash != st.StableRS:
			roles = append(roles, RoleCanary)
		}
	}
	return roles
}

// ReplicaSet is one ReplicaSet of a rollout with its pods.
type ReplicaSet struct {
	*appsv1.ReplicaSet
	// Revision is the revision annotation (0 when missing).
	Revision int64
	// Hash is the pod-template hash label.
	Hash  string
	Roles []Role
	// Pods are the ReplicaSet's pods, by name.
	Pods []corev1.Pod
}

// Tree is a rollout with its ReplicaSets (newest revision first) and their pods.
type Tree struct {
	Object
	ReplicaSets []ReplicaSet
}

// Tree reads the rollout name with the ReplicaSets it controls (by
// ownerReference) and their pods.
func (c *Client) Tree(ctx context.Context, name string) (*Tree, error) {
	o, err := c.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	rss, err := c.replicaSets(ctx, o.Rollout)
	if err != nil {
		return nil, err
	}
	t := &Tree{Object: *o}
	if len(rss) == 0 {
		return t, nil
	}
	pods := &corev1.PodList{}
	if err := c.kube.List(ctx, pods, c.selectorOpts(o.Rollout)...); err != nil {
		return nil, fmt.Errorf("list the pods of rollout %q in namespace %q: %w", name, c.ns, err)
	}
	byUID := map[types.UID]int{}
	for i := range rss {
		rs := &rss[i]
		rev, _ := Revision(rs)
		hash := rs.Labels[PodTemplateHashLabel]
		t.ReplicaSets = append(t.ReplicaSets, ReplicaSet{ReplicaSet: rs, Revision: rev, Hash: hash, Roles: Roles(o.Rollout, hash)})
	}
	slices.SortFunc(t.ReplicaSets, func(a, b ReplicaSet) int {
		if n := cmp.Compare(b.Revision, a.Revision); n != 0 {
			return n
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := range t.ReplicaSets {
		byUID[t.ReplicaSets[i].UID] = i
	}
	for _, p := range pods.Items {
		if ref := metav1.GetControllerOf(&p); ref != nil {
			if i, ok := byUID[ref.UID]; ok {
				t.ReplicaSets[i].Pods = append(t.ReplicaSets[i].Pods, p)
			}
		}
	}
	for i := range t.ReplicaSets {
		slices.SortFunc(t.ReplicaSets[i].Pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	}
	return t, nil
}

// selectorOpts lists the namespace's objects that the rollout's selector
// matches (everything when the selector is missing or cannot be read; the
// ownerReference filter decides anyway).
func (c *Client) selectorOpts(r *v1alpha1.Rollout) []client.ListOption {
	opts := []client.ListOption{client.InNamespace(c.ns)}
	if r.Spec.Selector != nil {
		if sel, err := metav1.LabelSelectorAsSelector(r.Spec.Selector); err == nil && !sel.Empty() {
			opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
		}
	}
	return opts
}

// replicaSets lists the ReplicaSets whose controller is r.
func (c *Client) replicaSets(ctx context.Context, r *v1alpha1.Rollout) ([]appsv1.ReplicaSet, error) {
	l := &appsv1.ReplicaSetList{}
	if err := c.kube.List(ctx, l, c.selectorOpts(r)...); err != nil {
		return nil, fmt.Errorf("list the ReplicaSets of rollout %q in namespace %q: %w", r.Name, c.ns, err)
	}
	var out []appsv1.ReplicaSet
	for _, rs := range l.Items {
		if ref := metav1.GetControllerOf(&rs); ref != nil && ref.UID == r.UID && ref.Kind == v1alpha1.Kind {
			out = append(out, rs)
		}
	}
	return out, nil
}

// minWatchLife is how long a set of watches must have lived before it is
// reopened at once when the server closes one; a shorter life waits this long
// first, so a server that closes watches immediately is not hammered.
const minWatchLife = time.Second

// WatchTree calls fn with the rollout's tree now and after every change of the
// rollout, its ReplicaSets or their pods (changes that arrive together give
// one call), until fn returns true, fn fails, reading fails or ctx ends (then
// it returns ctx's error). It watches; it does not poll. Watches the server
// closes are reopened, and the tree is read again after each reopening, so no
// change is missed.
func (c *Client) WatchTree(ctx context.Context, name string, fn func(*Tree) (bool, error)) error {
	for {
		opened := time.Now()
		changed, closed, stop, err := c.watchAll(ctx, name)
		if err != nil {
			return err
		}
		done, err := c.treeRound(ctx, name, fn)
		for err == nil && !done {
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-closed:
				err = errReopen
			case <-changed:
				done, err = c.treeRound(ctx, name, fn)
			}
		}
		stop()
		if done {
			return nil
		}
		if !errors.Is(err, errReopen) {
			return err
		}
		if wait := minWatchLife - time.Since(opened); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
}

var errReopen = errors.New("watch closed")

func (c *Client) treeRound(ctx context.Context, name string, fn func(*Tree) (bool, error)) (bool, error) {
	t, err := c.Tree(ctx, name)
	if err != nil {
		return false, err
	}
	return fn(t)
}

// watchAll opens watches on the rollout, the namespace's ReplicaSets and pods
// (narrowed by the rollout's selector). changed receives a value (coalesced)
// on every event; closed is closed when any watch ends or reports an error.
func (c *Client) watchAll(ctx context.Context, name string) (changed <-chan struct{}, closed <-chan struct{}, stop func(), err error) {
	o, err := c.Get(ctx, name)
	if err != nil {
		return nil, nil, nil, err
	}
	ro := &unstructured.UnstructuredList{}
	ro.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(v1alpha1.Kind + "List"))
	lists := []struct {
		list client.ObjectList
		opts []client.ListOption
	}{
		{ro, []client.ListOption{client.InNamespace(c.ns), client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("metadata.name", name)}}},
		{&appsv1.ReplicaSetList{}, c.selectorOpts(o.Rollout)},
		{&corev1.PodList{}, c.selectorOpts(o.Rollout)},
	}
	ch := make(chan struct{}, 1)
	cl := make(chan struct{})
	var ws []watch.Interface
	stopAll := func() {
		for _, w := range ws {
			w.Stop()
		}
	}
	for _, l := range lists {
		w, err := c.kube.Watch(ctx, l.list, l.opts...)
		if err != nil {
			stopAll()
			return nil, nil, nil, fmt.Errorf("watch rollout %q in namespace %q: %w", name, c.ns, err)
		}
		ws = append(ws, w)
	}
	once := make(chan struct{}, 1)
	for _, w := range ws {
		go func() {
			for ev := range w.ResultChan() {
				if ev.Type == watch.Error {
					break
				}
				select {
				case ch <- struct{}{}:
				default:
				}
			}
			select {
			case once <- struct{}{}:
				close(cl)
			default:
			}
		}()
	}
	return ch, cl, stopAll, nil
}
