// Package cronjob serves batch/v1 cronjobs: defaults, validation (schedule
// parsed with robfig/cron/v3's standard parser as upstream does, timeZone
// checked against the embedded tz database), and the `kubectl get cronjobs`
// columns.
package cronjob
