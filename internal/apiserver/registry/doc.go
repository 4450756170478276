// Package registry holds what every served resource shares: a Strategy built
// from a resource's pure functions (defaults, validation, status handling), the
// generic etcd-backed Store around it, and server-side table printing.
//
// Each resource lives in its own sub-directory (job, cronjob, pod, core) and
// contributes only what is particular to it: validation, table columns,
// selectable fields, and, where the generic Store is not enough, its own
// REST storage and subresources (Resource.REST: pods/log, namespaces/finalize,
// the Job delete warning) and how it is stored (Resource.StorageOptions:
// events.k8s.io as core/v1 events, JobRuns as JSON). The API server installs
// every Resource the same way. The shared shape here keeps those directories
// small.
package registry
