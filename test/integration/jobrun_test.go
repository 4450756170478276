package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/internal/testenv"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	runclient "github.com/batchd/batchd/internal/apis/batchd/client"
	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
)

func runsAs(t *testing.T, writer bool) *runclient.Client {
	t.Helper()
	cfg := env.Config
	if writer {
		cfg = env.Loopback
	}
	c, err := runclient.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sampleRun(name string) *v1alpha1.JobRun {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	return &v1alpha1.JobRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1alpha1.CronJobNameLabel: "nightly"}},
		Spec:       v1alpha1.JobRunSpec{JobName: name, JobUID: "u-1", CronJobName: "nightly", ScheduledTime: &now, Completions: ptr.To[int32](1)},
		Status: v1alpha1.JobRunStatus{Outcome: v1alpha1.OutcomeFailed, Reason: "BackoffLimitExceeded", StartTime: &now, CompletionTime: &now, Failed: 1,
			Attempts: []v1alpha1.Attempt{{PodName: name + "-x", PodUID: types.UID("p-1"), Container: "main", Attempt: 0, ExitCode: ptr.To[int32](3), Reason: "Error"}}},
	}
}

// TestJobRunsServed: batchd.dev/v1alpha1 jobruns is discovered with its short
// name, the server's identity writes it, users read it (object and table)
// and every user write — the admin's too — gets upstream's 403.
func TestJobRunsServed(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	list, err := env.Client.Discovery().ServerResourcesForGroupVersion("batchd.dev/v1alpha1")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var found bool
	for _, r := range list.APIResources {
		if r.Name == "jobruns" {
			found = true
			if !r.Namespaced || r.Kind != "JobRun" || !strings.Contains(strings.Join(r.ShortNames, ","), "runs") {
				t.Errorf("jobruns discovery: %+v", r)
			}
		}
	}
	if !found {
		t.Fatalf("jobruns not discovered: %+v", list.APIResources)
	}

	writer, reader := runsAs(t, true), runsAs(t, false)
	if _, err := writer.JobRuns(ns).Create(ctx, sampleRun("etl-1"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("writer create: %v", err)
	}
	got, err := reader.JobRuns(ns).Get(ctx, "etl-1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("admin get: %v", err)
	}
	if got.Status.Outcome != v1alpha1.OutcomeFailed || len(got.Status.Attempts) != 1 || *got.Status.Attempts[0].ExitCode != 3 {
		t.Errorf("stored run: %+v", got.Status)
	}

	_, err = reader.JobRuns(ns).Create(ctx, sampleRun("etl-2"), metav1.CreateOptions{})
	want := `jobruns.batchd.dev is forbidden: User "batchd-admin" cannot create resource "jobruns" in API group "batchd.dev" in the namespace "` + ns + `"`
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("admin create: %v, want 403 %q", err, want)
	}
	err = reader.JobRuns(ns).Delete(ctx, "etl-1", metav1.DeleteOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("admin delete: %v, want 403", err)
	}
	got.Status.Outcome = v1alpha1.OutcomeSucceeded
	if _, err := reader.JobRuns(ns).Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("admin update: %v, want 403", err)
	}
	if _, err := reader.JobRuns(ns).Patch(ctx, "etl-1", types.MergePatchType, []byte(`{"status":{"outcome":"Succeeded"}}`)); !apierrors.IsForbidden(err) {
		t.Errorf("admin patch: %v, want 403", err)
	}
	editor, err := env.As("editor")
	if err != nil {
		t.Fatal(err)
	}
	err = editor.CoreV1().RESTClient().Delete().AbsPath("/apis/batchd.dev/v1alpha1/namespaces", ns, "jobruns").Do(ctx).Error()
	if !apierrors.IsForbidden(err) {
		t.Errorf("editor deletecollection: %v, want 403", err)
	}

	raw, err := env.Client.CoreV1().RESTClient().Get().AbsPath("/apis/batchd.dev/v1alpha1/namespaces", ns, "jobruns").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	if err != nil {
		t.Fatalf("table: %v", err)
	}
	var table metav1.Table
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			cols = append(cols, c.Name)
		}
	}
	if strings.Join(cols, " ") != "Name CronJob Outcome Completions Scheduled Duration Age" {
		t.Errorf("columns %v", cols)
	}
	if len(table.Rows) != 1 || table.Rows[0].Cells[2] != "Failed (BackoffLimitExceeded)" || table.Rows[0].Cells[3] != "0/1" {
		t.Errorf("rows %+v", table.Rows)
	}

	// Protobuf-preferring clients (the controllers' defaults) get JSON.
	raw, err = env.Client.CoreV1().RESTClient().Get().AbsPath("/apis/batchd.dev/v1alpha1/namespaces", ns, "jobruns", "etl-1").
		SetHeader("Accept", "application/vnd.kubernetes.protobuf, application/json").DoRaw(ctx)
	if err != nil || !strings.Contains(string(raw), `"kind":"JobRun"`) {
		t.Errorf("protobuf-first get: %v %s", err, raw)
	}
}

func waitRun(t *testing.T, ns, name, what string, ok func(*v1alpha1.JobRun) bool) *v1alpha1.JobRun {
	t.Helper()
	runs := runsAs(t, false)
	var got *v1alpha1.JobRun
	poll(t, what, func(ctx context.Context) (bool, error) {
		r, err := runs.JobRuns(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		got = r
		return err == nil && ok(r), err
	})
	return got
}

// TestJobRunRecordsAFailedJob: a Job whose OnFailure pod restarts in place
// and then fails the Job keeps a record after the Job is deleted: outcome
// Failed with the Job's reason, both container runs with their exit codes,
// the Job's labels and UID.
func TestJobRunRecordsAFailedJob(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	j := testenv.Job("etl")
	j.Labels = map[string]string{"team": "data"}
	j.Spec.BackoffLimit = ptr.To[int32](1)
	j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	created, err := env.Client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitRun(t, ns, "etl", "running record", func(r *v1alpha1.JobRun) bool {
		return r.Status.Outcome == v1alpha1.OutcomeRunning && r.Spec.JobUID == created.UID && r.Labels["team"] == "data"
	})
	var podName string
	poll(t, "pod created", func(ctx context.Context) (bool, error) {
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=etl"})
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
	t0 := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	t1 := metav1.NewTime(t0.Add(10 * time.Second))
	// Restart 1: the first run ended with 127, the second runs. (The test
	// plays the kubelet; a conflict with another writer of the pod is
	// retried on a fresh read, as the kubelet's status manager does.)
	setStatus := func(what string, mutate func(*corev1.ContainerStatus)) {
		t.Helper()
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			p, err := pods.Get(ctx, podName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			p.Status.Phase = corev1.PodRunning
			if len(p.Status.ContainerStatuses) == 0 {
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", Image: "busybox"}}
			}
			mutate(&p.Status.ContainerStatuses[0])
			_, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	setStatus("restart 1", func(c *corev1.ContainerStatus) {
		c.RestartCount = 1
		c.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 127, Reason: "Error",
			Message: "python: executable file not found", StartedAt: t0, FinishedAt: t0}}
		c.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: t1}}
	})
	// Restart 2 right after: the pod now shows only the second run as last state.
	setStatus("restart 2", func(c *corev1.ContainerStatus) {
		c.RestartCount = 2
		c.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error", StartedAt: t1, FinishedAt: t1}}
		c.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	})
	// The Job fails (the test plays the controller that would count restarts).
	poll(t, "job status written", func(ctx context.Context) (bool, error) {
		got, err := env.Client.BatchV1().Jobs(ns).Get(ctx, "etl", metav1.GetOptions{})
		if err != nil || got.Status.StartTime == nil {
			return false, err
		}
		return true, nil
	})
	if err := env.Client.BatchV1().Jobs(ns).Delete(ctx, "etl", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
		t.Fatal(err)
	}
	r := waitRun(t, ns, "etl", "deleted record with both attempts", func(r *v1alpha1.JobRun) bool {
		return r.Status.Outcome == v1alpha1.OutcomeDeleted && len(r.Status.Attempts) == 2
	})
	a0, a1 := r.Status.Attempts[0], r.Status.Attempts[1]
	if a0.Attempt != 0 || a0.ExitCode == nil || *a0.ExitCode != 127 || a0.Message != "python: executable file not found" || a0.NodeName != "node-a" || a0.PodName != podName {
		t.Errorf("attempt 0: %+v", a0)
	}
	if a1.Attempt != 1 || a1.ExitCode == nil || *a1.ExitCode != 2 {
		t.Errorf("attempt 1: %+v", a1)
	}
	if r.Status.CompletionTime == nil || r.Spec.JobUID != created.UID {
		t.Errorf("record %+v", r)
	}
}

// TestJobRunOfAFailedJob: a Job that fails keeps Failed with the Job's reason.
func TestJobRunOfAFailedJob(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	j := testenv.Job("bad")
	j.Spec.BackoffLimit = ptr.To[int32](0)
	if _, err := env.Client.BatchV1().Jobs(ns).Create(ctx, j, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "pod failed", func(ctx context.Context) (bool, error) { return finishPods(t, ns, "bad", corev1.PodFailed) > 0, nil })
	r := waitRun(t, ns, "bad", "failed record", func(r *v1alpha1.JobRun) bool { return r.Status.Outcome == v1alpha1.OutcomeFailed })
	if r.Status.Reason != "BackoffLimitExceeded" || r.Status.Failed != 1 || r.Status.CompletionTime == nil {
		t.Errorf("record %+v", r.Status)
	}
}

// TestNamespaceDeletionDeletesRuns: the namespace controller deletes the
// namespace's JobRuns with everything else.
func TestNamespaceDeletionDeletesRuns(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	if _, err := runsAs(t, true).JobRuns(ns).Create(ctx, sampleRun("old"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "namespace gone", func(ctx context.Context) (bool, error) {
		_, err := env.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	list, err := runsAs(t, false).JobRuns(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 0 {
		t.Errorf("runs left: %v %d", err, len(list.Items))
	}
}
