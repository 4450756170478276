package apiserver

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/batchd/batchd/internal/apiserver/registry"
	"github.com/batchd/batchd/internal/apiserver/registry/core"
	"github.com/batchd/batchd/internal/apiserver/registry/cronjob"
	"github.com/batchd/batchd/internal/apiserver/registry/event"
	"github.com/batchd/batchd/internal/apiserver/registry/job"
	"github.com/batchd/batchd/internal/apiserver/registry/jobrun"
	"github.com/batchd/batchd/internal/apiserver/registry/pod"
	"github.com/batchd/batchd/internal/apiserver/registry/rbac"
	"github.com/batchd/batchd/internal/apiserver/registry/runtimeclass"
	"github.com/batchd/batchd/internal/apiserver/registry/service"
)

// servedResources lists every resource batchd serves; logs and runLogs
// serve pods/log and jobruns/log, streams pods/exec, attach and portforward.
func servedResources(logs pod.LogSource, runLogs jobrun.LogSource, streams *pod.Streams) []registry.Resource {
	return []registry.Resource{
		core.Namespaces(), core.Events(), core.ConfigMaps(), core.Secrets(), core.ServiceAccounts(),
		core.Nodes(), core.PersistentVolumeClaims(), pod.Resource(logs, streams),
		job.Resource(), cronjob.Resource(),
		core.Leases(), event.Resource(), runtimeclass.Resource(), jobrun.Resource(runLogs),
		rbac.Roles(), rbac.ClusterRoles(), rbac.RoleBindings(), rbac.ClusterRoleBindings(),
		service.Services(), service.Endpoints(), service.EndpointSlices(),
	}
}

// registerResourceFuncs adds each resource's defaulting and field-label
// conversion to the scheme.
func registerResourceFuncs(s *runtime.Scheme, resources []registry.Resource) error {
	for _, r := range resources {
		obj := r.New()
		gvks, _, err := s.ObjectKinds(obj)
		if err != nil {
			return err
		}
		if r.Default != nil {
			s.AddTypeDefaultingFunc(obj, func(o any) { r.Default(o.(runtime.Object)) })
			s.AddTypeDefaultingFunc(r.NewList(), func(o any) {
				_ = eachListItem(o.(runtime.Object), r.Default)
			})
		}
		allowed := sets.New("metadata.name")
		if r.Namespaced {
			allowed.Insert("metadata.namespace")
		}
		if r.Fields != nil {
			for k := range r.Fields(r.New()) {
				allowed.Insert(k)
			}
		}
		for _, gvk := range gvks {
			if gvk.Version == runtime.APIVersionInternal {
				continue
			}
			if err := s.AddFieldLabelConversionFunc(gvk, fieldLabelConversion(allowed)); err != nil {
				return err
			}
		}
	}
	return nil
}

func fieldLabelConversion(allowed sets.Set[string]) runtime.FieldLabelConversionFunc {
	return func(label, value string) (string, string, error) {
		if allowed.Has(label) {
			return label, value, nil
		}
		return "", "", fmt.Errorf("field label not supported: %s", label)
	}
}
