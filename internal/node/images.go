package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/image"
)

// imageGCPeriod is the kubelet's ImageGCPeriod.
const imageGCPeriod = 5 * time.Minute

// ReasonFreeDiskSpaceFailed is the kubelet's node event when unused images
// cannot free enough space.
const ReasonFreeDiskSpaceFailed = "FreeDiskSpaceFailed"

// imageStore is what the image manager uses of the node's image store.
type imageStore interface {
	Get(image string) (image.Image, bool, error)
	Pull(ctx context.Context, image string, kc authn.Keychain) (image.Image, error)
	Rootfs(image string) (string, error)
	Disk() (image.Disk, error)
	Collect(p image.GCPolicy, disk image.Disk, usage func(image.Image) image.GCImage, now time.Time) (image.GCPlan, error)
}

// PullError is an image that cannot be used (yet): its waiting reason and
// message, the event already recorded.
type PullError struct{ Waiting corev1.ContainerStateWaiting }

func (e *PullError) Error() string { return e.Waiting.Message }

// UnavailableError is an image a pod that may run on the host instead
// (--default-runtime auto) cannot have: Why says so.
type UnavailableError struct{ Image, Container, Why string }

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("image %q cannot be used: %s", e.Image, e.Why)
}

// images is the kubelet's image manager: it pulls a container's image as
// its pull policy says, backing off an image whose pulls fail (the failures
// are remembered: a pod asking again within the back-off waits with
// ImagePullBackOff without a pull), and collects unused images when the
// image file system is too full.
type images struct {
	store  imageStore
	clock  clock.Clock
	wall   clock.Clock // the collection's pace
	events *events
	policy image.GCPolicy
	// inUse lists the images the pods on the node name.
	inUse func() map[string]bool

	mu    sync.Mutex
	pulls map[string]image.PullState // image → its failed pulls
	// seen and lastUsed are when each stored image was first listed and
	// last started from.
	seen, lastUsed map[string]time.Time
	// pulled wakes collection: the store grew.
	pulled chan struct{}
}

func newImages(store imageStore, clk, wall clock.Clock, ev *events, policy image.GCPolicy, inUse func() map[string]bool) *images {
	if policy == (image.GCPolicy{}) {
		policy = image.DefaultGCPolicy
	}
	return &images{store: store, clock: clk, wall: wall, events: ev, policy: policy, inUse: inUse,
		pulls: map[string]image.PullState{}, seen: map[string]time.Time{}, lastUsed: map[string]time.Time{}, pulled: make(chan struct{}, 1)}
}

// ensure makes c's image available as its pull policy says, recording the
// kubelet's events, and returns it with its root file system. An image
// that cannot be used (yet) is a *PullError.
//
// With auto (the pod may run on the host instead: --default-runtime auto)
// the image is decided by image.DecideAuto: a stored image is used when its
// pull backs off or fails, and an image that cannot be had is an
// *UnavailableError, with no waiting state and no Failed event.
func (m *images) ensure(ctx context.Context, pod *corev1.Pod, c *corev1.Container, kc authn.Keychain, auto bool) (image.Image, string, error) {
	stored, present, _ := m.store.Get(c.Image)
	m.mu.Lock()
	st := m.pulls[c.Image]
	m.mu.Unlock()
	decide := image.Decide
	if auto {
		decide = image.DecideAuto
	}
	act := decide(c.Image, c.ImagePullPolicy, present, st, m.clock.Now())
	if act.EventReason != "" && !act.Pull {
		m.events.pod(pod, c.Name, act.EventType, act.EventReason, act.EventMessage)
	}
	switch {
	case act.Unavailable != "":
		return image.Image{}, "", &UnavailableError{Image: c.Image, Container: c.Name, Why: act.Unavailable}
	case act.Waiting != nil:
		return image.Image{}, "", &PullError{Waiting: *act.Waiting}
	case act.Pull:
		m.events.pod(pod, c.Name, act.EventType, act.EventReason, act.EventMessage)
		began := m.clock.Now()
		img, err := m.store.Pull(ctx, c.Image, kc)
		if err != nil {
			m.mu.Lock()
			st = m.pulls[c.Image]
			m.pulls[c.Image] = image.PullState{Failures: st.Failures + 1, LastErr: err.Error(), Last: m.clock.Now()}
			m.mu.Unlock()
			if auto {
				if fb := image.FallBack(present, err); fb.Unavailable != "" {
					return image.Image{}, "", &UnavailableError{Image: c.Image, Container: c.Name, Why: fb.Unavailable}
				}
				break // the stored image serves
			}
			failed := image.PullFailed(c.Image, err)
			m.events.pod(pod, c.Name, failed.EventType, failed.EventReason, failed.EventMessage)
			return image.Image{}, "", &PullError{Waiting: *failed.Waiting}
		}
		m.mu.Lock()
		delete(m.pulls, c.Image)
		m.mu.Unlock()
		done := image.Pulled(c.Image, m.clock.Since(began), img.Size)
		m.events.pod(pod, c.Name, done.EventType, done.EventReason, done.EventMessage)
		stored = img
		select { // the store grew: see whether the disk is now too full
		case m.pulled <- struct{}{}:
		default:
		}
	}
	m.used(stored.Ref)
	root, err := m.store.Rootfs(stored.Ref)
	if err != nil {
		return image.Image{}, "", fmt.Errorf("unpack image %q: %w", c.Image, err)
	}
	return stored, root, nil
}

// used records that a container was started from ref.
func (m *images) used(ref string) {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.seen[ref]; !ok {
		m.seen[ref] = now
	}
	m.lastUsed[ref] = now
}

// run collects unused images every imageGCPeriod and when a pull asks for it.
func (m *images) run(ctx context.Context) {
	for {
		m.collect(ctx)
		select {
		case <-ctx.Done():
			return
		case <-m.wall.After(imageGCPeriod):
		case <-m.pulled:
		}
	}
}

// collect removes unused images, least recently used first, while the
// image file system is over the high threshold, as the kubelet's image
// garbage collector does. An image is in use while a pod on the node names
// it; images are first seen when this agent first lists them.
func (m *images) collect(ctx context.Context) {
	log := klog.FromContext(ctx)
	disk, err := m.store.Disk()
	if err != nil {
		log.Error(err, "image garbage collection: stat the image file system")
		return
	}
	inUse := m.inUse()
	now := m.clock.Now()
	usage := func(img image.Image) image.GCImage {
		m.mu.Lock()
		defer m.mu.Unlock()
		if _, ok := m.seen[img.Ref]; !ok {
			m.seen[img.Ref] = now
		}
		return image.GCImage{InUse: inUse[img.Ref], FirstSeen: m.seen[img.Ref], LastUsed: m.lastUsed[img.Ref]}
	}
	plan, err := m.store.Collect(m.policy, disk, usage, now)
	if plan.AmountToFree > 0 {
		log.Info("Disk usage on image filesystem is over the high threshold, trying to free bytes down to the low threshold",
			"usage", plan.UsagePercent, "highThreshold", m.policy.HighPercent, "amountToFree", plan.AmountToFree, "lowThreshold", m.policy.LowPercent)
		for _, ref := range plan.Remove {
			log.Info("Removing image to free bytes", "image", ref)
		}
	}
	if err != nil {
		log.Error(err, "image garbage collection")
		return
	}
	if plan.Short {
		m.events.nodeEvent(corev1.EventTypeWarning, ReasonFreeDiskSpaceFailed, plan.Message())
	}
	m.mu.Lock()
	for _, ref := range plan.Remove {
		delete(m.seen, ref)
		delete(m.lastUsed, ref)
	}
	m.mu.Unlock()
}

// imagesInUse lists the images (normalised) named by pods.
func imagesInUse(pods []*corev1.Pod) map[string]bool {
	inUse := map[string]bool{}
	for _, p := range pods {
		for _, c := range append(allContainers(&p.Spec), ephemeralContainers(&p.Spec)...) {
			if ref, err := image.Normalize(c.Image); err == nil {
				inUse[ref.Name()] = true
			}
		}
	}
	return inUse
}

// keychain is the pod's imagePullSecrets, then ~/.docker/config.json.
func keychain(pod *corev1.Pod, lk Lookup) authn.Keychain {
	chains := []authn.Keychain{}
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := lk.Secret(pod.Namespace, ref.Name)
		if err != nil {
			continue // the kubelet pulls without a secret it cannot read
		}
		for _, key := range []string{corev1.DockerConfigJsonKey, corev1.DockerConfigKey} {
			if data, ok := s.Data[key]; ok {
				if cfg, err := image.ParseDockerConfig(data); err == nil {
					chains = append(chains, cfg)
				}
			}
		}
	}
	return authn.NewMultiKeychain(append(chains, authn.DefaultKeychain)...)
}
