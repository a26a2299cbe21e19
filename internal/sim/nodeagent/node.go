package nodeagent

import (
	"context"
	"fmt"
	"runtime"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// runNode registers the Node, then renews its Lease and Ready condition until ctx ends.
// It is a manager runnable.
func (a *Agent) runNode(ctx context.Context) error {
	log := ctrl.Log.WithName("nodeagent")
	for {
		err := a.registerNode(ctx)
		if err == nil {
			break
		}
		log.Error(err, "could not register node; retrying", "node", a.opts.NodeName)
		if sleepCtx(ctx, time.Second) != nil {
			return nil
		}
	}
	close(a.nodeUp)
	log.Info("node registered", "node", a.opts.NodeName, "podCIDR", a.opts.PodCIDR)
	tick := time.NewTicker(a.opts.HeartbeatInterval)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
			log.Error(err, "could not renew node lease", "node", a.opts.NodeName)
		}
		if n%6 == 0 { // the kubelet reports node status about once a minute when nothing changes
			if err := a.updateNodeStatus(ctx); err != nil && ctx.Err() == nil {
				log.Error(err, "could not update node status", "node", a.opts.NodeName)
			}
		}
	}
}

// registerNode creates (or adopts) the Node, reports it Ready and removes the taints
// a new node gets until a kubelet says it is ready.
func (a *Agent) registerNode(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: a.opts.NodeName,
		Labels: map[string]string{
			corev1.LabelHostname:           a.opts.NodeName,
			corev1.LabelOSStable:           runtime.GOOS,
			corev1.LabelArchStable:         runtime.GOARCH,
			corev1.LabelInstanceTypeStable: "albrollouts-local",
		},
	}}
	if err := a.client.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create node %s: %w", a.opts.NodeName, err)
	}
	if err := a.updateNodeStatus(ctx); err != nil {
		return err
	}
	if err := a.removeStartupTaints(ctx); err != nil {
		return err
	}
	return a.renewLease(ctx)
}

func (a *Agent) removeStartupTaints(ctx context.Context) error {
	var node corev1.Node
	if err := a.reader.Get(ctx, client.ObjectKey{Name: a.opts.NodeName}, &node); err != nil {
		return fmt.Errorf("read node %s: %w", a.opts.NodeName, err)
	}
	var keep []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Key != corev1.TaintNodeNotReady && t.Key != corev1.TaintNodeUnreachable {
			keep = append(keep, t)
		}
	}
	if len(keep) == len(node.Spec.Taints) {
		return nil
	}
	patch := client.MergeFrom(node.DeepCopy())
	node.Spec.Taints = keep
	if err := a.client.Patch(ctx, &node, patch); err != nil {
		return fmt.Errorf("remove not-ready taint from node %s: %w", a.opts.NodeName, err)
	}
	return nil
}

func (a *Agent) updateNodeStatus(ctx context.Context) error {
	var node corev1.Node
	if err := a.reader.Get(ctx, client.ObjectKey{Name: a.opts.NodeName}, &node); err != nil {
		return fmt.Errorf("read node %s: %w", a.opts.NodeName, err)
	}
	now := metav1.Now().Rfc3339Copy()
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	want := []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "albrollouts node agent"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "albrollouts node agent"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "albrollouts node agent"),
		cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "albrollouts node agent is posting ready status"),
	}
	for i := range want { // keep transition times of conditions that did not change
		for _, old := range node.Status.Conditions {
			if old.Type == want[i].Type && old.Status == want[i].Status {
				want[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("10000"),
	}
	node.Status.Conditions = want
	node.Status.Capacity = capacity
	node.Status.Allocatable = capacity
	node.Status.Addresses = []corev1.NodeAddress{
		{Type: corev1.NodeInternalIP, Address: HostIP},
		{Type: corev1.NodeHostName, Address: a.opts.NodeName},
	}
	node.Status.NodeInfo.KubeletVersion = "albrollouts-node-agent"
	node.Status.NodeInfo.OperatingSystem = runtime.GOOS
	node.Status.NodeInfo.Architecture = runtime.GOARCH
	node.Status.NodeInfo.ContainerRuntimeVersion = "albrollouts-demo://1"
	if err := a.client.Status().Update(ctx, &node); err != nil {
		return fmt.Errorf("update status of node %s: %w", a.opts.NodeName, err)
	}
	return nil
}

// renewLease creates or renews the node's Lease in kube-node-lease, the kubelet's
// heartbeat.
func (a *Agent) renewLease(ctx context.Context) error {
	now := metav1.NewMicroTime(time.Now())
	var lease coordinationv1.Lease
	key := client.ObjectKey{Namespace: corev1.NamespaceNodeLease, Name: a.opts.NodeName}
	err := a.reader.Get(ctx, key, &lease)
	if apierrors.IsNotFound(err) {
		lease = coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(a.opts.NodeName),
				LeaseDurationSeconds: ptr.To(int32(40)),
				RenewTime:            &now,
			},
		}
		if err := a.client.Create(ctx, &lease); err != nil {
			return fmt.Errorf("create node lease %s: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read node lease %s: %w", key, err)
	}
	lease.Spec.RenewTime = &now
	if err := a.client.Update(ctx, &lease); err != nil {
		return fmt.Errorf("renew node lease %s: %w", key, err)
	}
	return nil
}
