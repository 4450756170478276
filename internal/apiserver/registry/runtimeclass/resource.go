// Package runtimeclass serves node.k8s.io/v1 RuntimeClasses, which name the
// runtime handler a pod runs with: "host" (its command as processes on this
// machine) or "oci" (its image, with runc or crun). Pod admission (the
// apiserver package) checks that a pod's runtimeClassName exists and applies
// the class's overhead and scheduling, as upstream's RuntimeClass plugin.
package runtimeclass

import (
	"time"

	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchd/batchd/internal/apiserver/registry"
	"github.com/batchd/batchd/internal/apiserver/validation"
)

// Resource is runtimeclasses.node.k8s.io, cluster-scoped.
func Resource() registry.Resource {
	return registry.Resource{
		Resource: nodev1.Resource("runtimeclasses"), Singular: "runtimeclass",
		New:     func() runtime.Object { return &nodev1.RuntimeClass{} },
		NewList: func() runtime.Object { return &nodev1.RuntimeClassList{} },
		Funcs: registry.Funcs{
			Validate: func(obj runtime.Object) field.ErrorList { return validation.RuntimeClass(obj.(*nodev1.RuntimeClass)) },
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				return validation.RuntimeClassUpdate(obj.(*nodev1.RuntimeClass), old.(*nodev1.RuntimeClass))
			},
		},
		Table: &registry.Table{
			Columns: []metav1.TableColumnDefinition{
				registry.NameColumn(),
				registry.Column("Handler", "string", "", "Handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.", false),
				registry.AgeColumn(),
			},
			Row: func(obj runtime.Object, now time.Time) ([]any, error) {
				rc := obj.(*nodev1.RuntimeClass)
				return []any{rc.Name, rc.Handler, registry.Age(rc.CreationTimestamp, now)}, nil
			},
		},
	}
}
