package node

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A claim is bound to its local directory once: named pvc-<uid>, marked
// bound by the controller, Bound with its requested size and modes.
func TestClaimBinderBindsToALocalVolume(t *testing.T) {
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns", UID: "u1"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
	}
	client := fake.NewClientset(claim)
	if err := (claimBinder{client: client}).bind(claim); err != nil {
		t.Fatal(err)
	}
	got, err := client.CoreV1().PersistentVolumeClaims("ns").Get(context.Background(), "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.VolumeName != "pvc-u1" || got.Annotations["pv.kubernetes.io/bind-completed"] != "yes" || got.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
		t.Errorf("spec/annotations: %+v %v", got.Spec, got.Annotations)
	}
	if q := got.Status.Capacity[corev1.ResourceStorage]; got.Status.Phase != corev1.ClaimBound || q.String() != "1Gi" || len(got.Status.AccessModes) != 1 {
		t.Errorf("status: %+v", got.Status)
	}
	if claim.Spec.VolumeName != "" {
		t.Error("the informer's claim was written to")
	}
}
