package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// Issue 15 item 5: a pod naming a missing PersistentVolumeClaim stays
// Pending, PodScheduled=False/Unschedulable, with upstream's VolumeBinding
// message and preemption suffix; it is scheduled and runs once the claim
// exists.
func TestPodWithMissingClaimWaitsForIt(t *testing.T) {
	t.Parallel()
	n := ns(t)
	pod := `apiVersion: v1
kind: Pod
metadata: {name: backup}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "test -d /backup"]
    volumeMounts: [{name: data, mountPath: /backup}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: backup-pvc}
`
	must(t, kubectl(t, pod, "apply", "-n", n, "-f", "-"), "pod/backup created")
	waitFor(t, n, "pod/backup", `{.status.conditions[?(@.type=="PodScheduled")].status}/{.status.conditions[?(@.type=="PodScheduled")].reason}`, "False/Unschedulable")
	want := `0/1 nodes are available: persistentvolumeclaim "backup-pvc" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.`
	if got := get(t, n, "pod/backup", `{.status.conditions[?(@.type=="PodScheduled")].message}`); got != want {
		t.Errorf("PodScheduled message %q, want %q", got, want)
	}
	eventually(t, "FailedScheduling event", func() bool {
		// One event per attempt: a retry under load may add a second, with the same message.
		out := kubectl(t, "", "get", "events", "-n", n, "--field-selector", "involvedObject.name=backup,reason=FailedScheduling",
			"-o", `jsonpath={range .items[*]}{.message}{"\n"}{end}`).stdout
		msgs := strings.Split(strings.TrimSpace(out), "\n")
		for _, m := range msgs {
			if m != want {
				return false
			}
		}
		return len(msgs) > 0
	})
	if node := get(t, n, "pod/backup", "{.spec.nodeName}/{.status.phase}"); node != "/Pending" {
		t.Fatalf("pod bound or started without its claim: %s", node)
	}
	claim := `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: backup-pvc}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Mi}}
`
	must(t, kubectl(t, claim, "apply", "-n", n, "-f", "-"), "persistentvolumeclaim/backup-pvc created")
	waitFor(t, n, "pod/backup", "{.status.phase}", "Succeeded")
	if node := get(t, n, "pod/backup", "{.spec.nodeName}"); node == "" {
		t.Errorf("pod ran without a node")
	}
}

// Issue 15 item 6: the scheduler records its events through events.k8s.io/v1
// as kube-scheduler does — eventTime, action, reportingController and
// reportingInstance, the deprecated fields empty — and kubectl still shows
// them through core/v1 (get events, describe pod).
func TestSchedulerEventsThroughEventsV1(t *testing.T) {
	t.Parallel()
	n := ns(t)
	pod := `apiVersion: v1
kind: Pod
metadata: {name: placed}
spec:
  restartPolicy: Never
  containers:
  - {name: main, image: busybox, command: ["true"]}
---
apiVersion: v1
kind: Pod
metadata: {name: nowhere}
spec:
  nodeSelector: {disktype: none-here}
  containers:
  - {name: main, image: busybox, command: ["true"]}
`
	must(t, kubectl(t, pod, "apply", "-n", n, "-f", "-"), "pod/placed created", "pod/nowhere created")
	waitFor(t, n, "pod/placed", "{.status.phase}", "Succeeded")
	waitFor(t, n, "pod/nowhere", `{.status.conditions[?(@.type=="PodScheduled")].reason}`, "Unschedulable")

	type event struct {
		EventTime           string            `json:"eventTime"`
		Action              string            `json:"action"`
		Reason              string            `json:"reason"`
		Note                string            `json:"note"`
		Type                string            `json:"type"`
		Regarding           map[string]string `json:"regarding"`
		ReportingController string            `json:"reportingController"`
		ReportingInstance   string            `json:"reportingInstance"`
		DeprecatedSource    map[string]string `json:"deprecatedSource"`
		DeprecatedFirst     string            `json:"deprecatedFirstTimestamp"`
		DeprecatedLast      string            `json:"deprecatedLastTimestamp"`
		DeprecatedCount     int               `json:"deprecatedCount"`
	}
	find := func(reason, podName string) *event {
		r := kubectl(t, "", "get", "--raw", "/apis/events.k8s.io/v1/namespaces/"+n+"/events")
		if r.code != 0 {
			t.Fatalf("events.k8s.io/v1 not served:\n%s", r)
		}
		var list struct{ Items []event }
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			if e := &list.Items[i]; e.Reason == reason && e.Regarding["name"] == podName {
				return e
			}
		}
		return nil
	}
	host, _ := os.Hostname()
	for _, c := range []struct{ pod, reason, action, typ, note string }{
		{"placed", "Scheduled", "Binding", "Normal", "Successfully assigned " + n + "/placed to "},
		{"nowhere", "FailedScheduling", "Scheduling", "Warning", "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."},
	} {
		var e *event
		eventually(t, c.reason+" event of "+c.pod, func() bool { e = find(c.reason, c.pod); return e != nil })
		if e.Action != c.action || e.Type != c.typ || e.EventTime == "" || !strings.HasPrefix(e.Note, c.note) ||
			e.ReportingController != "default-scheduler" || e.ReportingInstance != "default-scheduler-"+host {
			t.Errorf("%s event: %+v", c.reason, *e)
		}
		if len(e.DeprecatedSource) != 0 || e.DeprecatedFirst != "" || e.DeprecatedLast != "" || e.DeprecatedCount != 0 {
			t.Errorf("%s event sets deprecated fields: %+v", c.reason, *e)
		}
	}
	mustSoon(t, func() result {
		return kubectl(t, "", "get", "events", "-n", n, "--field-selector", "involvedObject.name=placed")
	}, "Scheduled", "Successfully assigned "+n+"/placed to ")
	must(t, kubectl(t, "", "describe", "pod", "placed", "-n", n), "Scheduled", "default-scheduler", "Successfully assigned "+n+"/placed to ")
	must(t, kubectl(t, "", "describe", "pod", "nowhere", "-n", n), "FailedScheduling", "default-scheduler", "preemption: 0/1 nodes are available")
}
