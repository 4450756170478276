// Package pod serves core/v1 pods: upstream's defaults (also applied to the
// pod templates of Jobs and CronJobs), validation, the `kubectl get pods`
// columns and the selectable fields the node agent and kubectl use.
package pod
