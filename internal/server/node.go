package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/version"

	"github.com/batchd/batchd/internal/apiserver/registry/pod"
	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/node"
	"github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/scheduler"
)

// nodeRuntime is the node half of the server: the process runtime exists
// before the API server (it serves pods/log), the agent once clients can be
// built.
type nodeRuntime struct {
	machine          node.Machine
	runtime          *runtime.Runtime
	pvcDir           string
	apiHost, apiPort string
	images           *image.Store
	ociRuntime       string
	defaultRuntime   string
	imageGC          image.GCPolicy
	namedOCI         map[string]string // handler runc/crun → binary
	keepLogs         func(string, map[string][]runtime.Run)

	mu    sync.Mutex
	agent *node.Agent
}

func newNodeRuntime(cfg Config) (*nodeRuntime, error) {
	if cfg.DisableNodeAgent {
		return nil, nil
	}
	n := &nodeRuntime{machine: node.DetectMachine(cfg.NodeName, cfg.MaxPods), pvcDir: filepath.Join(cfg.DataDir, "volumes")}
	n.machine.Version = version.Get().GitVersion
	cg, err := runtime.DetectCgroups("/sys/fs/cgroup")
	if err != nil {
		n.machine.CgroupsErr = err
	} else {
		n.machine.Cgroups = fmt.Sprintf("v%d", cg.Version)
	}
	rt, err := runtime.New(runtime.Config{Dir: filepath.Join(cfg.DataDir, "pods"), Cgroups: cg, OnExit: n.exited, Masked: hiddenFromPods(cfg), Logs: cfg.ContainerLogs})
	if err != nil {
		return nil, err
	}
	n.runtime = rt
	var st syscall.Statfs_t
	if err := syscall.Statfs(rt.PodDir(""), &st); err == nil {
		// ephemeral-storage: the file system of pods' logs, emptyDirs and writable layers.
		n.machine.EphemeralStorage = int64(st.Blocks) * st.Bsize
	}
	if n.images, err = image.Open(filepath.Join(cfg.DataDir, "images")); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	var problem string
	n.ociRuntime, problem = findOCIRuntime(cfg.OCIRuntime, cg)
	// Handlers "runc" and "crun" name each installed runtime, for
	// RuntimeClasses that want one in particular.
	n.namedOCI = map[string]string{}
	var named []string
	for _, name := range []string{"runc", "crun"} {
		if bin, p := findOCIRuntime(name, cg); p == "" {
			n.namedOCI[name] = bin
			named = append(named, name)
		}
	}
	n.imageGC = cfg.ImageGC
	n.defaultRuntime = node.ChooseDefaultRuntime(cfg.DefaultRuntime, n.ociRuntime)
	n.machine.Runtimes = node.Runtimes{OCI: n.ociRuntime, OCIVersion: runtimeVersion(n.ociRuntime), Default: n.defaultRuntime, Flag: cfg.DefaultRuntime, Problem: problem, Named: named}
	oci := n.ociRuntime
	switch {
	case problem != "":
		oci = "none: " + problem
	case oci == "":
		oci = "none (install runc or crun)"
	default:
		oci += " (" + n.machine.Runtimes.OCIVersion + ")"
	}
	fmt.Fprintf(os.Stderr, "node: pods without runtimeClassName run with the %q runtime (--default-runtime=%s); OCI runtime: %s\n", n.defaultRuntime, cfg.DefaultRuntime, oci)
	return n, nil
}

// findOCIRuntime is the runtime --oci-runtime names, else runc, else crun,
// found on PATH; crun only where it can run containers (problem says why
// not).
func findOCIRuntime(flag string, cg *runtime.Cgroups) (bin, problem string) {
	names := []string{"runc", "crun"}
	if flag != "" {
		names = []string{flag}
	}
	for _, name := range names {
		p, err := exec.LookPath(name)
		if err != nil {
			if flag != "" {
				return "", fmt.Sprintf("--oci-runtime %s: %v", flag, err)
			}
			continue
		}
		if runtime.IsCrun(p) && cg.CrunProblem() != "" {
			problem = cg.CrunProblem()
			continue
		}
		return p, ""
	}
	return "", problem
}

// runtimeVersion is the first line of `bin --version` ("runc version 1.1.15").
func runtimeVersion(bin string) string {
	if bin == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return first
}

func (n *nodeRuntime) exited(id runtime.ID) {
	n.mu.Lock()
	a := n.agent
	n.mu.Unlock()
	if a != nil {
		a.Exited(id)
	}
}

func (n *nodeRuntime) logs() pod.LogSource {
	if n == nil {
		return nil
	}
	return node.Logs{Runtime: n.runtime}
}

// start runs the scheduler and the node agent until ctx ends.
func (n *nodeRuntime) start(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, broadcaster record.EventBroadcaster) func() {
	if n == nil {
		return func() {}
	}
	sched := scheduler.New(client, factory, broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: scheduler.Name}))
	agent := node.New(node.Config{
		Client: client, Machine: n.machine, APIHost: n.apiHost, APIPort: n.apiPort, Runtime: n.runtime, PVCDir: n.pvcDir,
		Images: n.images, OCIRuntime: n.ociRuntime, NamedOCIRuntimes: n.namedOCI, DefaultRuntime: n.defaultRuntime, ImageGC: n.imageGC,
		KeepLogs: n.keepLogs,
		Recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: node.Component, Host: n.machine.Name}),
	})
	n.mu.Lock()
	n.agent = agent
	n.mu.Unlock()
	go agent.Run(ctx)
	return func() { go sched.Run(ctx) }
}

// hiddenFromPods are the paths no container sees: the data dir (etcd, the
// CA and admin keys, the kubeconfig, other pods' logs and volumes) and the
// other credential files the server was given. A container's own volumes,
// though stored under the data dir, are mounted before these are hidden.
func hiddenFromPods(cfg Config) []string {
	out := []string{cfg.DataDir}
	for _, p := range []string{cfg.TokenFile, cfg.EtcdKeyFile} {
		if p != "" {
			if abs, err := filepath.Abs(p); err == nil {
				out = append(out, abs)
			}
		}
	}
	return out
}
