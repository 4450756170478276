package node

import (
	"bufio"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kubelet node constants.
const (
	leaseNamespace     = "kube-node-lease"
	leaseDuration      = 40 // seconds, the kubelet's default
	leaseRenewInterval = 10 * time.Second
	statusInterval     = time.Minute
	conditionLimits    = "ResourceLimits"
	conditionRuntime   = "OCIRuntime"
)

// Machine describes the host the agent runs on.
type Machine struct {
	Name          string
	IP            string
	CPUs          int
	MemoryBytes   int64
	MaxPods       int
	KernelVersion string
	OSImage       string
	MachineID     string
	// CgroupsErr is why limits are not enforced (nil when they are); Cgroups
	// names the version in use.
	CgroupsErr error
	Cgroups    string
	Version    string // kubelet version reported, e.g. v1.37.2
	Runtimes   Runtimes
	// EphemeralStorage is the size of the file system holding pods' logs,
	// emptyDirs and writable layers (0: not offered).
	EphemeralStorage int64
	// DiskPressure: that file system has less than 10% available.
	DiskPressure bool
	// StreamPort is the port of the agent's streaming endpoint (exec,
	// attach, port-forward), published as the Node's kubelet endpoint (0:
	// none).
	StreamPort int32
	// VirtualClock says how the server's virtual clock runs ("": the clock
	// is real). The Node then carries a VirtualClock condition saying so.
	VirtualClock string
	// Labels are more labels of the Node (the kubelet's --node-labels),
	// kept on every status update; Taints are set when the agent registers
	// it (--register-with-taints), later changes are the user's.
	Labels map[string]string
	Taints []corev1.Taint
}

// ConditionVirtualClock is the Node condition of a server whose controllers
// and node agent run on a virtual clock (batchd server --clock virtual):
// status times, schedules, deadlines and back-offs are not the machine's.
const ConditionVirtualClock corev1.NodeConditionType = "VirtualClock"

// Runtimes are the node's runtime handlers: OCI is the runc or crun binary
// ("" when none is installed) and OCIVersion the first line of its
// --version; Default is the handler of pods without runtimeClassName, chosen
// by Flag (--default-runtime: host, oci or auto).
type Runtimes struct {
	OCI, OCIVersion string
	// Named are the further OCI handlers ("runc", "crun") the node has.
	Named         []string
	Default, Flag string
	// Problem is why an installed OCI runtime cannot be used ("" if none).
	Problem string
}

// condition is the node condition that says whether pods can run images, and
// which runtime pods without runtimeClassName get.
func (r Runtimes) condition() (corev1.ConditionStatus, string, string) {
	how := fmt.Sprintf("pods without runtimeClassName run with %q (--default-runtime=%s); %s", r.Default, r.Flag, isolation(r.Default))
	if r.Default == RuntimeAuto && r.OCI != "" {
		how = fmt.Sprintf("pods without runtimeClassName run from their images with %q where the node can have them, else as commands on this host with an ImageUnavailable event (--default-runtime=%s); %s",
			RuntimeOCI, r.Flag, isolation(RuntimeOCI))
	} else if r.Default == RuntimeAuto {
		how = fmt.Sprintf("pods without runtimeClassName run as commands on this host, with an ImageUnavailable event (--default-runtime=%s); %s", r.Flag, isolation(RuntimeHost))
	}
	if r.OCI == "" && r.Problem != "" {
		return corev1.ConditionFalse, "OCIRuntimeUnusable", r.Problem + ": RuntimeClass oci cannot run pods; " + how
	}
	if r.OCI == "" {
		return corev1.ConditionFalse, "NoOCIRuntime", "no runc or crun found: RuntimeClass oci cannot run pods; " + how
	}
	v := r.OCIVersion
	if v == "" {
		v = "version unknown"
	}
	return corev1.ConditionTrue, "OCIRuntimeFound", fmt.Sprintf("%s (%s); %s", r.OCI, v, how)
}

// isolation says what pods of a handler are isolated from (README, Security).
func isolation(handler string) string {
	if handler == RuntimeHost {
		return "host pods are not isolated: they share this machine's file systems, users, processes and network " +
			"(a root pod is root here; pods of one user can read each other's /proc/<pid>/environ); " +
			"runtimeClassName oci gives a pod its own root file system and pid, mount, uts and ipc namespaces"
	}
	return "oci pods get their own root file system and pid, mount, uts and ipc namespaces, but share the host network; " +
		"runtimeClassName host runs a pod unisolated on this machine"
}

// DetectMachine reads the host's name, address, CPUs and memory.
func DetectMachine(name string, maxPods int) Machine {
	m := Machine{Name: name, IP: hostIP(), CPUs: goruntime.NumCPU(), MaxPods: maxPods}
	if m.Name == "" {
		m.Name, _ = os.Hostname()
		m.Name = strings.ToLower(m.Name)
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if rest, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				m.MemoryBytes = kb * 1024
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.KernelVersion = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/etc/machine-id"); err == nil {
		m.MachineID = strings.TrimSpace(string(b))
	}
	m.OSImage = "Linux"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OSImage = strings.Trim(v, `"`)
			}
		}
	}
	return m
}

// hostIP is the first global unicast IPv4 address, else loopback.
func hostIP() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// Allocatable is what the node offers pods.
func (m Machine) Allocatable() corev1.ResourceList {
	l := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(m.CPUs), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(m.MemoryBytes, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(int64(m.MaxPods), resource.DecimalSI),
	}
	if m.EphemeralStorage > 0 {
		l[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(m.EphemeralStorage, resource.BinarySI)
	}
	return l
}

// nodeObject is the Node the agent registers.
func (m Machine) nodeObject(now time.Time) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: m.Name, Labels: map[string]string{
			"kubernetes.io/os":        "linux",
			"kubernetes.io/arch":      goruntime.GOARCH,
			"kubernetes.io/hostname":  m.Name,
			"beta.kubernetes.io/os":   "linux",
			"beta.kubernetes.io/arch": goruntime.GOARCH,
		}},
	}
	for k, v := range m.Labels {
		if _, own := n.Labels[k]; !own {
			n.Labels[k] = v
		}
	}
	n.Status = m.nodeStatus(now, nil)
	n.Spec.Taints, _ = ConditionTaints(append([]corev1.Taint(nil), m.Taints...), m.DiskPressure)
	return n
}

// ConditionTaints are a Node's taints with the one its conditions call
// for set or cleared: node.kubernetes.io/disk-pressure:NoSchedule while
// the node has disk pressure, as upstream's node lifecycle controller
// taints nodes by condition (the scheduler then places no pod without a
// toleration there). Other taints (kubectl taint) stay as they are.
// changed tells whether the result differs.
func ConditionTaints(taints []corev1.Taint, diskPressure bool) (out []corev1.Taint, changed bool) {
	has := false
	for _, t := range taints {
		if t.Key == corev1.TaintNodeDiskPressure && t.Effect == corev1.TaintEffectNoSchedule {
			has = true
			if !diskPressure {
				changed = true
				continue
			}
		}
		out = append(out, t)
	}
	if diskPressure && !has {
		out = append(out, corev1.Taint{Key: corev1.TaintNodeDiskPressure, Effect: corev1.TaintEffectNoSchedule})
		changed = true
	}
	return out, changed
}

func (m Machine) nodeStatus(now time.Time, old []corev1.NodeCondition) corev1.NodeStatus {
	at := metav1.NewTime(now.Truncate(time.Second))
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		c := corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: at, LastTransitionTime: at}
		for _, o := range old {
			if o.Type == t && o.Status == s {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		return c
	}
	limits := cond(conditionLimits, corev1.ConditionTrue, "Cgroups"+strings.ToUpper(m.Cgroups), "memory and CPU limits are enforced with cgroup "+m.Cgroups)
	if m.CgroupsErr != nil {
		limits = cond(conditionLimits, corev1.ConditionFalse, "CgroupsUnavailable", "limits are not enforced: "+m.CgroupsErr.Error())
	}
	disk := cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure")
	if m.DiskPressure {
		disk = cond(corev1.NodeDiskPressure, corev1.ConditionTrue, "KubeletHasDiskPressure", "kubelet has disk pressure")
	}
	rs, rr, rm := m.Runtimes.condition()
	handlers := []corev1.NodeRuntimeHandler{{Name: RuntimeHost}}
	if m.Runtimes.OCI != "" {
		handlers = append(handlers, corev1.NodeRuntimeHandler{Name: RuntimeOCI})
	}
	for _, h := range m.Runtimes.Named {
		handlers = append(handlers, corev1.NodeRuntimeHandler{Name: h})
	}
	conds := []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		disk,
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
		limits,
		cond(conditionRuntime, rs, rr, rm),
	}
	if m.VirtualClock != "" {
		conds = append(conds, cond(ConditionVirtualClock, corev1.ConditionTrue, "VirtualClock", m.VirtualClock))
	}
	return corev1.NodeStatus{
		Capacity:        m.Allocatable(),
		Allocatable:     m.Allocatable(),
		Phase:           corev1.NodeRunning,
		Conditions:      conds,
		RuntimeHandlers: handlers,
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: m.IP}, {Type: corev1.NodeHostName, Address: m.Name}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: m.StreamPort}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID: m.MachineID, KernelVersion: m.KernelVersion, OSImage: m.OSImage,
			ContainerRuntimeVersion: "batchd://" + m.Version, KubeletVersion: m.Version, KubeProxyVersion: "",
			OperatingSystem: "linux", Architecture: goruntime.GOARCH,
		},
	}
}
