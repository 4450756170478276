package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/testenv"
)

func TestJobDefaultsAndGeneratedSelector(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	created, err := env.Client.BatchV1().Jobs(ns).Create(ctx, testenv.Job("pi"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	uid := string(created.UID)
	s := created.Spec
	if *s.Completions != 1 || *s.Parallelism != 1 || *s.BackoffLimit != 6 || *s.CompletionMode != batchv1.NonIndexedCompletion ||
		*s.Suspend || *s.ManualSelector || *s.PodReplacementPolicy != batchv1.TerminatingOrFailed {
		t.Errorf("spec defaults = %+v", s)
	}
	if got := s.Selector.MatchLabels; len(got) != 1 || got["batch.kubernetes.io/controller-uid"] != uid {
		t.Errorf("selector = %v, want controller-uid=%s only", got, uid)
	}
	want := map[string]string{
		"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
		"batch.kubernetes.io/job-name": "pi", "job-name": "pi",
	}
	for k, v := range want {
		if s.Template.Labels[k] != v {
			t.Errorf("template label %s = %q, want %q", k, s.Template.Labels[k], v)
		}
	}
	if created.Generation != 1 {
		t.Errorf("generation = %d, want 1", created.Generation)
	}
	// The Job had no labels: upstream defaults them from the template on every
	// read, so a GET shows the four generated labels on the Job itself.
	got, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "pi", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if got.Labels[k] != v {
			t.Errorf("job label %s = %q, want %q", k, got.Labels[k], v)
		}
	}
	if got.Spec.Template.Spec.TerminationGracePeriodSeconds == nil || *got.Spec.Template.Spec.TerminationGracePeriodSeconds != 30 ||
		got.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst || got.Spec.Template.Spec.SchedulerName != "default-scheduler" {
		t.Errorf("pod template defaults missing: %+v", got.Spec.Template.Spec)
	}
}

func TestJobUserTemplateLabelsCopiedToJob(t *testing.T) {
	ns := env.Namespace(t)
	j := testenv.Job("labelled")
	j.Spec.Template.Labels = map[string]string{"app": "countdown"}
	got, err := env.Client.BatchV1().Jobs(ns).Create(context.Background(), j, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Labels) != 1 || got.Labels["app"] != "countdown" {
		t.Errorf("job labels = %v, want only the user's template labels", got.Labels)
	}
}

func TestJobValidationErrorsNameFields(t *testing.T) {
	ns := env.Namespace(t)
	j := testenv.Job("bad")
	j.Spec.Parallelism = ptr.To[int32](-1)
	j.Spec.Template.Spec.RestartPolicy = ""
	_, err := env.Client.BatchV1().Jobs(ns).Create(context.Background(), j, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("err = %v, want Invalid", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`spec.parallelism: Invalid value: -1: must be greater than or equal to 0`,
		`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if _, err := env.Client.BatchV1().Jobs(ns).Get(context.Background(), "bad", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("invalid job was stored: %v", err)
	}
}

func TestJobImmutableFieldsAndGeneration(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	jobs := env.Client.BatchV1().Jobs(ns)
	j, err := jobs.Create(ctx, testenv.ExternalJob("imm"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	j.Spec.Completions = ptr.To[int32](5)
	if _, err := jobs.Update(ctx, j, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "spec.completions: Invalid value: 5: field is immutable") {
		t.Errorf("completions update err = %v", err)
	}
	j.Spec.Completions = ptr.To[int32](1)
	j.Spec.Template.Spec.Containers[0].Image = "alpine"
	if _, err := jobs.Update(ctx, j, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "spec.template: Invalid value: ") || !strings.Contains(err.Error(), ": field is immutable") {
		t.Errorf("template update err = %v", err)
	}
	j.Spec.Template.Spec.Containers[0].Image = "busybox"
	j.Spec.Parallelism = ptr.To[int32](3)
	j, err = jobs.Update(ctx, j, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Generation != 2 {
		t.Errorf("generation after spec change = %d, want 2", j.Generation)
	}
	j.Labels["extra"] = "x"
	j, err = jobs.Update(ctx, j, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Generation != 2 {
		t.Errorf("generation after metadata-only change = %d, want 2", j.Generation)
	}
}

func TestJobStatusSubresource(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	jobs := env.Client.BatchV1().Jobs(ns)
	j, err := jobs.Create(ctx, testenv.ExternalJob("st"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The main resource ignores status.
	j.Status.Active = 3
	j, err = jobs.Update(ctx, j, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status.Active != 0 {
		t.Errorf("status changed through the main resource: %+v", j.Status)
	}
	// The status subresource ignores spec and keeps generation.
	now := metav1.Now()
	j.Status.StartTime = &now
	j.Status.Active = 1
	j.Status.Conditions = []batchv1.JobCondition{{Type: "Custom", Status: corev1.ConditionTrue, Reason: "Test"}}
	j.Spec.Parallelism = ptr.To[int32](7)
	j, err = jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status.Active != 1 || len(j.Status.Conditions) != 1 || *j.Spec.Parallelism != 1 || j.Generation != 1 {
		t.Errorf("after status update: active=%d conds=%d parallelism=%d generation=%d", j.Status.Active, len(j.Status.Conditions), *j.Spec.Parallelism, j.Generation)
	}
	// Status validation: the failed counter never decreases.
	j.Status.Failed = 2
	if j, err = jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	j.Status.Failed = 1
	if _, err := jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{}); err == nil || !strings.Contains(err.Error(), "status.failed: Invalid value: 1: cannot decrease the failed counter") {
		t.Errorf("decreasing failed: err = %v", err)
	}
}

func TestJobFieldSelectorStatusSuccessful(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	jobs := env.Client.BatchV1().Jobs(ns)
	for _, name := range []string{"a", "b"} {
		if _, err := jobs.Create(ctx, testenv.ExternalJob(name), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := jobs.Get(ctx, "b", metav1.GetOptions{})
	b.Status.Succeeded = 1
	if _, err := jobs.UpdateStatus(ctx, b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := jobs.List(ctx, metav1.ListOptions{FieldSelector: "status.successful=1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "b" {
		t.Errorf("status.successful=1 selected %d jobs", len(list.Items))
	}
	_, err = jobs.List(ctx, metav1.ListOptions{FieldSelector: "status.failed=1"})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "field label not supported: status.failed") {
		t.Errorf("status.failed selector: err = %v", err)
	}
}

func TestJobWatchSeesStatusChange(t *testing.T) {
	ns := env.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	jobs := env.Client.BatchV1().Jobs(ns)
	j, err := jobs.Create(ctx, testenv.ExternalJob("w"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := jobs.Watch(ctx, metav1.ListOptions{ResourceVersion: j.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	j.Status.Active = 2
	if _, err := jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for ev := range w.ResultChan() {
		if got, ok := ev.Object.(*batchv1.Job); ok && got.Status.Active == 2 {
			return
		}
	}
	t.Fatal("watch ended without the status update")
}
