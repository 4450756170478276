package node

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/batchd/batchd/internal/node/runtime"
)

func storagePod(limit string, sizeLimit string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}}
	if limit != "" {
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse(limit)}
	}
	if sizeLimit != "" {
		q := resource.MustParse(sizeLimit)
		p.Spec.Volumes = []corev1.Volume{{Name: "x", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &q}}}}
	}
	return p
}

func TestLocalStorageEviction(t *testing.T) {
	mi := int64(1 << 20)
	for _, tc := range []struct {
		name, limit, sizeLimit string
		u                      StorageUsage
		want                   string
	}{
		{"within", "2Mi", "1Mi", StorageUsage{EmptyDirs: map[string]int64{"x": mi / 2}, Containers: map[string]int64{"a": mi}}, ""},
		{"emptyDir", "", "1Mi", StorageUsage{EmptyDirs: map[string]int64{"x": 2 * mi}}, `Usage of EmptyDir volume "x" exceeds the limit "1Mi". `},
		{"pod total", "1Mi", "", StorageUsage{EmptyDirs: map[string]int64{}, Containers: map[string]int64{"a": mi / 2, "b": mi}}, "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. "},
		{"no limits", "", "", StorageUsage{Containers: map[string]int64{"a": 100 * mi}}, ""},
	} {
		if got := LocalStorageEviction(storagePod(tc.limit, tc.sizeLimit), tc.u); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDiskPressureVictim(t *testing.T) {
	if DiskPressure(DiskStats{Capacity: 100, Available: 10}) || !DiskPressure(DiskStats{Capacity: 100, Available: 9}) {
		t.Error("threshold is not 10% available")
	}
	small, big := storagePod("", ""), storagePod("", "")
	small.UID, big.UID = "small", "big"
	usage := map[string]StorageUsage{"small": {Containers: map[string]int64{"a": 1 << 20}}, "big": {Containers: map[string]int64{"a": 20 << 20}}}
	v, msg, ok := DiskPressureVictim([]*corev1.Pod{small, big}, usage, DiskStats{Capacity: 100 << 20, Available: 5 << 20})
	if !ok || v.UID != types.UID("big") {
		t.Fatalf("victim %v", v)
	}
	want := "The node was low on resource: ephemeral-storage. Threshold quantity: 10Mi, available: 5Mi. Container a was using 20Mi, request is 0, has larger consumption of ephemeral-storage. "
	if msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
}

// TestDecideEvicts: an evicted pod's containers are killed without grace;
// once they ended it is Failed, reason Evicted, with DisruptionTarget and an
// Evicted event.
func TestDecideEvicts(t *testing.T) {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	pod := storagePod("1Mi", "")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Status.Phase = corev1.PodRunning
	msg := "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. "
	running := map[string][]runtime.Run{
		"a": {{ID: runtime.ID{Pod: "u1", Container: "a"}, Running: true, StartedAt: now}},
		"b": {{ID: runtime.ID{Pod: "u1", Container: "b"}, Running: true, StartedAt: now}},
	}
	p := Decide(Observed{Pod: pod, Runs: running, Evicted: msg, Now: now})
	if len(p.Kill) != 2 || p.Kill[0].Grace != 0 {
		t.Fatalf("kill = %+v", p.Kill)
	}
	ended := map[string][]runtime.Run{
		"a": {{ID: runtime.ID{Pod: "u1", Container: "a"}, ExitCode: 137, StartedAt: now, FinishedAt: now}},
		"b": {{ID: runtime.ID{Pod: "u1", Container: "b"}, ExitCode: 137, StartedAt: now, FinishedAt: now}},
	}
	p = Decide(Observed{Pod: pod, Runs: ended, Evicted: msg, Now: now})
	if p.Status.Phase != corev1.PodFailed || p.Status.Reason != ReasonEvicted || p.Status.Message != msg {
		t.Fatalf("status %s/%s/%s", p.Status.Phase, p.Status.Reason, p.Status.Message)
	}
	found := false
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "TerminationByKubelet" && c.Message == msg {
			found = true
		}
	}
	if !found {
		t.Errorf("no DisruptionTarget condition: %+v", p.Status.Conditions)
	}
	if len(p.Events) == 0 || p.Events[len(p.Events)-1].Reason != "Evicted" || !strings.Contains(p.Events[len(p.Events)-1].Message, "1Mi") {
		t.Errorf("events %+v", p.Events)
	}
}
