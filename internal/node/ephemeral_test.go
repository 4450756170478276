package node

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchd/batchd/internal/node/runtime"
)

// withDebugger adds an ephemeral container "dbg" targeting target ("": none).
func withDebugger(p *corev1.Pod, target string) *corev1.Pod {
	p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: "busybox", Command: []string{"sh"}, Stdin: true, TTY: true},
		TargetContainerName:      target,
	})
	return p
}

func ephemeralStatus(s corev1.PodStatus, name string) *corev1.ContainerStatus {
	for i := range s.EphemeralContainerStatuses {
		if s.EphemeralContainerStatuses[i].Name == name {
			return &s.EphemeralContainerStatuses[i]
		}
	}
	return nil
}

// TestDecideEphemeral: an ephemeral container starts once while the pod
// runs (joining its target, or the pod's first running container), waits
// while its target does not run, is never restarted, is killed with the
// pod, and its status goes waiting → running → terminated without
// counting in the pod's readiness or phase.
func TestDecideEphemeral(t *testing.T) {
	appRun := running("app", 0, t0)
	dbgRun := running("dbg", 0, t0)
	deleting := withDebugger(testPod(corev1.RestartPolicyNever, "app"), "app")
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	succeeded := withDebugger(testPod(corev1.RestartPolicyNever, "app"), "app")
	succeeded.Status.Phase = corev1.PodSucceeded
	tests := []struct {
		name    string
		pod     *corev1.Pod
		runs    map[string][]runtime.Run
		start   []string
		join    map[string]runtime.Join
		kill    []string
		phase   corev1.PodPhase
		state   string // of dbg: waiting reason, "running", terminated reason, "" (no status)
		ready   corev1.ConditionStatus
		requeue time.Duration
	}{
		{name: "starts joining its running target, PID namespace included", pod: withDebugger(testPod(corev1.RestartPolicyNever, "app"), "app"),
			runs: map[string][]runtime.Run{"app": {appRun}}, start: []string{"dbg"}, join: map[string]runtime.Join{"dbg": {ID: appRun.ID, PID: true}},
			phase: corev1.PodRunning, state: "ContainerCreating", ready: corev1.ConditionTrue},
		{name: "without a target joins the first running container", pod: withDebugger(testPod(corev1.RestartPolicyNever, "a", "app"), ""),
			runs:  map[string][]runtime.Run{"a": {exited("a", 0, 0, t0)}, "app": {appRun}},
			start: []string{"dbg"}, join: map[string]runtime.Join{"dbg": {ID: appRun.ID}}, phase: corev1.PodRunning, state: "ContainerCreating", ready: corev1.ConditionFalse},
		{name: "without a target and nothing running gets its own namespaces", pod: withDebugger(testPod(corev1.RestartPolicyNever, "app"), ""),
			start: []string{"app", "dbg"}, phase: corev1.PodPending, state: "ContainerCreating", ready: corev1.ConditionFalse},
		{name: "waits while its target does not run", pod: withDebugger(testPod(corev1.RestartPolicyNever, "app"), "app"),
			start: []string{"app"}, phase: corev1.PodPending, state: "ContainerCreating", ready: corev1.ConditionFalse, requeue: configRetry},
		{name: "running: not ready, the pod's readiness its containers'", pod: withDebugger(testPod(corev1.RestartPolicyNever, "app"), "app"),
			runs:  map[string][]runtime.Run{"app": {appRun}, "dbg": {dbgRun}},
			phase: corev1.PodRunning, state: "running", ready: corev1.ConditionTrue},
		{name: "never restarted, whatever the pod's policy", pod: withDebugger(testPod(corev1.RestartPolicyAlways, "app"), "app"),
			runs:  map[string][]runtime.Run{"app": {appRun}, "dbg": {exited("dbg", 0, 1, t0)}},
			phase: corev1.PodRunning, state: "Error", ready: corev1.ConditionTrue},
		{name: "the pod's phase ignores it; its end kills it", pod: withDebugger(testPod(corev1.RestartPolicyNever, "app"), "app"),
			runs: map[string][]runtime.Run{"app": {exited("app", 0, 0, t0)}, "dbg": {dbgRun}},
			kill: []string{"dbg"}, phase: corev1.PodSucceeded, state: "running", ready: corev1.ConditionFalse},
		{name: "a deleted pod's are killed with it", pod: deleting,
			runs: map[string][]runtime.Run{"app": {appRun}, "dbg": {dbgRun}},
			kill: []string{"app", "dbg"}, phase: corev1.PodRunning, state: "running", ready: corev1.ConditionTrue},
		{name: "a terminal pod starts none", pod: withDebugger(succeeded, ""),
			runs: map[string][]runtime.Run{"app": {exited("app", 0, 0, t0)}}, phase: corev1.PodSucceeded},
		{name: "a terminal pod still shows its end", pod: succeeded,
			runs:  map[string][]runtime.Run{"app": {exited("app", 0, 0, t0)}, "dbg": {exited("dbg", 0, 137, t0)}},
			phase: corev1.PodSucceeded, state: "Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Decide(Observed{Pod: tt.pod, Runs: tt.runs, Now: t0})
			if diff := cmp.Diff(tt.start, p.Start); diff != "" {
				t.Errorf("start (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.join, p.Join); diff != "" {
				t.Errorf("join (-want +got):\n%s", diff)
			}
			var kills []string
			for _, k := range p.Kill {
				kills = append(kills, k.Container)
			}
			if diff := cmp.Diff(tt.kill, kills); diff != "" {
				t.Errorf("kill (-want +got):\n%s", diff)
			}
			if p.Status.Phase != tt.phase {
				t.Errorf("phase %s, want %s", p.Status.Phase, tt.phase)
			}
			if tt.ready != "" && cond(p.Status, corev1.PodReady).Status != tt.ready {
				t.Errorf("Ready %s, want %s", cond(p.Status, corev1.PodReady).Status, tt.ready)
			}
			if p.Requeue != tt.requeue {
				t.Errorf("requeue %s, want %s", p.Requeue, tt.requeue)
			}
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Name == "dbg" {
					t.Errorf("ephemeral container in containerStatuses")
				}
			}
			cs := ephemeralStatus(p.Status, "dbg")
			got := ""
			switch {
			case cs == nil:
			case cs.Ready:
				t.Errorf("ephemeral container reported ready")
			}
			if cs != nil {
				switch st := cs.State; {
				case st.Waiting != nil:
					got = st.Waiting.Reason
				case st.Running != nil:
					got = "running"
				case st.Terminated != nil:
					got = st.Terminated.Reason
				}
			}
			if got != tt.state {
				t.Errorf("dbg state %q, want %q", got, tt.state)
			}
		})
	}
}
