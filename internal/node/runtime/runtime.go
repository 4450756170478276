package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Runtime is what the node agent asks of a container runtime: the verbs of
// nomad's drivers.DriverPlugin, without the RPC. Local is the real one (host
// processes and OCI containers, each under a supervisor); runtimetest.Fake
// runs the agent in-process on nothing at all.
type Runtime interface {
	// Start launches a run and returns once its command was executed, or
	// failed to be: then the run is recorded with ReasonStartError and
	// the error is a *StartError.
	Start(ctx context.Context, spec Spec) error
	// Stop sends SIGTERM to the run, waits up to grace for it to end,
	// then kills it and everything left of it. It returns once it ended.
	Stop(id ID, grace time.Duration) error
	// Wait waits up to timeout for the run to end.
	Wait(id ID, timeout time.Duration) error
	// Exec runs argv inside a running container, as a CRI runtime runs an
	// exec hook, and waits up to timeout for it; ErrExecUnsupported when
	// the run is not one that can be entered (a host process).
	Exec(ctx context.Context, id ID, argv []string, timeout time.Duration) error
	// ExecStream runs argv in the running container of run id with the
	// streams s (kubectl exec) and returns its exit code; ErrNotRunning
	// when the run is not running.
	ExecStream(ctx context.Context, id ID, argv []string, s Streams) (int, error)
	// Attach connects s to the running container's own stdio (kubectl
	// attach) until ctx ends or the container does; ErrNotRunning when
	// the run is not running.
	Attach(ctx context.Context, id ID, s Streams) error
	// Runs lists every run of the pod, by container, oldest attempt first.
	Runs(pod string) (map[string][]Run, error)
	// Pods lists the UIDs of the pods that have state in the runtime.
	Pods() ([]string, error)
	// Notify registers f, called (from its own goroutine) after each run ended.
	Notify(f func(ID))
	// RemovePod deletes a pod's state, logs and volumes; its runs must have ended.
	RemovePod(pod string) error
	// RemoveVolumes deletes the named volume directories of a pod whose
	// runs have all ended (a terminated pod's emptyDirs).
	RemoveVolumes(pod string, names []string) error
	// PodDir is where a pod's state and volumes live.
	PodDir(pod string) string
	// TmpDir is the private /tmp of a run started with PrivateTmp.
	TmpDir(id ID) string
}

// ErrUnsupported is returned by Start when this build cannot run containers.
var ErrUnsupported = errors.New("this batchd was built without cgo: the container supervisor is missing")

// ErrExecUnsupported is Exec's answer for a run that cannot be entered.
var ErrExecUnsupported = errors.New("exec is not supported for this run")

// StartError is a run whose command could not be executed (the kubelet's
// StartError: executable not found, a mount that failed, …). The run is
// recorded with the same message.
type StartError struct{ Message string }

func (e *StartError) Error() string { return e.Message }

// ID names one run of one container of one pod.
type ID struct {
	Pod       string // pod UID
	Container string
	Attempt   int
}

func (id ID) String() string { return fmt.Sprintf("%s/%s/%d", id.Pod, id.Container, id.Attempt) }

// Mount makes Source visible at Target inside the container.
type Mount struct {
	Source, Target string
	ReadOnly       bool
}

// Resources are the limits enforced through cgroups.
type Resources struct {
	MemoryBytes int64 // 0 = unlimited
	CPUMillis   int64 // 0 = unlimited
}

// Spec is everything needed to start a run.
type Spec struct {
	ID   ID
	Argv []string
	// Argv0Name is how messages name Argv[0] ("": as it is): a redacted
	// form when it holds a Secret's value.
	Argv0Name string
	Env       []string
	WorkDir   string
	Hostname  string
	Mounts    []Mount
	Resources Resources
	// NoLog discards the output (hooks); other runs can be attached to.
	NoLog bool
	// Stdin keeps the container's stdin open for attach sessions (the
	// container's stdin), closed after the first one with StdinOnce; TTY
	// gives it a terminal (its tty). An OCI run's terminal is also in
	// OCI.Spec's process.
	Stdin, StdinOnce, TTY bool
	// PrivateTmp gives the run an empty /tmp of its own, as a container's
	// writable layer would (mounted after Mounts, so host paths under /tmp
	// can still be volumes).
	PrivateTmp bool
	// User runs the container as this user instead of the server's.
	User *User
	// OCI runs the container from an image with an OCI runtime (runc or
	// crun) instead of as a host process; Argv, Env, WorkDir, Hostname,
	// Mounts, PrivateTmp and User are then in OCI.Spec.
	OCI *OCI
	// Join has the run join the namespaces of another, running run of
	// its pod (an ephemeral container, kubectl debug).
	Join *Join
}

// Join names a running run whose namespaces a new run joins: a host run
// gets a copy of its mount namespace (its volumes, /etc/hosts and /tmp,
// with the new run's own mounts on top, which the other never sees) and
// its UTS namespace; an OCI run its IPC and UTS namespaces, and with PID
// its PID namespace, so that it sees and can signal its processes (the
// kubelet's targetContainerName). Host runs share the machine's PID
// namespace anyway, the other's included.
type Join struct {
	ID  ID
	PID bool
}

// OCI is a container run with an OCI runtime.
type OCI struct {
	// Runtime is the runc or crun that runs it.
	Runtime OCIRuntime
	// Spec is the container's runtime spec; Start sets its root (an overlay
	// of Image) and its cgroup.
	Spec *specs.Spec
	// Image is the image's unpacked root file system, the overlay's lower
	// layer (never written).
	Image string
	// ImageName and ImageID are what the container's status reports as
	// its image and imageID.
	ImageName, ImageID string
}

// OCIContainerID is the OCI runtime's name for a run. It appears on runc's
// command line, which every user can read: a hash, so that it does not give
// away the pod's UID (the name of its directory).
func OCIContainerID(id ID) string {
	sum := sha256.Sum256([]byte(id.String()))
	return "batchd-" + hex.EncodeToString(sum[:12])
}

// User is a container's identity: runAsUser, runAsGroup, supplementalGroups.
type User struct {
	UID, GID int64
	Groups   []int64
}

// Reason is why a run ended otherwise than by its process exiting.
type Reason string

// Reasons a run records (the kubelet's terminated reasons).
const (
	// ReasonStartError: the command could not be executed.
	ReasonStartError Reason = "StartError"
	// ReasonUnknown: the run's supervisor was lost, or its exit record
	// cannot be read: its outcome is unknown.
	ReasonUnknown Reason = "ContainerStatusUnknown"
)

// Run is what is known about a run.
type Run struct {
	ID         ID
	Pid        int
	StartedAt  time.Time
	FinishedAt time.Time
	Running    bool
	ExitCode   int
	Signal     int
	OOMKilled  bool
	// Reason is set for runs that did not end by the process exiting.
	Reason  Reason
	Message string
	LogPath string
	// ImageName and ImageID are those of an OCI run's image ("" for host runs).
	ImageName, ImageID string
}
