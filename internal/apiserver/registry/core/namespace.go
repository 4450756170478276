package core

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"

	"github.com/batchd/batchd/internal/apiserver/registry"
)

// namespaceREST serves namespaces with their two-step delete and the
// namespaces/finalize subresource.
func namespaceREST(s *registry.Storage) (rest.Storage, map[string]rest.Storage) {
	return &namespaceStorage{Storage: s}, map[string]rest.Storage{"finalize": &finalizeREST{store: s.Store}}
}

// namespaceStorage deletes a namespace in two steps, as upstream does: the
// first DELETE only marks it Terminating while spec.finalizers is not empty;
// the namespace controller empties it, removes the "kubernetes" finalizer
// through namespaces/finalize and deletes it again.
type namespaceStorage struct{ *registry.Storage }

func (s *namespaceStorage) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	obj, err := s.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	ns := obj.(*corev1.Namespace)
	if options != nil && options.Preconditions != nil {
		if uid := options.Preconditions.UID; uid != nil && *uid != ns.UID {
			return nil, false, apierrors.NewConflict(corev1.Resource("namespaces"), name, errPrecondition("UID", string(*uid), string(ns.UID)))
		}
		if rv := options.Preconditions.ResourceVersion; rv != nil && *rv != ns.ResourceVersion {
			return nil, false, apierrors.NewConflict(corev1.Resource("namespaces"), name, errPrecondition("ResourceVersion", *rv, ns.ResourceVersion))
		}
	}
	if len(ns.Spec.Finalizers) == 0 {
		return s.Storage.Delete(ctx, name, deleteValidation, options)
	}
	if deleteValidation != nil {
		if err := deleteValidation(ctx, obj); err != nil {
			return nil, false, err
		}
	}
	key, err := s.KeyFunc(ctx, name)
	if err != nil {
		return nil, false, err
	}
	out := &corev1.Namespace{}
	dryRun := options != nil && len(options.DryRun) > 0
	err = s.Store.Storage.GuaranteedUpdate(ctx, key, out, false, nil, storage.SimpleUpdate(func(o runtime.Object) (runtime.Object, error) {
		cur := o.(*corev1.Namespace)
		if cur.DeletionTimestamp == nil {
			now := metav1.Now()
			cur.DeletionTimestamp = &now
			zero := int64(0)
			cur.DeletionGracePeriodSeconds = &zero
		}
		cur.Status.Phase = corev1.NamespaceTerminating
		return cur, nil
	}), dryRun, nil)
	if err != nil {
		return nil, false, err
	}
	return out, false, nil
}

type preconditionError struct{ field, want, got string }

func (e preconditionError) Error() string {
	return "precondition failed: " + e.field + " in precondition: " + e.want + ", " + e.field + " in object meta: " + e.got
}

func errPrecondition(field, want, got string) error { return preconditionError{field, want, got} }

// finalizeREST serves namespaces/finalize: an update of spec.finalizers.
type finalizeREST struct{ store *genericregistry.Store }

func (r *finalizeREST) New() runtime.Object { return &corev1.Namespace{} }
func (r *finalizeREST) Destroy()            {}

func (r *finalizeREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}
