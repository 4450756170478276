package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"k8s.io/utils/clock"
)

// Config configures a Local runtime.
type Config struct {
	// Dir holds the pods' run state, logs and volumes.
	Dir string
	// Exe is the batchd binary that carries the supervisor; default: this one.
	Exe string
	// Cgroups enforces resource limits; nil runs containers without limits.
	Cgroups *Cgroups
	// OnExit is called after a run ended (from its own goroutine), as
	// are the functions given to Notify.
	OnExit func(ID)
	// Masked paths are hidden from every container (an empty read-only
	// directory or /dev/null in their place): the data dir with its keys.
	Masked []string
	// Rootfs is how OCI containers get their root file system (default:
	// overlays where the kernel allows, else copies).
	Rootfs RootfsMode
	// Logs caps each run's log (zero: no cap).
	Logs LogLimits
	// Clock times Stop's grace period and Wait's timeout (default: the real one).
	Clock clock.Clock
	// Log receives the runtime's own notices (default: standard error).
	Log io.Writer
}

// LogLimits are the kubelet's --container-log-max-size and
// --container-log-max-files: once a run's log reaches MaxSize bytes its
// supervisor renames it to <log>.<timestamp> and starts a new one, keeping
// MaxFiles files in all, the oldest removed.
type LogLimits struct {
	MaxSize  int64
	MaxFiles int
}

// Local runs containers on this machine, each run under a supervisor: as
// host processes (host.go) or with an OCI runtime (oci.go).
type Local struct {
	cfg Config

	mu        sync.Mutex
	handles   map[ID]*handle // supervisors started or adopted, until they end
	listeners []func(ID)

	modeOnce sync.Once
	mode     RootfsMode // Rootfs resolved
}

var _ Runtime = (*Local)(nil)

// New returns a runtime over cfg.Dir, creating it. Supervisors of an
// earlier server are not watched until Recover.
func New(cfg Config) (*Local, error) {
	if cfg.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own executable: %w", err)
		}
		cfg.Exe = exe
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create runtime dir: %w", err)
	}
	return &Local{cfg: cfg, handles: map[ID]*handle{}}, nil
}

// PodDir is where a pod's state lives.
func (r *Local) PodDir(pod string) string { return filepath.Join(r.cfg.Dir, pod) }

func (r *Local) containerDir(pod, container string) string {
	return filepath.Join(r.cfg.Dir, pod, "containers", container)
}

func (r *Local) runDir(id ID) string {
	return filepath.Join(r.containerDir(id.Pod, id.Container), strconv.Itoa(id.Attempt))
}

// TmpDir is the private /tmp of a run started with PrivateTmp.
func (r *Local) TmpDir(id ID) string { return filepath.Join(r.runDir(id), "tmp") }

// LogPath is the CRI log file of a run.
func (r *Local) LogPath(id ID) string { return r.runDir(id) + ".log" }

func cgroupName(id ID) string {
	return filepath.Join(id.Pod, fmt.Sprintf("%s-%d", id.Container, id.Attempt))
}

// Notify registers f, called after each run ended.
func (r *Local) Notify(f func(ID)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.listeners = append(r.listeners, f)
}

// Start launches the run's supervisor and returns once the container's
// command was executed (in the supervisor), or failed to be: a
// *StartError, the run recorded as such.
func (r *Local) Start(ctx context.Context, spec Spec) error {
	if !haveSupervisor {
		return ErrUnsupported
	}
	if len(spec.Argv) == 0 && spec.OCI == nil {
		return errors.New("no command")
	}
	if err := checkNUL(spec.Argv, spec.Env); err != nil {
		return err // before the run exists
	}
	dir := r.runDir(spec.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	args := supervisorArgs{Dir: dir, Attach: !spec.NoLog, Stdin: spec.Stdin, StdinOnce: spec.StdinOnce, TTY: spec.TTY}
	if !spec.NoLog {
		args.Log = r.LogPath(spec.ID)
		if l := r.cfg.Logs; l.MaxSize > 0 && l.MaxFiles >= 2 {
			args.LogMaxSize, args.LogMaxFiles = l.MaxSize, l.MaxFiles
		}
	}
	var err error
	if spec.OCI != nil {
		err = r.ociArgs(ctx, spec, dir, &args)
	} else {
		err = r.hostArgs(spec, &args)
	}
	if err != nil {
		return err
	}
	if err := launch(ctx, r.cfg.Exe, args, r.tracker(spec.ID), func() { r.ended(spec.ID) }); err != nil {
		return err
	}
	if run, exited := r.records(spec.ID); exited && run.Reason == ReasonStartError {
		return &StartError{Message: run.Message}
	}
	return nil
}

// tracker records the handle of run id's supervisor.
func (r *Local) tracker(id ID) func(*handle) {
	return func(h *handle) {
		r.mu.Lock()
		r.handles[id] = h
		r.mu.Unlock()
	}
}

// cgroupArgs creates the run's cgroup with its limits (when the node has
// cgroups) and has the supervisor put the run in it and read its OOM count.
func (r *Local) cgroupArgs(spec Spec, args *supervisorArgs) error {
	if r.cfg.Cgroups == nil {
		return nil
	}
	paths, oom, err := r.cfg.Cgroups.Create(cgroupName(spec.ID), spec.Resources)
	if err != nil {
		return err
	}
	args.Cgroups = paths
	args.OOM = &oom
	return nil
}

// ended runs once a run's supervisor exited: a run it left without an exit
// record is reaped and recorded as lost; the run's cgroups go; then the
// listeners hear of it.
func (r *Local) ended(id ID) {
	r.reapIfLost(id)
	r.mu.Lock()
	delete(r.handles, id)
	listeners := append([]func(ID){}, r.listeners...)
	r.mu.Unlock()
	if r.cfg.Cgroups != nil {
		// The run's group, and the pod's if this was its last run.
		r.cfg.Cgroups.Remove(cgroupName(id))
		r.cfg.Cgroups.RemoveIfEmpty(id.Pod)
	}
	if r.cfg.OnExit != nil {
		r.cfg.OnExit(id)
	}
	for _, f := range listeners {
		f(id)
	}
}

// reapIfLost reaps a run that was executed but has no exit record and no
// supervisor any more.
func (r *Local) reapIfLost(id ID) {
	run, exited := r.records(id)
	if exited {
		return
	}
	if _, err := readStarted(r.runDir(id)); err != nil {
		return // never executed: reported lost, nothing to reap
	}
	markLost(r.runDir(id), &run)
	r.reapLost(run)
}

// Recover watches the supervisors an earlier server started that still run
// (their containers survive a restart of the server by design), and reaps
// the runs whose supervisor died without a record: the processes left in
// their cgroup and their OCI container go, and the run is recorded lost
// (ContainerStatusUnknown). A run that never recorded a start and has no
// supervisor any more never ran (the server died while creating it): it is
// removed, so the container is started again as its same attempt — as the
// kubelet starts a container it finds created but not started, whatever
// the pod's restart policy, and does not count it as a failure. It is the
// step a new server takes before it looks at any run.
func (r *Local) Recover() error {
	pods, err := r.Pods()
	if err != nil {
		return err
	}
	live := liveSupervisors()
	for _, pod := range pods {
		containers, _ := os.ReadDir(filepath.Join(r.cfg.Dir, pod, "containers"))
		for _, c := range containers {
			for _, a := range attempts(filepath.Join(r.cfg.Dir, pod, "containers", c.Name())) {
				r.recover(ID{Pod: pod, Container: c.Name(), Attempt: a}, live)
			}
		}
	}
	return nil
}

func (r *Local) recover(id ID, live map[string]int) {
	if _, exited := r.records(id); exited || r.handle(id) != nil {
		return
	}
	dir := r.runDir(id)
	started, err := readStarted(dir)
	switch {
	case err == nil && supervisorAlive(started.Supervisor):
		watch(started.Supervisor, r.tracker(id), func() { r.ended(id) })
	case err == nil:
		r.reapIfLost(id)
	case live[dir] != 0:
		// Its supervisor is still starting it: the outcome is its to record.
		watch(live[dir], r.tracker(id), func() { r.endedUnstarted(id) })
	default:
		r.discard(id)
	}
}

// endedUnstarted ends a run whose supervisor Recover found still starting
// it: one that recorded neither a start nor an exit never ran.
func (r *Local) endedUnstarted(id ID) {
	if _, exited := r.records(id); !exited {
		if _, err := readStarted(r.runDir(id)); err != nil {
			r.discard(id)
		}
	}
	r.ended(id)
}

// discard removes a run that never started, with whatever its start left
// (a cgroup, an OCI container created but not started).
func (r *Local) discard(id ID) {
	r.removeLeftovers(id)
	if r.cfg.Cgroups != nil {
		r.cfg.Cgroups.Remove(cgroupName(id))
	}
	_ = os.RemoveAll(r.runDir(id))
	_ = os.Remove(r.LogPath(id))
}

// attempts lists the run directories of a container, in order.
func attempts(containerDir string) []int {
	entries, _ := os.ReadDir(containerDir)
	var out []int
	for _, e := range entries {
		if a, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
			out = append(out, a)
		}
	}
	sort.Ints(out)
	return out
}

// reapLost ends what is left of a run whose supervisor died without a
// record: the processes in its cgroup, and its OCI runtime's container (the
// supervisor's runc delete never ran). It then records the run as lost, so
// that this happens once.
func (r *Local) reapLost(run Run) {
	r.removeLeftovers(run.ID)
	_ = writeRecord(r.runDir(run.ID), fileExit, lostRecord(run).format())
}

// removeLeftovers ends the processes in a run's cgroup and deletes its OCI
// runtime's container.
func (r *Local) removeLeftovers(id ID) {
	dir := r.runDir(id)
	if r.cfg.Cgroups != nil {
		r.cfg.Cgroups.Kill(cgroupName(id))
	}
	if bin, err := os.ReadFile(filepath.Join(dir, fileOCIRuntime)); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = exec.CommandContext(ctx, string(bin), "delete", "--force", containerID(dir, id)).Run()
		cancel()
	}
}

// Runs lists every run of the pod, by container and attempt.
func (r *Local) Runs(pod string) (map[string][]Run, error) {
	root := filepath.Join(r.cfg.Dir, pod, "containers")
	names, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]Run{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]Run{}
	for _, n := range names {
		if !n.IsDir() || strings.HasPrefix(n.Name(), ".") {
			continue // hooks run as dot-named runs
		}
		for _, a := range attempts(filepath.Join(root, n.Name())) {
			out[n.Name()] = append(out[n.Name()], r.inspect(ID{Pod: pod, Container: n.Name(), Attempt: a}))
		}
	}
	return out, nil
}

// Pods lists the pod UIDs that have state in the runtime.
func (r *Local) Pods() ([]string, error) {
	entries, err := os.ReadDir(r.cfg.Dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// inspect reads a run's state: as its records say, running while its
// supervisor is watched, and with neither an exit record nor a supervisor
// ContainerStatusUnknown, exit code 137. It has no effect: adopting and
// reaping are Recover's and ended's.
func (r *Local) inspect(id ID) Run {
	run, exited := r.records(id)
	if exited {
		return run
	}
	if h := r.handle(id); h != nil && !h.ended() {
		run.Running = true
		if run.StartedAt.IsZero() {
			if fi, err := os.Stat(r.runDir(id)); err == nil {
				run.StartedAt = fi.ModTime()
			}
		}
		return run
	}
	// The supervisor may have written its record and exited since we looked.
	if run, exited := r.records(id); exited {
		return run
	}
	markLost(r.runDir(id), &run)
	return run
}

// records is a run as its records say, and whether it has an exit record.
func (r *Local) records(id ID) (Run, bool) {
	dir := r.runDir(id)
	run := Run{ID: id, LogPath: r.LogPath(id)}
	if img, err := readKV(filepath.Join(dir, fileImage)); err == nil {
		run.ImageName, run.ImageID = img["name"], img["id"]
	}
	if started, err := readStarted(dir); err == nil {
		run.Pid, run.StartedAt = started.Pid, started.Started
	}
	return run, readExit(dir, &run)
}

// Signal sends sig to the run's process group.
func (r *Local) Signal(id ID, sig syscall.Signal) error {
	started, err := readStarted(r.runDir(id))
	if err != nil || started.Pid <= 0 {
		return nil // not exec'd yet or never will be
	}
	if err := syscall.Kill(-started.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal container %s: %w", id, err)
	}
	return nil
}

func (r *Local) handle(id ID) *handle {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.handles[id]
}

// Stop sends SIGTERM to the run's process group, waits up to grace for it to
// end, then kills it and everything left in its cgroup. It returns once the
// run has ended.
func (r *Local) Stop(id ID, grace time.Duration) error {
	h := r.handle(id)
	if h == nil || h.ended() {
		return nil
	}
	if err := r.Signal(id, syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-h.done:
		return nil
	case <-r.cfg.Clock.After(grace):
	}
	if err := r.Signal(id, syscall.SIGKILL); err != nil {
		return err
	}
	if r.cfg.Cgroups != nil {
		r.cfg.Cgroups.Kill(cgroupName(id))
	}
	select {
	case <-h.done:
	case <-r.cfg.Clock.After(5 * time.Second):
	}
	return nil
}

// Wait waits up to timeout for the run to end.
func (r *Local) Wait(id ID, timeout time.Duration) error {
	h := r.handle(id)
	if h == nil {
		return nil
	}
	select {
	case <-h.done:
		return nil
	case <-r.cfg.Clock.After(timeout):
		return fmt.Errorf("run %s still running after %s", id, timeout)
	}
}

// Exec runs argv inside the OCI run id (its namespaces, root, cgroup, user
// and environment) with `RUNTIME exec`, as a CRI runtime runs an exec hook,
// and waits up to timeout for it. Its output is discarded. A host run
// cannot be entered: ErrExecUnsupported.
func (r *Local) Exec(ctx context.Context, id ID, argv []string, timeout time.Duration) error {
	dir := r.runDir(id)
	bin, err := os.ReadFile(filepath.Join(dir, fileOCIRuntime))
	if errors.Is(err, os.ErrNotExist) {
		return ErrExecUnsupported
	}
	if err != nil {
		return fmt.Errorf("exec in %s: %w", id, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "bundle", "config.json"))
	if err != nil {
		return fmt.Errorf("exec in %s: %w", id, err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil || s.Process == nil {
		return fmt.Errorf("exec in %s: bad bundle: %v", id, err)
	}
	p := *s.Process
	p.Args, p.Terminal = argv, false
	proc, err := json.Marshal(&p)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "exec-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(proc); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, string(bin), "exec", "--process", filepath.Base(f.Name()), containerID(dir, id))
	cmd.Dir = dir // the pod's directory stays off runc's command line
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("exec in %s: %w: %s", id, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// RemovePod deletes a pod's state, logs and volumes. Its runs must have ended.
func (r *Local) RemovePod(pod string) error {
	if r.cfg.Cgroups != nil {
		r.cfg.Cgroups.Remove(pod)
	}
	dir := r.PodDir(pod)
	// subPath staging binds, then volumes (memory-backed emptyDirs).
	unmountUnder(filepath.Join(dir, "volume-subpaths"))
	unmountUnder(filepath.Join(dir, "volumes"))
	if m := mountedUnder(dir); m != "" {
		// Removing through a mount would delete the volume's files
		// (a hostPath's, through a subPath).
		return fmt.Errorf("remove pod %s: %s is still mounted", pod, m)
	}
	return os.RemoveAll(dir)
}

// RemoveVolumes deletes the named volume directories of a pod (emptyDirs)
// whose runs have all ended, as the kubelet tears down the volumes of a
// terminated pod: its logs and records stay until the pod is removed.
func (r *Local) RemoveVolumes(pod string, names []string) error {
	dir := r.PodDir(pod)
	unmountUnder(filepath.Join(dir, "volume-subpaths"))
	for _, n := range names {
		v := filepath.Join(dir, "volumes", n)
		if _, err := os.Lstat(v); errors.Is(err, os.ErrNotExist) {
			continue
		}
		_ = syscall.Unmount(v, syscall.MNT_DETACH) // a memory-backed one
		unmountUnder(v)
		if m := mountedUnder(v); m != "" || isMountPoint(v) {
			return fmt.Errorf("remove volume %s of pod %s: still mounted", n, pod)
		}
		if err := os.RemoveAll(v); err != nil {
			return fmt.Errorf("remove volume %s of pod %s: %w", n, pod, err)
		}
	}
	return nil
}

// KillAll kills every container recorded under dir whose supervisor still
// runs. Containers outlive the server by design; tests and uninstalls that
// want nothing left behind call this after stopping it.
func KillAll(dir string) {
	starts, _ := filepath.Glob(filepath.Join(dir, "*", "containers", "*", "*", fileStarted))
	for _, s := range starts {
		rec, err := readStarted(filepath.Dir(s))
		if err != nil {
			continue
		}
		if supervisorAlive(rec.Supervisor) && rec.Pid > 0 {
			_ = syscall.Kill(-rec.Pid, syscall.SIGKILL)
		}
	}
}
