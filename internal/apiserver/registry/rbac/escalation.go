package rbac

import (
	"context"
	"errors"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/batchd/batchd/internal/apiserver/registry"
	authrbac "github.com/batchd/batchd/internal/auth/rbac"
)

// Guard holds what the escalation checks consult.
type Guard struct {
	Authorizer authorizer.Authorizer
	Resolver   *authrbac.Resolver
	// Get reads a Role or ClusterRole from storage when the resolver's cache
	// has not seen it yet (a role created just before its binding).
	Get func(ctx context.Context, ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error)
}

// Guarded wraps a role or binding store with its escalation check.
type Guarded struct {
	*registry.Storage
	check func(ctx context.Context, obj, old runtime.Object) error
}

// Create checks, then creates.
func (s *Guarded) Create(ctx context.Context, obj runtime.Object, validate rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	if err := s.check(ctx, obj, nil); err != nil {
		return nil, err
	}
	return s.Storage.Create(ctx, obj, validate, opts)
}

// Update checks the updated object, whatever way it was written (update,
// patch, apply), then updates.
func (s *Guarded) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, opts *metav1.UpdateOptions) (runtime.Object, bool, error) {
	checked := rest.WrapUpdatedObjectInfo(objInfo, func(ctx context.Context, obj, old runtime.Object) (runtime.Object, error) {
		return obj, s.check(ctx, obj, old)
	})
	return s.Storage.Update(ctx, name, checked, createValidation, updateValidation, forceAllowCreate, opts)
}

// onlyGCFields: an update that only touches ownerReferences or finalizers
// (the garbage collector's) is not checked, as upstream.
func onlyGCFields(obj, old runtime.Object) bool {
	if old == nil {
		return false
	}
	a, b := obj.DeepCopyObject(), old.DeepCopyObject()
	am, bm := a.(metav1.Object), b.(metav1.Object)
	am.SetOwnerReferences(nil)
	bm.SetOwnerReferences(nil)
	am.SetFinalizers(nil)
	bm.SetFinalizers(nil)
	am.SetResourceVersion("")
	bm.SetResourceVersion("")
	am.SetManagedFields(nil)
	bm.SetManagedFields(nil)
	return apiequality.Semantic.DeepEqual(a, b)
}

// GuardRoles checks Role and ClusterRole writes: the writer holds every rule,
// or may escalate; only a full authority may set or change an aggregationRule.
func GuardRoles(storage *registry.Storage, g Guard) *Guarded {
	return &Guarded{Storage: storage, check: func(ctx context.Context, obj, old runtime.Object) error {
		if authrbac.EscalationAllowed(ctx) || onlyGCFields(obj, old) || authrbac.RoleEscalationAuthorized(ctx, g.Authorizer) {
			return nil
		}
		var (
			gr          schema.GroupResource
			name        string
			rules       []rbacv1.PolicyRule
			aggregation bool
		)
		switch o := obj.(type) {
		case *rbacv1.Role:
			gr, name, rules = rbacv1.Resource("roles"), o.Name, o.Rules
		case *rbacv1.ClusterRole:
			gr, name, rules = rbacv1.Resource("clusterroles"), o.Name, o.Rules
			aggregation = o.AggregationRule != nil
			if prev, ok := old.(*rbacv1.ClusterRole); ok && prev.AggregationRule != nil {
				aggregation = true
			}
		}
		if err := authrbac.ConfirmNoEscalation(ctx, g.Resolver, rules); err != nil {
			return apierrors.NewForbidden(gr, name, err)
		}
		if aggregation {
			if err := authrbac.ConfirmNoEscalation(ctx, g.Resolver, authrbac.FullAuthority); err != nil {
				return apierrors.NewForbidden(gr, name, errors.New("must have cluster-admin privileges to use the aggregationRule"))
			}
		}
		return nil
	}}
}

// GuardBindings checks RoleBinding and ClusterRoleBinding writes: the writer
// may bind the role, or holds every rule of it.
func GuardBindings(storage *registry.Storage, g Guard) *Guarded {
	return &Guarded{Storage: storage, check: func(ctx context.Context, obj, old runtime.Object) error {
		if authrbac.EscalationAllowed(ctx) || onlyGCFields(obj, old) {
			return nil
		}
		var (
			gr        schema.GroupResource
			name      string
			ref       rbacv1.RoleRef
			namespace string
		)
		switch o := obj.(type) {
		case *rbacv1.RoleBinding:
			gr, name, ref = rbacv1.Resource("rolebindings"), o.Name, o.RoleRef
			namespace, _ = genericapirequest.NamespaceFrom(ctx)
		case *rbacv1.ClusterRoleBinding:
			gr, name, ref = rbacv1.Resource("clusterrolebindings"), o.Name, o.RoleRef
		}
		if authrbac.BindingAuthorized(ctx, ref, namespace, g.Authorizer) {
			return nil
		}
		rules, err := g.Resolver.RoleReferenceRules(ref, namespace)
		if apierrors.IsNotFound(err) && g.Get != nil {
			rules, err = g.Get(ctx, ref, namespace)
		}
		if err != nil {
			return err
		}
		if err := authrbac.ConfirmNoEscalation(ctx, g.Resolver, rules); err != nil {
			return apierrors.NewForbidden(gr, name, err)
		}
		return nil
	}}
}
