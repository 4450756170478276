package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Streams are the ends of an exec or attach session (kubectl exec, attach,
// cp): nil Stdin, Stdout or Stderr are not wanted. With TTY the command gets
// a terminal whose output is Stdout, resized as Resize says.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	Resize         <-chan TerminalSize
}

// TerminalSize is a terminal's width and height, in characters.
type TerminalSize struct{ Width, Height uint16 }

// ErrNotRunning is the answer to an exec into or attach to a run that is
// not running (the kubelet's "container not found").
var ErrNotRunning = errors.New("container is not running")

// execGrace is how long output is still read once an exec's command ended:
// a child it left running in the background may hold its stdout open.
const execGrace = time.Second

// firstSizeWait is how long a terminal session waits for the client's first
// size before it starts without one. kubectl and client-go send it on their
// resize stream right after the streams are set up, which races with the
// start: without the wait, `stty size` in `kubectl exec -t` read 0 0 now and
// then.
const firstSizeWait = 250 * time.Millisecond

// firstSize is the client's first terminal size, waited for up to
// firstSizeWait; false if there is none (no resize stream, or none sent).
func firstSize(ctx context.Context, resize <-chan TerminalSize) (TerminalSize, bool) {
	if resize == nil {
		return TerminalSize{}, false
	}
	t := time.NewTimer(firstSizeWait)
	defer t.Stop()
	select {
	case size, ok := <-resize:
		return size, ok
	case <-t.C:
	case <-ctx.Done():
	}
	return TerminalSize{}, false
}

// ExecStream runs argv in the running container of run id with the streams
// s, as `kubectl exec` does, and returns the command's exit code (128+n for
// a signal n). The command joins the container: for an OCI run through
// `RUNTIME exec`; for a host run through the supervisor's nsenter mode,
// which enters its cgroups, mount and UTS namespaces and root and takes
// its environment, working dir and user, so that it sees what the
// container sees (its volumes, /etc/hosts, its private /tmp). It is killed
// when ctx ends or the container does. An error is a command that did not
// run.
func (r *Local) ExecStream(ctx context.Context, id ID, argv []string, s Streams) (int, error) {
	if !haveSupervisor {
		return 0, ErrUnsupported
	}
	if len(argv) == 0 {
		return 0, errors.New("no command")
	}
	h := r.handle(id)
	if h == nil || h.ended() {
		return 0, ErrNotRunning
	}
	dir := r.runDir(id)
	started, err := readStarted(dir)
	if err != nil || started.Pid <= 0 {
		return 0, ErrNotRunning
	}
	if bin, err := os.ReadFile(filepath.Join(dir, fileOCIRuntime)); err == nil {
		return r.ociExec(ctx, h, id, string(bin), argv, s)
	}
	data, err := os.ReadFile(filepath.Join(dir, fileProcess))
	if err != nil {
		return 0, fmt.Errorf("exec in %s: the container's process record: %w", id, err)
	}
	var proc processRecord
	if err := json.Unmarshal(data, &proc); err != nil {
		return 0, fmt.Errorf("exec in %s: the container's process record: %w", id, err)
	}
	if err := checkNUL(argv, nil); err != nil {
		return 0, err
	}
	args := supervisorArgs{Dir: strconv.Itoa(started.Pid), Env: proc.Env, WorkDir: proc.WorkDir, User: proc.User, Argv: argv}
	if r.cfg.Cgroups != nil {
		args.Cgroups = r.cfg.Cgroups.dirs(cgroupName(id))
	}
	payload, err := args.encode()
	if err != nil {
		return 0, err
	}
	argsR, argsW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer argsR.Close()
	cmd := exec.Command(r.cfg.Exe, "__batchd_nsenter")
	cmd.Args[0] = "batchd-exec"
	cmd.Env = supervisorEnv
	cmd.Dir = "/"
	go func() {
		// The pipe's buffer may be smaller than the arguments.
		_, _ = argsW.Write(payload)
		argsW.Close()
	}()
	return runSession(ctx, h, cmd, []*os.File{argsR}, s, syscall.SIGKILL)
}

// ociExec runs argv in an OCI run with `RUNTIME exec`: the process of the
// run's config.json (its environment, working dir, user, capabilities)
// with argv and a terminal when s asks for one.
func (r *Local) ociExec(ctx context.Context, h *handle, id ID, bin string, argv []string, s Streams) (int, error) {
	dir := r.runDir(id)
	data, err := os.ReadFile(filepath.Join(dir, "bundle", "config.json"))
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil || spec.Process == nil {
		return 0, fmt.Errorf("exec in %s: bad bundle: %v", id, err)
	}
	p := *spec.Process
	p.Args, p.Terminal = argv, s.TTY
	p.ConsoleSize = nil
	if kind, _ := os.ReadFile(filepath.Join(dir, fileOCIKind)); s.TTY && OCIKind(kind) == Runc {
		// runc gives the command a terminal of its own and copies it to
		// and from the session's, sized from the session's only after
		// it starts copying: a command that reads its input at once
		// could find it 0x0. Sized in the process's spec, it is sized
		// before the command runs. (crun sizes its own before.)
		if size, ok := firstSize(ctx, s.Resize); ok {
			p.ConsoleSize = &specs.Box{Height: uint(size.Height), Width: uint(size.Width)}
			forwarding, stop := context.WithCancel(ctx)
			defer stop()
			s.Resize = sizesFrom(forwarding, size, s.Resize)
		}
	}
	proc, err := json.Marshal(&p)
	if err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(dir, "exec-*.json")
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(proc); err != nil {
		f.Close()
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	cid := containerID(dir, id)
	if err := waitOCIRunning(ctx, dir, bin, cid); err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	cmd := exec.Command(bin, "exec", "--process", filepath.Base(f.Name()), cid)
	cmd.Dir = dir // the pod's directory stays off the runtime's command line
	// runc forwards SIGTERM to the command; SIGKILL would leave it running
	// in the container.
	return runSession(ctx, h, cmd, nil, s, syscall.SIGTERM)
}

// sizesFrom is first, then what rest sends, until rest closes or ctx ends.
func sizesFrom(ctx context.Context, first TerminalSize, rest <-chan TerminalSize) <-chan TerminalSize {
	out := make(chan TerminalSize, 1)
	out <- first
	go func() {
		defer close(out)
		for {
			select {
			case size, ok := <-rest:
				if !ok {
					return
				}
				select {
				case out <- size:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// setSize sets the terminal's size; not through ptmx.Fd(), which would make
// the file blocking, and its reads deaf to Close.
func setSize(ptmx *os.File, size TerminalSize) {
	rc, err := ptmx.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: size.Height, Col: size.Width})
	})
}

// waitOCIRunning waits until the OCI runtime has created the run's
// container: the supervisor records the run as started once it executed
// `RUNTIME run`, a moment before the container exists. The runtime is
// asked until it says so once (recorded in the run's directory), and not
// for a run that started more than a few seconds ago.
func waitOCIRunning(ctx context.Context, dir, bin, cid string) error {
	if _, err := os.Stat(filepath.Join(dir, fileOCIRunning)); err == nil {
		return nil
	}
	if started, err := readStarted(dir); err == nil && time.Since(started.Started) > 10*time.Second {
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.CommandContext(ctx, bin, "state", cid).CombinedOutput()
		var st struct{ Status string }
		if err == nil && json.Unmarshal(out, &st) == nil && st.Status == "running" {
			_ = writeRecord(dir, fileOCIRunning, nil)
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return ErrNotRunning
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ErrAttachUnsupported: the run keeps no stdio to attach to (a run
// started by a batchd without attach, or a hook).
var ErrAttachUnsupported = errors.New("attach is not supported for this container")

// Attach connects s to the run's own stdio through its supervisor's attach
// socket (supervise.c): the container's output from now on to Stdout and
// Stderr, Stdin to the container's stdin when the pod asked for one, and
// terminal resizes. It returns when the container ended or ctx did.
func (r *Local) Attach(ctx context.Context, id ID, s Streams) error {
	h := r.handle(id)
	if h == nil || h.ended() {
		return ErrNotRunning
	}
	conn, err := dialAttach(r.runDir(id))
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var send sync.Mutex
	write := func(msg []byte) error {
		send.Lock()
		defer send.Unlock()
		_, err := conn.Write(msg)
		return err
	}
	// The client's first size is the terminal's before any input.
	if size, ok := firstSize(ctx, s.Resize); ok {
		_ = write([]byte(fmt.Sprintf("r%d %d", size.Height, size.Width)))
	}
	if s.Stdin != nil {
		go func() {
			buf := make([]byte, 16384)
			for {
				n, err := s.Stdin.Read(buf)
				if n > 0 && write(append([]byte{'i'}, buf[:n]...)) != nil {
					return
				}
				if err != nil {
					_ = write([]byte{'c'}) // stdinOnce: the container's stdin ends with this session's
					return
				}
			}
		}()
	}
	if s.Resize != nil {
		go func() {
			for size := range s.Resize {
				if write([]byte(fmt.Sprintf("r%d %d", size.Height, size.Width))) != nil {
					return
				}
			}
		}()
	}
	buf := make([]byte, 65536)
	for {
		n, err := conn.Read(buf)
		if err != nil || n == 0 {
			return nil // the container ended, or the client left
		}
		var w io.Writer
		switch buf[0] {
		case '1':
			w = s.Stdout
		case '2':
			w = s.Stderr
		}
		if w != nil && n > 1 {
			if _, err := w.Write(buf[1:n]); err != nil {
				return nil
			}
		}
	}
}

// dialAttach connects to the supervisor's attach socket in dir, through
// /proc/self/fd: dir may be longer than a socket address holds.
func dialAttach(dir string) (*net.UnixConn, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, ErrNotRunning
	}
	defer d.Close()
	addr := &net.UnixAddr{Net: "unixpacket", Name: fmt.Sprintf("/proc/self/fd/%d/attach", d.Fd())}
	conn, err := net.DialUnix("unixpacket", nil, addr)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
		return nil, ErrAttachUnsupported
	}
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	return conn, nil
}
