// Package runtime runs containers as host processes.
//
// Every container run (one attempt of one container of one pod) gets a
// supervisor: a small process of ours (supervise.c, started from this very
// binary before the Go runtime initialises) that holds the container's
// stdout/stderr, writes them in the CRI log format, waits for the container
// and records how it ended. Supervisors run in their own session, so the
// containers survive a restart or crash of the server, as they survive a
// kubelet restart; a new Runtime reads their state back from the directory.
//
// Layout under Dir, per pod UID:
//
//	<uid>/containers/<name>/<attempt>.log     CRI log of the run
//	<uid>/containers/<name>/<attempt>/started pid, supervisor pid, start time
//	<uid>/containers/<name>/<attempt>/exit    exit code, signal, OOM, times
//	<uid>/volumes/<name>/                     the pod's volume directories
package runtime
