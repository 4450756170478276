package run

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func testJob(name string, cond batchv1.JobConditionType, reason string) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.NewTime(t0)},
		Spec: batchv1.JobSpec{Completions: ptr.To[int32](3)}}
	j.Status.StartTime = &metav1.Time{Time: t0}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, Reason: reason, Message: "msg of " + reason,
			LastTransitionTime: metav1.NewTime(t0.Add(90 * time.Second))}}
		if cond == batchv1.JobComplete {
			j.Status.Succeeded = 3
			j.Status.CompletionTime = &metav1.Time{Time: t0.Add(90 * time.Second)}
		}
	}
	return j
}

func TestExitCode(t *testing.T) {
	ok, failed := testJob("a", batchv1.JobComplete, "CompletionsReached"), testJob("b", batchv1.JobFailed, "BackoffLimitExceeded")
	if ExitCode([]*batchv1.Job{ok}) != ExitOK || ExitCode([]*batchv1.Job{ok, failed}) != ExitFailed {
		t.Error("exit codes")
	}
}

func TestProgressAndSummary(t *testing.T) {
	running := testJob("work", "", "")
	running.Status.Active, running.Status.Failed = 2, 1
	done := testJob("pi", batchv1.JobComplete, "CompletionsReached")
	running.UID, done.UID = "u-work", "u-pi"
	problems := map[string][]Problem{
		"u-work": {{Pod: "work-abc", Others: 1, Reason: "StartError", Message: `exec: "python": executable file not found in $PATH`}},
		"u-pi":   {{Pod: "pi-x", Reason: "ImagePullBackOff"}}, // a finished Job shows none
	}
	lines := Progress([]*batchv1.Job{running, done}, problems, t0.Add(5*time.Minute))
	want := []string{
		"JOB        STATUS     COMPLETIONS   ACTIVE   FAILED   ELAPSED",
		"job/work   Running    0/3           2        1        5m",
		`  pod/work-abc (and 1 more): StartError: exec: "python": executable file not found in $PATH`,
		"job/pi     Complete   3/3           0        0        90s",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("progress:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	failed := testJob("bad", batchv1.JobFailed, "DeadlineExceeded")
	if l := Line(failed); l != "job/bad: Failed, 0/3 completions, 0 active, 0 failed (DeadlineExceeded: msg of DeadlineExceeded)" {
		t.Errorf("line %q", l)
	}
	failed.UID = "u-bad"
	problems["u-bad"] = []Problem{{Pod: "bad-1", Reason: "Unschedulable", Message: "0/1 nodes are available: 1 Insufficient cpu."}}
	s := Summary([]*batchv1.Job{done, failed}, problems, t0.Add(5*time.Minute))
	for _, want := range []string{"job/pi    Complete   3/3           90s", "job/bad failed: DeadlineExceeded: msg of DeadlineExceeded",
		"job/bad: pod/bad-1: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu."} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "ImagePullBackOff") {
		t.Errorf("summary shows a completed Job's old problem:\n%s", s)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: c}\n")
	write("a.json", `{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}}`)
	write("notes.txt", "ignored")
	objs, err := Load([]string{dir, "-"}, strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stdin}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	if strings.Join(names, " ") != "Secret/a ConfigMap/b Job/c ConfigMap/stdin" {
		t.Errorf("loaded %v", names)
	}
	for _, c := range []struct{ input, want string }{
		{"kind: Job\n  x: : y", "error parsing -"},
		{"metadata: {name: x}\n", `error validating "-": error validating data: [apiVersion not set, kind not set]`},
		{"", "no objects passed to run"},
	} {
		_, err := Load([]string{"-"}, strings.NewReader(c.input))
		var in InputError
		if !errors.As(err, &in) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want an InputError with %q", c.input, err, c.want)
		}
	}
	if _, err := Load([]string{filepath.Join(dir, "missing.yaml")}, nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}
}

func TestProblems(t *testing.T) {
	job := testJob("j", "", "")
	job.UID = "job-uid"
	owned := func(name string, status corev1.PodStatus) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: []metav1.OwnerReference{
			{UID: "job-uid", Controller: ptr.To(true)}}}, Status: status}
	}
	waiting := func(reason, msg string) corev1.PodStatus {
		return corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "c", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}}}
	}
	startErr := &corev1.ContainerStateTerminated{Reason: "StartError", ExitCode: 128, Message: `exec: "python": executable file not found in $PATH`}
	pods := []*corev1.Pod{
		owned("j-c", waiting("CreateContainerConfigError", "container has no command")),
		owned("j-a", waiting("ContainerCreating", "")),
		owned("j-b", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "c",
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 10s"}},
			LastTerminationState: corev1.ContainerState{Terminated: startErr}, RestartCount: 1}}}),
		owned("j-d", corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "c",
			State: corev1.ContainerState{Terminated: startErr}}}}), // finished: not a problem any more
		owned("j-e", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled,
			Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes are available: 1 Insufficient cpu."}}}),
		owned("j-f", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "c",
			State: corev1.ContainerState{Terminated: startErr}}}}),
		{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Status: waiting("ImagePullBackOff", "")},
	}
	var got []string
	for _, p := range Problems(job, pods) {
		got = append(got, p.String())
	}
	want := []string{
		`pod/j-b (and 1 more): StartError: exec: "python": executable file not found in $PATH`,
		"pod/j-c: CreateContainerConfigError: container has no command",
		"pod/j-e: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFailedRuns(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "p"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
		{Name: "ok", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}},
		{Name: "now", RestartCount: 2, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}}},
		{Name: "before", RestartCount: 4, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}},
	}}}
	got := FailedRuns(p)
	want := []Run{{Pod: "p", Container: "now", Attempt: 2, ExitCode: 3, Reason: "Error"},
		{Pod: "p", Container: "before", Attempt: 3, Previous: true, ExitCode: 1, Reason: "Error"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("failed runs %+v, want %+v", got, want)
	}
}

func TestSortJobsIsStable(t *testing.T) {
	a, b, c := testJob("b", "", ""), testJob("a", "", ""), testJob("c", "", "")
	c.CreationTimestamp = metav1.NewTime(t0.Add(-time.Second))
	jobs := []*batchv1.Job{a, b, c}
	SortJobs(jobs)
	if jobs[0].Name != "c" || jobs[1].Name != "a" || jobs[2].Name != "b" {
		t.Errorf("order %s %s %s, want c a b", jobs[0].Name, jobs[1].Name, jobs[2].Name)
	}
}

func TestRunHeader(t *testing.T) {
	r := Run{Container: "c", ExitCode: 128, Reason: "StartError", Message: `exec: "python": executable file not found in $PATH`}
	if h := r.Header("p"); h != `last lines of pod/p container c (exit code 128, StartError: exec: "python": executable file not found in $PATH)` {
		t.Errorf("header %q", h)
	}
}

func TestProgressing(t *testing.T) {
	job := testJob("j", "", "")
	job.UID = "job-uid"
	pod := func(status corev1.PodStatus, deleting bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{{UID: "job-uid", Controller: ptr.To(true)}}}, Status: status}
		if deleting {
			p.DeletionTimestamp = &metav1.Time{Time: t0}
		}
		return p
	}
	running := corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}
	for _, c := range []struct {
		name string
		pods []*corev1.Pod
		want bool
	}{
		{"none", nil, false},
		{"running", []*corev1.Pod{pod(running, false)}, true},
		{"succeeded", []*corev1.Pod{pod(corev1.PodStatus{Phase: corev1.PodSucceeded}, false)}, true},
		{"running but being deleted", []*corev1.Pod{pod(running, true)}, false},
		{"failed", []*corev1.Pod{pod(corev1.PodStatus{Phase: corev1.PodFailed}, false)}, false},
	} {
		if got := Progressing(job, c.pods); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// The nodes' ImageUnavailable events of the run's pods become one line per
// image; other pods' events and events from before the run are not told.
func TestImageNotesSayEachImageOnce(t *testing.T) {
	since := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "job"}}
	pod := func(name, uid string, owner types.UID) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid)}}
		if owner != "" {
			p.OwnerReferences = []metav1.OwnerReference{{Kind: "Job", Name: "x", UID: owner, Controller: ptr.To(true)}}
		}
		return p
	}
	ev := func(podName, uid, msg string, at time.Time) *corev1.Event {
		return &corev1.Event{Reason: "ImageUnavailable", Message: msg, LastTimestamp: metav1.NewTime(at),
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: podName, UID: types.UID(uid)}}
	}
	n := newImageNotes(since)
	n.add(ev("pi-a", "a", `image "perl:5.34.0" cannot be used: pull failed: no such host: running the container's command on this host instead (--default-runtime=auto)`, since.Add(time.Second)))
	n.add(ev("pi-b", "b", `image "perl:5.34.0" cannot be used: its last pull failed 1s ago: no such host: running …`, since.Add(2*time.Second)))
	n.add(ev("other", "o", `image "x:1" cannot be used: …`, since.Add(time.Second)))
	n.add(ev("pi-old", "a", `image "old:1" cannot be used: …`, since.Add(-time.Minute)))
	// pi-b is not listed yet: its event waits for the pod.
	lines := n.say([]*batchv1.Job{job}, []*corev1.Pod{pod("pi-a", "a", "job"), pod("other", "o", "")})
	want := `pod/pi-a: image "perl:5.34.0" cannot be used: pull failed: no such host: running the container's command on this host instead (--default-runtime=auto)`
	if len(lines) != 1 || lines[0] != want {
		t.Fatalf("lines %q", lines)
	}
	if lines := n.say([]*batchv1.Job{job}, []*corev1.Pod{pod("pi-a", "a", "job"), pod("pi-b", "b", "job")}); len(lines) != 0 {
		t.Fatalf("the same image again: %q", lines)
	}
}
