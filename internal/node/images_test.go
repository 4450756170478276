package node

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/node/runtime"
)

// fakeStore is an image store whose pulls fail while err is set.
type fakeStore struct {
	err    error
	pulls  int
	stored map[string]image.Image
}

func (s *fakeStore) Get(ref string) (image.Image, bool, error) {
	img, ok := s.stored[ref]
	return img, ok, nil
}

func (s *fakeStore) Pull(_ context.Context, ref string, _ authn.Keychain) (image.Image, error) {
	s.pulls++
	if s.err != nil {
		return image.Image{}, s.err
	}
	img := image.Image{Ref: "registry.example/" + ref, Size: 42}
	s.stored[ref] = img
	return img, nil
}

func (s *fakeStore) Rootfs(ref string) (string, error) { return "/images/" + ref, nil }
func (s *fakeStore) Disk() (image.Disk, error)         { return image.Disk{Capacity: 100, Available: 50}, nil }
func (s *fakeStore) Collect(image.GCPolicy, image.Disk, func(image.Image) image.GCImage, time.Time) (image.GCPlan, error) {
	return image.GCPlan{}, nil
}

// A failed pull is remembered: until its back-off passed on the clock the
// container waits with ImagePullBackOff and nothing is pulled; then the
// image is pulled again, and once it is stored the pod starts from it.
func TestImagePullsBackOff(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	store := &fakeStore{err: errors.New("connection refused"), stored: map[string]image.Image{}}
	rec := record.NewFakeRecorder(32)
	m := newImages(store, clk, clk, newEvents(rec, "n"), image.GCPolicy{}, func() map[string]bool { return nil })
	pod := testPod(corev1.RestartPolicyNever, "c")
	c := &pod.Spec.Containers[0]
	c.Image, c.ImagePullPolicy = "example/app:1", corev1.PullIfNotPresent
	waiting := func() string {
		_, _, err := m.ensure(context.Background(), pod, c, authn.DefaultKeychain, false)
		var pe *PullError
		if !errors.As(err, &pe) {
			return ""
		}
		return pe.Waiting.Reason
	}
	if w := waiting(); w != image.ReasonErrImagePull || store.pulls != 1 {
		t.Fatalf("first: %s after %d pulls", w, store.pulls)
	}
	clk.Step(9 * time.Second)
	if w := waiting(); w != image.ReasonImagePullBackOff || store.pulls != 1 {
		t.Fatalf("within the back-off: %s after %d pulls", w, store.pulls)
	}
	clk.Step(time.Second)
	store.err = nil
	img, root, err := m.ensure(context.Background(), pod, c, authn.DefaultKeychain, false)
	if err != nil || store.pulls != 2 || root != "/images/registry.example/example/app:1" || img.Size != 42 {
		t.Fatalf("after the back-off: %+v %q %v after %d pulls", img, root, err, store.pulls)
	}
	if _, _, err := m.ensure(context.Background(), pod, c, authn.DefaultKeychain, false); err != nil || store.pulls != 2 {
		t.Fatalf("present: %v after %d pulls", err, store.pulls)
	}
	want := []string{"Normal Pulling", "Warning Failed", "Normal BackOff", "Normal Pulling", "Normal Pulled", "Normal Pulled"}
	got := drain(rec)
	if len(got) != len(want) {
		t.Fatalf("events %q", got)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("event %d = %q, want %s…", i, got[i], w)
		}
	}
	if !strings.Contains(got[len(got)-1], "already present on machine") {
		t.Errorf("last event %q", got[len(got)-1])
	}
}

// Under --default-runtime auto a pod runs its images where they can be had,
// else its commands on the host with an ImageUnavailable event; a failed
// pull is remembered, so the next pod of the image falls back without one.
func TestAutoSandboxFallsBackToTheHost(t *testing.T) {
	clk := clocktesting.NewFakeClock(t0)
	store := &fakeStore{err: errors.New(`Get "https://index.docker.io/v2/": dial tcp: lookup index.docker.io: no such host`), stored: map[string]image.Image{}}
	rec := record.NewFakeRecorder(32)
	ev := newEvents(rec, "n")
	b := &specBuilder{clock: clk, events: ev,
		images:   newImages(store, clk, clk, ev, image.GCPolicy{}, func() map[string]bool { return nil }),
		handlers: handlers{Default: RuntimeAuto, OCI: runtime.OCIRuntime{Path: "/usr/sbin/runc", Kind: "runc"}, Images: true}}
	pod := func(uid string, images ...string) *corev1.Pod {
		p := testPod(corev1.RestartPolicyNever, "a", "b")
		p.UID = types.UID(uid)
		for i := range p.Spec.Containers {
			p.Spec.Containers[i].Image, p.Spec.Containers[i].ImagePullPolicy = images[i], corev1.PullAlways
		}
		return p
	}
	ctx := context.Background()

	// Offline: the first pod pulls once and runs on the host, saying why.
	sb, err := b.sandbox(ctx, pod("1", "busybox:1.36", "busybox:1.36"))
	if err != nil || !sb.oci.IsZero() || store.pulls != 1 {
		t.Fatalf("offline: %+v %v after %d pulls", sb, err, store.pulls)
	}
	got := drain(rec)
	want := `Warning ImageUnavailable image "busybox:1.36" cannot be used: pull failed: Get "https://index.docker.io/v2/": dial tcp: lookup index.docker.io: no such host: running the container's command on this host instead (--default-runtime=auto)`
	if len(got) != 2 || got[0] != `Normal Pulling Pulling image "busybox:1.36"` || got[1] != want {
		t.Fatalf("events %q", got)
	}
	// Within the back-off the next pod falls back without a pull.
	clk.Step(5 * time.Second)
	if sb, err := b.sandbox(ctx, pod("2", "busybox:1.36", "busybox:1.36")); err != nil || !sb.oci.IsZero() || store.pulls != 1 {
		t.Fatalf("within the back-off: %+v %v after %d pulls", sb, err, store.pulls)
	}
	if got := drain(rec); len(got) != 1 || !strings.Contains(got[0], "its last pull failed 5s ago: ") {
		t.Fatalf("events within the back-off %q", got)
	}

	// A stored image runs with runc even when its Always pull fails, and a
	// pod with one unavailable image runs wholly on the host.
	store.stored["busybox:1.36"] = image.Image{Ref: "docker.io/library/busybox:1.36"}
	sb, err = b.sandbox(ctx, pod("3", "busybox:1.36", "busybox:1.36"))
	if err != nil || sb.oci.Path != "/usr/sbin/runc" || !sb.auto || sb.ready["a"].Root != "/images/docker.io/library/busybox:1.36" || sb.ready["b"].Root == "" {
		t.Fatalf("stored: %+v %v", sb, err)
	}
	if sb, err := b.sandbox(ctx, pod("4", "busybox:1.36", "example/app:1")); err != nil || !sb.oci.IsZero() {
		t.Fatalf("one image missing: %+v %v", sb, err)
	}
	drain(rec)

	// Online: pulled once by the decision, not again by the first start.
	store.err = nil
	clk.Step(time.Hour)
	p := pod("5", "example/tool:2", "example/tool:2")
	pulls := store.pulls
	sb, err = b.sandbox(ctx, p)
	if err != nil || sb.oci.IsZero() || store.pulls != pulls+1 {
		t.Fatalf("online: %+v %v after %d pulls", sb, err, store.pulls-pulls)
	}
	if img, err := b.containerImage(ctx, p, &p.Spec.Containers[0], sb); err != nil || img.Root == "" || store.pulls != pulls+1 {
		t.Fatalf("first start: %+v %v after %d pulls", img, err, store.pulls-pulls)
	}
	if _, err := b.containerImage(ctx, p, &p.Spec.Containers[0], sb); err != nil || store.pulls != pulls+2 {
		t.Fatalf("a restart pulls an Always image again: %v after %d pulls", err, store.pulls-pulls)
	}

	// No OCI runtime: every pod on the host, each told so.
	b.handlers.OCI = runtime.OCIRuntime{}
	if sb, err := b.sandbox(ctx, pod("6", "busybox:1.36", "busybox:1.36")); err != nil || !sb.oci.IsZero() {
		t.Fatalf("no runc: %+v %v", sb, err)
	}
	if got := drain(rec); len(got) == 0 || got[len(got)-1] != "Warning ImageUnavailable no OCI runtime (runc or crun) can run images on this node: running the container's command on this host instead (--default-runtime=auto)" {
		t.Fatalf("events without runc %q", got)
	}
	// A pod that names its class gets no fallback.
	b.handlers.OCI = runtime.OCIRuntime{Path: "/usr/sbin/runc", Kind: "runc"}
	oci := pod("7", "example/none:1", "example/none:1")
	oci.Spec.RuntimeClassName = new(string)
	*oci.Spec.RuntimeClassName = "oci"
	b.lookup.RuntimeClass = func(name string) (*nodev1.RuntimeClass, error) {
		return &nodev1.RuntimeClass{Handler: name}, nil
	}
	if sb, err := b.sandbox(ctx, oci); err != nil || sb.oci.IsZero() || sb.auto {
		t.Fatalf("runtimeClassName oci: %+v %v", sb, err)
	}
}
