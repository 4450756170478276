// Package podgc force-deletes pods that no agent will ever finish, as
// kube-controller-manager's pod garbage collector does:
//
//   - pods bound to a Node that was deleted (the node gone for the
//     quarantine, then confirmed gone by a read): Failed, with the
//     DisruptionTarget condition (DeletionByPodGC, "PodGC: node no longer
//     exists");
//   - pods being deleted on a node that is not Ready and carries the
//     node.kubernetes.io/out-of-service taint (an admin's word that the
//     machine is down): Failed;
//   - pods being deleted that were never scheduled: Failed.
//
// Each is set Failed first (unless it finished), then deleted with a grace
// period of 0. A pod on a node that stays unreachable is otherwise never
// finished: it stays Terminating, as upstream's does, and only a Job with
// the default podReplacementPolicy replaces it before it is Failed.
//
// The threshold of finished pods kept (--terminated-pod-gc-threshold) is not
// applied: Jobs' finished pods go with their Job (ttlSecondsAfterFinished,
// or the Job's deletion).
package podgc

import (
	corev1 "k8s.io/api/core/v1"
)

// The condition PodGC writes on a pod of a deleted node.
const (
	ReasonDeletionByPodGC = "DeletionByPodGC"
	MessageNodeGone       = "PodGC: node no longer exists"
)

// Action is one pod to fail and force-delete.
type Action struct {
	Pod *corev1.Pod
	// Condition, if not nil, is set on the pod as it is failed.
	Condition *corev1.PodCondition
}

// Decide picks the pods to collect. nodes are the nodes that exist, deleted
// those confirmed deleted (after their quarantine).
func Decide(pods []*corev1.Pod, nodes map[string]*corev1.Node, deleted map[string]bool) []Action {
	var out []Action
	for _, p := range pods {
		switch {
		case p.Spec.NodeName == "":
			if p.DeletionTimestamp != nil {
				out = append(out, Action{Pod: p})
			}
		case deleted[p.Spec.NodeName] && nodes[p.Spec.NodeName] == nil:
			out = append(out, Action{Pod: p, Condition: &corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
				Reason: ReasonDeletionByPodGC, Message: MessageNodeGone}})
		case p.DeletionTimestamp != nil && outOfService(nodes[p.Spec.NodeName]):
			out = append(out, Action{Pod: p})
		}
	}
	return out
}

// outOfService: not Ready and tainted out-of-service.
func outOfService(n *corev1.Node) bool {
	if n == nil {
		return false
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return false
		}
	}
	for _, t := range n.Spec.Taints {
		if t.Key == corev1.TaintNodeOutOfService {
			return true
		}
	}
	return false
}

// Orphans are the nodes pods are bound to that do not exist.
func Orphans(pods []*corev1.Pod, nodes map[string]*corev1.Node) map[string]bool {
	out := map[string]bool{}
	for _, p := range pods {
		if p.Spec.NodeName != "" && nodes[p.Spec.NodeName] == nil {
			out[p.Spec.NodeName] = true
		}
	}
	return out
}
