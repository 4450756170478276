package apiserver

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func TestTowardRemoval(t *testing.T) {
	const tracking = "batch.kubernetes.io/job-tracking"
	pod := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", ResourceVersion: "7", Generation: 1, Finalizers: []string{tracking, "example.com/other"},
				Labels:          map[string]string{"job-name": "j"},
				OwnerReferences: []metav1.OwnerReference{{UID: "job-uid", Kind: "Job", Name: "j"}, {UID: "other-uid", Kind: "X", Name: "x"}}},
			Spec:   corev1.PodSpec{NodeName: "n", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning},
		}
	}
	now := metav1.Now()
	for _, c := range []struct {
		name   string
		change func(*corev1.Pod)
		want   bool
	}{
		{"no change", func(*corev1.Pod) {}, true},
		{"status only (the node agent reports the pod ended)", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }, true},
		{"server-kept fields", func(p *corev1.Pod) {
			p.ResourceVersion = "8"
			p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
		}, true},
		{"marked for deletion (kubectl delete --force --grace-period=0)", func(p *corev1.Pod) {
			p.DeletionTimestamp, p.DeletionGracePeriodSeconds, p.Generation = &now, ptr.To[int64](0), 2
		}, true},
		{"marked for deletion with the collector's finalizer", func(p *corev1.Pod) {
			p.DeletionTimestamp, p.Finalizers = &now, append(p.Finalizers, metav1.FinalizerDeleteDependents)
		}, true},
		{"tracking finalizer removed", func(p *corev1.Pod) { p.Finalizers = []string{"example.com/other"} }, true},
		{"all finalizers removed", func(p *corev1.Pod) { p.Finalizers = nil }, true},
		{"owner reference removed (orphaning)", func(p *corev1.Pod) { p.OwnerReferences = p.OwnerReferences[1:] }, true},
		{"finalizer added", func(p *corev1.Pod) { p.Finalizers = append(p.Finalizers, "example.com/new") }, false},
		{"finalizer swapped", func(p *corev1.Pod) { p.Finalizers = []string{tracking, "example.com/new"} }, false},
		{"owner reference added", func(p *corev1.Pod) {
			p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{UID: "new", Kind: "Y", Name: "y"})
		}, false},
		{"label added", func(p *corev1.Pod) { p.Labels["big"] = "value" }, false},
		{"annotation added", func(p *corev1.Pod) { p.Annotations = map[string]string{"a": "b"} }, false},
		{"spec changed", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "other" }, false},
		{"finalizer removed and label added", func(p *corev1.Pod) { p.Finalizers = nil; p.Labels["x"] = "y" }, false},
	} {
		updated := pod()
		c.change(updated)
		if got := towardRemoval(pod(), updated); got != c.want {
			t.Errorf("%s: towardRemoval = %v, want %v", c.name, got, c.want)
		}
	}

	// A create through update (AllowCreateOnUpdate) starts from an empty object.
	if towardRemoval(&corev1.Pod{}, pod()) {
		t.Error("a create through update counts as toward removal")
	}

	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", ResourceVersion: "3"}}
	recorded := job.DeepCopy()
	recorded.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Failed: []types.UID{"pod-uid"}}
	if !towardRemoval(job, recorded) {
		t.Error("the Job controller recording a pod in the Job's status is refused")
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", ResourceVersion: "1"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}}}
	finalized := ns.DeepCopy()
	finalized.Spec.Finalizers = nil
	finalized.Status.Phase = corev1.NamespaceTerminating
	if !towardRemoval(ns, finalized) {
		t.Error("a namespace's finalize is refused")
	}
	grown := ns.DeepCopy()
	grown.Spec.Finalizers = append(grown.Spec.Finalizers, "example.com/x")
	if towardRemoval(ns, grown) {
		t.Error("a namespace finalizer added counts as toward removal")
	}
}

// TestLeaseKeptUp: while the storage is full, an existing Lease may be
// renewed or taken over (a leader's, a node's); a new Lease, or anything
// else written the same way, may not.
func TestLeaseKeptUp(t *testing.T) {
	held := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "kube-controller-manager", Namespace: "kube-system", ResourceVersion: "41"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("a"), RenewTime: &metav1.MicroTime{Time: time.Unix(100, 0)}}}
	renewed := held.DeepCopy()
	renewed.Spec.RenewTime = &metav1.MicroTime{Time: time.Unix(102, 0)}
	takenOver := held.DeepCopy()
	takenOver.Spec.HolderIdentity, takenOver.Spec.LeaseTransitions = ptr.To("b"), ptr.To[int32](1)
	for name, c := range map[string]struct {
		old, updated runtime.Object
		want         bool
	}{
		"renewed":                      {held, renewed, true},
		"taken over by another holder": {held, takenOver, true},
		"created through update":       {&coordinationv1.Lease{}, held, false},
		"a ConfigMap's data changed": {&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", ResourceVersion: "3"}},
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", ResourceVersion: "3"}, Data: map[string]string{"k": "v"}}, false},
	} {
		if got := leaseKeptUp(c.old, c.updated); got != c.want {
			t.Errorf("%s: leaseKeptUp = %v, want %v", name, got, c.want)
		}
		if towardRemoval(c.old, c.updated) {
			t.Errorf("%s: towardRemoval too (the case does not test leaseKeptUp)", name)
		}
	}
}
