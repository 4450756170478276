package rbac

import (
	"context"
	"fmt"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
)

// Resolver finds the rules that apply to a user, from the four RBAC kinds.
type Resolver struct {
	Roles               rbaclisters.RoleLister
	ClusterRoles        rbaclisters.ClusterRoleLister
	RoleBindings        rbaclisters.RoleBindingLister
	ClusterRoleBindings rbaclisters.ClusterRoleBindingLister
}

// visitor sees each rule (with the binding it came from) or a resolution
// error; it returns false to stop.
type visitor func(source string, rule *rbacv1.PolicyRule, err error) bool

// VisitRulesFor calls visit for every rule bound to u: cluster-wide through
// ClusterRoleBindings, then in namespace through its RoleBindings.
func (r *Resolver) VisitRulesFor(u user.Info, namespace string, visit visitor) {
	crbs, err := r.ClusterRoleBindings.List(labels.Everything())
	if err != nil {
		if !visit("", nil, err) {
			return
		}
	}
	for _, b := range crbs {
		i, ok := appliesTo(u, b.Subjects, "")
		if !ok {
			continue
		}
		rules, err := r.RoleReferenceRules(b.RoleRef, "")
		if err != nil {
			if !visit("", nil, err) {
				return
			}
			continue
		}
		source := describe("ClusterRoleBinding", "", b.Name, b.RoleRef, b.Subjects[i])
		for j := range rules {
			if !visit(source, &rules[j], nil) {
				return
			}
		}
	}
	if namespace == "" {
		return
	}
	rbs, err := r.RoleBindings.RoleBindings(namespace).List(labels.Everything())
	if err != nil {
		visit("", nil, err)
		return
	}
	for _, b := range rbs {
		i, ok := appliesTo(u, b.Subjects, namespace)
		if !ok {
			continue
		}
		rules, err := r.RoleReferenceRules(b.RoleRef, namespace)
		if err != nil {
			if !visit("", nil, err) {
				return
			}
			continue
		}
		source := describe("RoleBinding", namespace, b.Name, b.RoleRef, b.Subjects[i])
		for j := range rules {
			if !visit(source, &rules[j], nil) {
				return
			}
		}
	}
}

// RulesFor returns every rule bound to u in namespace ("" for cluster-wide
// only), and the first resolution error, if any (the rules are then partial).
func (r *Resolver) RulesFor(_ context.Context, u user.Info, namespace string) ([]rbacv1.PolicyRule, error) {
	var rules []rbacv1.PolicyRule
	var errs []error
	r.VisitRulesFor(u, namespace, func(_ string, rule *rbacv1.PolicyRule, err error) bool {
		if rule != nil {
			rules = append(rules, *rule)
		}
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	if len(errs) > 0 {
		return rules, errs[0]
	}
	return rules, nil
}

// RoleReferenceRules returns the rules of the role a binding in namespace refers to.
func (r *Resolver) RoleReferenceRules(ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "Role":
		role, err := r.Roles.Roles(namespace).Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return role.Rules, nil
	case "ClusterRole":
		role, err := r.ClusterRoles.Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return role.Rules, nil
	}
	return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
}

func appliesTo(u user.Info, subjects []rbacv1.Subject, namespace string) (int, bool) {
	for i, s := range subjects {
		if appliesToUser(u, s, namespace) {
			return i, true
		}
	}
	return 0, false
}

func appliesToUser(u user.Info, s rbacv1.Subject, namespace string) bool {
	switch s.Kind {
	case rbacv1.UserKind:
		return u.GetName() == s.Name
	case rbacv1.GroupKind:
		return slices.Contains(u.GetGroups(), s.Name)
	case rbacv1.ServiceAccountKind:
		// A RoleBinding may name a service account of its own namespace without one.
		ns := namespace
		if s.Namespace != "" {
			ns = s.Namespace
		}
		return ns != "" && serviceaccount.MatchesUsername(ns, s.Name, u.GetName())
	}
	return false
}

// describe is upstream's reason text, e.g. `RoleBinding "view/ns" of ClusterRole "view" to ServiceAccount "x/ns"`.
func describe(kind, namespace, name string, ref rbacv1.RoleRef, s rbacv1.Subject) string {
	binding := name
	if namespace != "" {
		binding = name + "/" + namespace
	}
	subject := s.Name
	if s.Namespace != "" {
		subject = s.Name + "/" + s.Namespace
	}
	return fmt.Sprintf("%s %q of %s %q to %s %q", kind, binding, ref.Kind, ref.Name, s.Kind, subject)
}
