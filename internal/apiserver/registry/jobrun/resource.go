// Package jobrun serves batchd.dev/v1alpha1 JobRuns (short name runs): the
// durable records of Jobs' runs and skipped CronJob slots that the history
// controller writes, with a table for `kubectl get runs` and the jobruns/log
// subresource, which reads the logs the node kept (internal/history).
//
// Users only read them: the API server's authorizer (apiserver/jobruns.go)
// lets only the server's own controllers write.
package jobrun

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
	"github.com/batchd/batchd/internal/apiserver/registry"
)

// Resource is jobruns.batchd.dev, namespaced, stored as JSON, with the
// jobruns/log subresource served from logs.
func Resource(logs LogSource) registry.Resource {
	return registry.Resource{
		Resource: v1alpha1.Resource("jobruns"), Version: v1alpha1.SchemeGroupVersion.Version, Singular: "jobrun",
		Namespaced: true, ShortNames: []string{"runs", "run"}, Categories: []string{"batchd"},
		New:     func() runtime.Object { return &v1alpha1.JobRun{} },
		NewList: func() runtime.Object { return &v1alpha1.JobRunList{} },
		Funcs: registry.Funcs{
			Validate: func(obj runtime.Object) field.ErrorList { return validate(obj.(*v1alpha1.JobRun)) },
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				errs := validate(obj.(*v1alpha1.JobRun))
				o, n := old.(*v1alpha1.JobRun), obj.(*v1alpha1.JobRun)
				if o.Spec.JobUID != "" && n.Spec.JobUID != o.Spec.JobUID && o.Status.Outcome != v1alpha1.OutcomeSkipped {
					errs = append(errs, field.Invalid(field.NewPath("spec", "jobUID"), n.Spec.JobUID, "field is immutable"))
				}
				return errs
			},
		},
		Fields: func(obj runtime.Object) fields.Set {
			r := obj.(*v1alpha1.JobRun)
			return fields.Set{"spec.cronJobName": r.Spec.CronJobName, "spec.jobName": r.Spec.JobName, "status.outcome": string(r.Status.Outcome)}
		},
		Table:          Table(),
		StorageOptions: storedAsJSON,
		REST:           newREST(logs),
	}
}

func validate(r *v1alpha1.JobRun) field.ErrorList {
	var errs field.ErrorList
	switch r.Status.Outcome {
	case "", v1alpha1.OutcomeRunning, v1alpha1.OutcomeSucceeded, v1alpha1.OutcomeFailed, v1alpha1.OutcomeDeleted, v1alpha1.OutcomeSkipped:
	default:
		errs = append(errs, field.NotSupported(field.NewPath("status", "outcome"), r.Status.Outcome,
			[]string{"Running", "Succeeded", "Failed", "Deleted", "Skipped"}))
	}
	for i, a := range r.Status.Attempts {
		p := field.NewPath("status", "attempts").Index(i)
		if a.PodName == "" {
			errs = append(errs, field.Required(p.Child("podName"), ""))
		}
		if a.Container == "" {
			errs = append(errs, field.Required(p.Child("container"), ""))
		}
		if a.Attempt < 0 {
			errs = append(errs, field.Invalid(p.Child("attempt"), a.Attempt, "must be greater than or equal to 0"))
		}
	}
	return errs
}

// Table is the `kubectl get runs` columns.
func Table() *registry.Table {
	return &registry.Table{
		Columns: []metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("CronJob", "string", "", "The CronJob that started or skipped the run.", false),
			registry.Column("Outcome", "string", "", "Running, Succeeded, Failed, Deleted (while running) or Skipped, with the reason of a failure or skip.", false),
			registry.Column("Completions", "string", "", "Succeeded pods of the completions the Job asked for.", false),
			registry.Column("Scheduled", "string", "", "How long ago the CronJob slot of the run was.", false),
			registry.Column("Duration", "string", "", "Time from the Job's start to its end (or to now, while it runs).", false),
			registry.AgeColumn(),
			registry.Column("Job-UID", "string", "", "The UID of the recorded Job.", true),
			registry.Column("Attempts", "integer", "", "Container runs recorded.", true),
		},
		Row: func(obj runtime.Object, now time.Time) ([]any, error) {
			r, ok := obj.(*v1alpha1.JobRun)
			if !ok {
				return nil, fmt.Errorf("unexpected %T", obj)
			}
			cron := r.Spec.CronJobName
			if cron == "" {
				cron = "<none>"
			}
			scheduled := "<none>"
			if r.Spec.ScheduledTime != nil {
				scheduled = registry.Age(*r.Spec.ScheduledTime, now)
			}
			uid := string(r.Spec.JobUID)
			if uid == "" {
				uid = "<none>"
			}
			return []any{r.Name, cron, Outcome(r), Completions(r), scheduled, Duration(r, now), registry.Age(r.CreationTimestamp, now), uid, int64(len(r.Status.Attempts))}, nil
		},
	}
}

// Outcome is the OUTCOME column: the outcome, with its reason for Failed and Skipped.
func Outcome(r *v1alpha1.JobRun) string {
	o := string(r.Status.Outcome)
	if o == "" {
		o = string(v1alpha1.OutcomeRunning)
	}
	if r.Status.Reason != "" && (r.Status.Outcome == v1alpha1.OutcomeFailed || r.Status.Outcome == v1alpha1.OutcomeSkipped) {
		o += " (" + r.Status.Reason + ")"
	}
	return o
}

// Completions is the COMPLETIONS column, as kubectl get jobs prints it.
func Completions(r *v1alpha1.JobRun) string {
	if r.Status.Outcome == v1alpha1.OutcomeSkipped {
		return "-"
	}
	want := "1"
	if r.Spec.Completions != nil {
		want = fmt.Sprint(*r.Spec.Completions)
	} else if r.Spec.Parallelism != nil && *r.Spec.Parallelism > 1 {
		want = "1 of " + fmt.Sprint(*r.Spec.Parallelism)
	}
	return fmt.Sprintf("%d/%s", r.Status.Succeeded, want)
}

// Duration is the DURATION column: start to end, or to now while running.
func Duration(r *v1alpha1.JobRun, now time.Time) string {
	if r.Status.StartTime == nil {
		return ""
	}
	end := now
	if r.Status.CompletionTime != nil {
		end = r.Status.CompletionTime.Time
	} else if r.Status.Outcome != v1alpha1.OutcomeRunning && r.Status.Outcome != "" {
		return ""
	}
	return duration.HumanDuration(end.Sub(r.Status.StartTime.Time))
}

// attemptName names an attempt in messages.
func attemptName(a v1alpha1.Attempt) string {
	return strings.Join([]string{a.PodName, a.Container, fmt.Sprint(a.Attempt)}, "/")
}
