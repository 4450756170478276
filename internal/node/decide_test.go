package node

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/node/runtime"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func testPod(policy corev1.RestartPolicy, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid"},
		Spec: corev1.PodSpec{RestartPolicy: policy, NodeName: "n"}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "busybox", Command: []string{"true"}})
	}
	return p
}

func running(c string, attempt int, started time.Time) runtime.Run {
	return runtime.Run{ID: runtime.ID{Pod: "uid", Container: c, Attempt: attempt}, Running: true, StartedAt: started}
}

// withRules gives the pod's first container a restartPolicy (nil: none)
// and one restartPolicyRules entry restarting on the exit codes op values.
func withRules(p *corev1.Pod, policy *corev1.ContainerRestartPolicy, op corev1.ContainerRestartRuleOnExitCodesOperator, values ...int32) *corev1.Pod {
	c := &p.Spec.Containers[0]
	c.RestartPolicy = policy
	c.RestartPolicyRules = []corev1.ContainerRestartRule{{Action: corev1.ContainerRestartRuleActionRestart,
		ExitCodes: &corev1.ContainerRestartRuleOnExitCodes{Operator: op, Values: values}}}
	return p
}

func exited(c string, attempt, code int, finished time.Time) runtime.Run {
	return runtime.Run{ID: runtime.ID{Pod: "uid", Container: c, Attempt: attempt}, ExitCode: code, StartedAt: finished.Add(-time.Second), FinishedAt: finished}
}

func cond(s corev1.PodStatus, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range s.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

func TestDecideStartsAndReportsPhases(t *testing.T) {
	sidecar := corev1.ContainerRestartPolicyAlways
	withInit := testPod(corev1.RestartPolicyNever, "app")
	withInit.Spec.InitContainers = []corev1.Container{{Name: "init", Command: []string{"true"}}}
	withSidecar := testPod(corev1.RestartPolicyNever, "app")
	withSidecar.Spec.InitContainers = []corev1.Container{{Name: "side", Command: []string{"sleep", "1d"}, RestartPolicy: &sidecar}}

	tests := []struct {
		name      string
		pod       *corev1.Pod
		runs      map[string][]runtime.Run
		start     []string
		kill      []string
		phase     corev1.PodPhase
		waiting   string // of the first app container
		terminate string // terminated reason of the first app container
		ready     corev1.ConditionStatus
		requeue   time.Duration
	}{
		{name: "new pod starts its containers", pod: testPod(corev1.RestartPolicyNever, "a", "b"),
			start: []string{"a", "b"}, phase: corev1.PodPending, waiting: "ContainerCreating", ready: corev1.ConditionFalse},
		{name: "running", pod: testPod(corev1.RestartPolicyNever, "a"), runs: map[string][]runtime.Run{"a": {running("a", 0, t0)}},
			phase: corev1.PodRunning, ready: corev1.ConditionTrue},
		{name: "exit 0 with Never succeeds", pod: testPod(corev1.RestartPolicyNever, "a"), runs: map[string][]runtime.Run{"a": {exited("a", 0, 0, t0)}},
			phase: corev1.PodSucceeded, terminate: "Completed", ready: corev1.ConditionFalse},
		{name: "exit 1 with Never fails", pod: testPod(corev1.RestartPolicyNever, "a"), runs: map[string][]runtime.Run{"a": {exited("a", 0, 1, t0)}},
			phase: corev1.PodFailed, terminate: "Error", ready: corev1.ConditionFalse},
		{name: "one of two done stays Running", pod: testPod(corev1.RestartPolicyNever, "a", "b"),
			runs:  map[string][]runtime.Run{"a": {exited("a", 0, 0, t0)}, "b": {running("b", 0, t0)}},
			phase: corev1.PodRunning, terminate: "Completed", ready: corev1.ConditionFalse},
		{name: "first failure with OnFailure restarts at once", pod: testPod(corev1.RestartPolicyOnFailure, "a"),
			runs:  map[string][]runtime.Run{"a": {exited("a", 0, 1, t0)}},
			start: []string{"a"}, phase: corev1.PodRunning, terminate: "Error", ready: corev1.ConditionFalse},
		{name: "second failure is first reported as ended", pod: testPod(corev1.RestartPolicyOnFailure, "a"),
			runs:  map[string][]runtime.Run{"a": {exited("a", 0, 1, t0.Add(-5*time.Second)), exited("a", 1, 1, t0.Add(-3*time.Second))}},
			phase: corev1.PodRunning, terminate: "Error", ready: corev1.ConditionFalse, requeue: 7 * time.Second},
		{name: "then backs off 10s", pod: shownEndedPod(testPod(corev1.RestartPolicyOnFailure, "a"), "a", 1),
			runs:  map[string][]runtime.Run{"a": {exited("a", 0, 1, t0.Add(-5*time.Second)), exited("a", 1, 1, t0.Add(-3*time.Second))}},
			phase: corev1.PodRunning, waiting: "CrashLoopBackOff", ready: corev1.ConditionFalse, requeue: 7 * time.Second},
		{name: "restart rule: exit 42 restarts in place under Never", pod: withRules(testPod(corev1.RestartPolicyNever, "a"), nil, corev1.ContainerRestartRuleOnExitCodesOpIn, 42),
			runs:  map[string][]runtime.Run{"a": {exited("a", 0, 42, t0)}},
			start: []string{"a"}, phase: corev1.PodRunning, terminate: "Error", ready: corev1.ConditionFalse},
		{name: "restart rule: another exit code falls back to Never", pod: withRules(testPod(corev1.RestartPolicyNever, "a"), nil, corev1.ContainerRestartRuleOnExitCodesOpIn, 42),
			runs:  map[string][]runtime.Run{"a": {exited("a", 0, 1, t0)}},
			phase: corev1.PodFailed, terminate: "Error", ready: corev1.ConditionFalse},
		{name: "restart rule NotIn: any code but 0 restarts", pod: withRules(testPod(corev1.RestartPolicyNever, "a"), nil, corev1.ContainerRestartRuleOnExitCodesOpNotIn, 0),
			runs:  map[string][]runtime.Run{"a": {exited("a", 0, 3, t0)}},
			start: []string{"a"}, phase: corev1.PodRunning, terminate: "Error", ready: corev1.ConditionFalse},
		{name: "container restartPolicy Never overrides the pod's OnFailure", pod: withRules(testPod(corev1.RestartPolicyOnFailure, "a"), ptr.To(corev1.ContainerRestartPolicyNever), corev1.ContainerRestartRuleOnExitCodesOpIn, 42),
			runs:  map[string][]runtime.Run{"a": {exited("a", 0, 1, t0)}},
			phase: corev1.PodFailed, terminate: "Error", ready: corev1.ConditionFalse},
		{name: "exit 0 with OnFailure succeeds", pod: testPod(corev1.RestartPolicyOnFailure, "a"),
			runs:  map[string][]runtime.Run{"a": {exited("a", 0, 1, t0.Add(-5*time.Second)), exited("a", 1, 0, t0)}},
			phase: corev1.PodSucceeded, terminate: "Completed", ready: corev1.ConditionFalse},
		{name: "init container runs first", pod: withInit, start: []string{"init"}, phase: corev1.PodPending, waiting: "PodInitializing", ready: corev1.ConditionFalse},
		{name: "app starts after init succeeded", pod: withInit, runs: map[string][]runtime.Run{"init": {exited("init", 0, 0, t0)}},
			start: []string{"app"}, phase: corev1.PodPending, waiting: "ContainerCreating", ready: corev1.ConditionFalse},
		{name: "failed init with Never fails the pod", pod: withInit, runs: map[string][]runtime.Run{"init": {exited("init", 0, 2, t0)}},
			phase: corev1.PodFailed, waiting: "PodInitializing", ready: corev1.ConditionFalse},
		{name: "sidecar starts before the app", pod: withSidecar, start: []string{"side"}, phase: corev1.PodPending, waiting: "PodInitializing", ready: corev1.ConditionFalse},
		{name: "app starts once the sidecar runs", pod: withSidecar, runs: map[string][]runtime.Run{"side": {running("side", 0, t0)}},
			start: []string{"app"}, phase: corev1.PodPending, waiting: "ContainerCreating", ready: corev1.ConditionFalse},
		{name: "sidecar is stopped when the app is done", pod: withSidecar,
			runs: map[string][]runtime.Run{"side": {running("side", 0, t0)}, "app": {exited("app", 0, 0, t0)}},
			kill: []string{"side"}, phase: corev1.PodRunning, terminate: "Completed", ready: corev1.ConditionFalse},
		{name: "pod succeeds once the sidecar stopped", pod: withSidecar,
			runs:  map[string][]runtime.Run{"side": {exited("side", 0, 137, t0)}, "app": {exited("app", 0, 0, t0)}},
			phase: corev1.PodSucceeded, terminate: "Completed", ready: corev1.ConditionFalse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Decide(Observed{Pod: tt.pod, Runs: tt.runs, Now: t0, HostIP: "10.0.0.1"})
			if strings.Join(p.Start, ",") != strings.Join(tt.start, ",") {
				t.Errorf("start = %v, want %v", p.Start, tt.start)
			}
			var kills []string
			for _, k := range p.Kill {
				kills = append(kills, k.Container)
			}
			if strings.Join(kills, ",") != strings.Join(tt.kill, ",") {
				t.Errorf("kill = %v, want %v", kills, tt.kill)
			}
			s := p.Status
			if s.Phase != tt.phase {
				t.Errorf("phase = %s, want %s", s.Phase, tt.phase)
			}
			cs := s.ContainerStatuses[0]
			if tt.waiting != "" && (cs.State.Waiting == nil || cs.State.Waiting.Reason != tt.waiting) {
				t.Errorf("state = %+v, want waiting %s", cs.State, tt.waiting)
			}
			if tt.terminate != "" && (cs.State.Terminated == nil || cs.State.Terminated.Reason != tt.terminate) {
				t.Errorf("state = %+v, want terminated %s", cs.State, tt.terminate)
			}
			if got := cond(s, corev1.PodReady).Status; got != tt.ready {
				t.Errorf("Ready = %s, want %s", got, tt.ready)
			}
			if p.Requeue != tt.requeue {
				t.Errorf("requeue = %v, want %v", p.Requeue, tt.requeue)
			}
			if s.HostIP != "10.0.0.1" || s.PodIP != "10.0.0.1" || s.StartTime == nil {
				t.Errorf("addresses/start time not set: %+v", s)
			}
		})
	}
}

// shownEndedPod is pod whose status shows attempt of container c ended, as
// the agent's previous look wrote it.
func shownEndedPod(pod *corev1.Pod, c string, attempt int) *corev1.Pod {
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: c, ContainerID: ContainerID(runtime.ID{Pod: "uid", Container: c, Attempt: attempt}),
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}}
	return pod
}

func TestCrashLoopStatusAndEvent(t *testing.T) {
	pod := shownEndedPod(testPod(corev1.RestartPolicyOnFailure, "a"), "a", 1)
	runs := map[string][]runtime.Run{"a": {exited("a", 0, 1, t0.Add(-20*time.Second)), exited("a", 1, 1, t0.Add(-2*time.Second))}}
	p := Decide(Observed{Pod: pod, Runs: runs, Now: t0})
	cs := p.Status.ContainerStatuses[0]
	if cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 1 {
		t.Fatalf("status = %+v", cs)
	}
	if want := "back-off 10s restarting failed container=a pod=p_ns(uid)"; cs.State.Waiting.Message != want {
		t.Fatalf("message = %q, want %q", cs.State.Waiting.Message, want)
	}
	if len(p.Events) != 1 || p.Events[0].Reason != "BackOff" || p.Events[0].Message != "Back-off restarting failed container a in pod p_ns(uid)" {
		t.Fatalf("events = %+v", p.Events)
	}
}

func TestRestartBackoffDoublesToFiveMinutesAndResets(t *testing.T) {
	var runs []runtime.Run
	at := t0
	var delays []time.Duration
	for i := 0; i < 8; i++ {
		runs = append(runs, exited("a", i, 1, at))
		_, d := restartBackoff(runs, at)
		delays = append(delays, d)
		at = at.Add(d + time.Second)
	}
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays = %v, want %v", delays, want)
		}
	}
	// A run that ends more than 10 minutes after the last back-off starts over.
	runs = append(runs, exited("a", 8, 1, at.Add(11*time.Minute)))
	if wait, _ := restartBackoff(runs, at.Add(11*time.Minute)); wait != 0 {
		t.Fatalf("wait after reset = %v, want 0", wait)
	}
}

func TestDeletionStopsThenRemoves(t *testing.T) {
	pod := testPod(corev1.RestartPolicyNever, "a")
	now := metav1.NewTime(t0)
	grace := int64(5)
	pod.DeletionTimestamp, pod.DeletionGracePeriodSeconds = &now, &grace
	p := Decide(Observed{Pod: pod, Runs: map[string][]runtime.Run{"a": {running("a", 0, t0)}}, Now: t0})
	if len(p.Kill) != 1 || p.Kill[0].Grace != 5*time.Second || p.Remove {
		t.Fatalf("plan = %+v", p)
	}
	p = Decide(Observed{Pod: pod, Runs: map[string][]runtime.Run{"a": {exited("a", 0, 143, t0)}}, Now: t0})
	if len(p.Kill) != 0 || !p.Remove || p.Status.Phase != corev1.PodFailed {
		t.Fatalf("plan = %+v", p)
	}
}

func TestActiveDeadlineFailsThePod(t *testing.T) {
	pod := testPod(corev1.RestartPolicyNever, "a")
	ads := int64(10)
	pod.Spec.ActiveDeadlineSeconds = &ads
	start := metav1.NewTime(t0)
	pod.Status.StartTime = &start
	p := Decide(Observed{Pod: pod, Runs: map[string][]runtime.Run{"a": {running("a", 0, t0)}}, Now: t0.Add(5 * time.Second)})
	if len(p.Kill) != 0 || p.Requeue != 5*time.Second {
		t.Fatalf("before the deadline: %+v", p)
	}
	p = Decide(Observed{Pod: pod, Runs: map[string][]runtime.Run{"a": {running("a", 0, t0)}}, Now: t0.Add(10 * time.Second)})
	if len(p.Kill) != 1 || len(p.Events) != 1 || p.Events[0].Reason != "DeadlineExceeded" {
		t.Fatalf("at the deadline: %+v", p)
	}
	p = Decide(Observed{Pod: pod, Runs: map[string][]runtime.Run{"a": {exited("a", 0, 137, t0.Add(10*time.Second))}}, Now: t0.Add(11 * time.Second)})
	if p.Status.Phase != corev1.PodFailed || p.Status.Reason != "DeadlineExceeded" || p.Status.Message != "Pod was active on the node longer than the specified deadline" {
		t.Fatalf("after: %+v", p.Status)
	}
}

func TestTerminalPhaseIsFinal(t *testing.T) {
	pod := testPod(corev1.RestartPolicyOnFailure, "a")
	pod.Status.Phase = corev1.PodSucceeded
	p := Decide(Observed{Pod: pod, Runs: map[string][]runtime.Run{"a": {exited("a", 0, 1, t0)}}, Now: t0})
	if len(p.Start) != 0 || p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("plan = %+v", p)
	}
}

func TestConfigErrorWaitsAndRetries(t *testing.T) {
	pod := testPod(corev1.RestartPolicyNever, "a")
	errs := map[string]Waiting{"a": {Reason: "CreateContainerConfigError", Message: `configmap "cfg" not found`, At: t0}}
	p := Decide(Observed{Pod: pod, StartErrors: errs, Now: t0.Add(time.Second)})
	w := p.Status.ContainerStatuses[0].State.Waiting
	if len(p.Start) != 0 || w == nil || w.Reason != "CreateContainerConfigError" || w.Message != `configmap "cfg" not found` || p.Requeue != 9*time.Second {
		t.Fatalf("plan = %+v", p)
	}
	if p = Decide(Observed{Pod: pod, StartErrors: errs, Now: t0.Add(10 * time.Second)}); len(p.Start) != 1 {
		t.Fatalf("not retried: %+v", p)
	}
}

func TestHostsFileNamesThePodWithItsSubdomain(t *testing.T) {
	pod := testPod(corev1.RestartPolicyNever, "a")
	pod.Spec.Hostname, pod.Spec.Subdomain = "worker-0", "workers"
	got := hostsFile(pod, "10.0.0.7", nil)
	if !strings.HasSuffix(got, "10.0.0.7\tworker-0.workers.ns.svc.cluster.local\tworker-0\n") || !strings.Contains(got, "127.0.0.1\tlocalhost\n") {
		t.Fatalf("hosts file:\n%s", got)
	}
	// Its peers under the headless Service, by the names DNS would answer.
	got = hostsFile(pod, "10.0.0.7", []string{"worker-0", "worker-1"})
	if !strings.HasSuffix(got, "10.0.0.7\tworker-0.workers.ns.svc.cluster.local\tworker-0\n10.0.0.7\tworker-0.workers.ns.svc.cluster.local\tworker-0.workers\n10.0.0.7\tworker-1.workers.ns.svc.cluster.local\tworker-1.workers\n") {
		t.Fatalf("hosts file with peers:\n%s", got)
	}
	pod.Spec.Hostname, pod.Spec.Subdomain = "", ""
	if got := hostsFile(pod, "10.0.0.7", nil); !strings.HasSuffix(got, "10.0.0.7\tp\n") {
		t.Fatalf("hosts file:\n%s", got)
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "1", "B": "two"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for in, want := range map[string]string{
		"$(A)":        "1",
		"x$(A)y$(B)z": "x1ytwoz",
		"$$(A)":       "$(A)",
		"$(MISSING)":  "$(MISSING)",
		"$A $":        "$A $",
		"$(A":         "$(A",
		"$$$(B)":      "$two",
		"no refs":     "no refs",
		"$()":         "$()",
	} {
		if got := Expand(in, lookup); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}
