package image

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		image   string
		policy  corev1.PullPolicy
		present bool
		st      PullState
		pull    bool
		use     bool
		waiting string
		event   string
		message string
	}{
		{name: "Always pulls even when present", image: "busybox:1.36", policy: corev1.PullAlways, present: true, pull: true, event: "Pulling", message: `Pulling image "busybox:1.36"`},
		{name: "IfNotPresent uses what is there", image: "busybox:1.36", policy: corev1.PullIfNotPresent, present: true, use: true, event: "Pulled", message: `Container image "busybox:1.36" already present on machine`},
		{name: "IfNotPresent pulls what is missing", image: "busybox:1.36", policy: corev1.PullIfNotPresent, pull: true, event: "Pulling"},
		{name: "Never uses what is there", image: "busybox", policy: corev1.PullNever, present: true, use: true, event: "Pulled"},
		{name: "Never without the image", image: "busybox", policy: corev1.PullNever, waiting: "ErrImageNeverPull", event: "ErrImageNeverPull", message: `Container image "busybox" is not present with pull policy of Never`},
		{name: "invalid name", image: "Busybox:UPPER CASE", policy: corev1.PullAlways, waiting: "InvalidImageName", event: "InspectFailed"},
		{name: "backing off after a failure", image: "busybox", policy: corev1.PullAlways, st: PullState{Failures: 2, Last: now.Add(-15 * time.Second)}, waiting: "ImagePullBackOff", event: "BackOff", message: `Back-off pulling image "busybox"`},
		{name: "backoff over: pull again", image: "busybox", policy: corev1.PullAlways, st: PullState{Failures: 2, Last: now.Add(-20 * time.Second)}, pull: true, event: "Pulling"},
	} {
		a := Decide(tc.image, tc.policy, tc.present, tc.st, now)
		waiting := ""
		if a.Waiting != nil {
			waiting = a.Waiting.Reason
		}
		if a.Pull != tc.pull || a.Use != tc.use || waiting != tc.waiting || a.EventReason != tc.event || (tc.message != "" && a.EventMessage != tc.message) {
			t.Errorf("%s: %+v (waiting %q)", tc.name, a, waiting)
		}
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i, w := range want {
		if got := Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
}

func TestPullFailedAndPulledMessages(t *testing.T) {
	if a := PullFailed("busybox", errors.New("unauthorized")); a.Waiting.Reason != "ErrImagePull" || a.EventMessage != `Failed to pull image "busybox": unauthorized` {
		t.Errorf("%+v", a)
	}
	if a := Pulled("busybox", 1234*time.Millisecond, 2048); a.EventMessage != `Successfully pulled image "busybox" in 1.234s (1.234s including waiting). Image size: 2048 bytes.` {
		t.Errorf("%q", a.EventMessage)
	}
}
