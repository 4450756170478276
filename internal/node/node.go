package node

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
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
}

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

// machine is the Machine as it is now: with the disk pressure last seen.
func (a *Agent) machine() Machine {
	m := a.cfg.Machine
	a.mu.Lock()
	m.DiskPressure = a.diskPressure
	a.mu.Unlock()
	return m
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
	n.Status = m.nodeStatus(now, nil)
	return n
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
	return corev1.NodeStatus{
		Capacity:    m.Allocatable(),
		Allocatable: m.Allocatable(),
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			disk,
			cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
			limits,
			cond(conditionRuntime, rs, rr, rm),
		},
		RuntimeHandlers: handlers,
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: m.IP}, {Type: corev1.NodeHostName, Address: m.Name}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID: m.MachineID, KernelVersion: m.KernelVersion, OSImage: m.OSImage,
			ContainerRuntimeVersion: "batchd://" + m.Version, KubeletVersion: m.Version, KubeProxyVersion: "",
			OperatingSystem: "linux", Architecture: goruntime.GOARCH,
		},
	}
}

// heartbeat registers the node, renews its Lease every 10s and refreshes its
// status every minute.
func (a *Agent) heartbeat(ctx context.Context) {
	log := klog.FromContext(ctx)
	lastStatus := time.Time{}
	a.nodeEvent("Starting", "Starting kubelet.")
	for {
		now := a.cfg.Clock.Now()
		if now.Sub(lastStatus) >= statusInterval {
			if err := a.registerNode(ctx, now); err != nil {
				log.Error(err, "register node", "node", a.cfg.Machine.Name)
			} else {
				lastStatus = now
			}
		}
		if err := a.renewLease(ctx, now); err != nil {
			log.Error(err, "renew node lease", "node", a.cfg.Machine.Name)
		}
		select {
		case <-ctx.Done():
			return
		case <-a.cfg.Clock.After(leaseRenewInterval):
		}
	}
}

func (a *Agent) registerNode(ctx context.Context, now time.Time) error {
	nodes := a.cfg.Client.CoreV1().Nodes()
	want := a.machine().nodeObject(now)
	cur, err := nodes.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		created, err := nodes.Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("create node: %w", err)
		}
		created.Status = want.Status
		if _, err = nodes.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return err
		}
		for _, c := range want.Status.Conditions {
			if c.Type != conditionLimits && c.Type != conditionRuntime {
				e := nodeStatusEvent(c)
				a.nodeEvent(e, fmt.Sprintf("Node %s status is now: %s", want.Name, e))
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	changed := false
	if cur.Labels == nil {
		cur.Labels = map[string]string{}
	}
	for k, v := range want.Labels {
		if cur.Labels[k] != v {
			cur.Labels[k], changed = v, true
		}
	}
	if changed {
		if cur, err = nodes.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	cur.Status = a.machine().nodeStatus(now, cur.Status.Conditions)
	_, err = nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}

func (a *Agent) renewLease(ctx context.Context, now time.Time) error {
	leases := a.cfg.Client.CoordinationV1().Leases(leaseNamespace)
	name := a.cfg.Machine.Name
	renew := metav1.NewMicroTime(now)
	l, err := leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		node, err := a.cfg.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		d := int32(leaseDuration)
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: leaseNamespace, OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &name, LeaseDurationSeconds: &d, RenewTime: &renew},
		}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.RenewTime = &renew
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// nodeStatusEvent is the kubelet's event reason for a condition
// (KubeletHasSufficientMemory → NodeHasSufficientMemory, KubeletReady → NodeReady).
func nodeStatusEvent(c corev1.NodeCondition) string {
	if c.Type == corev1.NodeReady {
		return "NodeReady"
	}
	return "Node" + strings.TrimPrefix(c.Reason, "Kubelet")
}

// nodeEvent records an event on the Node, as the kubelet does (with the
// node's name as UID, which is what kubectl describe node looks for).
func (a *Agent) nodeEvent(reason, msg string) { a.nodeEventType(corev1.EventTypeNormal, reason, msg) }

func (a *Agent) nodeEventType(typ, reason, msg string) {
	name := a.cfg.Machine.Name
	a.cfg.Recorder.Event(&corev1.ObjectReference{Kind: "Node", Name: name, UID: types.UID(name)}, typ, reason, msg)
}
