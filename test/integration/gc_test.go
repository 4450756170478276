package integration

import (
	"context"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/testenv"
)

// ownedPod creates a pod owned by job, as the Job controller would.
func ownedPod(t *testing.T, ns, name string, job *batchv1.Job) {
	t.Helper()
	p := testenv.Pod(name)
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	if _, err := env.Client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func gone(t *testing.T, what string, get func(ctx context.Context) error) {
	t.Helper()
	poll(t, what, func(ctx context.Context) (bool, error) { return apierrors.IsNotFound(get(ctx)), nil })
}

func TestDeletePropagation(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	jobs, pods := env.Client.BatchV1().Jobs(ns), env.Client.CoreV1().Pods(ns)
	getPod := func(name string) func(ctx context.Context) error {
		return func(ctx context.Context) error { _, err := pods.Get(ctx, name, metav1.GetOptions{}); return err }
	}
	getJob := func(name string) func(ctx context.Context) error {
		return func(ctx context.Context) error { _, err := jobs.Get(ctx, name, metav1.GetOptions{}); return err }
	}

	t.Run("background deletes dependents", func(t *testing.T) {
		j, err := jobs.Create(ctx, testenv.ExternalJob("bg"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ownedPod(t, ns, "bg-pod", j)
		if err := jobs.Delete(ctx, "bg", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}); err != nil {
			t.Fatal(err)
		}
		gone(t, "job deleted at once", getJob("bg"))
		gone(t, "pod collected", getPod("bg-pod"))
	})

	t.Run("foreground waits for blocking dependents", func(t *testing.T) {
		j, err := jobs.Create(ctx, testenv.ExternalJob("fg"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ownedPod(t, ns, "fg-pod", j)
		// A second finalizer keeps the pod, and with it the Job, around.
		p, _ := pods.Get(ctx, "fg-pod", metav1.GetOptions{})
		p.Finalizers = []string{"example.com/hold"}
		if _, err := pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := jobs.Delete(ctx, "fg", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
			t.Fatal(err)
		}
		poll(t, "pod being deleted", func(ctx context.Context) (bool, error) {
			p, err := pods.Get(ctx, "fg-pod", metav1.GetOptions{})
			return err == nil && p.DeletionTimestamp != nil, nil
		})
		got, err := jobs.Get(ctx, "fg", metav1.GetOptions{})
		if err != nil || got.DeletionTimestamp == nil || len(got.Finalizers) != 1 || got.Finalizers[0] != "foregroundDeletion" {
			t.Fatalf("job during foreground deletion: %v %+v", err, got.ObjectMeta)
		}
		patch := []byte(`{"metadata":{"finalizers":null}}`)
		if _, err := pods.Patch(ctx, "fg-pod", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		gone(t, "pod", getPod("fg-pod"))
		gone(t, "job after its pod", getJob("fg"))
	})

	t.Run("orphan keeps dependents and strips the reference", func(t *testing.T) {
		j, err := jobs.Create(ctx, testenv.ExternalJob("or"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ownedPod(t, ns, "or-pod", j)
		// batch/v1 orphans by default when no policy is given.
		if err := jobs.Delete(ctx, "or", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		gone(t, "job", getJob("or"))
		p, err := pods.Get(ctx, "or-pod", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("orphaned pod: %v", err)
		}
		if len(p.OwnerReferences) != 0 {
			t.Errorf("orphaned pod keeps owner references %v", p.OwnerReferences)
		}
	})

	t.Run("dangling owner reference gets the dependent collected", func(t *testing.T) {
		p := testenv.Pod("dangling")
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "never-was", UID: "00000000-0000-0000-0000-000000000000"}}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		gone(t, "pod without owner", getPod("dangling"))
	})

	t.Run("cronjob deletion cascades to jobs", func(t *testing.T) {
		cj, err := env.Client.BatchV1().CronJobs(ns).Create(ctx, testenv.CronJob("cj", "@hourly"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		j := testenv.ExternalJob("cj-manual")
		j.OwnerReferences = []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "cj", UID: cj.UID, Controller: ptr.To(true)}}
		if _, err := jobs.Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.BatchV1().CronJobs(ns).Delete(ctx, "cj", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		gone(t, "job of deleted cronjob", getJob("cj-manual"))
	})
}

// A finished Job with ttlSecondsAfterFinished: 0 is deleted with its pods.
func TestTTLAfterFinishedDeletesJobAndPods(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	jobs := env.Client.BatchV1().Jobs(ns)
	j := testenv.ExternalJob("short-lived")
	j.Spec.TTLSecondsAfterFinished = ptr.To[int32](0)
	j, err := jobs.Create(ctx, j, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ownedPod(t, ns, "short-lived-pod", j)
	now := metav1.Now()
	j.Status = batchv1.JobStatus{StartTime: &now, CompletionTime: &now, Succeeded: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: "True", LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: "True", LastTransitionTime: now},
	}}
	if _, err := jobs.UpdateStatus(ctx, j, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	gone(t, "pod of the expired job", func(ctx context.Context) error {
		_, err := env.Client.CoreV1().Pods(ns).Get(ctx, "short-lived-pod", metav1.GetOptions{})
		return err
	})
	gone(t, "expired job", func(ctx context.Context) error {
		_, err := jobs.Get(ctx, "short-lived", metav1.GetOptions{})
		return err
	})
}
