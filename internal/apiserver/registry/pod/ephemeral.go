package pod

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/batchd/batchd/internal/apiserver/validation"
)

// EphemeralContainersREST serves pods/ephemeralcontainers (kubectl debug):
// get, update and patch (kubectl sends a strategic merge patch) of the pod,
// of which only spec.ephemeralContainers is taken, as upstream's
// EphemeralContainersREST. The main resource refuses the same change
// (validateSpecUpdate), so this is the one way in, authorized on its own
// (update or patch on pods/ephemeralcontainers).
type EphemeralContainersREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Patcher = &EphemeralContainersREST{}
	_ rest.Storage = &EphemeralContainersREST{}
)

// newEphemeralContainersREST is the subresource over the pods' store s.
func newEphemeralContainersREST(s *genericregistry.Store) *EphemeralContainersREST {
	store := *s
	st := ephemeralStrategy{s.UpdateStrategy}
	store.CreateStrategy = nil
	store.DeleteStrategy = nil
	store.UpdateStrategy = st
	store.ResetFieldsStrategy = st
	return &EphemeralContainersREST{store: &store}
}

func (r *EphemeralContainersREST) New() runtime.Object { return &corev1.Pod{} }
func (r *EphemeralContainersREST) Destroy()            {}

// Get returns the pod.
func (r *EphemeralContainersREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes the pod's ephemeral containers; subresources never create.
func (r *EphemeralContainersREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// ephemeralStrategy keeps everything of the stored pod but its
// ephemeral containers (upstream's dropNonEphemeralContainerUpdates) and
// validates those as ValidatePodEphemeralContainersUpdate does.
type ephemeralStrategy struct{ rest.RESTUpdateStrategy }

func (ephemeralStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	p, o := obj.(*corev1.Pod), old.(*corev1.Pod)
	added := p.Spec.EphemeralContainers
	p.Spec = *o.Spec.DeepCopy()
	p.Spec.EphemeralContainers = added
	p.Status = *o.Status.DeepCopy()
	metav1.ResetObjectMetaForStatus(p, o)
}

func (ephemeralStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	p, o := obj.(*corev1.Pod), old.(*corev1.Pod)
	errs := validation.ObjectMetaUpdate(&p.ObjectMeta, &o.ObjectMeta)
	return append(errs, validation.PodEphemeralContainersUpdate(&p.Spec, &o.Spec)...)
}

func (ephemeralStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetResetFields: through this subresource only spec.ephemeralContainers
// belongs to the writer, for server-side apply.
func (ephemeralStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{"v1": fieldpath.NewSet(
		fieldpath.MakePathOrDie("status"),
		fieldpath.MakePathOrDie("metadata", "deletionTimestamp"),
		fieldpath.MakePathOrDie("metadata", "ownerReferences"),
	)}
}
