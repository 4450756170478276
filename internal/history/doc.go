// Package history keeps the logs of Jobs' container runs after their pods
// are gone, for the JobRun records (batchd.dev/v1alpha1) that the history
// controller (internal/controller/history) writes.
//
// Where logs live: on disk, in <data-dir>/runs/<pod UID>/<container>/<attempt>.log,
// beside the node's pod directories (<data-dir>/pods), in the node runtime's
// own CRI log format, and not in etcd. A log is up to --run-log-limit
// (1 MiB) per container run and a run has any number of them: in etcd that
// would be megabytes per JobRun against etcd's 1.5 MiB request limit and its
// 2 GiB database quota, every byte written through raft and kept in the
// watch cache, and its compaction would compete with the Job path for the
// same disk and CPU. On disk the hand-off is a hard link (a copy of the tail
// only when the log is over the limit) on the same file system, made when
// the node removes a pod's state (Keep), so keeping a log costs no write of
// its bytes at all in the common case.
//
// The records themselves (small) are in etcd. A log's lifetime follows its
// record: the controller removes a pod's logs when no JobRun names the pod
// any more (retention, a namespace's deletion), and a sweep removes logs no
// record names (pods of no Job, or a crash between a record's deletion and
// its logs').
package history
