package job

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/warning"

	"github.com/batchd/batchd/internal/apiserver/registry"
	"github.com/batchd/batchd/internal/apiserver/validation"
)

// Resource describes batch/v1 jobs.
func Resource() registry.Resource {
	return registry.Resource{
		Resource:   batchv1.Resource("jobs"),
		Singular:   "job",
		Namespaced: true,
		New:        func() runtime.Object { return &batchv1.Job{} },
		NewList:    func() runtime.Object { return &batchv1.JobList{} },
		Default:    func(obj runtime.Object) { SetDefaults(obj.(*batchv1.Job)) },
		Categories: []string{"all"},
		Table:      Table(),
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.successful": fmt.Sprint(obj.(*batchv1.Job).Status.Succeeded)}
		},
		Funcs: registry.Funcs{
			Spec:             func(obj runtime.Object) any { return &obj.(*batchv1.Job).Spec },
			Status:           func(obj runtime.Object) any { return &obj.(*batchv1.Job).Status },
			BumpGeneration:   true,
			GCPolicy:         rest.OrphanDependents,
			PrepareForCreate: func(obj runtime.Object) { GenerateSelector(obj.(*batchv1.Job)) },
			Validate:         func(obj runtime.Object) field.ErrorList { return Validate(obj.(*batchv1.Job)) },
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return ValidateUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
			},
			ValidateStatusUpdate: func(obj, old runtime.Object) field.ErrorList {
				return ValidateStatusUpdate(obj.(*batchv1.Job), old.(*batchv1.Job))
			},
			WarningsOnCreate: func(obj runtime.Object) []string { return Warnings(obj.(*batchv1.Job)) },
		},
		REST: newREST,
	}
}

// Warnings are upstream's WarningsOnCreate for Jobs.
func Warnings(j *batchv1.Job) []string {
	var w []string
	if msgs := validation.DNSLabel(j.Name, false); len(msgs) > 0 {
		w = append(w, fmt.Sprintf("metadata.name: this is used in Pod names and hostnames, which can result in surprising behavior; a DNS label is recommended: %v", msgs))
	}
	if isIndexed(&j.Spec) && j.Spec.Completions != nil && *j.Spec.Completions > 100000 && j.Spec.Parallelism != nil && *j.Spec.Parallelism > 10000 {
		w = append(w, "spec.completions: In Indexed Jobs with a number of completions higher than 10^5 and a parallelism higher than 10^4, Kubernetes might not be able to track completedIndexes when a big number of indexes fail")
	}
	return w
}

// deleteWarning is what batch/v1 answers a delete that names no propagation policy.
const deleteWarning = "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning"

// Storage is the Job store with batch/v1's delete warning.
type Storage struct{ *registry.Storage }

func (s *Storage) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	if options != nil && options.PropagationPolicy == nil && options.OrphanDependents == nil {
		warning.AddWarning(ctx, "", deleteWarning)
	}
	return s.Storage.Delete(ctx, name, deleteValidation, options)
}

func (s *Storage) DeleteCollection(ctx context.Context, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions, listOptions *metainternalversion.ListOptions) (runtime.Object, error) {
	if options != nil && options.PropagationPolicy == nil && options.OrphanDependents == nil {
		warning.AddWarning(ctx, "", deleteWarning)
	}
	return s.Storage.DeleteCollection(ctx, deleteValidation, options, listOptions)
}

// newREST serves Jobs through Storage.
func newREST(s *registry.Storage) (rest.Storage, map[string]rest.Storage) { return &Storage{s}, nil }
