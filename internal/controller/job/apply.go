package job

import (
	"context"
	"errors"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

// Event reasons of pod creation and deletion (spec §3.15).
const (
	EventSuccessfulCreate = "SuccessfulCreate"
	EventFailedCreate     = "FailedCreate"
	EventSuccessfulDelete = "SuccessfulDelete"
	EventFailedDelete     = "FailedDelete"
)

// apply carries out a plan: deletes, creates in slow-start batches, the status
// write, then the finalizer removals the written status made safe. It returns
// the Job as written (j when the plan writes no status).
func (c *Controller) apply(ctx context.Context, key string, j *batchv1.Job, p Plan) (*batchv1.Job, error) {
	var errs []error
	c.expect.expect(key, 0, len(p.DeleteUncounted)+len(p.DeleteFailed), c.clock.Now())
	for _, pod := range p.DeleteUncounted {
		// Not a failure: the finalizer goes first so the pod is never counted.
		if err := c.removeFinalizer(ctx, pod); err != nil {
			errs = append(errs, err)
			c.expect.observed(key, 0, 1)
			continue
		}
		errs = append(errs, c.deletePod(ctx, key, j, pod))
	}
	for _, pod := range p.DeleteFailed {
		errs = append(errs, c.deletePod(ctx, key, j, pod))
	}
	created, err := c.createPods(ctx, key, j, p.Create)
	errs = append(errs, err)
	if short := int32(len(p.Create) - created); short > 0 {
		if p.Status == nil {
			p.Status = j.Status.DeepCopy()
		}
		p.Status.Active -= short
	}

	written := j
	if p.Status != nil {
		updated := j.DeepCopy()
		updated.Status = *p.Status
		w, err := c.client.BatchV1().Jobs(j.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		if err != nil {
			// Without the written status no finalizer may go: a pod would be lost.
			return j, errors.Join(append(errs, fmt.Errorf("update status of job %s: %w", key, err))...)
		}
		written = w
		c.metrics.recordPlan(j, p)
	}
	for _, e := range p.Events {
		c.recorder.Event(j, e.Type, e.Reason, e.Message)
	}
	return written, errors.Join(append(errs, c.removeFinalizers(ctx, p.RemoveFinalizers))...)
}

// flushable reports a plan after which the same sync may count what it
// recorded: it wrote the finished pods into uncountedTerminatedPods and
// released their finalizers, and made or removed no pod (whose effect the
// pods at hand would not show).
func flushable(p Plan) bool {
	return p.Status != nil && len(p.RemoveFinalizers) > 0 && len(p.Create) == 0 &&
		len(p.DeleteUncounted) == 0 && len(p.DeleteFailed) == 0
}

// removeFinalizers releases the counted pods, several at a time.
func (c *Controller) removeFinalizers(ctx context.Context, pods []*corev1.Pod) error {
	errs := make([]error, len(pods))
	workqueue.ParallelizeUntil(ctx, 16, len(pods), func(i int) {
		errs[i] = c.removeFinalizer(ctx, pods[i])
	})
	return errors.Join(errs...)
}

// createPods creates in batches of 1, 2, 4, …; after a failed batch the rest
// is left for the next sync. It returns how many were created.
func (c *Controller) createPods(ctx context.Context, key string, j *batchv1.Job, pods []*corev1.Pod) (int, error) {
	created := 0
	reason := creationReason(j)
	c.expect.expect(key, len(pods), 0, c.clock.Now())
	for start, batch := 0, 1; start < len(pods); start, batch = start+batch, batch*2 {
		end := min(start+batch, len(pods))
		errc := make(chan error, end-start)
		for _, pod := range pods[start:end] {
			go func() {
				created, err := c.client.CoreV1().Pods(j.Namespace).Create(ctx, pod, metav1.CreateOptions{})
				c.metrics.podsCreated.WithLabelValues(reason, map[bool]string{true: "succeeded", false: "failed"}[err == nil]).Inc()
				if err != nil {
					c.expect.observed(key, 1, 0)
					if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
						c.recorder.Eventf(j, corev1.EventTypeWarning, EventFailedCreate, "Error creating: %v", err)
					}
					errc <- fmt.Errorf("create pod for job %s: %w", key, err)
					return
				}
				c.recorder.Eventf(j, corev1.EventTypeNormal, EventSuccessfulCreate, "Created pod: %s", created.Name)
				errc <- nil
			}()
		}
		var errs []error
		for range pods[start:end] {
			err := <-errc
			if err == nil {
				created++
			}
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			c.expect.observed(key, len(pods)-end, 0) // never attempted
			return created, err
		}
	}
	return created, nil
}

func (c *Controller) deletePod(ctx context.Context, key string, j *batchv1.Job, pod *corev1.Pod) error {
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	switch {
	case err == nil:
		c.recorder.Eventf(j, corev1.EventTypeNormal, EventSuccessfulDelete, "Deleted pod: %s", pod.Name)
		return nil
	case apierrors.IsNotFound(err):
		c.expect.observed(key, 0, 1)
		return nil
	default:
		c.expect.observed(key, 0, 1)
		c.recorder.Eventf(j, corev1.EventTypeWarning, EventFailedDelete, "Error deleting: %v", err)
		return fmt.Errorf("delete pod %s: %w", pod.Name, err)
	}
}

// removeFinalizer drops the tracking finalizer with a strategic-merge patch,
// as upstream does, leaving other finalizers alone.
func (c *Controller) removeFinalizer(ctx context.Context, pod *corev1.Pod) error {
	if !hasString(pod.Finalizers, TrackingFinalizer) {
		return nil
	}
	patch := fmt.Sprintf(`{"metadata":{"$deleteFromPrimitiveList/finalizers":[%q]}}`, TrackingFinalizer)
	_, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove finalizer of pod %s: %w", pod.Name, err)
	}
	if key, ok := ownerKey(pod); ok {
		c.releasing.removed(key, pod.UID)
	}
	return nil
}

// creationReason is job_pods_creation_total's reason label: "new" before any
// pod ended, then the replacement policy in force.
func creationReason(j *batchv1.Job) string {
	switch {
	case j.Status.Failed == 0 && (j.Status.UncountedTerminatedPods == nil || len(j.Status.UncountedTerminatedPods.Failed) == 0):
		return "new"
	case ptr.Deref(j.Spec.PodReplacementPolicy, batchv1.TerminatingOrFailed) == batchv1.Failed:
		return "recreate_failed"
	}
	return "recreate_terminating_or_failed"
}
