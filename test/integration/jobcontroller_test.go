package integration

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/testenv"
)

// finishPods plays kubelet: it moves every pending pod of the Job to phase.
func finishPods(t *testing.T, ns, job string, phase corev1.PodPhase) int {
	t.Helper()
	ctx := context.Background()
	pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase != corev1.PodPending || p.DeletionTimestamp != nil {
			continue
		}
		p.Status.Phase = phase
		if _, err := env.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func jobCondition(j *batchv1.Job, ty batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == ty && j.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

// e2e "should run a job to completion when tasks succeed": parallelism 2,
// completions 4; every pod counted once; Complete with CompletionsReached.
func TestJobRunsToCompletion(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	j := testenv.Job("four")
	j.Spec.Completions, j.Spec.Parallelism = ptr.To[int32](4), ptr.To[int32](2)
	if _, err := env.Client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var done *batchv1.Job
	poll(t, "job complete", func(ctx context.Context) (bool, error) {
		finishPods(t, ns, "four", corev1.PodSucceeded)
		got, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "four", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		done = got
		return jobCondition(got, batchv1.JobComplete) != nil, nil
	})
	s := done.Status
	if s.Succeeded != 4 || s.Failed != 0 || s.Active != 0 || *s.Ready != 0 || *s.Terminating != 0 || s.CompletionTime == nil ||
		len(s.UncountedTerminatedPods.Succeeded)+len(s.UncountedTerminatedPods.Failed) != 0 {
		t.Errorf("final status %+v", s)
	}
	if c := jobCondition(done, batchv1.JobSuccessCriteriaMet); c == nil || c.Reason != "CompletionsReached" {
		t.Errorf("conditions %+v", s.Conditions)
	}
	pods, _ := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=four"})
	if len(pods.Items) != 4 {
		t.Errorf("%d pods, want exactly 4", len(pods.Items))
	}
	for _, p := range pods.Items {
		if len(p.Finalizers) != 0 {
			t.Errorf("pod %s keeps finalizers %v", p.Name, p.Finalizers)
		}
	}
	// Events are recorded after the status write, and asynchronously.
	var events *corev1.EventList
	poll(t, "Completed event", func(ctx context.Context) (bool, error) {
		var err error
		events, err = env.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=four,reason=Completed"})
		return err == nil && len(events.Items) > 0, nil
	})
	if len(events.Items) != 1 || events.Items[0].Source.Component != "job-controller" || events.Items[0].Message != "Job completed" {
		t.Errorf("Completed events %+v", events.Items)
	}
}

// e2e "should fail to exceed backoffLimit": backoffLimit 1 ⇒ exactly 2 pods,
// both Failed, FailureTarget then Failed with BackoffLimitExceeded.
func TestJobFailsAfterBackoffLimit(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	j := testenv.Job("flaky")
	j.Spec.BackoffLimit = ptr.To[int32](1)
	if _, err := env.Client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var failed *batchv1.Job
	poll(t, "job failed", func(ctx context.Context) (bool, error) {
		finishPods(t, ns, "flaky", corev1.PodFailed)
		got, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "flaky", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		failed = got
		return jobCondition(got, batchv1.JobFailed) != nil, nil
	})
	if c := jobCondition(failed, batchv1.JobFailureTarget); c == nil || c.Reason != "BackoffLimitExceeded" || c.Message != "Job has reached the specified backoff limit" {
		t.Errorf("conditions %+v", failed.Status.Conditions)
	}
	if failed.Status.Failed != 2 || failed.Status.CompletionTime != nil {
		t.Errorf("status %+v", failed.Status)
	}
	pods, _ := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=flaky"})
	if len(pods.Items) != 2 {
		t.Errorf("%d pods, want exactly 2", len(pods.Items))
	}
}

// Deleting a Job with its default cascade removes its pods even though they
// carry the tracking finalizer: the controller lets it go.
func TestDeletedJobReleasesItsPods(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	if _, err := env.Client.BatchV1().Jobs(ns).Create(ctx, testenv.Job("gone"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "pod created", func(ctx context.Context) (bool, error) {
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=gone"})
		return err == nil && len(pods.Items) == 1, nil
	})
	if err := env.Client.BatchV1().Jobs(ns).Delete(ctx, "gone", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
	poll(t, "pods gone", func(ctx context.Context) (bool, error) {
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=gone"})
		return err == nil && len(pods.Items) == 0, nil
	})
}

// e2e "should allow to use the pod failure policy on exit code to fail the job
// early": a FailJob rule on exit code 1 fails the Job although backoffLimit
// is far from reached.
func TestPodFailurePolicyFailsJobEarly(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	j := testenv.Job("early")
	j.Spec.BackoffLimit = ptr.To[int32](6)
	j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action:      batchv1.PodFailurePolicyActionFailJob,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}},
	}}}
	if _, err := env.Client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var podName string
	poll(t, "pod created", func(ctx context.Context) (bool, error) {
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=early"})
		if err != nil || len(pods.Items) == 0 {
			return false, err
		}
		podName = pods.Items[0].Name
		return true, nil
	})
	pods := env.Client.CoreV1().Pods(ns)
	if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: podName}, Target: corev1.ObjectReference{Name: "node-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := pods.Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodFailed
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", Image: "busybox", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", FinishedAt: metav1.Now()}}}}
	if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var failed *batchv1.Job
	poll(t, "job failed", func(ctx context.Context) (bool, error) {
		got, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "early", metav1.GetOptions{})
		failed = got
		return err == nil && jobCondition(got, batchv1.JobFailed) != nil, err
	})
	c := jobCondition(failed, batchv1.JobFailed)
	want := "Container c for pod " + ns + "/" + podName + " failed with exit code 1 matching FailJob rule at index 0"
	if c.Reason != "PodFailurePolicy" || c.Message != want || failed.Status.Failed != 1 {
		t.Errorf("Failed condition %+v (failed=%d), want message %q", c, failed.Status.Failed, want)
	}
}

// e2e "should adopt matching orphans and release non-matching pods": a pod
// whose ownerReference is removed is adopted again (with the tracking
// finalizer); a pod whose labels no longer match the selector is released.
func TestAdoptMatchingOrphansAndReleaseNonMatchingPods(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	pods := env.Client.CoreV1().Pods(ns)
	j := testenv.Job("adopt")
	j.Spec.Parallelism = ptr.To[int32](2)
	j.Spec.Completions = ptr.To[int32](2)
	j, err := env.Client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var name string
	poll(t, "two pods", func(ctx context.Context) (bool, error) {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "job-name=adopt"})
		if err != nil || len(list.Items) != 2 {
			return false, err
		}
		name = list.Items[0].Name
		return true, nil
	})
	orphan := []byte(`[{"op":"remove","path":"/metadata/ownerReferences"},{"op":"remove","path":"/metadata/finalizers"}]`)
	if _, err := pods.Patch(ctx, name, types.JSONPatchType, orphan, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "orphan adopted", func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ref := metav1.GetControllerOf(p)
		return ref != nil && ref.UID == j.UID && *ref.BlockOwnerDeletion && slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer), nil
	})
	release := []byte(`{"metadata":{"labels":{"batch.kubernetes.io/controller-uid":null,"controller-uid":null}}}`)
	if _, err := pods.Patch(ctx, name, types.StrategicMergePatchType, release, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "pod released", func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return len(p.OwnerReferences) == 0 && !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer), nil
	})
	poll(t, "released pod replaced", func(ctx context.Context) (bool, error) {
		got, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "adopt", metav1.GetOptions{})
		return err == nil && got.Status.Active == 2, err
	})
}

// The Job controller's metrics are served at /metrics under upstream's names.
func TestJobControllerMetrics(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	if _, err := env.Client.BatchV1().Jobs(ns).Create(ctx, testenv.Job("metered"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "job complete", func(ctx context.Context) (bool, error) {
		finishPods(t, ns, "metered", corev1.PodSucceeded)
		got, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "metered", metav1.GetOptions{})
		return err == nil && jobCondition(got, batchv1.JobComplete) != nil, err
	})
	body, err := env.Client.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`job_controller_job_syncs_total{action="pods_created",completion_mode="NonIndexed",result="success"}`,
		`job_controller_job_sync_duration_seconds_bucket{action="tracking",completion_mode="NonIndexed",result="success",le="0.004"}`,
		`job_controller_jobs_finished_total{completion_mode="NonIndexed",reason="CompletionsReached",result="succeeded"}`,
		`job_controller_job_pods_finished_total{completion_mode="NonIndexed",result="succeeded"}`,
		`job_controller_terminated_pods_tracking_finalizer_total{event="add"}`,
		`job_controller_terminated_pods_tracking_finalizer_total{event="delete"}`,
		`job_controller_job_pods_creation_total{reason="new",status="succeeded"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// The controllers' informers keep no managedFields (controller.DropManagedFields);
// their writes from those copies must keep the stored ones, the creator's and
// the Job controller's own.
func TestControllerWritesKeepManagedFields(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	j := testenv.Job("kept-fields")
	j.Spec.Suspend = ptr.To(true)
	if _, err := env.Client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{FieldManager: "creator"}); err != nil {
		t.Fatal(err)
	}
	// The Job controller writes the Suspended condition from its informer's copy.
	var got *batchv1.Job
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = env.Client.BatchV1().Jobs(ns).Get(ctx, "kept-fields", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == batchv1.JobSuspended {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no Suspended condition: %v", err)
	}
	managers := map[string]string{}
	for _, mf := range got.ManagedFields {
		managers[mf.Manager] = mf.Subresource
	}
	if _, ok := managers["creator"]; !ok {
		t.Errorf("creator's managedFields entry lost: %v", managers)
	}
	// The status writer is named as upstream's: the Job controller runs in
	// kube-controller-manager, whose user agent names its field manager.
	if sub, ok := managers["kube-controller-manager"]; !ok || sub != "status" {
		t.Errorf("the status writer's entry is not kube-controller-manager's on status: %v", managers)
	}
}
