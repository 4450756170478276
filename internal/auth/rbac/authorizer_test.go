package rbac

import (
	"context"
	"fmt"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

func TestRuleAllows(t *testing.T) {
	res := func(verb, group, resource, sub, name string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Name: name, ResourceRequest: true}
	}
	for _, c := range []struct {
		name  string
		rule  rbacv1.PolicyRule
		attrs authorizer.AttributesRecord
		want  bool
	}{
		{"exact", rule(read, g("batch"), "jobs"), res("list", "batch", "jobs", "", ""), true},
		{"other verb", rule(read, g("batch"), "jobs"), res("create", "batch", "jobs", "", ""), false},
		{"other group", rule(read, g("batch"), "jobs"), res("list", "", "jobs", "", ""), false},
		{"subresource not implied", rule(read, g(""), "pods"), res("get", "", "pods", "log", "p"), false},
		{"subresource named", rule(read, g(""), "pods/log"), res("get", "", "pods", "log", "p"), true},
		{"any resource's subresource", rule(read, g("*"), "*/status"), res("get", "batch", "jobs", "status", "j"), true},
		{"star", rule([]string{"*"}, g("*"), "*"), res("deletecollection", "x", "y", "z", ""), true},
		{"resource name", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: g(""), Resources: []string{"secrets"}, ResourceNames: []string{"a"}}, res("get", "", "secrets", "", "a"), true},
		{"other name", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: g(""), Resources: []string{"secrets"}, ResourceNames: []string{"a"}}, res("get", "", "secrets", "", "b"), false},
		{"names do not list", rbacv1.PolicyRule{Verbs: []string{"list"}, APIGroups: g(""), Resources: []string{"secrets"}, ResourceNames: []string{"a"}}, res("list", "", "secrets", "", ""), false},
		{"url prefix", urls([]string{"get"}, "/apis/*"), authorizer.AttributesRecord{Verb: "get", Path: "/apis/batch/v1"}, true},
		{"url exact only", urls([]string{"get"}, "/version"), authorizer.AttributesRecord{Verb: "get", Path: "/version/x"}, false},
		{"url rule on a resource", urls([]string{"get"}, "*"), res("get", "", "pods", "", ""), false},
	} {
		if got := RuleAllows(c.attrs, &c.rule); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestBindingsAndEscalation(t *testing.T) {
	resolver, err := NewStaticResolver(Objects{
		ClusterRoles: append(ClusterRoles(map[string][]string{"batch": {"jobs"}}),
			rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "job-reader"}, Rules: []rbacv1.PolicyRule{rule(read, g("batch"), "jobs")}}),
		Roles: []rbacv1.Role{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "secret-reader"}, Rules: []rbacv1.PolicyRule{rule(read, g(""), "secrets")}}},
		RoleBindings: []rbacv1.RoleBinding{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sa"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "secret-reader"},
				Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "bot"}}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "dangling"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "gone"},
				Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}}},
		},
		ClusterRoleBindings: append(ClusterRoleBindings(), rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice"},
			RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "job-reader"}, Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	a := &Authorizer{Resolver: resolver}
	bot := &user.DefaultInfo{Name: "system:serviceaccount:ns:bot", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns", user.AllAuthenticated}}
	alice := &user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}}
	decide := func(u user.Info, verb, group, resource, ns string) (authorizer.Decision, string) {
		d, why, _ := a.Authorize(context.Background(), authorizer.AttributesRecord{User: u, Verb: verb, APIGroup: group, Resource: resource, Namespace: ns, ResourceRequest: true})
		return d, why
	}
	if d, why := decide(bot, "get", "", "secrets", "ns"); d != authorizer.DecisionAllow || why != `RBAC: allowed by RoleBinding "sa/ns" of Role "secret-reader" to ServiceAccount "bot"` {
		t.Errorf("bot reads secrets in ns: %v %q", d, why)
	}
	if d, _ := decide(bot, "get", "", "secrets", "other"); d == authorizer.DecisionAllow {
		t.Error("a RoleBinding applies in another namespace")
	}
	if d, _ := decide(alice, "list", "batch", "jobs", "any"); d != authorizer.DecisionAllow {
		t.Error("ClusterRoleBinding does not apply everywhere")
	}
	if d, why := decide(alice, "delete", "batch", "jobs", "ns"); d == authorizer.DecisionAllow || why != `RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found` {
		t.Errorf("dangling binding: %v %q", d, why)
	}
	if d, _, _ := a.Authorize(context.Background(), authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "x", Groups: []string{GroupEdit}}, Verb: "get", Path: "/debug/pprof/"}); d != authorizer.DecisionDeny {
		t.Errorf("/debug for an editor: %v", d)
	}
	if d, _, _ := a.Authorize(context.Background(), authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "x", Groups: []string{user.SystemPrivilegedGroup}}, Verb: "get", Path: "/debug/pprof/"}); d != authorizer.DecisionAllow {
		t.Errorf("/debug for masters: %v", d)
	}

	ctx := genericapirequest.WithNamespace(genericapirequest.WithUser(context.Background(), alice), "ns")
	if err := ConfirmNoEscalation(ctx, resolver, []rbacv1.PolicyRule{rule([]string{"get"}, g("batch"), "jobs")}); err != nil {
		t.Errorf("alice grants what she holds: %v", err)
	}
	err = ConfirmNoEscalation(ctx, resolver, []rbacv1.PolicyRule{rule([]string{"get", "delete", "create"}, g("batch"), "jobs")})
	want := "user \"alice\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n" +
		"{APIGroups:[\"batch\"], Resources:[\"jobs\"], Verbs:[\"delete\" \"create\"]}; resolution errors: [clusterrole.rbac.authorization.k8s.io \"gone\" not found]"
	if err == nil || err.Error() != want {
		t.Errorf("alice escalates:\n%v\nwant\n%s", err, want)
	}
}

func TestAggregate(t *testing.T) {
	roles := ClusterRoles(map[string][]string{"": {"pods"}})
	ptrs := make([]*rbacv1.ClusterRole, len(roles))
	for i := range roles {
		ptrs[i] = &roles[i]
	}
	if err := Aggregate(ptrs); err != nil {
		t.Fatal(err)
	}
	byName := map[string]*rbacv1.ClusterRole{}
	for _, r := range ptrs {
		byName[r.Name] = r
	}
	has := func(role, verb, resource string) bool {
		for _, r := range byName[role].Rules {
			if RuleAllows(authorizer.AttributesRecord{Verb: verb, APIGroup: "batch", Resource: resource, ResourceRequest: true}, &r) {
				return true
			}
		}
		return false
	}
	if !has("view", "list", "jobs") || has("view", "create", "jobs") || !has("edit", "create", "jobs") || !has("edit", "list", "jobs") || !has("admin", "list", "cronjobs") {
		t.Errorf("aggregated rules: view %d, edit %d, admin %d", len(byName["view"].Rules), len(byName["edit"].Rules), len(byName["admin"].Rules))
	}
}

func BenchmarkAuthorizeDefaultPolicy(b *testing.B) {
	served := map[string][]string{"": {"pods", "secrets", "configmaps"}, "batch": {"jobs", "cronjobs"}}
	var bindings []rbacv1.RoleBinding
	for i := range 100 {
		bindings = append(bindings, rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("b%d", i)},
			RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: fmt.Sprintf("sa%d", i)}}})
	}
	r, err := NewStaticResolver(Objects{ClusterRoles: ClusterRoles(served), ClusterRoleBindings: ClusterRoleBindings(), RoleBindings: bindings})
	if err != nil {
		b.Fatal(err)
	}
	a := &Authorizer{Resolver: r}
	u := &user.DefaultInfo{Name: "system:serviceaccount:ns:sa99", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns", user.AllAuthenticated}}
	attrs := authorizer.AttributesRecord{User: u, Verb: "list", APIGroup: "batch", Resource: "jobs", Namespace: "ns", ResourceRequest: true}
	for b.Loop() {
		if d, _, _ := a.Authorize(context.Background(), attrs); d != authorizer.DecisionAllow {
			b.Fatal(d)
		}
	}
}
