package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/internal/node/oci"
)

// TestJoinAHostRun: a host run started with Join (an ephemeral container)
// sees what the run it joins sees (its hostname, volumes, private /tmp)
// and its processes, with mounts of its own that the other never sees.
func TestJoinAHostRun(t *testing.T) {
	r, exited := newRuntime(t, nil)
	target := ID{Pod: "p-join", Container: "c"}
	startSleeper(t, r, exited, target)
	runs, err := r.Runs(target.Pod)
	if err != nil || len(runs["c"]) != 1 {
		t.Fatalf("runs %+v, %v", runs, err)
	}
	pid := runs["c"][0].Pid
	own := t.TempDir()
	if err := os.WriteFile(filepath.Join(own, "f"), []byte("debugger's own"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := ID{Pod: target.Pod, Container: "debugger"}
	script := fmt.Sprintf(`while [ ! -f /tmp/mine ]; do sleep 0.05; done; hostname; cat /data/data; echo; cat /tmp/mine; cat /own/f; echo; tr '\0' ' ' < /proc/%d/cmdline`, pid)
	if err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, WorkDir: "/",
		Mounts: []Mount{{Source: own, Target: "/own"}}, Join: &Join{ID: target, PID: true}}); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	if run := r.inspect(id); run.ExitCode != 0 {
		t.Fatalf("debugger exited %d (%s): %q", run.ExitCode, run.Message, readLog(t, r, id, LogOptions{Tail: -1}))
	}
	got := readLog(t, r, id, LogOptions{Tail: -1})
	for _, want := range []string{"pod-host\n", "from the volume\n", "secret\n", "debugger's own\n", "sleep 600"} {
		if !strings.Contains(got, want) {
			t.Errorf("debugger's output %q lacks %q", got, want)
		}
	}
	// The debugger's mount is its own.
	var out strings.Builder
	code, err := r.ExecStream(context.Background(), target, []string{"sh", "-c", "ls /own"}, Streams{Stdout: &out, Stderr: &out})
	if err != nil || code == 0 {
		t.Errorf("the target sees the debugger's mount: code %d, %v, %q", code, err, out.String())
	}
	// A run to join that does not run: an error, no run.
	gone := ID{Pod: "p-join", Container: "never"}
	if err := r.Start(context.Background(), Spec{ID: ID{Pod: "p-join", Container: "late"}, Argv: []string{"true"}, Join: &Join{ID: gone}}); err == nil {
		t.Error("joined a run that never ran")
	}
}

// TestOCIJoin: an OCI container started with Join runs from its own image
// in the target's PID (ps shows the target's processes, pid 1 its
// command), UTS and IPC namespaces.
func TestOCIJoin(t *testing.T) { forEachOCIRuntime(t, testOCIJoin) }

func testOCIJoin(t *testing.T, bin string) {
	r, exited := newRuntime(t, nil)
	root := imageRoot(t)
	target := ID{Pod: pod("p-oci-join"), Container: "c"}
	spec := ociRun(t, bin, root, oci.Input{Args: []string{"/bin/busybox", "sleep", "600"}, Env: []string{"PATH=/bin"}, Hostname: "pod-host"})
	if err := r.Start(context.Background(), Spec{ID: target, OCI: spec}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(target, time.Second); _ = r.RemovePod(target.Pod) })
	id := ID{Pod: target.Pod, Container: "debugger"}
	dbg := ociRun(t, bin, root, oci.Input{Args: []string{"/bin/sh", "-c", `hostname; echo "pid1 $(tr '\0' ' ' < /proc/1/cmdline)"; ps; echo "me $$"`},
		Env: []string{"PATH=/bin"}, Hostname: "other"})
	if err := r.Start(context.Background(), Spec{ID: id, OCI: dbg, Join: &Join{ID: target, PID: true}}); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	got := readLog(t, r, id, LogOptions{Tail: -1})
	if run := r.inspect(id); run.ExitCode != 0 {
		t.Fatalf("debugger exited %d (%s): %q", run.ExitCode, run.Message, got)
	}
	for _, want := range []string{"pod-host\n", "pid1 /bin/busybox sleep 600", "sleep 600"} {
		if !strings.Contains(got, want) {
			t.Errorf("debugger's output %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "me 1\n") {
		t.Errorf("the debugger is pid 1 of its own PID namespace: %q", got)
	}
	if runs, _ := r.Runs(target.Pod); len(runs["c"]) != 1 || !runs["c"][0].Running {
		t.Errorf("target after the debugger: %+v", runs["c"])
	}
}
