package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batchd/batchd/internal/node/oci"
)

// startSleeper starts a host run that lives until the test ends, with a
// volume, a hostname, a private /tmp, an environment and a working dir.
func startSleeper(t *testing.T, r *Local, exited chan ID, id ID) string {
	t.Helper()
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "data"), []byte("from the volume"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", "echo secret > /tmp/mine; exec sleep 600"},
		Env: []string{"PATH=/usr/bin:/bin", "WHO=container"}, Hostname: "pod-host", WorkDir: "/data", PrivateTmp: true,
		Mounts: []Mount{{Source: vol, Target: "/data"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.Stop(id, time.Second)
	})
	return vol
}

// TestExecStreamEntersAHostRun: an exec into a host run sees what the
// container sees (its hostname, volume, working dir, private /tmp and
// environment), reads its stdin, and returns its exit code.
func TestExecStreamEntersAHostRun(t *testing.T) {
	r, exited := newRuntime(t, nil)
	id := ID{Pod: "p-exec", Container: "c"}
	startSleeper(t, r, exited, id)
	var out, errb bytes.Buffer
	deadline := time.Now().Add(5 * time.Second)
	for {
		out.Reset()
		code, err := r.ExecStream(context.Background(), id, []string{"sh", "-c", `hostname; pwd; cat data; echo; cat /tmp/mine; echo $WHO; cat; echo oops >&2; exit 3`},
			Streams{Stdin: strings.NewReader("from stdin\n"), Stdout: &out, Stderr: &errb})
		if err != nil {
			t.Fatal(err)
		}
		if code != 3 {
			t.Fatalf("exit code %d, want 3; stderr %q", code, errb.String())
		}
		if strings.Contains(out.String(), "secret") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the container has not written /tmp/mine yet
	}
	if want := "pod-host\n/data\nfrom the volume\nsecret\ncontainer\nfrom stdin\n"; out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
	if errb.String() != "oops\n" {
		t.Fatalf("stderr %q", errb.String())
	}
	if _, err := r.ExecStream(context.Background(), id, []string{"no-such-command"}, Streams{Stdout: &out}); err == nil || !strings.Contains(err.Error(), `"no-such-command": executable file not found in $PATH`) {
		t.Fatalf("missing command: %v", err)
	}
}

// TestExecStreamWithATerminal: with TTY the command runs on a terminal of
// the size asked for, even when the size arrives after the session began
// (as client-go's resize stream races with the start).
func TestExecStreamWithATerminal(t *testing.T) {
	r, exited := newRuntime(t, nil)
	id := ID{Pod: "p-exec-tty", Container: "c"}
	startSleeper(t, r, exited, id)
	resize := make(chan TerminalSize) // unbuffered: sent once the session is waiting
	stdinR, stdinW := io_pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		code, err := r.ExecStream(context.Background(), id, []string{"sh", "-c", `tty >/dev/null && echo "tty $(stty size)"; read x; echo "typed $x"`},
			Streams{Stdin: stdinR, Stdout: &out, TTY: true, Resize: resize})
		if err == nil && code != 0 {
			err = fmt.Errorf("exit code %d", code)
		}
		done <- err
	}()
	// The client's size comes 50 ms late (a slow network), well within
	// the session's wait for it.
	time.Sleep(50 * time.Millisecond)
	resize <- TerminalSize{Width: 91, Height: 17}
	_, _ = stdinW.Write([]byte("typed\n"))
	if err := <-done; err != nil {
		t.Fatalf("%v; output %q", err, out.String())
	}
	if !strings.Contains(out.String(), "tty 17 91\r\n") || !strings.Contains(out.String(), "typed typed") {
		t.Fatalf("output %q", out.String())
	}
}

// TestExecStreamEndsWithTheContainer: an exec session ends when its
// container is stopped, and one into an ended run is refused.
func TestExecStreamEndsWithTheContainer(t *testing.T) {
	r, exited := newRuntime(t, nil)
	id := ID{Pod: "p-exec-stop", Container: "c"}
	vol := startSleeper(t, r, exited, id)
	done := make(chan error, 1)
	go func() {
		_, err := r.ExecStream(context.Background(), id, []string{"sh", "-c", "touch /data/execd; exec sleep 600"}, Streams{})
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(vol, "execd")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the exec did not start")
		}
	}
	if err := r.Stop(id, time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the exec outlived its container")
	}
	if _, err := r.ExecStream(context.Background(), id, []string{"true"}, Streams{}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("exec into an ended run: %v", err)
	}
}

// TestExecEndingWithItsContainerKeepsItsStatus: a session whose command
// is on its way out when its container ends reports the command's own exit
// code, not a kill (the e2e exec that ended its pod's main loop got 137 now
// and then: runc exec still reaping it when the container's init ended).
func TestExecEndingWithItsContainerKeepsItsStatus(t *testing.T) {
	h := &handle{done: make(chan struct{})}
	close(h.done) // the container has ended
	var out bytes.Buffer
	cmd := exec.Command("sh", "-c", "sleep 0.2; echo finished; exit 3")
	code, err := runSession(context.Background(), h, cmd, nil, Streams{Stdout: &out}, syscall.SIGKILL)
	if err != nil || code != 3 || out.String() != "finished\n" {
		t.Fatalf("code %d, %v, output %q; want 3 and its output", code, err, out.String())
	}
	// One that does not end within the grace is still ended.
	cmd = exec.Command("sleep", "600")
	start := time.Now()
	code, err = runSession(context.Background(), h, cmd, nil, Streams{}, syscall.SIGKILL)
	if err != nil || code != 137 || time.Since(start) > 10*time.Second {
		t.Fatalf("code %d, %v after %v; want 137 (killed)", code, err, time.Since(start))
	}
}

func io_pipe() (*os.File, *os.File) {
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	return r, w
}

// TestOCIExecStream: an exec into an OCI container runs in it (its image,
// its environment), with stdin, an exit code and a terminal when asked.
func TestOCIExecStream(t *testing.T) { forEachOCIRuntime(t, testOCIExecStream) }

func testOCIExecStream(t *testing.T, bin string) {
	r, _ := newRuntime(t, nil)
	root := imageRoot(t)
	id := ID{Pod: pod("p-oci-execstream"), Container: "c"}
	spec := ociRun(t, bin, root, oci.Input{Args: []string{"/bin/busybox", "sleep", "600"}, Env: []string{"PATH=/bin", "WHO=container"}})
	if err := r.Start(context.Background(), Spec{ID: id, OCI: spec}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(id, time.Second); _ = r.RemovePod(id.Pod) })
	var out, errb bytes.Buffer
	code, err := r.ExecStream(context.Background(), id, []string{"/bin/sh", "-c", `cat /etc/image-file; echo $WHO; cat; echo oops >&2; exit 3`},
		Streams{Stdin: strings.NewReader("from stdin\n"), Stdout: &out, Stderr: &errb})
	if err != nil || code != 3 {
		runs, _ := r.Runs(id.Pod)
		t.Logf("runs %+v log %q", runs, readLog(t, r, id, LogOptions{Tail: -1}))
		t.Fatalf("exec: code %d, %v; stderr %q", code, err, errb.String())
	}
	if want := "from the image\ncontainer\nfrom stdin\n"; out.String() != want || errb.String() != "oops\n" {
		t.Fatalf("stdout %q, want %q; stderr %q", out.String(), want, errb.String())
	}
	resize := make(chan TerminalSize, 1)
	resize <- TerminalSize{Width: 91, Height: 17}
	out.Reset()
	stdinR, stdinW := io_pipe()
	_, _ = stdinW.Write([]byte("typed\n"))
	code, err = r.ExecStream(context.Background(), id, []string{"/bin/sh", "-c", `read x; tty >/dev/null && echo "tty $(stty size) $x"`},
		Streams{Stdin: stdinR, Stdout: &out, TTY: true, Resize: resize})
	if err != nil || code != 0 {
		t.Fatalf("exec -t: code %d, %v; output %q", code, err, out.String())
	}
	if !strings.Contains(out.String(), "tty 17 91 typed") {
		t.Fatalf("exec -t output %q", out.String())
	}
	// The command's terminal has the client's size from its start: runc's
	// own terminal is sized by the process's spec, not later.
	if ResolveOCIRuntime(bin).Kind != Runc {
		return
	}
	resize = make(chan TerminalSize, 1)
	resize <- TerminalSize{Width: 93, Height: 19}
	out.Reset()
	code, err = r.ExecStream(context.Background(), id, []string{"/bin/busybox", "stty", "size"}, Streams{Stdout: &out, TTY: true, Resize: resize})
	if err != nil || code != 0 || out.String() != "19 93\r\n" {
		t.Fatalf("exec -t stty size: code %d, %v; output %q, want %q", code, err, out.String(), "19 93\r\n")
	}
}

// TestAttachToAHostRun: an attach session gets the container's output from
// then on and feeds its stdin; with stdinOnce the end of the session's
// stdin is the container's; the session ends with the container, and the
// output is in the container's log too.
func TestAttachToAHostRun(t *testing.T) {
	r, exited := newRuntime(t, nil)
	id := ID{Pod: "p-attach", Container: "c"}
	err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", `echo before; read first; echo "got $first"; cat; echo "stdin closed" >&2`},
		Env: []string{"PATH=/usr/bin:/bin"}, Stdin: true, StdinOnce: true})
	if err != nil {
		t.Fatal(err)
	}
	out, errb := &syncBuffer{b: &bytes.Buffer{}}, &syncBuffer{b: &bytes.Buffer{}}
	attachToTheEnd(t, r, id, Streams{Stdin: strings.NewReader("hello\nsecond line\n"), Stdout: out, Stderr: errb}, out)
	waitExit(t, exited, id)
	if got := out.String(); !strings.Contains(got, "got hello\nsecond line\n") {
		t.Fatalf("stdout %q", got)
	}
	if got := errb.String(); got != "stdin closed\n" {
		t.Fatalf("stderr %q", got)
	}
	if log := readLog(t, r, id, LogOptions{Tail: -1}); !strings.Contains(log, "before\n") || !strings.Contains(log, "got hello\n") {
		t.Fatalf("log %q", log)
	}
	if err := r.Attach(context.Background(), id, Streams{}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("attach to an ended run: %v", err)
	}
}

// TestAttachGetsTheLastOutputWhileItsStdinWaits: a session whose stdin
// the container has not taken all of (the supervisor stops reading the
// session while its stdin waits for the container) still gets what the
// container printed just before it ended. The supervisor used to close
// the session's socket with that stdin unread, which resets the
// connection: the session's next read failed before it read the output
// queued for it (seen as kubectl attach -i printing nothing, exit 0).
func TestAttachGetsTheLastOutputWhileItsStdinWaits(t *testing.T) {
	r, exited := newRuntime(t, nil)
	for i := range 5 {
		id := ID{Pod: fmt.Sprintf("p-attach-last-%d", i), Container: "c"}
		err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", `read line; sleep 0.2; echo "read: $line"`},
			Env: []string{"PATH=/usr/bin:/bin"}, Stdin: true})
		if err != nil {
			t.Fatal(err)
		}
		// More stdin than the pipe to the container holds: the rest stays
		// with the supervisor and in the session's socket.
		in := strings.NewReader("first line\n" + strings.Repeat("more input\n", 30000))
		out := &syncBuffer{b: &bytes.Buffer{}}
		attachToTheEnd(t, r, id, Streams{Stdin: in, Stdout: out, Stderr: io.Discard}, out)
		waitExit(t, exited, id)
		if got := out.String(); got != "read: first line\n" {
			t.Fatalf("run %d: stdout %q, want the container's last line", i, got)
		}
	}
}

// attachToTheEnd attaches s to run id and waits, 20 s at most, until the
// session ends with the container; out is what the session printed, for
// the failure message.
func attachToTheEnd(t *testing.T, r *Local, id ID, s Streams, out fmt.Stringer) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.Attach(context.Background(), id, s) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("attach did not end with the container; stdout %q", out.String())
	}
}

// TestAttachWithATerminal: a tty container's terminal takes the session's
// input, echoes it and is resized by it; its output is logged as stdout.
func TestAttachWithATerminal(t *testing.T) {
	r, exited := newRuntime(t, nil)
	id := ID{Pod: "p-attach-tty", Container: "c"}
	err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", `read x; echo "size $(stty size) read $x"`},
		Env: []string{"PATH=/usr/bin:/bin"}, Stdin: true, TTY: true})
	if err != nil {
		t.Fatal(err)
	}
	resize := make(chan TerminalSize, 1)
	resize <- TerminalSize{Width: 100, Height: 30}
	stdinR, stdinW := io_pipe()
	defer stdinW.Close()
	out := &syncBuffer{b: &bytes.Buffer{}}
	_, _ = stdinW.Write([]byte("typed\n")) // waits in the pipe for the session
	attachToTheEnd(t, r, id, Streams{Stdin: stdinR, Stdout: out, TTY: true, Resize: resize}, out)
	waitExit(t, exited, id)
	if got := out.String(); !strings.Contains(got, "typed\r\n") || !strings.Contains(got, "size 30 100 read typed\r\n") {
		t.Fatalf("output %q", got)
	}
	if log := readLog(t, r, id, LogOptions{Tail: -1}); !strings.Contains(log, "size 30 100 read typed") {
		t.Fatalf("log %q", log)
	}
}

// TestOCIAttach: an OCI container's stdin (a pipe through the OCI runtime)
// and terminal (the runtime's own, on the supervisor's) take attach
// sessions as a host container's do.
func TestOCIAttach(t *testing.T) { forEachOCIRuntime(t, testOCIAttach) }

func testOCIAttach(t *testing.T, bin string) {
	r, exited := newRuntime(t, nil)
	root := imageRoot(t)
	for _, tty := range []bool{false, true} {
		id := ID{Pod: pod(fmt.Sprintf("p-oci-attach-%v", tty)), Container: "c"}
		script := `read x; echo "read $x"`
		if tty {
			// The runtime relays its own terminal to the supervisor's
			// and resizes it from the supervisor's on its own time:
			// runc starts copying input before its first resize, so
			// the shell may read its input while its terminal is still
			// 0x0 (busybox's stty then prints no size). The size must
			// arrive, if not at once.
			script += `; i=0; until s=$(/bin/busybox stty size 2>/dev/null); [ -n "$s" ] || [ $i -ge 200 ]; do i=$((i+1)); /bin/busybox sleep 0.05; done; echo "$s"`
		}
		spec := ociRun(t, bin, root, oci.Input{Args: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/bin"}, Terminal: tty})
		if err := r.Start(context.Background(), Spec{ID: id, OCI: spec, Stdin: true, StdinOnce: true, TTY: tty}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.RemovePod(id.Pod) })
		resize := make(chan TerminalSize, 1)
		resize <- TerminalSize{Width: 100, Height: 30}
		out := &syncBuffer{b: &bytes.Buffer{}}
		attachToTheEnd(t, r, id, Streams{Stdin: strings.NewReader("typed\n"), Stdout: out, Stderr: io.Discard, TTY: tty, Resize: resize}, out)
		waitExit(t, exited, id)
		want := "read typed\n"
		if tty {
			want = "read typed\r\n30 100\r\n"
		}
		if !strings.Contains(out.String(), want) {
			t.Fatalf("tty %v: output %q, want %q", tty, out.String(), want)
		}
	}
}
