package registry

import (
	"context"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Funcs are the pure, per-resource parts of a strategy. Every field may be nil.
type Funcs struct {
	// Validate checks a new object.
	Validate func(obj runtime.Object) field.ErrorList
	// ValidateUpdate checks an update (Validate is not called for updates).
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// ValidateStatusUpdate checks an update through the status subresource.
	ValidateStatusUpdate func(obj, old runtime.Object) field.ErrorList
	// PrepareForCreate runs after status was cleared (e.g. selector generation).
	PrepareForCreate func(obj runtime.Object)
	// PrepareForUpdate runs before an update is validated.
	PrepareForUpdate func(obj, old runtime.Object)
	// WarningsOnCreate and WarningsOnUpdate return API warnings.
	WarningsOnCreate func(obj runtime.Object) []string
	WarningsOnUpdate func(obj, old runtime.Object) []string
	// Spec and Status return pointers to the object's spec and status. A resource
	// with both gets a status subresource: the main endpoint keeps the stored
	// status, the status endpoint keeps the stored spec, and the generation is
	// bumped on spec changes when BumpGeneration is set.
	Spec, Status   func(obj runtime.Object) any
	BumpGeneration bool
	// GCPolicy is the propagation policy when a client sends none.
	GCPolicy rest.GarbageCollectionPolicy
	// GracefulDelete, when set, decides the grace period of a delete (setting
	// opts.GracePeriodSeconds) and whether the object lingers with a
	// deletionTimestamp until then.
	GracefulDelete func(obj runtime.Object, opts *metav1.DeleteOptions) bool
}

// Strategy implements the generic registry's create, update and delete strategies.
type Strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	namespaced bool
	funcs      Funcs
	apiVersion fieldpath.APIVersion
}

// NewStrategy returns the strategy of a resource served at apiVersion (e.g. "batch/v1").
func NewStrategy(typer runtime.ObjectTyper, apiVersion string, namespaced bool, f Funcs) *Strategy {
	return &Strategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, namespaced: namespaced, funcs: f,
		apiVersion: fieldpath.APIVersion(apiVersion)}
}

func (s *Strategy) NamespaceScoped() bool                         { return s.namespaced }
func (s *Strategy) AllowCreateOnUpdate(context.Context) bool      { return false }
func (s *Strategy) AllowUnconditionalUpdate(context.Context) bool { return true }
func (s *Strategy) Canonicalize(runtime.Object)                   {}

func (s *Strategy) hasStatus() bool { return s.funcs.Spec != nil && s.funcs.Status != nil }

// PrepareForCreate clears the status and starts the generation at 1.
func (s *Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	if s.hasStatus() {
		clearPointee(s.funcs.Status(obj))
	}
	if s.funcs.BumpGeneration {
		if m, err := meta.Accessor(obj); err == nil {
			m.SetGeneration(1)
		}
	}
	if s.funcs.PrepareForCreate != nil {
		s.funcs.PrepareForCreate(obj)
	}
}

// PrepareForUpdate keeps the stored status and bumps the generation on spec changes.
func (s *Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	if s.funcs.PrepareForUpdate != nil {
		s.funcs.PrepareForUpdate(obj, old)
	}
	if !s.hasStatus() {
		return
	}
	copyPointee(s.funcs.Status(obj), s.funcs.Status(old))
	if s.funcs.BumpGeneration && !apiequality.Semantic.DeepEqual(s.funcs.Spec(obj), s.funcs.Spec(old)) {
		if m, err := meta.Accessor(obj); err == nil {
			om, _ := meta.Accessor(old)
			m.SetGeneration(om.GetGeneration() + 1)
		}
	}
}

func (s *Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	if s.funcs.Validate == nil {
		return nil
	}
	return s.funcs.Validate(obj)
}

func (s *Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	if s.funcs.ValidateUpdate == nil {
		return nil
	}
	return s.funcs.ValidateUpdate(obj, old)
}

func (s *Strategy) WarningsOnCreate(_ context.Context, obj runtime.Object) []string {
	if s.funcs.WarningsOnCreate == nil {
		return nil
	}
	return s.funcs.WarningsOnCreate(obj)
}

func (s *Strategy) WarningsOnUpdate(_ context.Context, obj, old runtime.Object) []string {
	if s.funcs.WarningsOnUpdate == nil {
		return nil
	}
	return s.funcs.WarningsOnUpdate(obj, old)
}

// CheckGracefulDelete implements rest.RESTGracefulDeleteStrategy.
func (s *Strategy) CheckGracefulDelete(_ context.Context, obj runtime.Object, opts *metav1.DeleteOptions) bool {
	if s.funcs.GracefulDelete == nil {
		return false
	}
	return s.funcs.GracefulDelete(obj, opts)
}

// DefaultGarbageCollectionPolicy implements rest.GarbageCollectionDeleteStrategy.
func (s *Strategy) DefaultGarbageCollectionPolicy(context.Context) rest.GarbageCollectionPolicy {
	if s.funcs.GCPolicy == "" {
		return rest.DeleteDependents
	}
	return s.funcs.GCPolicy
}

// GetResetFields keeps server-side apply from giving status fields to the
// writers of the main resource: the status is reset there, as upstream does.
func (s *Strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	if !s.hasStatus() {
		return nil
	}
	return map[fieldpath.APIVersion]*fieldpath.Set{s.apiVersion: fieldpath.NewSet(fieldpath.MakePathOrDie("status"))}
}

// StatusStrategy is the strategy of a resource's status subresource: it keeps
// the stored spec and metadata other than labels, annotations and finalizers
// changed through status are ignored too, as upstream does.
type StatusStrategy struct{ *Strategy }

// NewStatusStrategy returns the status-subresource variant of s.
func NewStatusStrategy(s *Strategy) *StatusStrategy { return &StatusStrategy{s} }

func (s *StatusStrategy) PrepareForCreate(context.Context, runtime.Object) {}

func (s *StatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	copyPointee(s.funcs.Spec(obj), s.funcs.Spec(old))
	nm, err1 := meta.Accessor(obj)
	om, err2 := meta.Accessor(old)
	if err1 == nil && err2 == nil {
		nm.SetLabels(om.GetLabels())
		nm.SetAnnotations(om.GetAnnotations())
		nm.SetFinalizers(om.GetFinalizers())
		nm.SetOwnerReferences(om.GetOwnerReferences())
		nm.SetGeneration(om.GetGeneration())
	}
}

func (s *StatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	if s.funcs.ValidateStatusUpdate == nil {
		return nil
	}
	return s.funcs.ValidateStatusUpdate(obj, old)
}

// GetResetFields: through status, only the status (and conditions) change.
func (s *StatusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{s.apiVersion: fieldpath.NewSet(
		fieldpath.MakePathOrDie("spec"),
		fieldpath.MakePathOrDie("metadata", "labels"),
		fieldpath.MakePathOrDie("metadata", "annotations"),
		fieldpath.MakePathOrDie("metadata", "finalizers"),
		fieldpath.MakePathOrDie("metadata", "ownerReferences"),
	)}
}

func (s *StatusStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
