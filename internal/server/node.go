package server

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/version"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/apiserver/registry/pod"
	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/node"
	"github.com/batchd/batchd/internal/node/runtime"
)

// NodeOptions replace parts of the node half, for tests that run the node
// agent in-process.
type NodeOptions struct {
	// Runtime replaces the host's runtime (supervisors, runc and crun);
	// with it no cgroups, image store or OCI runtime are looked for.
	Runtime runtime.Runtime
	// Clock is the node agent's (default: the real one).
	Clock clock.Clock
}

// nodeRuntime is the node half of the server: the process runtime exists
// before the API server (it serves pods/log), the agent once clients can be
// built.
type nodeRuntime struct {
	machine          node.Machine
	runtime          runtime.Runtime
	clock            clock.Clock // pods/log's sinceSeconds (nil: real)
	agentClock, wall clock.Clock // node.Config's Clock and Wall
	pvcDir           string
	apiHost, apiPort string
	images           *image.Store
	ociRuntime       runtime.OCIRuntime
	defaultRuntime   string
	imageGC          image.GCPolicy
	namedOCI         map[string]runtime.OCIRuntime // handler runc/crun → runtime
	keepLogs         func(string, map[string][]runtime.Run)
	streams          *streamEndpoint // nil: exec, attach, port-forward are not served
	log              io.Writer
}

// newNodeRuntime is the node half (nil with DisableNodeAgent); endpoint,
// if any, serves its logs and streams.
func newNodeRuntime(cfg Config, endpoint *streamEndpoint) (*nodeRuntime, error) {
	if cfg.DisableNodeAgent {
		return nil, nil
	}
	n := &nodeRuntime{machine: node.DetectMachine(cfg.NodeName, cfg.MaxPods), pvcDir: filepath.Join(cfg.DataDir, "volumes"), clock: cfg.Node.Clock, log: cfg.log()}
	if endpoint != nil {
		n.streams = endpoint
		n.machine.StreamPort = endpoint.port()
	}
	n.machine.Version = version.Get().GitVersion
	n.machine.VirtualClock = DescribeClock(cfg.Clock)
	// The agent's time is the server's clock unless a test gives the node
	// its own; its housekeeping keeps real time under a virtual clock.
	n.agentClock, n.wall = n.clock, nil
	if n.clock == nil && cfg.Clock != nil {
		n.agentClock, n.wall = cfg.Clock, clock.RealClock{}
	}
	if cfg.Node.Runtime != nil {
		n.runtime = cfg.Node.Runtime
		n.defaultRuntime = node.RuntimeHost
		n.machine.Runtimes = node.Runtimes{Default: node.RuntimeHost, Flag: node.RuntimeHost}
		return n, nil
	}
	cg, err := runtime.DetectCgroups("/sys/fs/cgroup")
	if err != nil {
		n.machine.CgroupsErr = err
	} else {
		n.machine.Cgroups = fmt.Sprintf("v%d", cg.Version)
	}
	rt, err := runtime.New(runtime.Config{Dir: filepath.Join(cfg.DataDir, "pods"), Cgroups: cg, Masked: hiddenFromPods(cfg), Logs: cfg.ContainerLogs, Log: cfg.log()})
	if err != nil {
		return nil, err
	}
	// The containers of an earlier server run on: watch them, and reap
	// the runs whose supervisor died with it.
	if err := rt.Recover(); err != nil {
		return nil, fmt.Errorf("recover containers: %w", err)
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
	// Each runtime is asked its version once, all at once (an exec each).
	resolved := resolveOCIRuntimes(append([]string{cfg.OCIRuntime}, "runc", "crun"))
	var problem string
	n.ociRuntime, problem = findOCIRuntime(cfg.OCIRuntime, cg, resolved)
	// Handlers "runc" and "crun" name each installed runtime, for
	// RuntimeClasses that want one in particular.
	n.namedOCI = map[string]runtime.OCIRuntime{}
	var named []string
	for _, name := range []string{"runc", "crun"} {
		if o, p := findOCIRuntime(name, cg, resolved); p == "" && !o.IsZero() {
			n.namedOCI[name] = o
			named = append(named, name)
		}
	}
	n.imageGC = cfg.ImageGC
	n.defaultRuntime = cfg.DefaultRuntime
	n.machine.Runtimes = node.Runtimes{OCI: n.ociRuntime.Path, OCIVersion: n.ociRuntime.Version, Default: n.defaultRuntime, Flag: cfg.DefaultRuntime, Problem: problem, Named: named}
	oci := n.ociRuntime.Path
	switch {
	case problem != "":
		oci = "none: " + problem
	case oci == "":
		oci = "none (install runc or crun)"
	default:
		oci += " (" + n.machine.Runtimes.OCIVersion + ")"
	}
	how := fmt.Sprintf("with the %q runtime", n.defaultRuntime)
	if n.defaultRuntime == node.RuntimeAuto {
		how = "from their images where this node can have them, else as commands on this host"
	}
	fmt.Fprintf(cfg.log(), "node: pods without runtimeClassName run %s (--default-runtime=%s); OCI runtime: %s\n", how, cfg.DefaultRuntime, oci)
	return n, nil
}

// resolveOCIRuntimes finds each named runtime on PATH and asks it its
// version, concurrently; names not found are left out.
func resolveOCIRuntimes(names []string) map[string]runtime.OCIRuntime {
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		out = map[string]runtime.OCIRuntime{}
	)
	seen := map[string]bool{"": true}
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		wg.Go(func() {
			p, err := exec.LookPath(name)
			if err != nil {
				return
			}
			o := runtime.ResolveOCIRuntime(p)
			mu.Lock()
			out[name] = o
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// findOCIRuntime is the runtime --oci-runtime names, else runc, else crun,
// as resolved; crun only where it can run containers (problem says why
// not).
func findOCIRuntime(flag string, cg *runtime.Cgroups, resolved map[string]runtime.OCIRuntime) (o runtime.OCIRuntime, problem string) {
	names := []string{"runc", "crun"}
	if flag != "" {
		names = []string{flag}
	}
	for _, name := range names {
		o, ok := resolved[name]
		if !ok {
			if flag != "" {
				_, err := exec.LookPath(flag)
				return runtime.OCIRuntime{}, fmt.Sprintf("--oci-runtime %s: %v", flag, err)
			}
			continue
		}
		if o.Kind == runtime.Crun && cg.CrunProblem() != "" {
			problem = cg.CrunProblem()
			continue
		}
		return o, ""
	}
	return runtime.OCIRuntime{}, problem
}

func (n *nodeRuntime) logs() pod.LogSource {
	if n == nil {
		return nil
	}
	return node.Logs{Runtime: n.runtime, Clock: n.clock}
}

// name is the node's name ("" without an agent).
func (n *nodeRuntime) name() string {
	if n == nil {
		return ""
	}
	return n.machine.Name
}

// startAgent runs the node agent until ctx ends; the channel it returns is
// closed once the agent has stopped (at once without an agent).
func (n *nodeRuntime) startAgent(ctx context.Context, client kubernetes.Interface, broadcaster record.EventBroadcaster) <-chan struct{} {
	done := make(chan struct{})
	if n == nil {
		close(done)
		return done
	}
	agent := node.New(node.Config{
		Client: client, Machine: n.machine, APIHost: n.apiHost, APIPort: n.apiPort, Runtime: n.runtime, PVCDir: n.pvcDir, Clock: n.agentClock, Wall: n.wall,
		Images: n.images, OCIRuntime: n.ociRuntime, NamedOCIRuntimes: n.namedOCI, DefaultRuntime: n.defaultRuntime, ImageGC: n.imageGC,
		KeepLogs: n.keepLogs,
		Recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: node.Component, Host: n.machine.Name}),
	})
	go func() {
		defer close(done)
		agent.Run(ctx)
	}()
	if n.streams != nil {
		n.streams.serve(ctx, agent.Streams(), func(err error) { fmt.Fprintf(n.log, "node: stream endpoint: %v\n", err) })
	}
	return done
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
