// Package cronjob serves batch/v1 cronjobs: defaults, validation (schedule
// parsed with robfig/cron/v3's standard parser as upstream does, timeZone
// checked against the embedded tz database, batchd.dev/ annotation values
// checked where they are set or changed), and the `kubectl get cronjobs`
// columns — upstream's plus NEXT SCHEDULE (and, with -o wide, its absolute
// time), computed by the controller's own schedule code in internal/cronspec
// so that the column and the controller cannot disagree.
package cronjob
