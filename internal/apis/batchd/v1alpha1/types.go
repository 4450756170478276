package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Outcome is how a run ended (or that it has not yet).
type Outcome string

const (
	// OutcomeRunning: the Job exists and has not finished.
	OutcomeRunning Outcome = "Running"
	// OutcomeSucceeded: the Job completed.
	OutcomeSucceeded Outcome = "Succeeded"
	// OutcomeFailed: the Job failed; reason is the Job's (BackoffLimitExceeded, DeadlineExceeded, ...).
	OutcomeFailed Outcome = "Failed"
	// OutcomeDeleted: the Job was deleted before it finished.
	OutcomeDeleted Outcome = "Deleted"
	// OutcomeSkipped: a CronJob slot came and started no Job; reason says why.
	OutcomeSkipped Outcome = "Skipped"
)

// Reasons of a Skipped run.
const (
	// SkipJobAlreadyActive: concurrencyPolicy Forbid and a run was active.
	SkipJobAlreadyActive = "JobAlreadyActive"
	// SkipSuspended: the CronJob was suspended.
	SkipSuspended = "Suspended"
	// SkipDeadlineExceeded: startingDeadlineSeconds passed before it could start.
	SkipDeadlineExceeded = "DeadlineExceeded"
	// SkipTooManyMissedTimes: more than 100 slots were missed at once.
	SkipTooManyMissedTimes = "TooManyMissedTimes"
	// SkipCatchUpNone: it came while the controller was down or the machine
	// asleep, and the catch-up policy is none.
	SkipCatchUpNone = "CatchUpNone"
	// SkipCatchUpLatest: a later slot came before it could start, and the
	// catch-up policy (latest, the default) runs only the most recent.
	SkipCatchUpLatest = "CatchUpLatest"
)

// Labels and annotations of JobRuns.
const (
	// CronJobNameLabel names the CronJob of a run (upstream's label name).
	CronJobNameLabel = "batch.kubernetes.io/cronjob-name"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// JobRun is the durable record of one run of a Job, or of one CronJob slot
// that started no Job. It is written by batchd's controllers and outlives the
// Job and its pods; users read it (`kubectl get runs`) and its logs (the
// jobruns/log subresource).
type JobRun struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata. The name is the Job's name (for a skipped
	// slot, the name its Job would have had).
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec identifies the run: its Job, CronJob and slot.
	// +optional
	Spec JobRunSpec `json:"spec,omitempty"`

	// Status is what happened: outcome, times, counts and every pod attempt.
	// +optional
	Status JobRunStatus `json:"status,omitempty"`
}

// JobRunSpec identifies a run.
type JobRunSpec struct {
	// JobName is the name of the Job this run records (empty for a skipped slot).
	// +optional
	JobName string `json:"jobName,omitempty"`
	// JobUID is the UID of the Job this run records (empty for a skipped slot).
	// +optional
	JobUID types.UID `json:"jobUID,omitempty"`
	// CronJobName is the CronJob that started (or skipped) the run.
	// +optional
	CronJobName string `json:"cronJobName,omitempty"`
	// CronJobUID is that CronJob's UID.
	// +optional
	CronJobUID types.UID `json:"cronJobUID,omitempty"`
	// ScheduledTime is the slot of a CronJob run (the Job's
	// batch.kubernetes.io/cronjob-scheduled-timestamp annotation).
	// +optional
	ScheduledTime *metav1.Time `json:"scheduledTime,omitempty"`
	// Completions is the Job's spec.completions.
	// +optional
	Completions *int32 `json:"completions,omitempty"`
	// Parallelism is the Job's spec.parallelism.
	// +optional
	Parallelism *int32 `json:"parallelism,omitempty"`
}

// JobRunStatus is what happened in a run.
type JobRunStatus struct {
	// Outcome is Running, Succeeded, Failed, Deleted (while running) or Skipped.
	// +optional
	Outcome Outcome `json:"outcome,omitempty"`
	// Reason is a CamelCase reason for a Failed (the Job's failure reason) or
	// Skipped outcome.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is a human-readable explanation of the outcome.
	// +optional
	Message string `json:"message,omitempty"`
	// CreationTime is when the Job was created (for a skipped slot, when the
	// skip was decided).
	// +optional
	CreationTime *metav1.Time `json:"creationTime,omitempty"`
	// StartTime is the Job's status.startTime.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CompletionTime is when the run ended: the Job's completionTime, the time
	// of its Failed condition, or when it was seen deleted.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
	// Succeeded is the Job's count of succeeded pods.
	// +optional
	Succeeded int32 `json:"succeeded,omitempty"`
	// Failed is the Job's count of failed pods.
	// +optional
	Failed int32 `json:"failed,omitempty"`
	// Attempts lists every container run of every pod of the Job, in order,
	// up to 500: beyond that, the earliest successful ones are left out
	// first (a record stays well within etcd's object size).
	// +optional
	// +listType=atomic
	Attempts []Attempt `json:"attempts,omitempty"`
	// OmittedAttempts counts the container runs left out of attempts.
	// +optional
	OmittedAttempts int32 `json:"omittedAttempts,omitempty"`
}

// Attempt is one run of one container of one pod of a Job.
type Attempt struct {
	// PodName is the pod's name.
	PodName string `json:"podName"`
	// PodUID is the pod's UID; logs are kept under it.
	// +optional
	PodUID types.UID `json:"podUID,omitempty"`
	// NodeName is the node that ran the pod.
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	// Index is the pod's completion index (Indexed Jobs).
	// +optional
	Index *int32 `json:"index,omitempty"`
	// Container is the container's name.
	Container string `json:"container"`
	// Attempt counts the container's runs in its pod from 0 (its restartCount
	// when it ran).
	Attempt int32 `json:"attempt"`
	// StartTime is when the container started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// FinishTime is when it ended; unset while it runs.
	// +optional
	FinishTime *metav1.Time `json:"finishTime,omitempty"`
	// ExitCode is the container's exit code; unset while it runs.
	// +optional
	ExitCode *int32 `json:"exitCode,omitempty"`
	// Signal is the signal that ended it, if any.
	// +optional
	Signal int32 `json:"signal,omitempty"`
	// Reason is the termination reason (Completed, Error, OOMKilled,
	// StartError, ...).
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is the termination message.
	// +optional
	Message string `json:"message,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// JobRunList is a list of JobRuns.
type JobRunList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the runs.
	Items []JobRun `json:"items"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// JobRunLogOptions are the query parameters of jobruns/log.
type JobRunLogOptions struct {
	metav1.TypeMeta `json:",inline"`
	// Pod chooses among the run's pods (default: that of the chosen attempt).
	// +optional
	Pod string `json:"pod,omitempty"`
	// Container chooses the container (default: the pod's only or first one).
	// +optional
	Container string `json:"container,omitempty"`
	// Attempt chooses the container's run, from 0 (default: the last failed
	// attempt, else the last one).
	// +optional
	Attempt *int32 `json:"attempt,omitempty"`
	// TailLines shows only that many lines from the end.
	// +optional
	TailLines *int64 `json:"tailLines,omitempty"`
	// Timestamps prefixes each line with its RFC3339 time.
	// +optional
	Timestamps bool `json:"timestamps,omitempty"`
}
