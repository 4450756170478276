package node

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/batchd/batchd/internal/node/runtime"
)

// Runtime handlers a pod's runtimeClassName names.
const (
	RuntimeHost = "host" // the pod's commands run as host processes
	RuntimeOCI  = "oci"  // the pod's images run with runc or crun
	// RuntimeAuto, a node's default only: a pod runs its images with runc
	// or crun where the node can have them, else its commands on the host.
	RuntimeAuto = "auto"
)

// SandboxError is a pod the node has no runtime for (the kubelet's
// FailedCreatePodSandBox): its RuntimeClass is missing or names a handler
// this node does not have.
type SandboxError struct{ Message string }

func (e *SandboxError) Error() string { return e.Message }

// handlers are the node's runtime handlers.
type handlers struct {
	// Default is the handler of pods without runtimeClassName.
	Default string
	// OCI runs handler "oci" (zero: none installed); Named are the
	// handlers "runc" and "crun" where installed.
	OCI   runtime.OCIRuntime
	Named map[string]runtime.OCIRuntime
	// Images tells whether the node has an image store (OCI pods need one).
	Images bool
}

// handler is the runtime handler of pod, its RuntimeClass's, else the node's
// default, and for an OCI handler the runc or crun it runs with. Auto is
// the default auto: the pod runs its images with oci where it can, else
// (oci zero, or its images cannot be had) on the host.
func (h handlers) handler(pod *corev1.Pod, lk Lookup) (name string, oci runtime.OCIRuntime, auto bool, err error) {
	name = h.Default
	if rc := pod.Spec.RuntimeClassName; rc != nil && *rc != "" {
		if lk.RuntimeClass != nil {
			if class, err := lk.RuntimeClass(*rc); err == nil && class.Handler == RuntimeAuto {
				// auto is a default, not a handler a class may name.
				return "", runtime.OCIRuntime{}, false, &SandboxError{Message: fmt.Sprintf("no runtime for %q is configured", RuntimeAuto)}
			}
		}
		if lk.RuntimeClass == nil {
			return "", runtime.OCIRuntime{}, false, &SandboxError{Message: fmt.Sprintf("RuntimeClass %q not found", *rc)}
		}
		class, err := lk.RuntimeClass(*rc)
		if apierrors.IsNotFound(err) {
			return "", runtime.OCIRuntime{}, false, &SandboxError{Message: fmt.Sprintf("RuntimeClass %q not found", *rc)}
		}
		if err != nil {
			return "", runtime.OCIRuntime{}, false, fmt.Errorf("RuntimeClass %q: %w", *rc, err)
		}
		name = class.Handler
	}
	switch name {
	case RuntimeAuto:
		if h.OCI.IsZero() || !h.Images {
			return RuntimeHost, runtime.OCIRuntime{}, true, nil
		}
		return RuntimeOCI, h.OCI, true, nil
	case "", RuntimeHost:
		return RuntimeHost, runtime.OCIRuntime{}, false, nil
	case RuntimeOCI:
		if h.OCI.IsZero() || !h.Images {
			return "", runtime.OCIRuntime{}, false, &SandboxError{Message: `no runtime for "oci" is configured: install runc or crun, or pass batchd server --oci-runtime`}
		}
		return RuntimeOCI, h.OCI, false, nil
	}
	if o := h.Named[name]; !o.IsZero() && h.Images {
		return name, o, false, nil
	}
	return "", runtime.OCIRuntime{}, false, &SandboxError{Message: fmt.Sprintf("no runtime for %q is configured", name)}
}
