package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/serverproc"
)

// smallPodsDisk runs a server of its own whose pods directory (containers'
// logs, run records, emptyDirs, private /tmp) is a tmpfs of size bytes: a
// small disk that a pod can fill. It returns the server, a kubectl for it
// and the pods directory.
func smallPodsDisk(t *testing.T, size string, args ...string) (*serverproc.Process, func(stdin string, args ...string) result, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root (CI runs as root)")
	}
	data := filepath.Join(t.TempDir(), "data")
	pods := filepath.Join(data, "pods")
	if err := os.MkdirAll(pods, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", pods, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Fatalf("mount a %s tmpfs: %v", size, err)
	}
	t.Cleanup(func() {
		runtime.KillAll(pods)
		_ = syscall.Unmount(pods, syscall.MNT_DETACH)
	})
	srv, _, _ := ownServer(t, data, args...)
	k := func(stdin string, args ...string) result {
		t.Helper()
		return runKubectl(t, batchd, append([]string{"kubectl", "--kubeconfig", srv.Kubeconfig, "-n", "default"}, args...), stdin)
	}
	return srv, k, pods
}

// TestFullDiskExitIsAFailure: a Job's container fills the disk that holds
// its exit record and exits 3. The record cannot be written; the run is an
// unknown outcome (ContainerStatusUnknown, 137) and the Job with
// backoffLimit 0 fails; before, the empty record read as exit code 0 and
// the Job completed.
func TestFullDiskExitIsAFailure(t *testing.T) {
	t.Parallel()
	_, k, _ := smallPodsDisk(t, "4m", "--node-name", "fulldisk")
	must(t, k(`apiVersion: batch/v1
kind: Job
metadata: {name: filler}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      volumes: [{name: scratch, emptyDir: {}}]
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "dd if=/dev/zero of=/scratch/fill bs=64k 2>/dev/null; exit 3"]
        volumeMounts: [{name: scratch, mountPath: /scratch}]
`, "apply", "-f", "-"), "job.batch/filler created")
	eventually(t, "the Job ends", func() bool {
		s := k("", "get", "job", "filler", "-o", `jsonpath={.status.conditions[?(@.status=="True")].type}`).stdout
		return strings.Contains(s, "Failed") || strings.Contains(s, "Complete")
	})
	if s := k("", "get", "job", "filler", "-o", `jsonpath={.status.conditions[?(@.status=="True")].type} {.status.succeeded}/{.status.failed}`).stdout; !strings.Contains(s, "Failed") || strings.Contains(s, "Complete") {
		t.Errorf("Job ended as %q, want Failed", s)
	}
	got := k("", "get", "pods", "-l", "job-name=filler", "-o", "jsonpath={.items[0].status.containerStatuses[0].state.terminated.reason}/{.items[0].status.containerStatuses[0].state.terminated.exitCode}").stdout
	if got != "ContainerStatusUnknown/137" {
		t.Errorf("container terminated %s, want ContainerStatusUnknown/137", got)
	}
}
