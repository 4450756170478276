package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"
)

// Objects are RBAC objects held in memory.
type Objects struct {
	Roles               []rbacv1.Role
	ClusterRoles        []rbacv1.ClusterRole
	RoleBindings        []rbacv1.RoleBinding
	ClusterRoleBindings []rbacv1.ClusterRoleBinding
}

// NewStaticResolver resolves rules from fixed objects, aggregating the
// aggregated ClusterRoles first: the default policy evaluated without a server.
func NewStaticResolver(o Objects) (*Resolver, error) {
	index := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	roles, clusterRoles, roleBindings, clusterRoleBindings := index(), index(), index(), index()
	crs := make([]*rbacv1.ClusterRole, len(o.ClusterRoles))
	for i := range o.ClusterRoles {
		crs[i] = o.ClusterRoles[i].DeepCopy()
	}
	if err := Aggregate(crs); err != nil {
		return nil, err
	}
	for _, x := range crs {
		if err := clusterRoles.Add(x); err != nil {
			return nil, err
		}
	}
	for i := range o.Roles {
		if err := roles.Add(&o.Roles[i]); err != nil {
			return nil, err
		}
	}
	for i := range o.RoleBindings {
		if err := roleBindings.Add(&o.RoleBindings[i]); err != nil {
			return nil, err
		}
	}
	for i := range o.ClusterRoleBindings {
		if err := clusterRoleBindings.Add(&o.ClusterRoleBindings[i]); err != nil {
			return nil, err
		}
	}
	return &Resolver{
		Roles:               rbaclisters.NewRoleLister(roles),
		ClusterRoles:        rbaclisters.NewClusterRoleLister(clusterRoles),
		RoleBindings:        rbaclisters.NewRoleBindingLister(roleBindings),
		ClusterRoleBindings: rbaclisters.NewClusterRoleBindingLister(clusterRoleBindings),
	}, nil
}
