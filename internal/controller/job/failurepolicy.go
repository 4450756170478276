package job

import (
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// ReasonPodFailurePolicy is the condition and event reason of a FailJob match.
const ReasonPodFailurePolicy = "PodFailurePolicy"

// matchFailurePolicy returns the action of the first rule matching a failed
// pod, with the message upstream writes for FailJob, or nil when no rule
// matches (the failure then counts as usual).
func matchFailurePolicy(pfp *batchv1.PodFailurePolicy, p *corev1.Pod) (*batchv1.PodFailurePolicyAction, string) {
	if pfp == nil {
		return nil, ""
	}
	for i, r := range pfp.Rules {
		action := r.Action
		switch {
		case r.OnExitCodes != nil:
			if c := matchExitCodes(r.OnExitCodes, p); c != nil {
				return &action, fmt.Sprintf("Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
					c.Name, p.Namespace, p.Name, c.State.Terminated.ExitCode, action, i)
			}
		case len(r.OnPodConditions) > 0:
			if cond, ok := matchPodConditions(r.OnPodConditions, p); ok {
				return &action, fmt.Sprintf("Pod %s/%s has condition %s matching %s rule at index %d", p.Namespace, p.Name, cond, action, i)
			}
		}
	}
	return nil, ""
}

// matchExitCodes looks at app containers, then init containers, that
// terminated with a non-zero code.
func matchExitCodes(req *batchv1.PodFailurePolicyOnExitCodesRequirement, p *corev1.Pod) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for i := range list {
			cs := &list[i]
			t := cs.State.Terminated
			if t == nil || t.ExitCode == 0 || (req.ContainerName != nil && *req.ContainerName != cs.Name) {
				continue
			}
			in := slices.Contains(req.Values, t.ExitCode)
			if (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) == in {
				return cs
			}
		}
	}
	return nil
}

func matchPodConditions(patterns []batchv1.PodFailurePolicyOnPodConditionsPattern, p *corev1.Pod) (corev1.PodConditionType, bool) {
	for _, pat := range patterns {
		for _, c := range p.Status.Conditions {
			if c.Type == pat.Type && c.Status == pat.Status {
				return c.Type, true
			}
		}
	}
	return "", false
}
