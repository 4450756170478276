package node

import (
	"context"
	"fmt"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// heartbeat keeps the Node and its Lease, as the kubelet's node status
// manager and lease controller do: it registers the Node, renews the Lease
// every 10s and writes the Node's status every minute, and at once when
// what it reports changed (update).
type heartbeat struct {
	client kubernetes.Interface
	clock  clock.Clock // the times written
	wall   clock.Clock // the heartbeat's pace
	events *events
	// machine is the node as it is now (its disk pressure changes).
	machine func() Machine
}

// run registers the node, then keeps it until ctx ends.
func (h *heartbeat) run(ctx context.Context) {
	log := klog.FromContext(ctx)
	lastStatus := time.Time{}
	h.events.nodeEvent(corev1.EventTypeNormal, "Starting", "Starting kubelet.")
	for {
		now := h.wall.Now()
		if now.Sub(lastStatus) >= statusInterval || h.markedNotReady(ctx) {
			if err := h.update(ctx); err != nil {
				log.Error(err, "register node", "node", h.machine().Name)
			} else {
				lastStatus = now
			}
		}
		if err := h.renewLease(ctx, h.clock.Now()); err != nil {
			log.Error(err, "renew node lease", "node", h.machine().Name)
		}
		select {
		case <-ctx.Done():
			return
		case <-h.wall.After(leaseRenewInterval):
		}
	}
}

// markedNotReady says whether the Node's Ready condition is not True, as the
// node lifecycle controller leaves it after the agent was cut off: the
// status is then written at once, as the kubelet writes a changed status
// within its 10 s nodeStatusUpdateFrequency, rather than at the next minute
// (the unreachable taints, whose tolerations run out, stay until then).
func (h *heartbeat) markedNotReady(ctx context.Context) bool {
	n, err := h.client.CoreV1().Nodes().Get(ctx, h.machine().Name, metav1.GetOptions{ResourceVersion: "0"})
	if err != nil {
		return false
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status != corev1.ConditionTrue
		}
	}
	return false
}

// update creates the Node, or writes its labels and status as they are now.
func (h *heartbeat) update(ctx context.Context) error {
	now := h.clock.Now()
	m := h.machine()
	nodes := h.client.CoreV1().Nodes()
	want := m.nodeObject(now)
	cur, err := nodes.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		created, err := nodes.Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create node: %w", err)
		}
		created.Status = want.Status
		if _, err = nodes.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return err
		}
		for _, c := range want.Status.Conditions {
			if c.Type != conditionLimits && c.Type != conditionRuntime {
				e := nodeStatusEvent(c)
				h.events.nodeEvent(corev1.EventTypeNormal, e, fmt.Sprintf("Node %s status is now: %s", want.Name, e))
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	changed := false
	if cur.Labels == nil {
		cur.Labels = map[string]string{}
	}
	for k, v := range want.Labels {
		if cur.Labels[k] != v {
			cur.Labels[k], changed = v, true
		}
	}
	if taints, ch := ConditionTaints(cur.Spec.Taints, m.DiskPressure); ch {
		cur.Spec.Taints, changed = taints, true
	}
	if changed {
		if cur, err = nodes.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	cur.Status = m.nodeStatus(now, cur.Status.Conditions)
	_, err = nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}

func (h *heartbeat) renewLease(ctx context.Context, now time.Time) error {
	leases := h.client.CoordinationV1().Leases(leaseNamespace)
	name := h.machine().Name
	renew := metav1.NewMicroTime(now)
	l, err := leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, err := h.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		d := int32(leaseDuration)
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: leaseNamespace, OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: &d, RenewTime: &renew},
		}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &renew
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// nodeStatusEvent is the kubelet's event reason for a condition
// (KubeletHasSufficientMemory → NodeHasSufficientMemory, KubeletReady → NodeReady).
func nodeStatusEvent(c corev1.NodeCondition) string {
	if c.Type == corev1.NodeReady {
		return "NodeReady"
	}
	return "Node" + strings.TrimPrefix(c.Reason, "Kubelet")
}
