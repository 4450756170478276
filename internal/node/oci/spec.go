// Package oci turns a pod's container and its image's configuration into an
// OCI runtime spec (config.json) for runc or crun, as the kubelet and
// containerd together do: the command merged with the image's ENTRYPOINT and
// CMD, the environment, working directory and user from the image unless the
// pod says otherwise, pid/mount/uts/ipc namespaces on the host network,
// containerd's default capabilities, masked and read-only /proc paths, and
// the pod's volumes as bind mounts. Everything here is pure.
package oci

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Command is the container's argv, as the container runtimes merge the pod's
// command and args with the image: command replaces ENTRYPOINT (and then CMD
// is dropped), args replace CMD.
func Command(entrypoint, cmd, command, args []string) []string {
	var out []string
	switch {
	case len(command) > 0:
		out = append(append(out, command...), args...)
	case len(args) > 0:
		out = append(append(out, entrypoint...), args...)
	default:
		out = append(append(out, entrypoint...), cmd...)
	}
	return out
}

// Env is the image's environment overridden and extended by the
// container's (KEY=VALUE lists; the container's later entries win), in the
// image's order first.
func Env(image, container []string) []string {
	index := map[string]int{}
	var out []string
	for _, list := range [][]string{image, container} {
		for _, kv := range list {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := index[k]; ok {
				out[i] = kv
				continue
			}
			index[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// User is who the container runs as.
type User struct {
	UID, GID uint32
	Groups   []uint32
}

// ImageUser resolves an image's USER ("", "name", "uid", "name:group",
// "uid:gid") against the image's /etc/passwd and /etc/group (nil readers
// when the image has none), as containerd does: no USER is root; a numeric
// uid not in passwd keeps gid 0; a user's primary group comes from passwd
// and its supplementary groups from group.
func ImageUser(user string, passwd, group io.Reader) (User, error) {
	if user == "" {
		return User{}, nil
	}
	name, grp, hasGroup := strings.Cut(user, ":")
	users := readColon(passwd)
	var u User
	found := false
	for _, f := range users {
		if len(f) >= 4 && (f[0] == name || f[2] == name) {
			uid, err1 := strconv.ParseUint(f[2], 10, 32)
			gid, err2 := strconv.ParseUint(f[3], 10, 32)
			if err1 == nil && err2 == nil {
				u, found, name = User{UID: uint32(uid), GID: uint32(gid)}, true, f[0]
				break
			}
		}
	}
	if !found {
		uid, err := strconv.ParseUint(name, 10, 32)
		if err != nil {
			return User{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", name)
		}
		u.UID = uint32(uid)
	}
	groups := readColon(group)
	if hasGroup {
		gid, err := strconv.ParseUint(grp, 10, 32)
		if err != nil {
			ok := false
			for _, f := range groups {
				if len(f) >= 3 && f[0] == grp {
					if g, err := strconv.ParseUint(f[2], 10, 32); err == nil {
						gid, ok = g, true
						break
					}
				}
			}
			if !ok {
				return User{}, fmt.Errorf("unable to find group %s: no matching entries in group file", grp)
			}
		}
		u.GID = uint32(gid)
	}
	if found {
		for _, f := range groups {
			if len(f) < 4 || f[3] == "" {
				continue
			}
			for _, member := range strings.Split(f[3], ",") {
				if member == name {
					if g, err := strconv.ParseUint(f[2], 10, 32); err == nil && uint32(g) != u.GID {
						u.Groups = append(u.Groups, uint32(g))
					}
				}
			}
		}
	}
	return u, nil
}

func readColon(r io.Reader) [][]string {
	if r == nil {
		return nil
	}
	var out [][]string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	return out
}

// Mount is a bind mount of a host path into the container.
type Mount struct {
	Source, Destination string
	ReadOnly            bool
}

// Input is everything a container's spec is made of.
type Input struct {
	Args     []string
	Env      []string
	Cwd      string
	Hostname string
	User     User
	// Root is the container's root file system (prepared by the caller).
	Root         string
	ReadOnlyRoot bool
	Mounts       []Mount
	// Privileged gives every capability and device, nothing masked.
	Privileged bool
	// CapAdd and CapDrop are Kubernetes capability names ("NET_ADMIN",
	// "ALL"), without the CAP_ prefix.
	CapAdd, CapDrop []string
	// NoNewPrivileges: allowPrivilegeEscalation false.
	NoNewPrivileges bool
	// Terminal runs the process on a terminal (the container's tty).
	Terminal bool
	// CgroupsPath places the container in the node agent's cgroup for it.
	CgroupsPath string
	// MemoryLimit (bytes) and CPUMillis are limits; 0 is none.
	MemoryLimit int64
	CPUMillis   int64
}

// defaultCaps are containerd's default capabilities (what a Kubernetes
// container gets without securityContext.capabilities).
var defaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// allCaps are the capabilities of a privileged container.
var allCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
	"CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// Capabilities applies capabilities add/drop to the default set, as
// containerd does: drop ALL empties the set before adding, add ALL gives
// every capability.
func Capabilities(add, drop []string) []string {
	norm := func(c string) string {
		c = strings.ToUpper(c)
		if c == "ALL" {
			return c
		}
		return "CAP_" + strings.TrimPrefix(c, "CAP_")
	}
	set := map[string]bool{}
	for _, c := range defaultCaps {
		set[c] = true
	}
	for _, c := range drop {
		if c := norm(c); c == "ALL" {
			set = map[string]bool{}
		} else {
			delete(set, c)
		}
	}
	for _, c := range add {
		if c := norm(c); c == "ALL" {
			for _, a := range allCaps {
				set[a] = true
			}
		} else {
			set[c] = true
		}
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// maskedPaths and readonlyPaths are containerd's defaults.
var (
	maskedPaths   = []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"}
	readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// SpecVersion is the runtime-spec version the generated specs claim. They
// use nothing newer than 1.1.0, and crun before 1.9 refuses 1.2.
const SpecVersion = "1.1.0"

// Spec is the runtime spec of in.
func Spec(in Input) *specs.Spec {
	caps := Capabilities(in.CapAdd, in.CapDrop)
	if in.Privileged {
		caps = append([]string(nil), allCaps...)
	}
	cwd := in.Cwd
	if cwd == "" {
		cwd = "/"
	}
	s := &specs.Spec{
		Version: SpecVersion,
		Process: &specs.Process{
			Args: in.Args,
			Env:  in.Env,
			Cwd:  cwd,
			User: specs.User{UID: in.User.UID, GID: in.User.GID, AdditionalGids: in.User.Groups},
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			NoNewPrivileges: in.NoNewPrivileges,
			Terminal:        in.Terminal,
		},
		Root:     &specs.Root{Path: in.Root, Readonly: in.ReadOnlyRoot},
		Hostname: in.Hostname,
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces:  []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.MountNamespace}, {Type: specs.UTSNamespace}, {Type: specs.IPCNamespace}},
			CgroupsPath: in.CgroupsPath,
			Resources:   &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
		},
	}
	if !in.Privileged {
		s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = maskedPaths, readonlyPaths
	} else {
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	}
	if in.MemoryLimit > 0 {
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &in.MemoryLimit}
	}
	if in.CPUMillis > 0 {
		period := uint64(100000)
		quota := in.CPUMillis * int64(period) / 1000
		if quota < 1000 {
			quota = 1000 // the kernel's minimum, as the kubelet clamps it
		}
		s.Linux.Resources.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
	}
	for _, m := range in.Mounts {
		opts := []string{"rbind", "rprivate"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		} else {
			opts = append(opts, "rw")
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts})
	}
	return s
}
