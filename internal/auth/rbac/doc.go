// Package rbac is batchd's RBAC authorizer: rbac.authorization.k8s.io/v1 Roles,
// ClusterRoles and their bindings decide requests with upstream's semantics
// (verbs, API groups, resources and subresources, resource names, non-resource
// URLs; bindings to users, groups and service accounts), upstream's escalation
// checks for writes of roles and bindings, the aggregation of ClusterRoles by
// label selector, and upstream's default roles (policy.go) plus batchd's own
// batchd:view and batchd:edit for --token-file groups.
//
// Upstream's implementation lives in k8s.io/kubernetes, which batchd does not
// import; rule comparison (Covers) comes from k8s.io/component-helpers. Every
// decision here is a function of the objects the Resolver reads (informer
// listers in the server, in-memory indexers in tests) and the request.
package rbac
