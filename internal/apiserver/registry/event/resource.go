package event

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/batchd/batchd/internal/apiserver/registry"
	"github.com/batchd/batchd/internal/apiserver/registry/core"
	"github.com/batchd/batchd/internal/apiserver/validation"
)

// Resource describes events.k8s.io/v1 events.
func Resource() registry.Resource {
	coreTable := core.Events().Table
	return registry.Resource{
		Resource: eventsv1.Resource("events"), Singular: "event", Namespaced: true,
		New:        func() runtime.Object { return &eventsv1.Event{} },
		NewList:    func() runtime.Object { return &eventsv1.EventList{} },
		ShortNames: []string{"ev"},
		TTL:        time.Hour,
		Fields: func(obj runtime.Object) fields.Set {
			e := ToCore(obj.(*eventsv1.Event))
			return core.EventFields(&e)
		},
		Funcs: registry.Funcs{
			Validate: func(obj runtime.Object) field.ErrorList { return validateCreate(obj.(*eventsv1.Event)) },
			ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
				e, o := obj.(*eventsv1.Event), old.(*eventsv1.Event)
				return validation.ObjectMetaUpdate(&e.ObjectMeta, &o.ObjectMeta)
			},
		},
		// Printed like core events, as upstream prints both.
		Table: &registry.Table{Columns: coreTable.Columns, Row: func(obj runtime.Object, now time.Time) ([]any, error) {
			e := ToCore(obj.(*eventsv1.Event))
			return coreTable.Row(&e, now)
		}},
		StorageOptions: storedAsCore,
	}
}

// validateCreate applies the events.k8s.io/v1 rules for new events.
func validateCreate(e *eventsv1.Event) field.ErrorList {
	errs := validation.ObjectMeta(&e.ObjectMeta, true, validation.DNSSubdomain)
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), e.Type, "has invalid value: "+e.Type))
	}
	for name, v := range map[string]string{"reportingController": e.ReportingController, "reportingInstance": e.ReportingInstance, "action": e.Action, "reason": e.Reason} {
		if v == "" {
			errs = append(errs, field.Required(field.NewPath(name), ""))
		}
	}
	if len(e.Note) > 1024 {
		errs = append(errs, field.TooLong(field.NewPath("note"), "", 1024))
	}
	return errs
}
