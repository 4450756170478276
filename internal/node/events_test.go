package node

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
)

func drain(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// An event Decide plans again and again is recorded once per pod, and
// again for a new pod; forgetting a pod forgets its events.
func TestEventsAreRecordedOncePerKey(t *testing.T) {
	r := record.NewFakeRecorder(16)
	e := newEvents(r, "n")
	pod := testPod(corev1.RestartPolicyOnFailure, "c")
	backoff := Event{Type: corev1.EventTypeWarning, Reason: "BackOff", Message: "Back-off", Container: "c", Key: "backoff/c/1"}
	for i := 0; i < 3; i++ {
		e.record(pod, []Event{backoff})
	}
	if got := drain(r); len(got) != 1 || got[0] != "Warning BackOff Back-off" {
		t.Fatalf("events %q", got)
	}
	e.record(pod, []Event{backoff, {Type: corev1.EventTypeWarning, Reason: "BackOff", Message: "again", Key: "backoff/c/2"}})
	if got := drain(r); len(got) != 1 || !strings.Contains(got[0], "again") {
		t.Fatalf("events %q", got)
	}
	other := pod.DeepCopy()
	other.UID = "other"
	e.record(other, []Event{backoff})
	e.forget(pod.UID)
	e.record(pod, []Event{backoff})
	if got := drain(r); len(got) != 2 {
		t.Fatalf("events %q", got)
	}
}
