// Package validation checks the core objects batch work carries (object
// metadata, pod specs and templates) with upstream's field paths and messages,
// so that `kubectl apply` of an invalid manifest prints what a real cluster
// prints. It is pure: no clients, no clocks. Resource-specific rules (Job,
// CronJob) live with their resources and call in here for the pod template.
package validation
