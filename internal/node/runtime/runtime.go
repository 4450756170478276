package runtime

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
)

// ErrUnsupported is returned by Start when this build cannot run containers.
var ErrUnsupported = errors.New("this batchd was built without cgo: the container supervisor is missing")

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
	// NoLog discards the output (hooks).
	NoLog bool
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
}

// OCI is a container run with an OCI runtime.
type OCI struct {
	// Runtime is the runc or crun binary.
	Runtime string
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

// containerID is the OCI container of the run in dir: as recorded at its
// start; runs started before the name was recorded had the older form.
func containerID(dir string, id ID) string {
	if b, err := os.ReadFile(filepath.Join(dir, "container-id")); err == nil && len(b) > 0 {
		return string(b)
	}
	return fmt.Sprintf("batchd-%s-%s-%d", id.Pod, strings.TrimPrefix(id.Container, "."), id.Attempt)
}

// User is a container's identity: runAsUser, runAsGroup, supplementalGroups.
type User struct {
	UID, GID int64
	Groups   []int64
}

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
	// Reason is set for runs that did not end by the process exiting:
	// StartError (exec failed) or ContainerStatusUnknown (supervisor lost).
	Reason  string
	Message string
	LogPath string
	// ImageName and ImageID are those of an OCI run's image ("" for host runs).
	ImageName, ImageID string
}

// Config configures a Runtime.
type Config struct {
	// Dir holds the pods' run state, logs and volumes.
	Dir string
	// Exe is the batchd binary that carries the supervisor; default: this one.
	Exe string
	// Cgroups enforces resource limits; nil runs containers without limits.
	Cgroups *Cgroups
	// OnExit is called after a run ended (from its own goroutine).
	OnExit func(ID)
	// Masked paths are hidden from every container (an empty read-only
	// directory or /dev/null in their place): the data dir with its keys.
	Masked []string
	// Rootfs is how OCI containers get their root file system (default:
	// overlays where the kernel allows, else copies).
	Rootfs RootfsMode
	// Logs caps each run's log (zero: no cap).
	Logs LogLimits
}

// LogLimits are the kubelet's --container-log-max-size and
// --container-log-max-files: once a run's log reaches MaxSize bytes its
// supervisor renames it to <log>.<timestamp> and starts a new one, keeping
// MaxFiles files in all, the oldest removed.
type LogLimits struct {
	MaxSize  int64
	MaxFiles int
}

// Runtime starts, stops and inspects container runs.
type Runtime struct {
	cfg Config

	mu      sync.Mutex
	running map[ID]*os.Process // supervisors this process started
	watched map[ID]bool        // supervisors adopted from an earlier process

	modeOnce sync.Once
	mode     RootfsMode // Rootfs resolved
}

// New returns a runtime over cfg.Dir, creating it.
func New(cfg Config) (*Runtime, error) {
	if cfg.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find own executable: %w", err)
		}
		cfg.Exe = exe
	}
	if cfg.OnExit == nil {
		cfg.OnExit = func(ID) {}
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create runtime dir: %w", err)
	}
	return &Runtime{cfg: cfg, running: map[ID]*os.Process{}, watched: map[ID]bool{}}, nil
}

// PodDir is where a pod's state lives.
func (r *Runtime) PodDir(pod string) string { return filepath.Join(r.cfg.Dir, pod) }

func (r *Runtime) containerDir(pod, container string) string {
	return filepath.Join(r.cfg.Dir, pod, "containers", container)
}

func (r *Runtime) runDir(id ID) string {
	return filepath.Join(r.containerDir(id.Pod, id.Container), strconv.Itoa(id.Attempt))
}

// TmpDir is the private /tmp of a run started with PrivateTmp.
func (r *Runtime) TmpDir(id ID) string { return filepath.Join(r.runDir(id), "tmp") }

// LogPath is the CRI log file of a run.
func (r *Runtime) LogPath(id ID) string { return r.runDir(id) + ".log" }

func cgroupName(id ID) string {
	return filepath.Join(id.Pod, fmt.Sprintf("%s-%d", id.Container, id.Attempt))
}

// Start launches the run's supervisor and returns once it is started; the
// container's exec happens in the supervisor.
func (r *Runtime) Start(spec Spec) error {
	if !haveSupervisor {
		return ErrUnsupported
	}
	if len(spec.Argv) == 0 && spec.OCI == nil {
		return errors.New("no command")
	}
	if _, err := supervisorArgs(append([]string{"-"}, spec.Argv...), spec.Env); err != nil {
		return err // before the run exists
	}
	dir := r.runDir(spec.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	args := []string{dir}
	if !spec.NoLog {
		args = append(args, "--log", r.LogPath(spec.ID))
		if l := r.cfg.Logs; l.MaxSize > 0 && l.MaxFiles >= 2 {
			args = append(args, "--log-max-size", strconv.FormatInt(l.MaxSize, 10), "--log-max-files", strconv.Itoa(l.MaxFiles))
		}
	}
	if spec.OCI != nil {
		return r.startOCI(spec, dir, args)
	}
	if spec.Hostname != "" {
		args = append(args, "--hostname", spec.Hostname)
	}
	if spec.WorkDir != "" {
		args = append(args, "--workdir", spec.WorkDir)
	}
	if spec.Argv0Name != "" {
		args = append(args, "--argv0-name", spec.Argv0Name)
	}
	mountList := spec.Mounts
	if spec.PrivateTmp {
		tmp := r.TmpDir(spec.ID)
		if err := os.MkdirAll(tmp, 0o777); err != nil {
			return fmt.Errorf("create private /tmp: %w", err)
		}
		if err := os.Chmod(tmp, os.ModePerm|os.ModeSticky); err != nil {
			return fmt.Errorf("create private /tmp: %w", err)
		}
		mountList = append(append([]Mount{}, spec.Mounts...), Mount{Source: tmp, Target: "/tmp"})
	}
	for _, m := range r.cfg.Masked {
		args = append(args, "--mask", m)
	}
	if u := spec.User; u != nil {
		groups := "-"
		if len(u.Groups) > 0 {
			gs := make([]string, len(u.Groups))
			for i, g := range u.Groups {
				gs[i] = strconv.FormatInt(g, 10)
			}
			groups = strings.Join(gs, ",")
		}
		args = append(args, "--user", strconv.FormatInt(u.UID, 10), strconv.FormatInt(u.GID, 10), groups)
	}
	for _, m := range mountList {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		args = append(args, "--mount", m.Source, m.Target, mode)
	}
	args, err := r.cgroupArgs(spec, args)
	if err != nil {
		return err
	}
	args = append(args, "--")
	args = append(args, spec.Argv...)
	return r.supervise(spec, args)
}

// cgroupArgs creates the run's cgroup with its limits (when the node has
// cgroups) and adds the supervisor options that put the run in it and read
// its OOM count.
func (r *Runtime) cgroupArgs(spec Spec, args []string) ([]string, error) {
	if r.cfg.Cgroups == nil {
		return args, nil
	}
	paths, oom, err := r.cfg.Cgroups.Create(cgroupName(spec.ID), spec.Resources)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		args = append(args, "--cgroup", p)
	}
	if oom.File != "" {
		args = append(args, "--oom", oom.File, oom.Key)
	}
	return args, nil
}

// startOCI writes the run's bundle (config.json, an empty root over which
// the supervisor mounts the overlay) and supervises `RUNTIME run --keep`.
func (r *Runtime) startOCI(spec Spec, dir string, args []string) error {
	bundle := filepath.Join(dir, "bundle")
	root, upper, work := filepath.Join(bundle, "rootfs"), filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{root, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create bundle: %w", err)
		}
	}
	s := *spec.OCI.Spec
	readOnly := s.Root != nil && s.Root.Readonly
	s.Root = &specs.Root{Path: root, Readonly: readOnly}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	linux := *s.Linux
	s.Linux = &linux
	args, err := r.cgroupArgs(spec, args)
	if err != nil {
		return err
	}
	var globals []string
	if r.cfg.Cgroups != nil {
		// The container lives in the run's own group: its limits, OOM
		// count and kill-everything-left apply as for a host process.
		linux.CgroupsPath = "/" + cgroupParent + "/" + cgroupName(spec.ID)
		switch {
		case IsCrun(spec.OCI.Runtime) && r.cfg.Cgroups.Version == 1:
			// crun removes the container's cgroup on exit, killing what is
			// in it (crun too, were it the run's, which the supervisor and
			// crun are in), and cgroup v1 counts an OOM kill only in the
			// victim's own group: in a child group the count would go with
			// it. So crun leaves cgroups alone and the container stays in
			// the run's groups, which hold its limits; with no device
			// cgroup, it may not create device nodes.
			globals = append(globals, "--cgroup-manager=disabled")
			linux.CgroupsPath, linux.Resources = "", nil
			s.Process = withoutCapability(s.Process, "CAP_MKNOD")
		case IsCrun(spec.OCI.Runtime):
			// On cgroup v2 a child group keeps the run's limits and its
			// OOM count (memory.events counts descendants' kills).
			linux.CgroupsPath += "/container"
		}
	}
	data, err := json.Marshal(&s)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	cid := OCIContainerID(spec.ID)
	// Which runtime to ask to delete which container should its supervisor die.
	if err := os.WriteFile(filepath.Join(dir, "oci-runtime"), []byte(spec.OCI.Runtime), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "container-id"), []byte(cid), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "image"), []byte("name="+spec.OCI.ImageName+"\nid="+spec.OCI.ImageID+"\n"), 0o600); err != nil {
		return err
	}
	if r.rootfsMode() == RootfsCopy {
		// The copy is the root; nothing is mounted over it.
		if err := os.Remove(root); err != nil {
			return fmt.Errorf("create bundle: %w", err)
		}
		if err := copyTree(spec.OCI.Image, root); err != nil {
			return fmt.Errorf("copy the image's root file system: %w", err)
		}
	} else {
		args = append(args, "--overlay", spec.OCI.Image, upper, work, root)
	}
	// runc runs in the bundle (its default --bundle): the run's directory
	// stays off its command line.
	args = append(args, "--workdir", bundle, "--runc-delete", spec.OCI.Runtime, cid, "--", spec.OCI.Runtime)
	args = append(append(args, globals...), "run")
	if !IsCrun(spec.OCI.Runtime) {
		// runc would remove the container's cgroup, and its OOM count,
		// on exit; the supervisor deletes the container after reading it.
		args = append(args, "--keep")
	}
	args = append(args, cid)
	return r.supervise(spec, args)
}

// IsCrun tells crun from runc: crun has no `run --keep` (and leaves the
// cgroup, which the supervisor is in, anyway).
func IsCrun(bin string) bool {
	return strings.HasPrefix(filepath.Base(bin), "crun")
}

// withoutCapability is p with capability c in none of its sets.
func withoutCapability(p *specs.Process, c string) *specs.Process {
	if p == nil || p.Capabilities == nil {
		return p
	}
	drop := func(set []string) []string {
		var kept []string
		for _, x := range set {
			if x != c {
				kept = append(kept, x)
			}
		}
		return kept
	}
	out, caps := *p, *p.Capabilities
	caps.Bounding, caps.Effective, caps.Permitted = drop(caps.Bounding), drop(caps.Effective), drop(caps.Permitted)
	caps.Inheritable, caps.Ambient = drop(caps.Inheritable), drop(caps.Ambient)
	out.Capabilities = &caps
	return &out
}

// supervisorEnv is the supervisor's own environment: fixed, so that nothing
// of a pod's (LD_PRELOAD, LD_LIBRARY_PATH …) reaches a process running as root.
var supervisorEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// supervise starts the supervisor with args (after DIR come the
// container's environment variables). The arguments go through a pipe on
// its fd 3: its command line, which every user can read, is only
// "batchd-supervise __batchd_supervise".
func (r *Runtime) supervise(spec Spec, args []string) error {
	env := spec.Env
	if spec.OCI != nil {
		// runc and crun run as root: the container's environment is in config.json.
		env = supervisorEnv
	}
	payload, err := supervisorArgs(args, env)
	if err != nil {
		return err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("start supervisor: %w", err)
	}
	cmd := exec.Command(r.cfg.Exe, "__batchd_supervise")
	cmd.Args[0] = "batchd-supervise"
	cmd.Env = supervisorEnv
	cmd.ExtraFiles = []*os.File{pr}
	cmd.Dir = "/"
	// Its own session: a signal to the server's process group or terminal does
	// not reach the supervisor or the container.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	pr.Close()
	if err != nil {
		pw.Close()
		return fmt.Errorf("start supervisor: %w", err)
	}
	_, werr := pw.Write(payload)
	if cerr := pw.Close(); werr == nil {
		werr = cerr
	}
	r.mu.Lock()
	r.running[spec.ID] = cmd.Process
	r.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		r.mu.Lock()
		delete(r.running, spec.ID)
		r.mu.Unlock()
		r.ended(spec.ID)
	}()
	if werr != nil {
		return fmt.Errorf("pass arguments to supervisor: %w", werr)
	}
	return nil
}

// supervisorArgs is what the supervisor reads on fd 3: args with --env
// options after the first (DIR), each ended by a NUL byte. A NUL inside
// one would end it early and smuggle in options of the pod's making.
func supervisorArgs(args, env []string) ([]byte, error) {
	var b bytes.Buffer
	put := func(s string) {
		b.WriteString(s)
		b.WriteByte(0)
	}
	put(args[0])
	for _, kv := range env {
		put("--env")
		put(kv)
	}
	for _, a := range args[1:] {
		put(a)
	}
	for _, a := range args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, errors.New("invalid argument: contains a NUL byte")
		}
	}
	for _, kv := range env {
		if strings.IndexByte(kv, 0) >= 0 {
			k, _, _ := strings.Cut(kv, "=")
			return nil, fmt.Errorf("invalid environment variable %q: its value contains a NUL byte", k)
		}
	}
	return b.Bytes(), nil
}

func (r *Runtime) ended(id ID) {
	if r.cfg.Cgroups != nil {
		// The run's group, and the pod's if this was its last run.
		r.cfg.Cgroups.Remove(cgroupName(id))
		r.cfg.Cgroups.RemoveIfEmpty(id.Pod)
	}
	r.cfg.OnExit(id)
}

// Runs lists every run of the pod, by container and attempt.
func (r *Runtime) Runs(pod string) (map[string][]Run, error) {
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
		entries, err := os.ReadDir(filepath.Join(root, n.Name()))
		if err != nil {
			return nil, err
		}
		var attempts []int
		for _, e := range entries {
			if a, err := strconv.Atoi(e.Name()); err == nil && e.IsDir() {
				attempts = append(attempts, a)
			}
		}
		sort.Ints(attempts)
		for _, a := range attempts {
			out[n.Name()] = append(out[n.Name()], r.inspect(ID{Pod: pod, Container: n.Name(), Attempt: a}))
		}
	}
	return out, nil
}

// Pods lists the pod UIDs that have state in the runtime.
func (r *Runtime) Pods() ([]string, error) {
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

func readKV(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kv := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), "=")
		if ok {
			kv[k] = v
		}
	}
	return kv, s.Err()
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// inspect reads a run's state; a run with neither an exit record nor a live
// supervisor is reported as ContainerStatusUnknown, exit code 137.
func (r *Runtime) inspect(id ID) Run {
	dir := r.runDir(id)
	run := Run{ID: id, LogPath: r.LogPath(id)}
	if img, err := readKV(filepath.Join(dir, "image")); err == nil {
		run.ImageName, run.ImageID = img["name"], img["id"]
	}
	started, serr := readKV(filepath.Join(dir, "started"))
	if serr == nil {
		run.Pid, _ = strconv.Atoi(started["pid"])
		run.StartedAt = parseTime(started["started"])
	}
	if readExit(dir, &run) {
		return run
	}
	r.mu.Lock()
	_, ours := r.running[id]
	r.mu.Unlock()
	if ours {
		run.Running = true
		if run.StartedAt.IsZero() {
			if fi, err := os.Stat(dir); err == nil {
				run.StartedAt = fi.ModTime()
			}
		}
		return run
	}
	if serr == nil {
		sup, _ := strconv.Atoi(started["supervisor"])
		if supervisorAlive(sup) {
			run.Running = true
			r.adopt(id, sup)
			return run
		}
	}
	// The supervisor may have written its record and exited since we looked.
	if readExit(dir, &run) {
		return run
	}
	run.Reason = "ContainerStatusUnknown"
	run.Message = "The container could not be located when the pod was terminated"
	run.ExitCode = 137
	if fi, err := os.Stat(dir); err == nil {
		run.FinishedAt = fi.ModTime()
		if run.StartedAt.IsZero() {
			run.StartedAt = run.FinishedAt
		}
	}
	if serr == nil {
		r.reapLost(run)
	}
	return run
}

// reapLost ends what is left of a run whose supervisor died without a
// record: the processes in its cgroup, and its OCI runtime's container (the
// supervisor's runc delete never ran). It then records the run as lost, so
// that this happens once.
func (r *Runtime) reapLost(run Run) {
	dir := r.runDir(run.ID)
	if r.cfg.Cgroups != nil {
		r.cfg.Cgroups.Kill(cgroupName(run.ID))
	}
	if bin, err := os.ReadFile(filepath.Join(dir, "oci-runtime")); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = exec.CommandContext(ctx, string(bin), "delete", "--force", containerID(dir, run.ID)).Run()
		cancel()
	}
	record := fmt.Sprintf("code=%d\nsignal=0\noom=0\nstarted=%s\nfinished=%s\nreason=%s\nmessage=%s\n", run.ExitCode,
		run.StartedAt.UTC().Format(time.RFC3339Nano), run.FinishedAt.UTC().Format(time.RFC3339Nano), run.Reason, run.Message)
	_ = writeRecord(dir, "exit", []byte(record))
}

// writeRecord replaces dir/name with data once data is on disk, so that
// the record is whole or absent.
func writeRecord(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// readExit fills run from the run's exit record, if there is one. A record
// that is there but not whole (empty, cut short or garbage: a full disk
// makes such) is an unknown outcome, never a success.
func readExit(dir string, run *Run) bool {
	exit, err := readKV(filepath.Join(dir, "exit"))
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	run.Running = false
	rec, ok := parseExit(exit)
	if err != nil || !ok {
		run.ExitCode, run.Signal, run.OOMKilled = 137, 0, false
		run.Reason = "ContainerStatusUnknown"
		run.Message = "The container's exit record could not be read: its outcome is unknown"
		if fi, err := os.Stat(filepath.Join(dir, "exit")); err == nil {
			run.FinishedAt = fi.ModTime()
			if run.StartedAt.IsZero() {
				run.StartedAt = run.FinishedAt
			}
		}
		return true
	}
	run.ExitCode, run.Signal, run.OOMKilled = rec.ExitCode, rec.Signal, rec.OOMKilled
	run.StartedAt, run.FinishedAt = rec.StartedAt, rec.FinishedAt
	run.Reason, run.Message = rec.Reason, rec.Message
	return true
}

// parseExit reads an exit record: code, started and finished must be
// there and well-formed; signal and oom, when there, too.
func parseExit(kv map[string]string) (Run, bool) {
	var out Run
	code, err := strconv.Atoi(kv["code"])
	if err != nil || code < 0 || code > 255 {
		return Run{}, false
	}
	out.ExitCode = code
	var oom int
	for key, dst := range map[string]*int{"signal": &out.Signal, "oom": &oom} {
		if v, ok := kv[key]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return Run{}, false
			}
			*dst = n
		}
	}
	out.OOMKilled = oom > 0 && out.ExitCode == 137
	var err1, err2 error
	out.StartedAt, err1 = time.Parse(time.RFC3339Nano, kv["started"])
	out.FinishedAt, err2 = time.Parse(time.RFC3339Nano, kv["finished"])
	if err1 != nil || err2 != nil {
		return Run{}, false
	}
	out.Reason, out.Message = kv["reason"], kv["message"]
	return out, true
}

// supervisorAlive tells whether pid is one of our supervisors.
func supervisorAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	if len(args) < 2 || args[0] != "batchd-supervise" || args[1] != "__batchd_supervise" {
		return false
	}
	// A zombie has ended already.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

// adopt watches a supervisor started by an earlier server until it ends.
func (r *Runtime) adopt(id ID, pid int) {
	r.mu.Lock()
	if r.watched[id] {
		r.mu.Unlock()
		return
	}
	r.watched[id] = true
	r.mu.Unlock()
	go func() {
		for supervisorAlive(pid) {
			time.Sleep(200 * time.Millisecond)
		}
		r.mu.Lock()
		delete(r.watched, id)
		r.mu.Unlock()
		r.ended(id)
	}()
}

// Signal sends sig to the run's process group.
func (r *Runtime) Signal(id ID, sig syscall.Signal) error {
	started, err := readKV(filepath.Join(r.runDir(id), "started"))
	if err != nil {
		return nil // not exec'd yet or never will be
	}
	pid, _ := strconv.Atoi(started["pid"])
	if pid <= 0 {
		return nil
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal container %s: %w", id, err)
	}
	return nil
}

// Stop sends SIGTERM to the run's process group, waits up to grace for it to
// end, then kills it and everything left in its cgroup. It returns once the
// run has ended.
func (r *Runtime) Stop(id ID, grace time.Duration) error {
	if r.done(id) {
		return nil
	}
	if err := r.Signal(id, syscall.SIGTERM); err != nil {
		return err
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if r.done(id) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.Signal(id, syscall.SIGKILL); err != nil {
		return err
	}
	if r.cfg.Cgroups != nil {
		r.cfg.Cgroups.Kill(cgroupName(id))
	}
	for i := 0; i < 500 && !r.done(id); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Wait waits up to timeout for the run to end.
func (r *Runtime) Wait(id ID, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for !r.done(id) {
		if time.Now().After(deadline) {
			return fmt.Errorf("run %s still running after %s", id, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func (r *Runtime) done(id ID) bool {
	return !r.inspect(id).Running
}

// RemovePod deletes a pod's state, logs and volumes. Its runs must have ended.
func (r *Runtime) RemovePod(pod string) error {
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
func (r *Runtime) RemoveVolumes(pod string, names []string) error {
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

// isMountPoint tells whether dir is mounted on.
func isMountPoint(dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// mountedUnder is a mount point below dir, or "".
func mountedUnder(dir string) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			return f[4]
		}
	}
	return ""
}

// unmountUnder unmounts what is mounted below dir (memory-backed emptyDirs).
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var targets []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			targets = append(targets, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(targets)))
	for _, t := range targets {
		_ = syscall.Unmount(t, syscall.MNT_DETACH)
	}
}

// KillAll kills every container recorded under dir whose supervisor still
// runs. Containers outlive the server by design; tests and uninstalls that
// want nothing left behind call this after stopping it.
func KillAll(dir string) {
	starts, _ := filepath.Glob(filepath.Join(dir, "*", "containers", "*", "*", "started"))
	for _, s := range starts {
		kv, err := readKV(s)
		if err != nil {
			continue
		}
		sup, _ := strconv.Atoi(kv["supervisor"])
		pid, _ := strconv.Atoi(kv["pid"])
		if supervisorAlive(sup) && pid > 0 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}

// ExecOCI runs argv inside the OCI run id (its namespaces, root, cgroup,
// user and environment) with `RUNTIME exec`, as a CRI runtime runs an exec
// hook, and waits up to timeout for it. Its output is discarded.
func (r *Runtime) ExecOCI(id ID, runtimeBin string, argv []string, timeout time.Duration) error {
	bundle := filepath.Join(r.runDir(id), "bundle")
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
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
	f, err := os.CreateTemp(r.runDir(id), "exec-*.json")
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
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, runtimeBin, "exec", "--process", filepath.Base(f.Name()), containerID(r.runDir(id), id))
	cmd.Dir = r.runDir(id) // the pod's directory stays off runc's command line
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("exec in %s: %w: %s", id, err, strings.TrimSpace(string(out)))
	}
	return nil
}
