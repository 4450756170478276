// Package runtime runs containers: the Runtime interface the node agent
// uses (Start, Stop, Wait, Exec, Runs, Notify, RemovePod), and Local, which
// runs them on this machine.
//
// Every container run (one attempt of one container of one pod) gets a
// supervisor: a small process of ours (supervise.c, started from this very
// binary before the Go runtime initialises) that holds the container's
// stdout/stderr, writes them in the CRI log format, waits for the container
// and records how it ended. Supervisors run in their own session, so the
// containers survive a restart or crash of the server, as they survive a
// kubelet restart; a new Local takes them back with Recover.
//
//	runtime.go     the Runtime interface and its types (Spec, Run, typed Reasons)
//	local.go       Local: Start, Stop, Wait, Exec, Runs, Recover, RemovePod
//	host.go        the host driver: a host process in private namespaces
//	oci.go         the OCI driver: a bundle run by runc or crun, resolved once
//	               into an OCIRuntime (its kind decides the cgroup quirks)
//	supervisor.go  the supervisor's arguments (one struct, one encoder, tested
//	               against the C parser), its launch, and a handle per run
//	               whose done channel closes when it ends (a child's wait, or
//	               a pidfd for one an earlier server started)
//	record.go      the supervisor's file protocol, read and written here only
//	cgroups.go     limits and OOM counts; rootfs.go overlays or copies
//	logs.go        reading CRI logs (kubectl logs)
//	exec.go        ExecStream (kubectl exec: the supervisor's nsenter mode for
//	               host runs, RUNTIME exec for OCI ones) and Attach (the
//	               supervisor's attach socket)
//
// Layout under Dir, per pod UID:
//
//	<uid>/containers/<name>/<attempt>.log     CRI log of the run
//	<uid>/containers/<name>/<attempt>/started pid, supervisor pid, start time
//	<uid>/containers/<name>/<attempt>/exit    exit code, signal, OOM, times, reason
//	<uid>/containers/<name>/<attempt>/attach  the supervisor's attach socket, while it runs
//	<uid>/containers/<name>/<attempt>/process.json  a host run's env, dir, user (for exec)
//	<uid>/volumes/<name>/                     the pod's volume directories
//
// Inspecting a run has no effect: adopting the supervisors of an earlier
// server and reaping the runs whose supervisor died are Recover's, the step
// a new server takes before it looks at any run.
package runtime
