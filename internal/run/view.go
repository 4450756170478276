package run

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"

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

// Progress renders one aligned line per Job: NAME, STATUS, COMPLETIONS,
// ACTIVE, FAILED, ELAPSED.
func Progress(jobs []*batchv1.Job, now time.Time) []string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATUS\tCOMPLETIONS\tACTIVE\tFAILED\tELAPSED")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", name(j), jobtable.Status(j), jobtable.Completions(j), j.Status.Active, j.Status.Failed,
			duration.HumanDuration(elapsed(j, now)))
	}
	tw.Flush()
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
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
// reason of every failed Job.
func Summary(jobs []*batchv1.Job, now time.Time) string {
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
	}
	return b.String()
}

func name(j *batchv1.Job) string {
	if j.Namespace == "" || j.Namespace == "default" {
		return "job/" + j.Name
	}
	return j.Namespace + "/job/" + j.Name
}
