package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// runSession runs cmd with the streams s until it exits, ctx ends or the
// container (h) does; stop is the signal that ends it early, SIGKILL
// following after a grace. With extra files (the nsenter helper's
// arguments on fd 3), fd 4 is a pipe the helper makes close-on-exec and on
// which it says why it could not execute the command: that is an error,
// not an exit code. (An OCI runtime gets no such pipe: a process it left
// would hold it open.)
func runSession(ctx context.Context, h *handle, cmd *exec.Cmd, extra []*os.File, s Streams, stop syscall.Signal) (int, error) {
	whyR, whyW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer whyR.Close()
	if len(extra) > 0 {
		cmd.ExtraFiles = append(append([]*os.File{}, extra...), whyW)
	}
	ss := &session{streams: s}
	defer ss.end()
	if err = ss.wire(ctx, cmd); err == nil {
		if err = cmd.Start(); err != nil {
			err = fmt.Errorf("exec: %w", err)
		}
	}
	whyW.Close()
	ss.closeCommandEnds()
	if err != nil {
		return 0, err
	}
	ss.started()
	werr := awaitCommand(ctx, h, cmd, stop)
	why, _ := io.ReadAll(whyR)
	ss.drain()
	return exitStatus(werr, why)
}

// session joins an exec's command to the client's streams: a terminal, or
// a pipe per stream.
type session struct {
	streams Streams
	ptmx    *os.File       // the terminal's master end (TTY sessions)
	copies  sync.WaitGroup // the copies of the command's output
	// commandEnds are the command's ends of the streams, closed here once
	// it started (or could not).
	commandEnds []io.Closer
	// undo is what end undoes, last first.
	undo []func()
}

func (ss *session) wire(ctx context.Context, cmd *exec.Cmd) error {
	if ss.streams.TTY {
		return ss.wireTerminal(ctx, cmd)
	}
	return ss.wirePipes(cmd)
}

// wireTerminal gives the command a new terminal as its controlling one,
// sized as the client's from the start.
func (ss *session) wireTerminal(ctx context.Context, cmd *exec.Cmd) error {
	m, tty, err := pty.Open()
	if err != nil {
		return fmt.Errorf("allocate a terminal: %w", err)
	}
	ss.ptmx = m
	ss.undo = append(ss.undo, func() { m.Close() })
	if size, ok := firstSize(ctx, ss.streams.Resize); ok {
		setSize(m, size)
	}
	ss.commandEnds = append(ss.commandEnds, tty)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	return nil
}

// wirePipes gives the command a pipe for each stream the client wants, in
// a process group of its own (stop signals all of it).
func (ss *session) wirePipes(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if ss.streams.Stdin != nil {
		in, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		// Not waited for: a client that never closes stdin does not
		// keep the session open once the command exited.
		go func() {
			_, _ = io.Copy(in, ss.streams.Stdin)
			in.Close()
		}()
	}
	for _, o := range []struct {
		w   io.Writer
		dst *io.Writer
	}{{ss.streams.Stdout, &cmd.Stdout}, {ss.streams.Stderr, &cmd.Stderr}} {
		if o.w == nil {
			continue
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			return err
		}
		*o.dst = pw
		ss.commandEnds = append(ss.commandEnds, pw)
		ss.copies.Add(1)
		go func() {
			defer ss.copies.Done()
			_, _ = io.Copy(o.w, pr)
			pr.Close()
		}()
		// Unblocks a copy that a background child keeps open.
		ss.undo = append(ss.undo, func() { _ = pr.SetReadDeadline(time.Now()) })
	}
	return nil
}

func (ss *session) closeCommandEnds() {
	for _, c := range ss.commandEnds {
		c.Close()
	}
}

// started joins a started command's terminal to the client: its input,
// its output and the client's resizes.
func (ss *session) started() {
	if ss.ptmx == nil {
		return
	}
	s, ptmx := ss.streams, ss.ptmx
	if s.Stdin != nil {
		go func() { _, _ = io.Copy(ptmx, s.Stdin) }()
	}
	if s.Stdout != nil {
		ss.copies.Add(1)
		go func() {
			defer ss.copies.Done()
			_, _ = io.Copy(s.Stdout, ptmx) // EIO once every holder of the terminal closed it
		}()
	}
	if s.Resize != nil {
		resizing := make(chan struct{})
		ended := make(chan struct{})
		go func() {
			defer close(resizing)
			for {
				select {
				case size, ok := <-s.Resize:
					if !ok {
						return
					}
					setSize(ptmx, size)
				case <-ended:
					return
				}
			}
		}()
		// Undone before the terminal is closed.
		ss.undo = append(ss.undo, func() { close(ended); <-resizing })
	}
}

// drain waits up to execGrace for the output copies to end; a terminal
// that a child left behind still holds is then closed, which ends its copy.
func (ss *session) drain() {
	done := make(chan struct{})
	go func() { ss.copies.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(execGrace):
		if ss.ptmx != nil {
			ss.ptmx.Close()
		}
	}
}

func (ss *session) end() {
	for i := len(ss.undo) - 1; i >= 0; i-- {
		ss.undo[i]()
	}
}

// awaitCommand waits for cmd to exit and returns what Wait did. A command
// cut short — the client went away, or the container ended and the command
// did not follow within execGrace — gets stop (to its process group), then
// SIGKILL after execGrace.
func awaitCommand(ctx context.Context, h *handle, cmd *exec.Cmd, stop syscall.Signal) error {
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		return err
	case <-ctx.Done():
	case <-h.done:
		// The container ended: a command that had already done its work
		// may still be on its way out (runc exec reaps it and copies its
		// status after the container's init could end). Its own status is
		// the answer if it comes within the grace; the kernel ends what is
		// left of it in the container's pid namespace anyway.
		select {
		case err := <-waited:
			return err
		case <-ctx.Done():
		case <-time.After(execGrace):
		}
	}
	_ = syscall.Kill(-cmd.Process.Pid, stop)
	select {
	case err := <-waited:
		return err
	case <-time.After(execGrace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		return <-waited
	}
}

// exitStatus is a session's answer from its command's Wait error and what
// the nsenter helper said on its why pipe: the exit code (128+n for a
// signal n), or an error for a command that did not run.
func exitStatus(werr error, why []byte) (int, error) {
	if len(why) > 0 {
		return 0, errors.New(strings.TrimSpace(string(why)))
	}
	var exit *exec.ExitError
	if errors.As(werr, &exit) {
		if st, ok := exit.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return 128 + int(st.Signal()), nil
		}
		return exit.ExitCode(), nil
	}
	if werr != nil {
		return 0, fmt.Errorf("exec: %w", werr)
	}
	return 0, nil
}
