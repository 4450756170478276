package job

import (
	"context"
	"encoding/json"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Claim is what to do with one pod of a Job's namespace (upstream's
// ControllerRefManager): keep it, adopt an orphan the selector matches, or
// release an owned pod the selector no longer matches.
type Claim int

const (
	Ignore Claim = iota
	Keep
	Adopt
	Release
)

// ClaimPod decides a pod's claim for a Job. A Job being deleted or already
// finished neither adopts nor releases; pods being deleted are never adopted.
func ClaimPod(j *batchv1.Job, sel labels.Selector, p *corev1.Pod) Claim {
	ref := metav1.GetControllerOf(p)
	matches := sel.Matches(labels.Set(p.Labels))
	settled := j.DeletionTimestamp != nil || finished(&j.Status)
	switch {
	case ref != nil && ref.UID == j.UID:
		if matches || settled {
			return Keep
		}
		return Release
	case ref == nil && matches && p.DeletionTimestamp == nil && !settled:
		return Adopt
	}
	return Ignore
}

// claimPods returns the pods the Job controls after adopting matching
// orphans and releasing owned pods that no longer match. Adoption first
// re-reads the Job live, so that a Job deleted (or replaced by one of the
// same name) meanwhile adopts nothing.
func (c *Controller) claimPods(ctx context.Context, j *batchv1.Job) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s/%s: invalid selector: %w", j.Namespace, j.Name, err)
	}
	if j.Spec.Selector == nil {
		sel = labels.Nothing()
	}
	// The candidates: the Job's own pods and the namespace's orphans; pods
	// of other controllers are never claimed, so they are not even read.
	own, err := c.podIndex.ByIndex(claimIndex, claimKeyOwner(j.UID))
	if err != nil {
		return nil, err
	}
	orphans, err := c.podIndex.ByIndex(claimIndex, claimKeyOrphan(j.Namespace))
	if err != nil {
		return nil, err
	}
	all := make([]*corev1.Pod, 0, len(own)+len(orphans))
	for _, o := range append(own, orphans...) {
		if p := o.(*corev1.Pod); p.Namespace == j.Namespace {
			all = append(all, p)
		}
	}
	var out []*corev1.Pod
	canAdopt := func() error { return nil }
	checked := false
	for _, p := range all {
		switch ClaimPod(j, sel, p) {
		case Keep:
			out = append(out, p)
		case Release:
			if err := c.release(ctx, j, p); err != nil {
				return nil, err
			}
		case Adopt:
			if !checked {
				canAdopt, checked = c.recheck(ctx, j), true
			}
			if err := canAdopt(); err != nil {
				continue // the Job is going away: it adopts nothing
			}
			adopted, err := c.adopt(ctx, j, p)
			if err != nil {
				return nil, err
			}
			if adopted != nil {
				out = append(out, adopted)
			}
		}
	}
	return out, nil
}

// recheck reads the Job live once; adoption is allowed only if it still
// exists with the same UID and is not being deleted.
func (c *Controller) recheck(ctx context.Context, j *batchv1.Job) func() error {
	fresh, err := c.client.BatchV1().Jobs(j.Namespace).Get(ctx, j.Name, metav1.GetOptions{})
	switch {
	case err != nil:
	case fresh.UID != j.UID:
		err = fmt.Errorf("original Job %s/%s is gone: got uid %v, wanted %v", j.Namespace, j.Name, fresh.UID, j.UID)
	case fresh.DeletionTimestamp != nil:
		err = fmt.Errorf("%s/%s has just been deleted at %v", j.Namespace, j.Name, fresh.DeletionTimestamp)
	}
	return func() error { return err }
}

// adopt makes the Job the pod's controller and adds the tracking finalizer,
// in one patch guarded by the pod's UID, as upstream does.
func (c *Controller) adopt(ctx context.Context, j *batchv1.Job, p *corev1.Pod) (*corev1.Pod, error) {
	ref := metav1.OwnerReference{APIVersion: "batch/v1", Kind: "Job", Name: j.Name, UID: j.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []metav1.OwnerReference{ref},
		"uid":             p.UID,
		"finalizers":      []string{TrackingFinalizer},
	}})
	if err != nil {
		return nil, err
	}
	adopted, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil, nil // gone, or another pod of that name now
	}
	if err != nil {
		return nil, fmt.Errorf("adopt pod %s: %w", p.Name, err)
	}
	return adopted, nil
}

// release drops the Job's ownerReference and tracking finalizer from a pod.
func (c *Controller) release(ctx context.Context, j *batchv1.Job, p *corev1.Pod) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences":                     []map[string]any{{"$patch": "delete", "uid": j.UID}},
		"$deleteFromPrimitiveList/finalizers": []string{TrackingFinalizer},
		"uid":                                 p.UID,
	}})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release pod %s: %w", p.Name, err)
	}
	return nil
}

// claimIndex indexes pods by what may claim them: their controller's UID,
// or for an orphan its namespace.
const claimIndex = "claim"

func claimKeyOwner(uid types.UID) string { return "owner/" + string(uid) }
func claimKeyOrphan(ns string) string    { return "orphan/" + ns }

func claimKeys(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOf(p); ref != nil {
		return []string{claimKeyOwner(ref.UID)}, nil
	}
	return []string{claimKeyOrphan(p.Namespace)}, nil
}
