package pod

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/batchd/batchd/internal/apiserver/registry"
)

// Table returns the `kubectl get pods` columns.
func Table() *registry.Table {
	return &registry.Table{
		Columns: []metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", false),
			registry.Column("Status", "string", "", "The aggregate status of the containers in this pod.", false),
			registry.Column("Restarts", "string", "", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", false),
			registry.AgeColumn(),
			registry.Column("IP", "string", "", corev1.PodStatus{}.SwaggerDoc()["podIP"], true),
			registry.Column("Node", "string", "", corev1.PodSpec{}.SwaggerDoc()["nodeName"], true),
			registry.Column("Nominated Node", "string", "", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"], true),
			registry.Column("Readiness Gates", "string", "", corev1.PodSpec{}.SwaggerDoc()["readinessGates"], true),
		},
		Row: func(obj runtime.Object, now time.Time) ([]any, error) {
			p, ok := obj.(*corev1.Pod)
			if !ok {
				return nil, fmt.Errorf("unexpected %T", obj)
			}
			r := Summarize(p, now)
			ip := "<none>"
			if p.Status.PodIP != "" {
				ip = p.Status.PodIP
			}
			node := "<none>"
			if p.Spec.NodeName != "" {
				node = p.Spec.NodeName
			}
			nominated := "<none>"
			if p.Status.NominatedNodeName != "" {
				nominated = p.Status.NominatedNodeName
			}
			gates := "<none>"
			if n := len(p.Spec.ReadinessGates); n > 0 {
				ready := 0
				for _, g := range p.Spec.ReadinessGates {
					for _, c := range p.Status.Conditions {
						if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
							ready++
						}
					}
				}
				gates = fmt.Sprintf("%d/%d", ready, n)
			}
			return []any{p.Name, r.Ready, r.Status, r.Restarts, registry.Age(p.CreationTimestamp, now), ip, node, nominated, gates}, nil
		},
	}
}

// Row is what kubectl shows of a pod in the READY, STATUS and RESTARTS columns.
type Row struct {
	Ready    string
	Status   string
	Restarts string
}

// Summarize computes READY, STATUS and RESTARTS the way upstream's printer does.
func Summarize(p *corev1.Pod, now time.Time) Row {
	restarts, restartableInitRestarts := 0, 0
	total := len(p.Spec.Containers)
	ready := 0
	var lastRestart time.Time
	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}

	sidecars := map[string]bool{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			total++
		}
	}
	noteRestart := func(cs corev1.ContainerStatus) {
		if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(lastRestart) {
			lastRestart = t.FinishedAt.Time
		}
	}

	initializing := false
	for i, cs := range p.Status.InitContainerStatuses {
		restarts += int(cs.RestartCount)
		noteRestart(cs)
		if sidecars[cs.Name] {
			restartableInitRestarts += int(cs.RestartCount)
			if cs.Started != nil && *cs.Started && cs.Ready {
				ready++
			}
		}
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case sidecars[cs.Name] && cs.Started != nil && *cs.Started:
			continue
		case cs.State.Terminated != nil:
			if cs.State.Terminated.Reason != "" {
				reason = "Init:" + cs.State.Terminated.Reason
			} else if cs.State.Terminated.Signal != 0 {
				reason = fmt.Sprintf("Init:Signal:%d", cs.State.Terminated.Signal)
			} else {
				reason = fmt.Sprintf("Init:ExitCode:%d", cs.State.Terminated.ExitCode)
			}
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing || isPodInitializedConditionTrue(p) {
		restarts = restartableInitRestarts
		lastRestart = time.Time{}
		for _, cs := range p.Status.InitContainerStatuses {
			if sidecars[cs.Name] {
				noteRestart(cs)
			}
		}
		hasRunning := false
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := p.Status.ContainerStatuses[i]
			restarts += int(cs.RestartCount)
			noteRestart(cs)
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
				reason = cs.State.Terminated.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", cs.State.Terminated.Signal)
			case cs.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
				ready++
			}
		}
		if reason == "Completed" && hasRunning {
			if hasPodReadyCondition(p.Status.Conditions) {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}

	if p.DeletionTimestamp != nil {
		if p.Status.Reason == "NodeLost" {
			reason = "Unknown"
		} else if p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
			reason = "Terminating"
		}
	}

	restartsStr := fmt.Sprintf("%d", restarts)
	if restarts != 0 && !lastRestart.IsZero() {
		restartsStr = fmt.Sprintf("%d (%s ago)", restarts, duration.HumanDuration(now.Sub(lastRestart)))
	}
	return Row{Ready: fmt.Sprintf("%d/%d", ready, total), Status: reason, Restarts: restartsStr}
}

func hasPodReadyCondition(conds []corev1.PodCondition) bool {
	for _, c := range conds {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func isPodInitializedConditionTrue(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodInitialized {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
