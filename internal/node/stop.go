package node

import (
	"context"
	"errors"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/node/runtime"
)

// minimumGrace is the kubelet's floor for the SIGTERM→SIGKILL wait after a preStop hook.
const minimumGrace = 2 * time.Second

// stopper stops runs as the kubelet kills a container: a Killing event, the
// container's preStop hook for at most the grace period, then SIGTERM, the
// rest of the grace period (at least minimumGrace after a hook), SIGKILL.
// Stops run in the background, one per run however often it is asked for.
type stopper struct {
	rt     runtime.Runtime
	clock  clock.Clock
	events *events
	// hookSpec is how a host container's preStop hook runs: the
	// container's own spec (environment, volumes), as run id.
	hookSpec func(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id runtime.ID) (runtime.Spec, error)

	mu       sync.Mutex
	stopping map[runtime.ID]bool
}

func newStopper(rt runtime.Runtime, clk clock.Clock, ev *events, hookSpec func(context.Context, *corev1.Pod, *corev1.Container, runtime.ID) (runtime.Spec, error)) *stopper {
	return &stopper{rt: rt, clock: clk, events: ev, hookSpec: hookSpec, stopping: map[runtime.ID]bool{}}
}

// stop stops the run k names in the background, unless it is being stopped.
func (s *stopper) stop(pod *corev1.Pod, k Kill) {
	id := runtime.ID{Pod: string(pod.UID), Container: k.Container, Attempt: k.Attempt}
	s.mu.Lock()
	if s.stopping[id] {
		s.mu.Unlock()
		return
	}
	s.stopping[id] = true
	s.mu.Unlock()
	s.events.pod(pod, k.Container, corev1.EventTypeNormal, ReasonKilling, "Stopping container "+k.Container)
	c := containerByName(&pod.Spec, k.Container)
	pod = pod.DeepCopy()
	go func() {
		defer func() {
			s.mu.Lock()
			delete(s.stopping, id)
			s.mu.Unlock()
		}()
		grace := k.Grace
		if c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Exec != nil {
			began := s.clock.Now()
			s.preStop(pod, c, id, grace)
			grace = max(grace-s.clock.Since(began), minimumGrace)
		}
		_ = s.rt.Stop(id, grace)
	}()
}

// preStop runs the container's exec hook, for at most grace: inside the
// container where the runtime can enter it (OCI), as a CRI runtime runs an
// exec hook; else as a run of its own with the container's environment,
// volumes and /tmp.
func (s *stopper) preStop(pod *corev1.Pod, c *corev1.Container, id runtime.ID, grace time.Duration) {
	cmd := c.Lifecycle.PreStop.Exec.Command
	if len(cmd) == 0 {
		return
	}
	failed := func() {
		s.events.pod(pod, c.Name, corev1.EventTypeWarning, ReasonFailedPreStopHook, "PreStopHook failed")
	}
	err := s.rt.Exec(context.Background(), id, cmd, grace)
	if !errors.Is(err, runtime.ErrExecUnsupported) {
		if err != nil {
			klog.Background().Error(err, "PreStop hook failed", "pod", klog.KObj(pod), "container", c.Name)
			failed()
		}
		return
	}
	spec, err := s.hookSpec(context.Background(), pod, c, id)
	if err != nil {
		return
	}
	if spec.PrivateTmp {
		spec.PrivateTmp = false
		spec.Mounts = append(spec.Mounts, runtime.Mount{Source: s.rt.TmpDir(id), Target: "/tmp"})
	}
	spec.ID = runtime.ID{Pod: id.Pod, Container: ".prestop-" + c.Name, Attempt: id.Attempt}
	spec.Argv, spec.Argv0Name, spec.NoLog, spec.Resources = cmd, "", true, runtime.Resources{}
	if err := s.rt.Start(context.Background(), spec); err != nil {
		var se *runtime.StartError
		if !errors.As(err, &se) {
			failed()
			return
		}
	}
	if err := s.rt.Wait(spec.ID, grace); err != nil {
		failed()
		_ = s.rt.Stop(spec.ID, 0)
	}
}
