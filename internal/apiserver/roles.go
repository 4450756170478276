package apiserver

import (
	"context"
	"sync"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/batchd/batchd/internal/auth/rbac"
)

// Groups that grant a role. The admin credentials carry system:masters;
// users of --token-file name one of these in their groups column. Each is a
// ClusterRole of the same name, bound to the group of the same name by a
// ClusterRoleBinding made at start (internal/auth/rbac/policy.go).
const (
	GroupView = rbac.GroupView // read everything but Secrets, as Kubernetes' view role
	GroupEdit = rbac.GroupEdit // read and write everything, as Kubernetes' edit role
)

// defaultPolicy is the RBAC authorizer over the default policy alone (no
// objects users added): what a fresh server decides.
var defaultPolicy = sync.OnceValues(func() (*rbac.Authorizer, error) {
	r, err := rbac.NewStaticResolver(rbac.Objects{
		ClusterRoles:        rbac.ClusterRoles(servedRBACResources(servedResources(nil, nil, nil))),
		ClusterRoleBindings: rbac.ClusterRoleBindings(),
	})
	if err != nil {
		return nil, err
	}
	return &rbac.Authorizer{Resolver: r}, nil
})

// Authorize decides a request of a user in groups by the default RBAC policy:
// masters and batchd:edit may do anything but escalate, batchd:view may read
// (get, list, watch) anything but Secrets (and /metrics, as
// system:monitoring), any authenticated user may read the discovery, health
// and version endpoints (system:discovery, system:public-info-viewer).
// Profiles (/debug) are the masters' only.
func Authorize(groups []string, a authorizer.Attributes) (authorizer.Decision, string) {
	authz, err := defaultPolicy()
	if err != nil {
		return authorizer.DecisionNoOpinion, err.Error()
	}
	attrs := authorizer.AttributesRecord{
		User: &user.DefaultInfo{Groups: groups}, Verb: a.GetVerb(), Namespace: a.GetNamespace(), APIGroup: a.GetAPIGroup(),
		APIVersion: a.GetAPIVersion(), Resource: a.GetResource(), Subresource: a.GetSubresource(), Name: a.GetName(),
		ResourceRequest: a.IsResourceRequest(), Path: a.GetPath(),
	}
	d, why, err := authz.Authorize(context.Background(), attrs)
	if err != nil {
		return authorizer.DecisionNoOpinion, err.Error()
	}
	return d, why
}
