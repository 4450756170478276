package controller

import "k8s.io/apimachinery/pkg/api/meta"

// DropManagedFields is the informers' transform (cache.TransformFunc): the
// objects they keep lose metadata.managedFields, which no controller reads
// and which is a large share of a small object (a Job's two entries, its
// creator's and the Job controller's status writer's, are about a fifth of
// it). kube-controller-manager trims its informers the same way. Updates of
// such a copy keep the stored object's managedFields: the API server takes
// the live ones when a request carries none.
func DropManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil && m.GetManagedFields() != nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}
