package node

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/batchd/batchd/internal/image"
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
		_, _, err := m.ensure(context.Background(), pod, c, authn.DefaultKeychain)
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
	img, root, err := m.ensure(context.Background(), pod, c, authn.DefaultKeychain)
	if err != nil || store.pulls != 2 || root != "/images/registry.example/example/app:1" || img.Size != 42 {
		t.Fatalf("after the back-off: %+v %q %v after %d pulls", img, root, err, store.pulls)
	}
	if _, _, err := m.ensure(context.Background(), pod, c, authn.DefaultKeychain); err != nil || store.pulls != 2 {
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
