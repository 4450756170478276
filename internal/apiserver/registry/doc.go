// Package registry holds what every served resource shares: a Strategy built
// from a resource's pure functions (defaults, validation, status handling), the
// generic etcd-backed Store around it, and server-side table printing.
//
// Each resource lives in its own sub-directory (job, cronjob, pod, core) and
// contributes only what is particular to it: validation, table columns,
// selectable fields. The shared shape here keeps those directories small.
package registry
