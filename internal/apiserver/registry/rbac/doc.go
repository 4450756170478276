// Package rbac serves rbac.authorization.k8s.io/v1 Roles, ClusterRoles,
// RoleBindings and ClusterRoleBindings: upstream's defaults, validation
// messages and kubectl columns (resource.go, validation.go), and the
// escalation checks on writes (escalation.go): a role may only grant what its
// writer holds unless they may `escalate`, a binding only bind a role its
// writer may `bind` or whose rules they hold.
package rbac
