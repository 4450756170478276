package runtime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/node/oci"
)

// imageRoot is a read-only stand-in for an unpacked image: Debian's
// busybox-static as /bin/busybox and /bin/sh.
func imageRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "image")
	if err := image.BusyboxRoot("/bin/busybox", root); err != nil {
		t.Fatalf("%v: install Debian's busybox-static (.ci/run does)", err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "image-file"), []byte("from the image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// ociRuntimes are the OCI runtimes every OCI test runs with: Debian's runc
// and crun.
var ociRuntimes = []string{"runc", "crun"}

func forEachOCIRuntime(t *testing.T, test func(t *testing.T, bin string)) {
	for _, name := range ociRuntimes {
		t.Run(name, func(t *testing.T) {
			bin, err := exec.LookPath(name)
			if err != nil {
				t.Fatalf("%v: install %s (.ci/run does)", err, name)
			}
			if cg, err := DetectCgroups("/sys/fs/cgroup"); err == nil && ResolveOCIRuntime(bin).Kind == Crun && cg.CrunProblem() != "" {
				t.Fatalf("%s (.ci/run does)", cg.CrunProblem())
			}
			test(t, bin)
		})
	}
}

// pod names a test pod uniquely on this machine: the OCI runtimes keep
// their containers in one machine-wide state directory.
func pod(name string) string { return fmt.Sprintf("%s-%d", name, os.Getpid()) }

func ociRun(t *testing.T, bin, root string, in oci.Input) *OCI {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("running an OCI runtime needs root (CI runs as root)")
	}
	return &OCI{Runtime: ResolveOCIRuntime(bin), Spec: oci.Spec(in), Image: root}
}

// TestOCIRunLogsExitCodeAndAPrivateWritableRoot: a container run by runc
// through the supervisor has its output in the CRI log and its exit code
// recorded, writes to its root without touching the image, and sees a
// volume.
func TestOCIRunLogsExitCodeAndAPrivateWritableRoot(t *testing.T) {
	forEachOCIRuntime(t, testOCIRunLogsExitCodeAndAPrivateWritableRoot)
}

func testOCIRunLogsExitCodeAndAPrivateWritableRoot(t *testing.T, bin string) {
	r, exited := newRuntime(t, nil)
	root := imageRoot(t)
	vol := t.TempDir()
	id := ID{Pod: pod("p-oci"), Container: "c"}
	script := `cat /etc/image-file; echo changed > /etc/image-file; cat /etc/image-file; echo out > /data/v; echo "pid=$$ host=$(hostname)"; echo oops >&2; exit 4`
	spec := ociRun(t, bin, root, oci.Input{Args: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/bin"}, Hostname: "worker-0",
		Mounts: []oci.Mount{{Source: vol, Destination: "/data"}}})
	if err := r.Start(context.Background(), Spec{ID: id, OCI: spec}); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	runs, _ := r.Runs(pod("p-oci"))
	if run := runs["c"][0]; run.ExitCode != 4 || run.Reason != "" {
		t.Fatalf("run = %+v\n%s", run, readLog(t, r, id, LogOptions{Tail: -1}))
	}
	log := readLog(t, r, id, LogOptions{Tail: -1})
	for _, want := range []string{"from the image\n", "changed\n", "pid=1 host=worker-0\n", "oops\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc", "image-file")); string(b) != "from the image\n" {
		t.Errorf("the container wrote into the image: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(vol, "v")); string(b) != "out\n" {
		t.Errorf("volume: %q", b)
	}
	if err := r.RemovePod(pod("p-oci")); err != nil {
		t.Fatal(err)
	}
}

// TestOCIRootfsCopy: where overlayfs is not usable, each container gets a
// copy of the image's root: the same private, writable root.
func TestOCIRootfsCopy(t *testing.T) {
	bin, err := exec.LookPath("runc")
	if err != nil {
		t.Fatalf("%v: install runc (.ci/run does)", err)
	}
	exited := make(chan ID, 4)
	r, err := New(Config{Dir: t.TempDir(), OnExit: func(id ID) { exited <- id }, Rootfs: RootfsCopy})
	if err != nil {
		t.Fatal(err)
	}
	root := imageRoot(t)
	if err := os.Symlink("image-file", filepath.Join(root, "etc", "link")); err != nil {
		t.Fatal(err)
	}
	id := ID{Pod: pod("p-oci-copy"), Container: "c"}
	spec := ociRun(t, bin, root, oci.Input{Args: []string{"/bin/sh", "-c", `cat /etc/link; echo changed > /etc/image-file; cat /etc/image-file; ls -l /bin/busybox`}, Env: []string{"PATH=/bin"}})
	if err := r.Start(context.Background(), Spec{ID: id, OCI: spec}); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	log := readLog(t, r, id, LogOptions{Tail: -1})
	for _, want := range []string{"from the image\n", "changed\n", "-rwxr-xr-x"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc", "image-file")); string(b) != "from the image\n" {
		t.Errorf("the container wrote into the image: %q", b)
	}
	if err := r.RemovePod(pod("p-oci-copy")); err != nil {
		t.Fatal(err)
	}
}

// TestOverlayProbe: this machine's kernel mounts overlays under a temporary
// directory (the probe that picks RootfsOverlay), and copyTree keeps modes,
// owners and links.
func TestOverlayProbeAndCopyTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("mounting needs root (CI runs as root)")
	}
	if err := overlayWorks(t.TempDir()); err != nil {
		t.Errorf("overlay probe: %v", err)
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "d", "f"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(src, "d", "f"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "d", "f"), 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d/f", filepath.Join(src, "l")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dst, "d", "f"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode() != 0o755|os.ModeSetuid || st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("copied file: mode %v, owner %d:%d", fi.Mode(), st.Uid, st.Gid)
	}
	if di, _ := os.Stat(filepath.Join(dst, "d")); di.Mode().Perm() != 0o750 {
		t.Errorf("copied dir mode %v", di.Mode())
	}
	if l, err := os.Readlink(filepath.Join(dst, "l")); err != nil || l != "d/f" {
		t.Errorf("symlink: %q %v", l, err)
	}
}

// TestOCIStopAndOOM: Stop reaches the container (SIGTERM, then SIGKILL after
// the grace period), and a container over its memory limit is OOMKilled.
func TestOCIStopAndOOM(t *testing.T) { forEachOCIRuntime(t, testOCIStopAndOOM) }

func testOCIStopAndOOM(t *testing.T, bin string) {
	cg, err := DetectCgroups("/sys/fs/cgroup")
	if err != nil {
		t.Fatalf("cgroups: %v", err)
	}
	r, exited := newRuntime(t, cg)
	root := imageRoot(t)
	term := ID{Pod: pod("p-oci-stop"), Container: "graceful"}
	spec := ociRun(t, bin, root, oci.Input{Args: []string{"/bin/sh", "-c", `trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 1; done`}, Env: []string{"PATH=/bin"}})
	if err := r.Start(context.Background(), Spec{ID: term, OCI: spec}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(readLog(t, r, term, LogOptions{Tail: -1}), "ready") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := r.Stop(term, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, term)
	runs, _ := r.Runs(pod("p-oci-stop"))
	if run := runs["graceful"][0]; run.ExitCode != 0 || !strings.Contains(readLog(t, r, term, LogOptions{Tail: -1}), "got TERM") {
		t.Errorf("graceful stop: %+v\n%s", run, readLog(t, r, term, LogOptions{Tail: -1}))
	}

	oom := ID{Pod: pod("p-oci-oom"), Container: "c"}
	spec = ociRun(t, bin, root, oci.Input{Args: []string{"/bin/sh", "-c", `x=$(head -c 200000000 /dev/zero | tr '\0' x); echo survived`}, Env: []string{"PATH=/bin"}})
	if err := r.Start(context.Background(), Spec{ID: oom, OCI: spec, Resources: Resources{MemoryBytes: 32 << 20}}); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, oom)
	runs, _ = r.Runs(pod("p-oci-oom"))
	if run := runs["c"][0]; !run.OOMKilled || run.ExitCode != 137 {
		t.Errorf("OOM: %+v\n%s", run, readLog(t, r, oom, LogOptions{Tail: -1}))
	}
	for _, p := range []string{pod("p-oci-stop"), pod("p-oci-oom")} {
		if err := r.RemovePod(p); err != nil {
			t.Fatal(err)
		}
	}
	// The runtime forgot both containers.
	out, _ := exec.Command(bin, "list", "-q").Output()
	if strings.Contains(string(out), pod("p-oci")) || strings.Contains(string(out), pod("p-oci-stop")) {
		t.Errorf("%s still lists: %s", bin, out)
	}
}

// TestOCIExecRunsInsideTheContainer: an exec (a preStop hook) runs in the
// container's root and environment, not the host's.
func TestOCIExecRunsInsideTheContainer(t *testing.T) {
	forEachOCIRuntime(t, testOCIExecRunsInsideTheContainer)
}

func testOCIExecRunsInsideTheContainer(t *testing.T, bin string) {
	r, exited := newRuntime(t, nil)
	root := imageRoot(t)
	id := ID{Pod: pod("p-oci-exec"), Container: "c"}
	spec := ociRun(t, bin, root, oci.Input{Args: []string{"/bin/sh", "-c", `while [ ! -f /hooked ]; do sleep 0.1; done; cat /hooked`}, Env: []string{"PATH=/bin", "WHO=container"}})
	if err := r.Start(context.Background(), Spec{ID: id, OCI: spec}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.Exec(context.Background(), id, []string{"/bin/sh", "-c", `echo "hook as $WHO, image file: $(cat /etc/image-file)" > /hooked`}, 5*time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // runc has not created the container yet
	}
	waitExit(t, exited, id)
	if log := readLog(t, r, id, LogOptions{Tail: -1}); !strings.Contains(log, "hook as container, image file: from the image") {
		t.Errorf("log: %q", log)
	}
	if err := r.Exec(context.Background(), id, []string{"/bin/true"}, 5*time.Second); err == nil {
		t.Error("exec in an ended container succeeded")
	}
	if err := r.RemovePod(pod("p-oci-exec")); err != nil {
		t.Fatal(err)
	}
}
