// Package job serves batch/v1 jobs: defaults (applied on every decode, so a
// stored Job reads back with its template's labels as upstream's do), selector
// generation on create, validation with upstream's messages, the status
// subresource's rules, `kubectl get jobs` columns and the status.successful
// field selector. A Job deleted with no propagation policy orphans its pods and
// warns, as batch/v1 does upstream.
package job
