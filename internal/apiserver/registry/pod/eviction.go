package pod

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"
)

// EvictionREST serves pods/eviction (a policy/v1 Eviction), as kubectl drain
// and the e2e tests use it. batchd has no PodDisruptionBudgets, so every
// eviction is allowed: a running pod first gets the DisruptionTarget
// condition (reason EvictionByEvictionAPI), which podFailurePolicy rules can
// match, then is deleted with the eviction's delete options.
type EvictionREST struct {
	Store *genericregistry.Store
	Now   func() metav1.Time
}

var (
	_ rest.NamedCreater             = &EvictionREST{}
	_ rest.GroupVersionKindProvider = &EvictionREST{}
	_ rest.Storage                  = &EvictionREST{}
)

func (r *EvictionREST) New() runtime.Object { return &policyv1.Eviction{} }
func (r *EvictionREST) Destroy()            {}

// GroupVersionKind says the subresource takes policy/v1 Evictions.
func (r *EvictionREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return policyv1.SchemeGroupVersion.WithKind("Eviction")
}

// Create evicts the pod named in the URL.
func (r *EvictionREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	ev, ok := obj.(*policyv1.Eviction)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an Eviction object: %T", obj))
	}
	if name != ev.Name {
		return nil, apierrors.NewBadRequest("name in URL does not match name in Eviction object")
	}
	if createValidation != nil {
		if err := createValidation(ctx, ev.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	del := ev.DeleteOptions
	if del == nil {
		del = &metav1.DeleteOptions{}
	}
	if len(options.DryRun) > 0 {
		del = del.DeepCopy()
		del.DryRun = options.DryRun
	}
	key, err := r.Store.KeyFunc(ctx, name)
	if err != nil {
		return nil, err
	}
	now := metav1.Now()
	if r.Now != nil {
		now = r.Now()
	}
	err = r.Store.Storage.GuaranteedUpdate(ctx, key, &corev1.Pod{}, false, nil, storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
		p := obj.(*corev1.Pod)
		if del.Preconditions != nil && del.Preconditions.UID != nil && *del.Preconditions.UID != p.UID {
			return nil, apierrors.NewConflict(corev1.Resource("pods"), p.Name, fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *del.Preconditions.UID, p.UID))
		}
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
			return nil, errNoChange
		}
		setCondition(&p.Status, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting", LastTransitionTime: now})
		return p, nil
	}), len(options.DryRun) > 0, nil)
	if err != nil && !errors.Is(err, errNoChange) {
		return nil, storeerr.InterpretUpdateError(err, corev1.Resource("pods"), name)
	}
	if _, _, err := r.Store.Delete(ctx, name, rest.ValidateAllObjectFunc, del); err != nil {
		return nil, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess}, nil
}

// errNoChange leaves a finished or already deleting pod as it is.
var errNoChange = errors.New("no change")
