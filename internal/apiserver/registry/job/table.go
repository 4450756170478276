package job

import (
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/batchd/batchd/internal/apiserver/registry"
)

// Table returns the `kubectl get jobs` columns (spec §6.5).
func Table() *registry.Table {
	return &registry.Table{
		Columns: []metav1.TableColumnDefinition{
			registry.NameColumn(),
			registry.Column("Status", "string", "", "Status of the job.", false),
			registry.Column("Completions", "string", "", batchv1.JobStatus{}.SwaggerDoc()["succeeded"], false),
			registry.Column("Duration", "string", "", "Time required to complete the job.", false),
			registry.AgeColumn(),
			registry.Column("Containers", "string", "", "Names of each container in the template.", true),
			registry.Column("Images", "string", "", "Images referenced by each container in the template.", true),
			registry.Column("Selector", "string", "", batchv1.JobSpec{}.SwaggerDoc()["selector"], true),
		},
		Row: func(obj runtime.Object, now time.Time) ([]any, error) {
			j, ok := obj.(*batchv1.Job)
			if !ok {
				return nil, fmt.Errorf("unexpected %T", obj)
			}
			names, images := ContainersAndImages(j.Spec.Template.Spec.Containers)
			sel := "<none>"
			if j.Spec.Selector != nil {
				if s, err := metav1.LabelSelectorAsSelector(j.Spec.Selector); err == nil {
					sel = s.String()
				}
			}
			return []any{j.Name, Status(j), Completions(j), Duration(j, now), registry.Age(j.CreationTimestamp, now), names, images, sel}, nil
		},
	}
}

// ContainersAndImages joins container names and images for the wide columns.
func ContainersAndImages(cs []corev1.Container) (string, string) {
	names := make([]string, len(cs))
	images := make([]string, len(cs))
	for i, c := range cs {
		names[i], images[i] = c.Name, c.Image
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

// Status is the STATUS column: the first of Complete, Failed, Terminating,
// Suspended, FailureTarget that applies, else Running.
func Status(j *batchv1.Job) string {
	switch {
	case hasCond(&j.Status, batchv1.JobComplete):
		return "Complete"
	case hasCond(&j.Status, batchv1.JobFailed):
		return "Failed"
	case j.DeletionTimestamp != nil:
		return "Terminating"
	case hasCond(&j.Status, batchv1.JobSuspended):
		return "Suspended"
	case hasCond(&j.Status, batchv1.JobFailureTarget):
		return "FailureTarget"
	}
	return "Running"
}

// Completions is the COMPLETIONS column.
func Completions(j *batchv1.Job) string {
	if j.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	}
	if p := j.Spec.Parallelism; p != nil && *p > 1 {
		return fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, *p)
	}
	return fmt.Sprintf("%d/1", j.Status.Succeeded)
}

// Duration is the DURATION column.
func Duration(j *batchv1.Job, now time.Time) string {
	switch {
	case j.Status.StartTime == nil:
		return ""
	case j.Status.CompletionTime == nil:
		return duration.HumanDuration(now.Sub(j.Status.StartTime.Time))
	}
	return duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
}
