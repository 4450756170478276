package node

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchd/batchd/internal/node/runtime"
)

// Pod condition reasons the kubelet reports.
const (
	reasonNotInitialized = "ContainersNotInitialized"
	reasonNotReady       = "ContainersNotReady"
	reasonPodCompleted   = "PodCompleted"
)

// podOutcome is what status needs to know of the pod as Decide saw it.
type podOutcome struct {
	initDone, initFailed, deadline, stopping bool
	// evicted is why the node evicts the pod ("": it does not).
	evicted string
}

// status computes the pod status the kubelet would report.
func status(o Observed, plans map[string]containerPlan, out podOutcome) corev1.PodStatus {
	pod := o.Pod
	old := pod.Status
	if old.Phase == corev1.PodSucceeded || old.Phase == corev1.PodFailed {
		// A terminal phase is final; only the ephemeral containers the
		// pod's end killed are still seen to end.
		s := *old.DeepCopy()
		s.EphemeralContainerStatuses = ephemeralStatuses(o, plans, true)
		return s
	}
	spec := &pod.Spec
	s := corev1.PodStatus{
		Phase:    corev1.PodPending,
		QOSClass: old.QOSClass,
		HostIP:   o.HostIP, PodIP: o.HostIP,
		StartTime: old.StartTime,
	}
	if o.HostIP != "" {
		s.HostIPs = []corev1.HostIP{{IP: o.HostIP}}
		s.PodIPs = []corev1.PodIP{{IP: o.HostIP}}
	}
	if s.StartTime == nil {
		t := metav1.NewTime(o.Now.Truncate(time.Second))
		s.StartTime = &t
	}
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		s.InitContainerStatuses = append(s.InitContainerStatuses, containerStatus(c, o.Runs[c.Name], plans[c.Name], reasonPodInit))
	}
	appWaiting := reasonCreating
	if !out.initDone && !out.stopping {
		appWaiting = reasonPodInit
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		s.ContainerStatuses = append(s.ContainerStatuses, containerStatus(c, o.Runs[c.Name], plans[c.Name], appWaiting))
	}
	s.EphemeralContainerStatuses = ephemeralStatuses(o, plans, false)
	s.Phase = podPhase(o, plans, out)
	if s.Phase == corev1.PodFailed {
		switch {
		case out.evicted != "":
			s.Reason, s.Message = ReasonEvicted, out.evicted
		case out.deadline:
			s.Reason, s.Message = deadlineReason, deadlineMessage
		}
	}
	s.Conditions = podConditions(o, out, terminal(s.Phase))
	return s
}

// podPhase is the pod's phase, as the kubelet's getPhase computes it from
// its containers: a pod being stopped is Running while one of them runs,
// then Succeeded if all of them succeeded (Failed past its deadline or
// evicted).
func podPhase(o Observed, plans map[string]containerPlan, out podOutcome) corev1.PodPhase {
	spec := &o.Pod.Spec
	anyRunning := false
	for _, c := range allContainers(spec) {
		if l := latest(o.Runs[c.Name]); l != nil && l.Running {
			anyRunning = true
		}
	}
	allSucceeded, anyUnstarted, anyNotDone := true, false, false
	for i := range spec.Containers {
		c := &spec.Containers[i]
		switch last := latest(o.Runs[c.Name]); {
		case last == nil:
			anyUnstarted = true
			allSucceeded = false
		case !succeeded(last):
			allSucceeded = false
		}
		if !plans[c.Name].done {
			anyNotDone = true
		}
	}
	switch {
	case out.stopping && anyRunning:
		return corev1.PodRunning
	case out.stopping && (out.deadline || out.evicted != "" || !allSucceeded):
		return corev1.PodFailed
	case out.stopping:
		return corev1.PodSucceeded
	case out.initFailed && anyRunning:
		return corev1.PodPending
	case out.initFailed:
		return corev1.PodFailed
	case !out.initDone || anyUnstarted:
		return corev1.PodPending
	case anyNotDone || anyRunning:
		return corev1.PodRunning
	case allSucceeded:
		return corev1.PodSucceeded
	}
	return corev1.PodFailed
}

// podConditions are the kubelet's pod conditions, each keeping its
// transition time while its status stays.
func podConditions(o Observed, out podOutcome, terminal bool) []corev1.PodCondition {
	spec, old := &o.Pod.Spec, o.Pod.Status
	var conds []corev1.PodCondition
	ready := corev1.ConditionTrue
	if terminal {
		ready = corev1.ConditionFalse
	}
	conds = append(conds, corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: ready})
	if incomplete := incompleteInit(spec, o.Runs); len(incomplete) > 0 && !(terminal && out.initDone) {
		conds = append(conds, corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionFalse,
			Reason: reasonNotInitialized, Message: "containers with incomplete status: " + names(incomplete)})
	} else {
		conds = append(conds, corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue})
	}
	readyCond := corev1.PodCondition{Status: corev1.ConditionTrue}
	if terminal {
		readyCond = corev1.PodCondition{Status: corev1.ConditionFalse, Reason: reasonPodCompleted}
	} else if unready := unreadyContainers(spec, o.Runs); len(unready) > 0 {
		readyCond = corev1.PodCondition{Status: corev1.ConditionFalse, Reason: reasonNotReady, Message: "containers with unready status: " + names(unready)}
	}
	for _, t := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
		c := readyCond
		c.Type = t
		conds = append(conds, c)
	}
	disruption := false
	for _, c := range old.Conditions {
		if c.Type == corev1.PodScheduled || c.Type == corev1.DisruptionTarget {
			conds = append(conds, c)
			disruption = disruption || c.Type == corev1.DisruptionTarget
		}
	}
	if out.evicted != "" && !disruption {
		conds = append(conds, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: reasonTerminationByKubelet, Message: out.evicted})
	}
	for i := range conds {
		conds[i].LastTransitionTime = metav1.NewTime(o.Now.Truncate(time.Second))
		for _, oc := range old.Conditions {
			if oc.Type == conds[i].Type && oc.Status == conds[i].Status {
				conds[i].LastTransitionTime = oc.LastTransitionTime
				conds[i].LastProbeTime = oc.LastProbeTime
			}
		}
	}
	return conds
}

func containerStatus(c *corev1.Container, runs []runtime.Run, plan containerPlan, defaultWaiting string) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: new(bool)}
	if n := len(runs) - 1; n > 0 {
		cs.RestartCount = int32(n)
	}
	last := latest(runs)
	if last != nil && last.ImageName != "" {
		// An OCI run: its image as the runtime resolved it.
		cs.Image, cs.ImageID = last.ImageName, last.ImageID
	}
	switch {
	case last == nil:
		w := plan.waiting
		if w == nil {
			w = &corev1.ContainerStateWaiting{Reason: defaultWaiting}
		}
		cs.State.Waiting = w
	case last.Running:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(last.StartedAt.Truncate(time.Second))}
		cs.Ready, *cs.Started = true, true
		cs.ContainerID = ContainerID(last.ID)
		if len(runs) > 1 {
			cs.LastTerminationState.Terminated = terminatedState(&runs[len(runs)-2])
		}
	case plan.waiting != nil:
		cs.State.Waiting = plan.waiting
		cs.LastTerminationState.Terminated = terminatedState(last)
		cs.ContainerID = ContainerID(last.ID)
	default:
		cs.State.Terminated = terminatedState(last)
		cs.ContainerID = ContainerID(last.ID)
		if len(runs) > 1 {
			cs.LastTerminationState.Terminated = terminatedState(&runs[len(runs)-2])
		}
	}
	return cs
}

// ephemeralStatuses are the pod's ephemeral containers' statuses: never
// ready (they serve nothing), and otherwise as any container's. In a
// terminal pod (final) only those that ran or were shown already are.
func ephemeralStatuses(o Observed, plans map[string]containerPlan, final bool) []corev1.ContainerStatus {
	shown := map[string]bool{}
	for _, cs := range o.Pod.Status.EphemeralContainerStatuses {
		shown[cs.Name] = true
	}
	var out []corev1.ContainerStatus
	for _, c := range ephemeralContainers(&o.Pod.Spec) {
		runs := o.Runs[c.Name]
		if final && len(runs) == 0 && !shown[c.Name] {
			continue
		}
		cs := containerStatus(c, runs, plans[c.Name], reasonCreating)
		cs.Ready = false
		out = append(out, cs)
	}
	return out
}

func incompleteInit(spec *corev1.PodSpec, runs map[string][]runtime.Run) []string {
	var out []string
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		last := latest(runs[c.Name])
		switch {
		case isSidecar(c) && last != nil:
		case !isSidecar(c) && last != nil && !last.Running && succeeded(last):
		default:
			out = append(out, c.Name)
		}
	}
	return out
}

func unreadyContainers(spec *corev1.PodSpec, runs map[string][]runtime.Run) []string {
	var out []string
	for _, c := range allContainers(spec) {
		if containerIndex(spec, c.Name) < len(spec.InitContainers) && !isSidecar(c) {
			continue
		}
		if l := latest(runs[c.Name]); l == nil || !l.Running {
			out = append(out, c.Name)
		}
	}
	return out
}
