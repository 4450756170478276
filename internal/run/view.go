package run

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	jobtable "github.com/batchd/batchd/internal/apiserver/registry/job"
)

// Exit codes of `batchd run`.
const (
	ExitOK        = 0
	ExitFailed    = 1
	ExitBadInput  = 2
	ExitInterrupt = 130
)

// Finished returns the terminal condition of a Job, if any.
func Finished(j *batchv1.Job) (*batchv1.JobCondition, bool) {
	for i := range j.Status.Conditions {
		c := &j.Status.Conditions[i]
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c, true
		}
	}
	return nil, false
}

// ExitCode is the outcome of followed Jobs once all have finished: 1 if any
// failed, else 0.
func ExitCode(jobs []*batchv1.Job) int {
	for _, j := range jobs {
		if c, ok := Finished(j); ok && c.Type == batchv1.JobFailed {
			return ExitFailed
		}
	}
	return ExitOK
}

// elapsed is how long a Job has run: from its creation to its completion
// (or to now).
func elapsed(j *batchv1.Job, now time.Time) time.Duration {
	end := now
	if c, ok := Finished(j); ok {
		end = c.LastTransitionTime.Time
	}
	return max(end.Sub(j.CreationTimestamp.Time), 0)
}

// SortJobs orders Jobs as the progress table shows them: oldest first, then
// by namespace and name, so that rows keep their places between redraws.
func SortJobs(jobs []*batchv1.Job) {
	sort.SliceStable(jobs, func(a, b int) bool {
		x, y := jobs[a], jobs[b]
		if !x.CreationTimestamp.Equal(&y.CreationTimestamp) {
			return x.CreationTimestamp.Before(&y.CreationTimestamp)
		}
		if x.Namespace != y.Namespace {
			return x.Namespace < y.Namespace
		}
		return x.Name < y.Name
	})
}

// Problem is why pods of a Job cannot start or keep running, in the
// kubelet's and scheduler's words: a waiting reason and its message, a
// container that failed to start, or a pod that cannot be scheduled.
type Problem struct {
	// Pod is the first pod that has it; Others counts more pods with the
	// same reason and message.
	Pod     string
	Others  int
	Reason  string
	Message string
}

func (p Problem) String() string {
	who := "pod/" + p.Pod
	if p.Others > 0 {
		who += fmt.Sprintf(" (and %d more)", p.Others)
	}
	if p.Message == "" {
		return who + ": " + p.Reason
	}
	return who + ": " + p.Reason + ": " + p.Message
}

// normalWaiting are the waiting reasons of a pod that is on its way.
var normalWaiting = map[string]bool{"": true, "ContainerCreating": true, "PodInitializing": true}

// Problems lists what keeps the unfinished pods of Job j from running, one
// entry per distinct reason and message, in pod order.
func Problems(j *batchv1.Job, pods []*corev1.Pod) []Problem {
	var out []Problem
	seen := map[[2]string]int{}
	add := func(pod, reason, msg string) {
		k := [2]string{reason, msg}
		if i, ok := seen[k]; ok {
			out[i].Others++
			return
		}
		seen[k] = len(out)
		out = append(out, Problem{Pod: pod, Reason: reason, Message: msg})
	}
	sorted := append([]*corev1.Pod(nil), pods...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a].Name < sorted[b].Name })
	for _, p := range sorted {
		if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != j.UID {
			continue
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				add(p.Name, c.Reason, c.Message)
			}
		}
		for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
			for _, cs := range list {
				if r, m, ok := containerProblem(cs); ok {
					add(p.Name, r, m)
				}
			}
		}
	}
	return out
}

// Progressing tells whether a pod of Job j runs a container or succeeded:
// earlier problems are over then. (Pods that stop or go when a Job fails
// show no problem either, but that does not make one go away.)
func Progressing(j *batchv1.Job, pods []*corev1.Pod) bool {
	for _, p := range pods {
		if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != j.UID || p.DeletionTimestamp != nil {
			continue
		}
		if p.Status.Phase == corev1.PodSucceeded {
			return true
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Running != nil {
				return true
			}
		}
	}
	return false
}

// containerProblem is the reason a container is not running, if it is not
// merely on its way: a waiting reason (CreateContainerConfigError,
// ImagePullBackOff, CrashLoopBackOff…) or a start that failed (StartError).
// A container backing off after a failed start is reported by its start
// error, which says what to fix.
func containerProblem(cs corev1.ContainerStatus) (reason, msg string, ok bool) {
	startError := func(t *corev1.ContainerStateTerminated) bool { return t != nil && t.Reason == "StartError" }
	switch {
	case startError(cs.State.Terminated):
		return cs.State.Terminated.Reason, cs.State.Terminated.Message, true
	case cs.State.Waiting != nil && startError(cs.LastTerminationState.Terminated):
		return cs.LastTerminationState.Terminated.Reason, cs.LastTerminationState.Terminated.Message, true
	case cs.State.Waiting != nil && !normalWaiting[cs.State.Waiting.Reason]:
		return cs.State.Waiting.Reason, cs.State.Waiting.Message, true
	}
	return "", "", false
}

// Progress renders one aligned line per Job: NAME, STATUS, COMPLETIONS,
// ACTIVE, FAILED, ELAPSED; under a Job, one indented line per problem of
// its pods (problems is keyed by Job UID).
func Progress(jobs []*batchv1.Job, problems map[string][]Problem, now time.Time) []string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATUS\tCOMPLETIONS\tACTIVE\tFAILED\tELAPSED")
	var under [][]string
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", name(j), jobtable.Status(j), jobtable.Completions(j), j.Status.Active, j.Status.Failed,
			duration.HumanDuration(elapsed(j, now)))
		var lines []string
		if _, done := Finished(j); !done {
			for _, p := range problems[string(j.UID)] {
				lines = append(lines, "  "+p.String())
			}
		}
		under = append(under, lines)
	}
	tw.Flush()
	rows := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	out := []string{rows[0]}
	for i, r := range rows[1:] {
		out = append(out, r)
		out = append(out, under[i]...)
	}
	return out
}

// Line is the plain (non-terminal) progress line of a Job, without time, so
// that a caller prints it only when it changes.
func Line(j *batchv1.Job) string {
	s := fmt.Sprintf("%s: %s, %s completions, %d active, %d failed", name(j), jobtable.Status(j), jobtable.Completions(j), j.Status.Active, j.Status.Failed)
	if c, ok := Finished(j); ok && c.Type == batchv1.JobFailed {
		s += fmt.Sprintf(" (%s: %s)", c.Reason, c.Message)
	}
	return s
}

// Summary renders the closing table, as `kubectl get jobs` would, plus the
// reason of every failed Job and the last problems seen with the pods of
// every Job that did not complete (keyed by Job UID).
func Summary(jobs []*batchv1.Job, problems map[string][]Problem, now time.Time) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tCOMPLETIONS\tDURATION")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name(j), jobtable.Status(j), jobtable.Completions(j), jobtable.Duration(j, now))
	}
	tw.Flush()
	for _, j := range jobs {
		if c, ok := Finished(j); ok && c.Type == batchv1.JobFailed {
			fmt.Fprintf(&b, "job/%s failed: %s: %s\n", j.Name, c.Reason, c.Message)
		}
		if c, ok := Finished(j); ok && c.Type == batchv1.JobComplete {
			continue
		}
		for _, p := range problems[string(j.UID)] {
			fmt.Fprintf(&b, "job/%s: %s\n", j.Name, p)
		}
	}
	return b.String()
}

func name(j *batchv1.Job) string {
	if j.Namespace == "" || j.Namespace == "default" {
		return "job/" + j.Name
	}
	return j.Namespace + "/job/" + j.Name
}

// Run is one run (attempt) of one container of a pod.
type Run struct {
	Pod       types.UID
	Container string
	Attempt   int32
	// Previous: the run is the container's last one, not its current one
	// (kubectl logs --previous).
	Previous bool
	ExitCode int32
	// Reason and Message are the run's termination reason (Error,
	// StartError, OOMKilled…) and message.
	Reason, Message string
}

// Header is the line that introduces a failed run's last log lines.
func (r Run) Header(pod string) string {
	s := fmt.Sprintf("last lines of pod/%s container %s (exit code %d", pod, r.Container, r.ExitCode)
	if r.Reason != "" {
		s += ", " + r.Reason
	}
	if r.Message != "" {
		s += ": " + r.Message
	}
	return s + ")"
}

func (r Run) key() string { return fmt.Sprintf("%s/%s/%d", r.Pod, r.Container, r.Attempt) }

// FailedRuns are the runs of pod p's containers that failed as p's status
// last showed it: the current run if it ended badly, else the one before a
// restart. A container counts once, its latest failed run.
func FailedRuns(p *corev1.Pod) []Run {
	var out []Run
	failed := func(t *corev1.ContainerStateTerminated) bool {
		return t != nil && (t.ExitCode != 0 || t.Reason == "StartError")
	}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			switch t, last := cs.State.Terminated, cs.LastTerminationState.Terminated; {
			case failed(t):
				out = append(out, Run{Pod: p.UID, Container: cs.Name, Attempt: cs.RestartCount, ExitCode: t.ExitCode, Reason: t.Reason, Message: t.Message})
			case failed(last) && cs.RestartCount > 0:
				out = append(out, Run{Pod: p.UID, Container: cs.Name, Attempt: cs.RestartCount - 1, Previous: true,
					ExitCode: last.ExitCode, Reason: last.Reason, Message: last.Message})
			}
		}
	}
	return out
}
