package node

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// claimBinder is the node's local volume provisioner and binder: a
// PersistentVolumeClaim a pod uses gets a directory of the node (one per
// claim) and is marked Bound to it, named like a dynamically provisioned
// volume, as the PV controller would after a provisioner made one.
type claimBinder struct {
	client kubernetes.Interface
}

// bind marks claim Bound to its local directory.
func (b claimBinder) bind(claim *corev1.PersistentVolumeClaim) error {
	claims := b.client.CoreV1().PersistentVolumeClaims(claim.Namespace)
	c := claim.DeepCopy()
	if c.Spec.VolumeName == "" {
		// Named like a dynamically provisioned volume; the directory is the volume.
		c.Spec.VolumeName = "pvc-" + string(c.UID)
		metav1.SetMetaDataAnnotation(&c.ObjectMeta, "pv.kubernetes.io/bind-completed", "yes")
		metav1.SetMetaDataAnnotation(&c.ObjectMeta, "pv.kubernetes.io/bound-by-controller", "yes")
		var err error
		if c, err = claims.Update(context.TODO(), c, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	c.Status = boundClaimStatus(c)
	_, err := claims.UpdateStatus(context.TODO(), c, metav1.UpdateOptions{})
	return err
}

// boundClaimStatus is a claim's status once the local provisioner gave it a
// directory: Bound, with the requested size and access modes.
func boundClaimStatus(c *corev1.PersistentVolumeClaim) corev1.PersistentVolumeClaimStatus {
	s := corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: c.Spec.AccessModes}
	if q, ok := c.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		s.Capacity = corev1.ResourceList{corev1.ResourceStorage: q}
	}
	return s
}
