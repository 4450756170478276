package integration

// Ports of upstream sig-apps conformance specs that need no node, written
// with client-go as upstream's own (test/e2e/apps/job.go, cronjob.go).

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/testenv"
)

// [sig-apps] Job should apply changes to a job status [Conformance]
func TestConformanceJobShouldApplyChangesToAJobStatus(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	jClient := env.Client.BatchV1().Jobs(ns)
	j := testenv.Job("suspend-false-to-true")
	j.Spec.Parallelism, j.Spec.Completions, j.Spec.BackoffLimit = ptr.To[int32](2), ptr.To[int32](4), ptr.To[int32](6)
	job, err := jClient.Create(ctx, j, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// "Ensure pods equal to parallelism count is attached to the job": we
	// play the kubelet and run them.
	poll(t, "2 pods running", func(ctx context.Context) (bool, error) {
		return runPods(t, ns, job.Name) == 2, nil
	})

	now1 := metav1.Now().Rfc3339Copy()
	statusJSON, err := json.Marshal(batchv1.JobStatus{StartTime: &now1})
	if err != nil {
		t.Fatal(err)
	}
	patched, err := jClient.Patch(ctx, job.Name, types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"patchedstatus":"true"}},"status":`+string(statusJSON)+`}`), metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("patching /status: %v", err)
	}
	if !patched.Status.StartTime.Equal(&now1) {
		t.Errorf("patched object should have the applied StartTime: %v", patched.Status.StartTime)
	}
	if patched.Annotations["patchedstatus"] != "true" {
		t.Errorf("patched object should have the applied annotation: %v", patched.Annotations)
	}

	now2 := metav1.Now().Add(time.Second)
	now2m := metav1.NewTime(now2).Rfc3339Copy()
	var updated *batchv1.Job
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := jClient.Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.StartTime = &now2m
		updated, err = jClient.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("updating /status: %v", err)
	}
	if !updated.Status.StartTime.Equal(&now2m) {
		t.Errorf("updated object should have the applied StartTime: %v", updated.Status.StartTime)
	}

	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dyn.Resource(batchv1.SchemeGroupVersion.WithResource("jobs")).Namespace(ns).Get(ctx, job.Name, metav1.GetOptions{}, "status")
	if err != nil {
		t.Fatalf("get /status: %v", err)
	}
	if uid, _, _ := unstructured.NestedString(got.Object, "metadata", "uid"); uid != string(job.UID) {
		t.Errorf("job UID %s, /status UID %s", job.UID, uid)
	}
}

// runPods plays the kubelet: every pending pod of the Job becomes Running;
// it returns how many are running.
func runPods(t *testing.T, ns, job string) int {
	t.Helper()
	ctx := context.Background()
	pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Status.Phase == corev1.PodPending && p.DeletionTimestamp == nil {
			p.Status.Phase = corev1.PodRunning
			if _, err := env.Client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsConflict(err) {
					continue
				}
				t.Fatal(err)
			}
		}
		n++
	}
	return n
}

// [sig-apps] CronJob should support CronJob API operations [Conformance]
func TestConformanceCronJobShouldSupportCronJobAPIOperations(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	unique := "cj-" + rand.String(8)
	cjTemplate := testenv.CronJob("test-api", "* */1 * * ?")
	cjTemplate.Spec.SuccessfulJobsHistoryLimit, cjTemplate.Spec.FailedJobsHistoryLimit = ptr.To[int32](1), ptr.To[int32](0)
	cjTemplate.Labels = map[string]string{"special-label": unique}
	cjClient := env.Client.BatchV1().CronJobs(ns)
	sel := metav1.ListOptions{LabelSelector: "special-label=" + unique}

	created, err := cjClient.Create(ctx, cjTemplate, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating: %v", err)
	}
	gotten, err := cjClient.Get(ctx, created.Name, metav1.GetOptions{})
	if err != nil || gotten.UID != created.UID {
		t.Fatalf("getting: %v %v", err, gotten)
	}
	cjs, err := cjClient.List(ctx, sel)
	if err != nil || len(cjs.Items) != 1 {
		t.Fatalf("listing: %v, %d items", err, len(cjs.Items))
	}
	cjWatch, err := cjClient.Watch(ctx, metav1.ListOptions{ResourceVersion: cjs.ResourceVersion, LabelSelector: sel.LabelSelector})
	if err != nil {
		t.Fatalf("watching: %v", err)
	}
	defer cjWatch.Stop()
	clusterCJs, err := env.Client.BatchV1().CronJobs("").List(ctx, sel)
	if err != nil || len(clusterCJs.Items) != 1 {
		t.Fatalf("cluster-wide listing: %v", err)
	}
	clusterWatch, err := env.Client.BatchV1().CronJobs("").Watch(ctx, metav1.ListOptions{ResourceVersion: cjs.ResourceVersion, LabelSelector: sel.LabelSelector})
	if err != nil {
		t.Fatalf("cluster-wide watching: %v", err)
	}
	clusterWatch.Stop()

	patched, err := cjClient.Patch(ctx, created.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil || patched.Annotations["patched"] != "true" {
		t.Fatalf("patching: %v %v", err, patched.Annotations)
	}
	var updated *batchv1.CronJob
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cjClient.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Annotations["updated"] = "true"
		updated, err = cjClient.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil || updated.Annotations["updated"] != "true" {
		t.Fatalf("updating: %v", err)
	}
	for saw := false; !saw; {
		select {
		case evt, ok := <-cjWatch.ResultChan():
			if !ok {
				t.Fatal("watch channel should not close")
			}
			if evt.Type != watch.Modified {
				t.Fatalf("watch event %s, want MODIFIED", evt.Type)
			}
			if cj, ok := evt.Object.(*batchv1.CronJob); ok && cj.Annotations["patched"] == "true" {
				saw = true
			}
		case <-time.After(30 * time.Second):
			t.Fatal("timed out waiting for watch event")
		}
	}

	now1 := metav1.Now().Rfc3339Copy()
	statusJSON, err := json.Marshal(batchv1.CronJobStatus{LastScheduleTime: &now1})
	if err != nil {
		t.Fatal(err)
	}
	patchedStatus, err := cjClient.Patch(ctx, created.Name, types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"patchedstatus":"true"}},"status":`+string(statusJSON)+`}`), metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("patching /status: %v", err)
	}
	if !patchedStatus.Status.LastScheduleTime.Equal(&now1) {
		t.Errorf("patched object should have the applied lastScheduleTime: %v", patchedStatus.Status.LastScheduleTime)
	}
	if patchedStatus.Annotations["patchedstatus"] != "true" {
		t.Errorf("patched object should have the applied annotation: %v", patchedStatus.Annotations)
	}
	now2 := metav1.NewTime(time.Now().Add(time.Second)).Rfc3339Copy()
	var updatedStatus *batchv1.CronJob
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cjClient.Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.LastScheduleTime = &now2
		updatedStatus, err = cjClient.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil || !updatedStatus.Status.LastScheduleTime.Equal(&now2) {
		t.Fatalf("updating /status: %v", err)
	}
	dyn, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	gotStatus, err := dyn.Resource(batchv1.SchemeGroupVersion.WithResource("cronjobs")).Namespace(ns).Get(ctx, created.Name, metav1.GetOptions{}, "status")
	if err != nil {
		t.Fatalf("get /status: %v", err)
	}
	if uid, _, _ := unstructured.NestedString(gotStatus.Object, "metadata", "uid"); uid != string(created.UID) {
		t.Errorf("cronjob UID %s, /status UID %s", created.UID, uid)
	}

	expectFinalizer := func(cj *batchv1.CronJob, step string) {
		if cj.DeletionTimestamp == nil || len(cj.Finalizers) == 0 {
			t.Errorf("%s: expected deletionTimestamp and finalizers: %+v", step, cj.ObjectMeta)
		}
	}
	cjTemplate.Name = "for-removal"
	forRemoval, err := cjClient.Create(ctx, cjTemplate, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cjClient.Delete(ctx, forRemoval.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting: %v", err)
	}
	if cj, err := cjClient.Get(ctx, forRemoval.Name, metav1.GetOptions{}); err == nil {
		expectFinalizer(cj, "deleting cronjob")
	} else if !apierrors.IsNotFound(err) {
		t.Fatalf("expected 404, got %v", err)
	}
	if err := cjClient.DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
		t.Fatalf("deleting a collection: %v", err)
	}
	cjs, err = cjClient.List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	if len(cjs.Items) > 2 {
		t.Errorf("filtered list should be <= 2, got %d", len(cjs.Items))
	}
	for i := range cjs.Items {
		expectFinalizer(&cjs.Items[i], "deleting cronjob collection")
	}
}
