package rbac

import (
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

// Groups of --token-file users that grant batchd's two roles (ClusterRoles of
// the same names, bound to the groups of the same names).
const (
	GroupView = "batchd:view" // read everything but Secrets
	GroupEdit = "batchd:edit" // read and write everything
)

// Labels and annotations of upstream's default policy.
const (
	AutoUpdateAnnotation = "rbac.authorization.kubernetes.io/autoupdate"
	BootstrapLabel       = "kubernetes.io/bootstrapping"
	aggregateToAdmin     = "rbac.authorization.k8s.io/aggregate-to-admin"
	aggregateToEdit      = "rbac.authorization.k8s.io/aggregate-to-edit"
	aggregateToView      = "rbac.authorization.k8s.io/aggregate-to-view"
)

var (
	read      = []string{"get", "list", "watch"}
	write     = []string{"create", "delete", "deletecollection", "patch", "update"}
	readWrite = append(append([]string{}, read...), write...)
)

func rule(verbs []string, groups []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources}
}

func urls(verbs []string, paths ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: paths}
}

func g(names ...string) []string { return names }

func clusterRole(name string, labels map[string]string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
	l := map[string]string{BootstrapLabel: "rbac-defaults"}
	for k, v := range labels {
		l[k] = v
	}
	return rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, Annotations: map[string]string{AutoUpdateAnnotation: "true"}},
		Rules:      rules,
	}
}

func aggregated(name string, labels map[string]string, selectorLabel string) rbacv1.ClusterRole {
	r := clusterRole(name, labels)
	r.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{selectorLabel: "true"}}}}
	return r
}

// ClusterRoles returns the default ClusterRoles: upstream's that matter on a
// batch machine, and batchd:view / batchd:edit. served lists the resources
// (with subresources, e.g. "pods/log") batchd serves per API group, from which
// batchd:view's "everything but Secrets" is spelled out.
func ClusterRoles(served map[string][]string) []rbacv1.ClusterRole {
	return []rbacv1.ClusterRole{
		clusterRole("cluster-admin", nil, FullAuthority...),
		aggregated("admin", nil, aggregateToAdmin),
		aggregated("edit", map[string]string{aggregateToAdmin: "true"}, aggregateToEdit),
		aggregated("view", map[string]string{aggregateToEdit: "true"}, aggregateToView),
		clusterRole("system:aggregate-to-admin", map[string]string{aggregateToAdmin: "true"},
			rule([]string{"create"}, g("authorization.k8s.io"), "localsubjectaccessreviews"),
			rule(readWrite, g("rbac.authorization.k8s.io"), "roles", "rolebindings"),
		),
		clusterRole("system:aggregate-to-edit", map[string]string{aggregateToEdit: "true"},
			rule(read, g(""), "pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"),
			rule([]string{"impersonate"}, g(""), "serviceaccounts"),
			rule(write, g(""), "pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
			rule([]string{"create"}, g(""), "pods/eviction"),
			// Not pods/ephemeralcontainers (kubectl debug), as upstream: adding
			// one bypasses admission written before it existed, so
			// administrators grant it on purpose (kubernetes#109332).
			rule(write, g(""), "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
				"services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"),
			rule([]string{"create"}, g(""), "serviceaccounts/token"),
			rule(write, g("apps"), "statefulsets", "statefulsets/scale", "daemonsets", "deployments", "deployments/scale",
				"deployments/rollback", "replicasets", "replicasets/scale"),
			rule(write, g("autoscaling"), "horizontalpodautoscalers"),
			rule(write, g("batch"), "jobs", "cronjobs"),
			rule(write, g("extensions"), "daemonsets", "deployments", "deployments/scale", "deployments/rollback", "ingresses",
				"replicasets", "replicasets/scale", "replicationcontrollers/scale", "networkpolicies"),
			rule(write, g("policy"), "poddisruptionbudgets"),
			rule(write, g("networking.k8s.io"), "networkpolicies", "ingresses"),
			rule(readWrite, g("coordination.k8s.io"), "leases"),
		),
		clusterRole("system:aggregate-to-view", map[string]string{aggregateToView: "true"},
			rule(read, g(""), "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
				"services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"),
			rule(read, g(""), "limitranges", "resourcequotas", "bindings", "events", "pods/status", "resourcequotas/status",
				"namespaces/status", "replicationcontrollers/status", "pods/log"),
			rule(read, g(""), "namespaces"),
			rule(read, g("discovery.k8s.io"), "endpointslices"),
			rule(read, g("apps"), "controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
				"daemonsets", "daemonsets/status", "deployments", "deployments/status", "deployments/scale",
				"replicasets", "replicasets/status", "replicasets/scale"),
			rule(read, g("autoscaling"), "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
			rule(read, g("batch"), "jobs", "cronjobs", "cronjobs/status", "jobs/status"),
			rule(read, g("extensions"), "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
				"ingresses", "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status",
				"replicationcontrollers/scale", "networkpolicies"),
			rule(read, g("policy"), "poddisruptionbudgets", "poddisruptionbudgets/status"),
			rule(read, g("networking.k8s.io"), "networkpolicies", "ingresses", "ingresses/status"),
		),
		clusterRole("system:basic-user", nil,
			rule([]string{"create"}, g("authorization.k8s.io"), "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			rule([]string{"create"}, g("authentication.k8s.io"), "selfsubjectreviews"),
		),
		clusterRole("system:discovery", nil,
			urls([]string{"get"}, "/livez", "/readyz", "/healthz", "/version", "/version/", "/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"),
		),
		clusterRole("system:public-info-viewer", nil,
			urls([]string{"get"}, "/livez", "/readyz", "/healthz", "/version", "/version/"),
		),
		clusterRole("system:monitoring", nil,
			urls([]string{"get"}, "/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz", "/livez/*", "/readyz/*", "/healthz/*"),
		),
		clusterRole("system:auth-delegator", nil,
			rule([]string{"create"}, g("authentication.k8s.io"), "tokenreviews"),
			rule([]string{"create"}, g("authorization.k8s.io"), "subjectaccessreviews"),
		),
		clusterRole(GroupView, nil, viewRules(served)...),
		clusterRole(GroupEdit, nil,
			rule(readWrite, g("*"), "*"),
			urls([]string{"get"}, "/metrics"),
		),
	}
}

// viewRules reads every served resource but Secrets, plus /metrics (as
// system:monitoring does).
func viewRules(served map[string][]string) []rbacv1.PolicyRule {
	groups := make([]string, 0, len(served))
	for group := range served {
		groups = append(groups, group)
	}
	sort.Strings(groups)
	var rules []rbacv1.PolicyRule
	for _, group := range groups {
		var rs []string
		for _, r := range served[group] {
			if group == "" && (r == "secrets" || r == "secrets/status") {
				continue
			}
			rs = append(rs, r)
		}
		sort.Strings(rs)
		if len(rs) > 0 {
			rules = append(rules, rule(read, g(group), rs...))
		}
	}
	// The server clock (apiserver.ClockPath) is read by viewers too; only
	// the masters move it.
	return append(rules, urls([]string{"get"}, "/metrics", "/batchd/v1/clock"))
}

func clusterRoleBinding(name, role string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{BootstrapLabel: "rbac-defaults"},
			Annotations: map[string]string{AutoUpdateAnnotation: "true"}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects: subjects,
	}
}

func group(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

// ClusterRoleBindings returns the default bindings.
func ClusterRoleBindings() []rbacv1.ClusterRoleBinding {
	return []rbacv1.ClusterRoleBinding{
		clusterRoleBinding("cluster-admin", "cluster-admin", group(user.SystemPrivilegedGroup)),
		clusterRoleBinding("system:monitoring", "system:monitoring", group("system:monitoring")),
		clusterRoleBinding("system:discovery", "system:discovery", group(user.AllAuthenticated)),
		clusterRoleBinding("system:basic-user", "system:basic-user", group(user.AllAuthenticated)),
		clusterRoleBinding("system:public-info-viewer", "system:public-info-viewer", group(user.AllAuthenticated), group(user.AllUnauthenticated)),
		clusterRoleBinding(GroupView, GroupView, group(GroupView)),
		clusterRoleBinding(GroupEdit, GroupEdit, group(GroupEdit)),
	}
}

// ServiceAccountSubject names a service account in a binding.
func ServiceAccountSubject(namespace, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
}
