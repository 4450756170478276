// Package core serves the smaller core/v1 and coordination.k8s.io/v1 resources
// batch work touches: namespaces, events, configmaps, secrets, serviceaccounts,
// nodes, persistentvolumeclaims and leases. Each is a Resource built from a few
// pure functions; their tables match upstream's `kubectl get` columns.
// Namespaces are deleted in two steps, through namespaces/finalize
// (namespace.go).
package core
