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
	// PrepareForStatusUpdate runs on writes through the status subresource
	// after the stored spec was put back (e.g. pods keep their
	// ownerReferences there); StatusResetFields names the fields it resets
	// beyond spec, for server-side apply.
	PrepareForStatusUpdate func(obj, old runtime.Object)
	StatusResetFields      []fieldpath.Path
	// StatusOnCreate keeps the status a client creates the object with
	// (nodes, as upstream) instead of clearing it.
	StatusOnCreate bool
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
	if s.hasStatus() && !s.funcs.StatusOnCreate {
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

// StatusStrategy is the strategy of a resource's status subresource: it
// keeps the stored spec and nothing else of it, as upstream's status
// strategies of Jobs, CronJobs, Namespaces, Nodes and PVCs do — metadata
// (labels, annotations, finalizers, ownerReferences) written through status
// is kept, so PATCH …/status with metadata.annotations adds the annotation.
// A resource narrows that with PrepareForStatusUpdate (pods). The generation
// cannot change here: rest.BeforeUpdate restores it on every update.
type StatusStrategy struct{ *Strategy }

// NewStatusStrategy returns the status-subresource variant of s.
func NewStatusStrategy(s *Strategy) *StatusStrategy { return &StatusStrategy{s} }

func (s *StatusStrategy) PrepareForCreate(context.Context, runtime.Object) {}

func (s *StatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	copyPointee(s.funcs.Spec(obj), s.funcs.Spec(old))
	if s.funcs.PrepareForStatusUpdate != nil {
		s.funcs.PrepareForStatusUpdate(obj, old)
	}
}

func (s *StatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	if s.funcs.ValidateStatusUpdate == nil {
		return nil
	}
	return s.funcs.ValidateStatusUpdate(obj, old)
}

// GetResetFields: through status, the spec (and what
// PrepareForStatusUpdate resets) belongs to no field manager.
func (s *StatusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	paths := append([]fieldpath.Path{fieldpath.MakePathOrDie("spec")}, s.funcs.StatusResetFields...)
	return map[fieldpath.APIVersion]*fieldpath.Set{s.apiVersion: fieldpath.NewSet(paths...)}
}

func (s *StatusStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
