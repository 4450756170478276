package node

import (
	"context"
	"errors"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/batchd/batchd/internal/node/runtime"
)

// ReasonImageUnavailable is the Warning event of a pod that runs its
// commands on this host because its images cannot be had
// (--default-runtime auto).
const ReasonImageUnavailable = "ImageUnavailable"

// sandbox is how a pod's containers run, decided once per pod so that all of
// them, and every restart, run alike: from their images with an OCI
// runtime, or as commands on this host.
type sandbox struct {
	// oci runs the pod's images (zero: the host runtime).
	oci runtime.OCIRuntime
	// auto: the pod has no runtimeClassName and the node's default is
	// auto, so its images are used as image.DecideAuto says.
	auto bool
	// ready are the images the decision made ready, by container, for the
	// container's first start (no second pull of an Always image).
	ready map[string]ociImage
}

// sandboxes remembers each pod's sandbox until the pod is forgotten. A
// decision is made under its pod's own lock: the pod's worker and a stop of
// its containers never decide twice at once, and other pods never wait.
type sandboxes struct {
	mu   sync.Mutex
	pods map[types.UID]*sandboxEntry
}

type sandboxEntry struct {
	mu sync.Mutex
	sb *sandbox
}

// entry is pod uid's entry, locked; unlock it when done.
func (s *sandboxes) entry(uid types.UID) *sandboxEntry {
	s.mu.Lock()
	if s.pods == nil {
		s.pods = map[types.UID]*sandboxEntry{}
	}
	e := s.pods[uid]
	if e == nil {
		e = &sandboxEntry{}
		s.pods[uid] = e
	}
	s.mu.Unlock()
	e.mu.Lock()
	return e
}

func (s *sandboxes) forget(uid types.UID) {
	s.mu.Lock()
	delete(s.pods, uid)
	s.mu.Unlock()
}

// sandbox decides pod's sandbox: its RuntimeClass's handler, else the node's
// default. Under auto the pod runs its images when every one can be had
// (stored, or pulled now), else its commands on this host, saying so in an
// ImageUnavailable event naming the image and why.
func (b *specBuilder) sandbox(ctx context.Context, pod *corev1.Pod) (*sandbox, error) {
	_, oci, auto, err := b.handlers.handler(pod, b.lookup)
	if err != nil {
		return nil, err
	}
	if !auto {
		return &sandbox{oci: oci}, nil
	}
	if oci.IsZero() || b.images == nil {
		b.events.pod(pod, "", corev1.EventTypeWarning, ReasonImageUnavailable,
			"no OCI runtime (runc or crun) can run images on this node: "+onHost)
		return &sandbox{}, nil
	}
	ready := map[string]ociImage{}
	byImage := map[string]ociImage{}
	for _, c := range allContainers(&pod.Spec) {
		if img, ok := byImage[c.Image]; ok {
			ready[c.Name] = img
			continue
		}
		img, err := b.image(ctx, pod, c, true)
		var u *UnavailableError
		if errors.As(err, &u) {
			b.events.pod(pod, c.Name, corev1.EventTypeWarning, ReasonImageUnavailable, u.Error()+": "+onHost)
			return &sandbox{}, nil
		}
		if err != nil {
			return nil, err
		}
		ready[c.Name], byImage[c.Image] = img, img
	}
	return &sandbox{oci: oci, auto: true, ready: ready}, nil
}

// onHost ends the message of an ImageUnavailable event.
const onHost = "running the container's command on this host instead (--default-runtime=auto)"

// containerImage is c's image, ready: the one the sandbox decision made
// ready for its first start, else as its pull policy says.
func (b *specBuilder) containerImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container, sb *sandbox) (ociImage, error) {
	if img, ok := sb.ready[c.Name]; ok {
		delete(sb.ready, c.Name)
		return img, nil
	}
	return b.image(ctx, pod, c, sb.auto)
}
