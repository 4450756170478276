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

func TestDecideAuto(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	failed := PullState{Failures: 1, LastErr: "dial tcp: lookup index.docker.io: no such host", Last: now.Add(-4 * time.Second)}
	for _, tc := range []struct {
		name        string
		policy      corev1.PullPolicy
		image       string
		present     bool
		st          PullState
		pull, use   bool
		waiting     string
		unavailable string
	}{
		{name: "missing: pull", policy: corev1.PullIfNotPresent, pull: true},
		{name: "Always and present: pull", policy: corev1.PullAlways, present: true, pull: true},
		{name: "present under IfNotPresent: use", policy: corev1.PullIfNotPresent, present: true, use: true},
		{name: "backing off but present: use the stored image", policy: corev1.PullAlways, present: true, st: failed, use: true},
		{name: "backing off and missing: unavailable without a pull", policy: corev1.PullAlways, st: failed,
			unavailable: "its last pull failed 4s ago: dial tcp: lookup index.docker.io: no such host"},
		{name: "a failure is remembered for five minutes, not the back-off's 10 s", policy: corev1.PullAlways,
			st: PullState{Failures: 1, LastErr: "no such host", Last: now.Add(-299 * time.Second)}, unavailable: "its last pull failed 4m59s ago: no such host"},
		{name: "and tried again after", policy: corev1.PullAlways, st: PullState{Failures: 1, LastErr: "no such host", Last: now.Add(-300 * time.Second)}, pull: true},
		{name: "Never and missing: unavailable", policy: corev1.PullNever,
			unavailable: `Container image "busybox:1.36" is not present with pull policy of Never`},
		{name: "a bad name stays an error", policy: corev1.PullAlways, image: "Busybox:UPPER CASE", waiting: "InvalidImageName"},
	} {
		img := tc.image
		if img == "" {
			img = "busybox:1.36"
		}
		a := DecideAuto(img, tc.policy, tc.present, tc.st, now)
		waiting := ""
		if a.Waiting != nil {
			waiting = a.Waiting.Reason
		}
		if a.Pull != tc.pull || a.Use != tc.use || waiting != tc.waiting || a.Unavailable != tc.unavailable {
			t.Errorf("%s: %+v (waiting %q)", tc.name, a, waiting)
		}
	}
	if a := FallBack(true, errors.New("x")); !a.Use || a.Unavailable != "" {
		t.Errorf("a failed pull of a stored image: %+v, want the stored image used", a)
	}
	if a := FallBack(false, errors.New("connection refused")); a.Use || a.Unavailable != "pull failed: connection refused" {
		t.Errorf("a failed pull of a missing image: %+v", a)
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
