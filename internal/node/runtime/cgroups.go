package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cgroups enforces memory and CPU limits with cgroup v2, or v1 where that is
// what the machine has. Every run gets its own group below <root>/batchd/<pod>.
type Cgroups struct {
	// Version is 1 or 2.
	Version int
	root    string // v2: the unified mount; v1: the directory holding the controllers
}

// OOMCounter is the file and key whose value counts OOM kills in a group.
type OOMCounter struct{ File, Key string }

const cgroupParent = "batchd"

// DetectCgroups finds a usable cgroup hierarchy below root (normally
// /sys/fs/cgroup), or explains why there is none (e.g. not root).
func DetectCgroups(root string) (*Cgroups, error) {
	c, err := detectCgroups(root)
	if err != nil {
		return nil, err
	}
	// Creating groups is what the runtime needs: try it once.
	const probe = ".probe"
	if _, _, err := c.Create(probe, Resources{}); err != nil {
		return nil, err
	}
	c.Remove(probe)
	c.sweep()
	return c, nil
}

// sweep removes empty pod groups left by runs that ended while no server
// watched them. Groups touched in the last minute stay: a run being started
// by another runtime on this machine has created its group but not joined it yet.
func (c *Cgroups) sweep() {
	parents := []string{filepath.Join(c.root, cgroupParent)}
	if c.Version == 1 {
		parents = c.v1Parents()
	}
	cutoff := time.Now().Add(-time.Minute)
	for _, p := range parents {
		entries, _ := os.ReadDir(p)
		for _, e := range entries {
			if e.IsDir() {
				sweepTree(filepath.Join(p, e.Name()), cutoff)
			}
		}
	}
}

// sweepTree removes the empty groups under and at dir not changed since cutoff.
func sweepTree(dir string, cutoff time.Time) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			sweepTree(filepath.Join(dir, e.Name()), cutoff)
		}
	}
	if fi, err := os.Stat(dir); err == nil && fi.ModTime().Before(cutoff) {
		_ = syscall.Rmdir(dir)
	}
}

func detectCgroups(root string) (*Cgroups, error) {
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		c := &Cgroups{Version: 2, root: root}
		parent := filepath.Join(root, cgroupParent)
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup v2: %w", err)
		}
		// Children of the root and of our parent get the memory and cpu controllers.
		for _, dir := range []string{root, parent} {
			if err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory +cpu"), 0); err != nil {
				return nil, fmt.Errorf("cgroup v2: enable memory and cpu controllers in %s: %w", dir, err)
			}
		}
		return c, nil
	}
	if _, err := os.Stat(filepath.Join(root, "memory", "memory.limit_in_bytes")); err == nil {
		c := &Cgroups{Version: 1, root: root}
		for _, ctl := range []string{"memory", "cpu"} {
			if err := os.MkdirAll(filepath.Join(root, ctl, cgroupParent), 0o755); err != nil {
				return nil, fmt.Errorf("cgroup v1 %s: %w", ctl, err)
			}
		}
		return c, nil
	}
	return nil, errors.New("no cgroup v1 memory controller or cgroup v2 hierarchy under " + root)
}

func (c *Cgroups) dirs(name string) []string {
	if c.Version == 2 {
		return []string{filepath.Join(c.root, cgroupParent, name)}
	}
	return []string{
		filepath.Join(c.root, "memory", cgroupParent, name),
		filepath.Join(c.root, "cpu", cgroupParent, name),
	}
}

// Create makes the group for a run and applies res to it.
func (c *Cgroups) Create(name string, res Resources) ([]string, OOMCounter, error) {
	dirs := c.dirs(name)
	for _, d := range dirs {
		err := os.MkdirAll(d, 0o755)
		for try := 0; errors.Is(err, os.ErrNotExist) && try < 3; try++ {
			// The pod's group was just removed after its previous run ended.
			err = os.MkdirAll(d, 0o755)
		}
		if err != nil {
			return nil, OOMCounter{}, fmt.Errorf("create cgroup: %w", err)
		}
	}
	write := func(dir, file, value string) error {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
			return fmt.Errorf("set cgroup %s: %w", file, err)
		}
		return nil
	}
	const period = 100000
	if c.Version == 2 {
		d := dirs[0]
		if res.MemoryBytes > 0 {
			if err := write(d, "memory.max", strconv.FormatInt(res.MemoryBytes, 10)); err != nil {
				return nil, OOMCounter{}, err
			}
			_ = write(d, "memory.swap.max", "0")
		}
		if res.CPUMillis > 0 {
			if err := write(d, "cpu.max", fmt.Sprintf("%d %d", cpuQuota(res.CPUMillis, period), period)); err != nil {
				return nil, OOMCounter{}, err
			}
		}
		return dirs, OOMCounter{File: filepath.Join(d, "memory.events"), Key: "oom_kill"}, nil
	}
	mem, cpu := dirs[0], dirs[1]
	if res.MemoryBytes > 0 {
		if err := write(mem, "memory.limit_in_bytes", strconv.FormatInt(res.MemoryBytes, 10)); err != nil {
			return nil, OOMCounter{}, err
		}
		// Without swap accounting the file is missing; the limit above still holds.
		_ = write(mem, "memory.memsw.limit_in_bytes", strconv.FormatInt(res.MemoryBytes, 10))
		_ = write(mem, "memory.swappiness", "0")
	}
	if res.CPUMillis > 0 {
		if err := write(cpu, "cpu.cfs_period_us", strconv.Itoa(period)); err != nil {
			return nil, OOMCounter{}, err
		}
		if err := write(cpu, "cpu.cfs_quota_us", strconv.FormatInt(cpuQuota(res.CPUMillis, period), 10)); err != nil {
			return nil, OOMCounter{}, err
		}
	}
	return dirs, OOMCounter{File: filepath.Join(mem, "memory.oom_control"), Key: "oom_kill"}, nil
}

// cpuQuota converts millicores to a CFS quota, as the kubelet does (minimum 1 ms).
func cpuQuota(millis, period int64) int64 {
	q := millis * period / 1000
	if q < 1000 {
		q = 1000
	}
	return q
}

// Kill sends SIGKILL to every process in the group.
func (c *Cgroups) Kill(name string) {
	for _, d := range c.dirs(name) {
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// Remove deletes the group (and the groups below it); groups that still hold
// processes stay.
func (c *Cgroups) Remove(name string) {
	for _, d := range c.dirs(name) {
		removeTree(d)
	}
}

// RemoveIfEmpty deletes the group if no group or process is left in it. On
// cgroup v1 that is in every hierarchy, not only memory and cpu: runc puts an
// OCI container's group under the pod's in each (pids, blkio, devices, …)
// and removes only its own, so the pod's groups there were left behind, one
// per OCI pod in each hierarchy.
func (c *Cgroups) RemoveIfEmpty(name string) {
	if c.Version == 1 {
		for _, p := range c.v1Parents() {
			_ = syscall.Rmdir(filepath.Join(p, name))
		}
		return
	}
	for _, d := range c.dirs(name) {
		_ = syscall.Rmdir(d)
	}
}

// v1Parents are batchd's parent groups in every cgroup v1 hierarchy that
// has one (runc makes them where batchd does not).
func (c *Cgroups) v1Parents() []string {
	entries, _ := os.ReadDir(c.root)
	var out []string
	seen := map[string]bool{}
	for _, e := range entries {
		p := filepath.Join(c.root, e.Name(), cgroupParent)
		// cpu and cpuacct are often links to one cpu,cpuacct hierarchy.
		real, err := filepath.EvalSymlinks(p)
		if err != nil || seen[real] {
			continue
		}
		if fi, err := os.Stat(real); err == nil && fi.IsDir() {
			seen[real] = true
			out = append(out, p)
		}
	}
	return out
}

func removeTree(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			removeTree(filepath.Join(dir, e.Name()))
		}
	}
	_ = syscall.Rmdir(dir)
}

// HybridControllers are the controllers of the cgroup v2 hierarchy mounted
// beside v1 ones (at unified/ in the v1 root): a host in this "hybrid mode",
// with any controller there, is one crun refuses to run containers on.
func (c *Cgroups) HybridControllers() []string {
	if c == nil || c.Version != 1 {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(c.root, "unified", "cgroup.controllers"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// CrunProblem says why crun cannot run containers with these cgroups, or "".
func (c *Cgroups) CrunProblem() string {
	if ctrls := c.HybridControllers(); len(ctrls) > 0 {
		return fmt.Sprintf("crun refuses this host's hybrid cgroups (cgroup v1, with %s in the v2 hierarchy at %s): use runc, or mount %s as cgroup v1",
			strings.Join(ctrls, ","), filepath.Join(c.root, "unified"), strings.Join(ctrls, ","))
	}
	return ""
}
