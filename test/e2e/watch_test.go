package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGetPodsWatchShowsTheKubeletsSequence: `kubectl get pods -w` shows the
// STATUS column a cluster shows: a pod held by a scheduling gate is
// SchedulingGated; once ungated, one that runs to its end goes Pending,
// ContainerCreating, Running, Completed; one whose container keeps failing
// under restartPolicy OnFailure goes Running, Error, Running (restarted at
// once), Error, CrashLoopBackOff (backing off), as the kubelet's status does.
// Run with batchd's kubectl, and with a stock kubectl when one is installed.
func TestGetPodsWatchShowsTheKubeletsSequence(t *testing.T) {
	t.Parallel()
	kubectls := [][]string{{batchd, "kubectl"}}
	if path, err := exec.LookPath("kubectl"); err == nil {
		kubectls = append(kubectls, []string{path})
	}
	n := ns(t)
	pod := func(name, policy, script string) string {
		return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  restartPolicy: ` + policy + `
  schedulingGates: [{name: example.com/watch}]
  containers:
  - name: c
    image: busybox
    command: [sh, -c, '` + script + `']
`
	}
	for i, k := range kubectls {
		ok, crash := "ok-"+string(rune('a'+i)), "crash-"+string(rune('a'+i))
		// Each run lasts 3 s: the node reports the state it sees when
		// its status write goes out, as a kubelet does, and on a loaded
		// machine that took longer than a 1 s run, so Running was never
		// written (a CI run saw ContainerCreating, then Completed).
		apply(t, n, pod(ok, "Never", "sleep 3; echo done"))
		apply(t, n, pod(crash, "OnFailure", "sleep 3; exit 1"))
		okSeen := watchStatuses(t, k, n, ok, "Completed")
		if want := []string{"SchedulingGated", "Pending", "ContainerCreating", "Running", "Completed"}; !isSubsequence(want, okSeen) {
			t.Errorf("%s get pods -w of a pod that succeeds: %q, want %q in that order", k[0], okSeen, want)
		}
		crashSeen := watchStatuses(t, k, n, crash, "CrashLoopBackOff")
		if want := []string{"SchedulingGated", "ContainerCreating", "Running", "Error", "Running", "Error", "CrashLoopBackOff"}; !isSubsequence(want, crashSeen) {
			t.Errorf("%s get pods -w of a pod that keeps failing: %q, want %q in that order", k[0], crashSeen, want)
		}
		if slices.Contains(crashSeen, "Completed") || slices.Contains(okSeen, "Error") {
			t.Errorf("unexpected statuses: %q, %q", okSeen, crashSeen)
		}
	}
}

// watchStatuses runs `kubectl get pod -w` on gated pod name, removes its
// scheduling gate once the watch printed it, and returns the STATUS column
// of each row printed (repeats folded) until one reads until.
func watchStatuses(t *testing.T, k []string, n, name, until string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append(append([]string{}, k[1:]...), "get", "pods", "-n", n, "-w", "--field-selector", "metadata.name="+name)
	cmd := exec.CommandContext(ctx, k[0], args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var seen []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != name {
			continue
		}
		if len(seen) == 0 {
			// Listed, so watched from here on: let it be scheduled.
			must(t, kubectl(t, "", "patch", "pod", name, "-n", n, "--type=json", "-p", `[{"op":"remove","path":"/spec/schedulingGates"}]`), "patched")
		}
		if len(seen) == 0 || seen[len(seen)-1] != f[2] {
			seen = append(seen, f[2])
		}
		if f[2] == until {
			return seen
		}
	}
	t.Errorf("%s get pods -w ended before %s: %q", k[0], until, seen)
	return seen
}

// isSubsequence tells whether want appears in got in order.
func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
