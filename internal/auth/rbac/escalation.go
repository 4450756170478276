package rbac

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/component-helpers/auth/rbac/validation"
)

// FullAuthority is cluster-admin's rules: what it takes to set an aggregationRule.
var FullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

// EscalationAllowed: system:masters may write any role or binding (the server's
// own loopback client is one).
func EscalationAllowed(ctx context.Context) bool {
	u, ok := genericapirequest.UserFrom(ctx)
	return ok && slices.Contains(u.GetGroups(), user.SystemPrivilegedGroup)
}

// RoleEscalationAuthorized reports whether the requester holds the escalate
// verb on the role being written.
func RoleEscalationAuthorized(ctx context.Context, a authorizer.Authorizer) bool {
	info, ok := genericapirequest.RequestInfoFrom(ctx)
	if !ok {
		return false
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return false
	}
	attrs := authorizer.AttributesRecord{User: u, Verb: "escalate", APIGroup: info.APIGroup, APIVersion: "*",
		Resource: info.Resource, Name: info.Name, Namespace: info.Namespace, ResourceRequest: true}
	d, _, _ := a.Authorize(ctx, attrs)
	return d == authorizer.DecisionAllow
}

// BindingAuthorized reports whether the requester holds the bind verb on the
// role ref in bindingNamespace ("" for a ClusterRoleBinding).
func BindingAuthorized(ctx context.Context, ref rbacv1.RoleRef, bindingNamespace string, a authorizer.Authorizer) bool {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return false
	}
	attrs := authorizer.AttributesRecord{User: u, Verb: "bind", Namespace: bindingNamespace, ResourceRequest: true,
		APIGroup: ref.APIGroup, APIVersion: "*", Name: ref.Name}
	switch ref.Kind {
	case "ClusterRole":
		attrs.Resource = "clusterroles"
	case "Role":
		attrs.Resource = "roles"
	default:
		return false
	}
	d, _, _ := a.Authorize(ctx, attrs)
	return d == authorizer.DecisionAllow
}

// ConfirmNoEscalation fails unless the requester already holds every rule
// (in the request's namespace), with upstream's message listing the missing ones.
func ConfirmNoEscalation(ctx context.Context, r *Resolver, rules []rbacv1.PolicyRule) error {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return errors.New("no user on request")
	}
	namespace, _ := genericapirequest.NamespaceFrom(ctx)
	owned, resolveErr := r.RulesFor(ctx, u, namespace)
	covers, missing := validation.Covers(owned, rules)
	if covers {
		return nil
	}
	descs := make([]string, 0, len(missing))
	seen := map[string]bool{}
	for _, m := range compact(missing) {
		if d := CompactString(m); !seen[d] {
			seen[d] = true
			descs = append(descs, d)
		}
	}
	sort.Strings(descs)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s", u.GetName(), u.GetGroups(), strings.Join(descs, "\n"))
	if resolveErr != nil {
		msg += fmt.Sprintf("; resolution errors: %v", []error{resolveErr})
	}
	return errors.New(msg)
}

// compact merges the broken-down missing rules that differ only in their
// verbs (upstream's CompactRules for the simple resource case).
func compact(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	type key struct{ group, resource, name string }
	var out []rbacv1.PolicyRule
	index := map[key]int{}
	for _, r := range rules {
		if len(r.APIGroups) == 1 && len(r.Resources) == 1 && len(r.ResourceNames) <= 1 && len(r.NonResourceURLs) == 0 {
			k := key{r.APIGroups[0], r.Resources[0], strings.Join(r.ResourceNames, "")}
			if i, ok := index[k]; ok {
				out[i].Verbs = append(out[i].Verbs, r.Verbs...)
				continue
			}
			index[k] = len(out)
		}
		out = append(out, *r.DeepCopy())
	}
	return out
}

// CompactString is upstream's one-line form of a rule, e.g.
// {APIGroups:["batch"], Resources:["jobs"], Verbs:["get" "list"]}.
func CompactString(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, vals []string) {
		if len(vals) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", name, vals))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("ResourceNames", r.ResourceNames)
	add("NonResourceURLs", r.NonResourceURLs)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}
