package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// OCIKind tells runc from crun, whose behaviours differ where it matters here.
type OCIKind string

// The OCI runtimes batchd knows.
const (
	Runc OCIKind = "runc"
	Crun OCIKind = "crun"
)

// OCIRuntime is an OCI runtime binary, resolved once (by ResolveOCIRuntime)
// into what the runtime needs to know of it. The zero value is none.
type OCIRuntime struct {
	// Path is the binary.
	Path string
	// Kind is runc or crun.
	Kind OCIKind
	// Version is the first line of its --version ("" when unknown).
	Version string
}

// IsZero tells whether o names no runtime.
func (o OCIRuntime) IsZero() bool { return o.Path == "" }

// ResolveOCIRuntime asks the runc or crun at path for its version and
// tells which it is: by its --version output, else by its file name.
func ResolveOCIRuntime(path string) OCIRuntime {
	o := OCIRuntime{Path: path, Kind: Runc}
	if strings.HasPrefix(filepath.Base(path), "crun") {
		o.Kind = Crun
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return o
	}
	o.Version, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	switch first, _, _ := strings.Cut(o.Version, " "); first {
	case "crun":
		o.Kind = Crun
	case "runc":
		o.Kind = Runc
	}
	return o
}

// keepsContainer: runc removes the container's cgroup, and its OOM count,
// on exit unless run with --keep (the supervisor deletes the container
// after reading the count); crun has no --keep, and leaves the cgroup,
// which the supervisor is in, anyway.
func (o OCIRuntime) keepsContainer() bool { return o.Kind != Crun }

// cgroupQuirks adapts s, placed in the run's cgroup, to the runtime on this
// cgroup version, and returns the runtime's global options.
func (o OCIRuntime) cgroupQuirks(s *specs.Spec, cgroupVersion int) []string {
	if o.Kind != Crun {
		return nil
	}
	if cgroupVersion == 1 {
		// crun removes the container's cgroup on exit, killing what is
		// in it (crun too, were it the run's, which the supervisor and
		// crun are in), and cgroup v1 counts an OOM kill only in the
		// victim's own group: in a child group the count would go with
		// it. So crun leaves cgroups alone and the container stays in
		// the run's groups, which hold its limits; with no device
		// cgroup, it may not create device nodes.
		s.Linux.CgroupsPath, s.Linux.Resources = "", nil
		s.Process = withoutCapability(s.Process, "CAP_MKNOD")
		return []string{"--cgroup-manager=disabled"}
	}
	// On cgroup v2 a child group keeps the run's limits and its OOM
	// count (memory.events counts descendants' kills).
	s.Linux.CgroupsPath += "/container"
	return nil
}

// ociArgs writes the run's bundle (config.json, an empty root over which
// the supervisor mounts the overlay) and has the supervisor run
// `RUNTIME run --keep`.
func (r *Local) ociArgs(ctx context.Context, spec Spec, dir string, args *supervisorArgs) error {
	rt := spec.OCI.Runtime
	bundle := filepath.Join(dir, "bundle")
	root, upper, work := filepath.Join(bundle, "rootfs"), filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	for _, d := range []string{root, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create bundle: %w", err)
		}
	}
	s := *spec.OCI.Spec
	if s.Process != nil && s.Process.Terminal && rt.Kind == Crun {
		// crun in the foreground neither puts the supervisor's terminal in
		// raw mode nor sizes its own by it: the container gets the
		// supervisor's terminal itself, which crun passes through.
		p := *s.Process
		p.Terminal = false
		s.Process = &p
	}
	readOnly := s.Root != nil && s.Root.Readonly
	s.Root = &specs.Root{Path: root, Readonly: readOnly}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	linux := *s.Linux
	s.Linux = &linux
	if spec.Join != nil {
		if err := r.joinOCI(ctx, &s, *spec.Join); err != nil {
			return err
		}
	}
	if err := r.cgroupArgs(spec, args); err != nil {
		return err
	}
	var globals []string
	if r.cfg.Cgroups != nil {
		// The container lives in the run's own group: its limits, OOM
		// count and kill-everything-left apply as for a host process.
		linux.CgroupsPath = "/" + cgroupParent + "/" + cgroupName(spec.ID)
		globals = rt.cgroupQuirks(&s, r.cfg.Cgroups.Version)
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
	if err := os.WriteFile(filepath.Join(dir, fileOCIRuntime), []byte(rt.Path), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, fileOCIKind), []byte(rt.Kind), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, fileContainerID), []byte(cid), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, fileImage), []byte("name="+spec.OCI.ImageName+"\nid="+spec.OCI.ImageID+"\n"), 0o600); err != nil {
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
		args.Overlay = &overlayArgs{Lower: spec.OCI.Image, Upper: upper, Work: work, Target: root}
	}
	// runc and crun run as root: the container's environment is in
	// config.json, the supervisor's own is the fixed one.
	args.Env = supervisorEnv
	// runc runs in the bundle (its default --bundle): the run's directory
	// stays off its command line.
	args.WorkDir = bundle
	args.RuncDelete = &runcDelete{Runtime: rt.Path, ID: cid}
	args.Argv = append(append([]string{rt.Path}, globals...), "run")
	if rt.keepsContainer() {
		args.Argv = append(args.Argv, "--keep")
	}
	args.Argv = append(args.Argv, cid)
	return nil
}

// joinOCI has the container of s join the namespaces of the running OCI
// run j names (an ephemeral container, kubectl debug): its IPC and UTS
// namespaces, which stand for the pod's, and with j.PID its PID namespace,
// so that it sees the target's processes as upstream's
// targetContainerName does. They are the namespaces of the target's init
// process, as its runtime reports it.
func (r *Local) joinOCI(ctx context.Context, s *specs.Spec, j Join) error {
	dir := r.runDir(j.ID)
	bin, err := os.ReadFile(filepath.Join(dir, fileOCIRuntime))
	if err != nil {
		return fmt.Errorf("join container %q: it does not run in an OCI runtime", j.ID.Container)
	}
	cid := containerID(dir, j.ID)
	if err := waitOCIRunning(ctx, dir, string(bin), cid); err != nil {
		return fmt.Errorf("join container %q: %w", j.ID.Container, err)
	}
	out, err := exec.CommandContext(ctx, string(bin), "state", cid).Output()
	var st struct{ Pid int }
	if err == nil {
		err = json.Unmarshal(out, &st)
	}
	if err != nil || st.Pid <= 0 {
		return fmt.Errorf("join container %q: its process: %v", j.ID.Container, err)
	}
	join := map[specs.LinuxNamespaceType]bool{specs.IPCNamespace: true, specs.UTSNamespace: true, specs.PIDNamespace: j.PID}
	names := map[specs.LinuxNamespaceType]string{specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.PIDNamespace: "pid"}
	ns := make([]specs.LinuxNamespace, 0, len(s.Linux.Namespaces))
	for _, n := range s.Linux.Namespaces {
		if join[n.Type] {
			n.Path = fmt.Sprintf("/proc/%d/ns/%s", st.Pid, names[n.Type])
		}
		ns = append(ns, n)
	}
	s.Linux.Namespaces = ns
	// The joined UTS namespace has the pod's hostname already.
	s.Hostname = ""
	return nil
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
