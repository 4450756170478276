package node

import (
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"

	"github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/node/stream"
)

// Streams is what the node's streaming endpoint (internal/node/stream)
// needs of the agent: the running run of a container, found by the pod's
// namespace and name (the kubelet's URLs) among the pods bound to this node.
func (a *Agent) Streams() stream.Config {
	return stream.Config{Runtime: a.cfg.Runtime, Find: a.streamTarget, Running: a.podRunning, Logs: a.containerLogs}
}

// containerLogs is pods/log of a pod bound here, for an API server that
// reached this node's endpoint (the API server checked the pod's state).
func (a *Agent) containerLogs(ctx context.Context, namespace, name, container string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	pod, err := a.pod(namespace, name)
	if err != nil {
		return nil, err
	}
	return Logs{Runtime: a.cfg.Runtime, Clock: a.clock}.Logs(ctx, pod, container, opts)
}

func (a *Agent) pod(namespace, name string) (*corev1.Pod, error) {
	obj, ok, err := a.pods.GetByKey(namespace + "/" + name)
	if err != nil {
		return nil, fmt.Errorf("get pod %s/%s: %w", namespace, name, err)
	}
	if !ok {
		return nil, stream.ErrPodNotFound
	}
	return obj.(*corev1.Pod), nil
}

// streamTarget is the running run of the container: its latest attempt.
func (a *Agent) streamTarget(namespace, name, container string) (runtime.ID, error) {
	pod, err := a.pod(namespace, name)
	if err != nil {
		return runtime.ID{}, err
	}
	runs, err := a.cfg.Runtime.Runs(string(pod.UID))
	if err != nil {
		return runtime.ID{}, err
	}
	rs := runs[container]
	if len(rs) == 0 || !rs[len(rs)-1].Running {
		return runtime.ID{}, runtime.ErrNotRunning
	}
	return rs[len(rs)-1].ID, nil
}

// podRunning: the pod is bound here and one of its containers runs (the
// kubelet forwards ports of running pods only).
func (a *Agent) podRunning(namespace, name string) error {
	pod, err := a.pod(namespace, name)
	if err != nil {
		return err
	}
	runs, err := a.cfg.Runtime.Runs(string(pod.UID))
	if err != nil {
		return err
	}
	for _, rs := range runs {
		if len(rs) > 0 && rs[len(rs)-1].Running {
			return nil
		}
	}
	return stream.ErrPodNotFound
}
