// Package nodelifecycle watches each Node's heartbeat, as
// kube-controller-manager's node-lifecycle-controller does: a Node whose
// Lease in kube-node-lease (or Ready condition's heartbeat) has not moved for
// the grace period gets its conditions set Unknown ("Kubelet stopped posting
// node status."), the node.kubernetes.io/unreachable taints (not-ready when
// the agent itself reports Ready=False), and its pods Ready=False; the taints
// go once the agent posts Ready=True again.
//
// Like upstream, a heartbeat counts when this controller sees it change, on
// its own clock: an agent's clock may differ from the server's. The clock is
// the machine's, never a virtual one (a virtual day's jump must not make
// every node unreachable).
//
// Pods are evicted from tainted nodes by the taint-eviction controller
// (internal/controller/tainteviction), pods of deleted nodes by PodGC
// (internal/controller/podgc).
package nodelifecycle

import (
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Timing is kube-controller-manager's node monitoring flags.
type Timing struct {
	// MonitorPeriod is how often every node is looked at (--node-monitor-period).
	MonitorPeriod time.Duration
	// GracePeriod is how long a node may go without a heartbeat before it is
	// Unknown (--node-monitor-grace-period).
	GracePeriod time.Duration
	// StartupGracePeriod is that for a node that never posted its status
	// (--node-startup-grace-period).
	StartupGracePeriod time.Duration
}

// DefaultTiming is upstream's: 5 s, 50 s (40 s before Kubernetes 1.32), 60 s.
var DefaultTiming = Timing{MonitorPeriod: 5 * time.Second, GracePeriod: 50 * time.Second, StartupGracePeriod: time.Minute}

// Validate reports bad timing.
func (t Timing) Validate() []error {
	var errs []error
	if t.MonitorPeriod <= 0 {
		errs = append(errs, fmt.Errorf("--node-monitor-period %s must be positive", t.MonitorPeriod))
	}
	if t.GracePeriod <= 0 {
		errs = append(errs, fmt.Errorf("--node-monitor-grace-period %s must be positive", t.GracePeriod))
	}
	if t.StartupGracePeriod <= 0 {
		errs = append(errs, fmt.Errorf("--node-startup-grace-period %s must be positive", t.StartupGracePeriod))
	}
	return errs
}

// Condition reasons and messages upstream writes, and the event reason.
const (
	ReasonNodeStatusUnknown      = "NodeStatusUnknown"
	MessageNodeStatusUnknown     = "Kubelet stopped posting node status."
	ReasonNodeStatusNeverUpdated = "NodeStatusNeverUpdated"
	MessageNeverUpdated          = "Kubelet never posted node status."
	// EventNodeNotReady is recorded on the Node ("Node N status is now:
	// NodeNotReady") and on each of its pods ("Node is not ready").
	EventNodeNotReady = "NodeNotReady"
)

// The taints this controller owns (upstream's templates).
var (
	UnreachableNoSchedule = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}
	UnreachableNoExecute  = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}
	NotReadyNoSchedule    = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	NotReadyNoExecute     = corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}
)

// Health is what the controller remembers of a node between passes
// (upstream's nodeHealthData): the heartbeat and Lease it last saw,
// and when it saw either change.
type Health struct {
	Probe        time.Time
	Heartbeat    metav1.Time
	LeaseVersion string // the Lease's resourceVersion
}

// Observed is one node as the controller sees it.
type Observed struct {
	Node  *corev1.Node
	Lease *coordinationv1.Lease // nil: it has none (yet)
	// Health is the previous pass's (nil: the first look at this node).
	Health *Health
	Now    time.Time
	Timing Timing
}

// Plan is what to do about one node.
type Plan struct {
	Health Health
	// Conditions, when not nil, are the node's status conditions to write.
	Conditions []corev1.NodeCondition
	// Taints, when not nil, are the node's spec.taints to write.
	Taints []corev1.Taint
	// NotReady: the node just stopped being Ready; its pods get Ready=False
	// and the NodeNotReady events are recorded.
	NotReady bool
}

func condition(conds []corev1.NodeCondition, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// Decide is one monitoring pass over one node (upstream's
// tryUpdateNodeHealth, then its taint passes).
func Decide(o Observed) Plan {
	node := o.Node
	ready := condition(node.Status.Conditions, corev1.NodeReady)
	grace := o.Timing.GracePeriod
	var h Health
	switch {
	case ready == nil:
		// Never posted: the startup grace counts from the node's creation.
		grace = o.Timing.StartupGracePeriod
		h = Health{Probe: node.CreationTimestamp.Time}
		if o.Health != nil {
			h = *o.Health
		}
	case o.Health == nil:
		h = Health{Probe: o.Now, Heartbeat: ready.LastHeartbeatTime}
	default:
		h = *o.Health
		if !h.Heartbeat.Equal(&ready.LastHeartbeatTime) {
			h.Heartbeat, h.Probe = ready.LastHeartbeatTime, o.Now
		}
	}
	// Any write of the Lease is a renewal, even one whose renewTime did not
	// move forward (upstream wants it later): an agent on a frozen or
	// rewound virtual clock is still alive.
	if l := o.Lease; l != nil && (o.Health == nil || l.ResourceVersion != h.LeaseVersion) {
		h.LeaseVersion, h.Probe = l.ResourceVersion, o.Now
	}
	p := Plan{Health: h}

	wasReady := ready != nil && ready.Status == corev1.ConditionTrue
	conds := node.Status.Conditions
	if o.Now.After(h.Probe.Add(grace)) {
		conds = make([]corev1.NodeCondition, len(node.Status.Conditions))
		copy(conds, node.Status.Conditions)
		now := metav1.NewTime(o.Now)
		for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
			c := condition(conds, t)
			switch {
			case c == nil:
				conds = append(conds, corev1.NodeCondition{Type: t, Status: corev1.ConditionUnknown, Reason: ReasonNodeStatusNeverUpdated,
					Message: MessageNeverUpdated, LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: now})
			case c.Status != corev1.ConditionUnknown:
				c.Status, c.Reason, c.Message, c.LastTransitionTime = corev1.ConditionUnknown, ReasonNodeStatusUnknown, MessageNodeStatusUnknown, now
			}
		}
		if !apiequality.Semantic.DeepEqual(conds, node.Status.Conditions) {
			p.Conditions = conds
		}
	}
	status := corev1.ConditionStatus("")
	if c := condition(conds, corev1.NodeReady); c != nil {
		status = c.Status
	}
	p.NotReady = wasReady && status != corev1.ConditionTrue
	p.Taints = taints(node.Spec.Taints, status, o.Now)
	return p
}

// taints are the node's taints with this controller's set for a Ready
// condition of status s (nil: no change). A NoExecute taint records when it
// was added: tolerationSeconds count from then.
func taints(cur []corev1.Taint, s corev1.ConditionStatus, now time.Time) []corev1.Taint {
	var want []corev1.Taint
	switch s {
	case corev1.ConditionFalse:
		want = []corev1.Taint{NotReadyNoSchedule, NotReadyNoExecute}
	case corev1.ConditionUnknown:
		want = []corev1.Taint{UnreachableNoSchedule, UnreachableNoExecute}
	case corev1.ConditionTrue:
	default:
		return nil // never posted and within its startup grace
	}
	owned := func(t corev1.Taint) bool {
		for _, o := range []corev1.Taint{UnreachableNoSchedule, UnreachableNoExecute, NotReadyNoSchedule, NotReadyNoExecute} {
			if t.MatchTaint(&o) {
				return true
			}
		}
		return false
	}
	var out []corev1.Taint
	changed := false
	for _, t := range cur {
		if owned(t) {
			keep := false
			for _, w := range want {
				keep = keep || t.MatchTaint(&w)
			}
			if !keep {
				changed = true
				continue
			}
		}
		out = append(out, t)
	}
	for _, w := range want {
		has := false
		for _, t := range out {
			has = has || t.MatchTaint(&w)
		}
		if !has {
			if w.Effect == corev1.TaintEffectNoExecute {
				w.TimeAdded = &metav1.Time{Time: now}
			}
			out = append(out, w)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if out == nil {
		out = []corev1.Taint{}
	}
	return out
}

// MarkNotReady is pod's status with its Ready condition False (upstream's
// MarkPodsNotReady), nil when it has none or it is False already.
func MarkNotReady(pod *corev1.Pod, now time.Time) *corev1.PodStatus {
	for i, c := range pod.Status.Conditions {
		if c.Type != corev1.PodReady {
			continue
		}
		if c.Status == corev1.ConditionFalse {
			return nil
		}
		s := pod.Status.DeepCopy()
		s.Conditions[i].Status = corev1.ConditionFalse
		s.Conditions[i].LastTransitionTime = metav1.NewTime(now)
		return s
	}
	return nil
}
