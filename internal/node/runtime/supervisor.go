package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// supervisorArgs are a supervisor's options (supervise.c's usage), built
// in one place and encoded by one function, whose output the C parser's
// echo mode is tested against.
type supervisorArgs struct {
	Dir string
	// Env is the container's environment (the supervisor's own is fixed).
	Env []string
	Log string
	// LogMaxSize and LogMaxFiles rotate the log (0: never).
	LogMaxSize  int64
	LogMaxFiles int
	Hostname    string
	WorkDir     string
	Argv0Name   string
	// Attach makes the run's attach socket; Stdin keeps its stdin open
	// for attach sessions, closed after the first with StdinOnce; TTY
	// gives it a terminal.
	Attach, Stdin, StdinOnce, TTY bool
	Masks                         []string
	User                          *User
	Mounts                        []Mount
	Cgroups                       []string
	OOM                           *OOMCounter
	Overlay                       *overlayArgs
	// RuncDelete has the OCI runtime delete the container once it ended.
	RuncDelete *runcDelete
	// Join is the pid of a running container whose namespaces the run
	// joins (0: none; see supervise.c's --join).
	Join int
	Argv []string
}

// overlayArgs mount an image (Lower) under a private writable layer at Target.
type overlayArgs struct{ Lower, Upper, Work, Target string }

// runcDelete is the OCI runtime (its path) and container to delete.
type runcDelete struct{ Runtime, ID string }

// encode is what the supervisor reads on fd 3: each argument ended by a NUL
// byte. A NUL inside one would end it early and smuggle in options of the
// pod's making: such arguments are refused.
func (a supervisorArgs) encode() ([]byte, error) {
	if err := checkNUL(a.Argv, a.Env); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	var bad bool
	put := func(ss ...string) {
		for _, s := range ss {
			if strings.IndexByte(s, 0) >= 0 {
				bad = true
			}
			b.WriteString(s)
			b.WriteByte(0)
		}
	}
	put(a.Dir)
	for _, kv := range a.Env {
		put("--env", kv)
	}
	if a.Log != "" {
		put("--log", a.Log)
		if a.LogMaxSize > 0 && a.LogMaxFiles >= 2 {
			put("--log-max-size", strconv.FormatInt(a.LogMaxSize, 10), "--log-max-files", strconv.Itoa(a.LogMaxFiles))
		}
	}
	if a.Hostname != "" {
		put("--hostname", a.Hostname)
	}
	if a.WorkDir != "" {
		put("--workdir", a.WorkDir)
	}
	if a.Argv0Name != "" {
		put("--argv0-name", a.Argv0Name)
	}
	for _, f := range []struct {
		on   bool
		flag string
	}{{a.Attach, "--attach"}, {a.Stdin, "--stdin"}, {a.StdinOnce, "--stdin-once"}, {a.TTY, "--tty"}} {
		if f.on {
			put(f.flag)
		}
	}
	for _, m := range a.Masks {
		put("--mask", m)
	}
	if u := a.User; u != nil {
		put("--user", strconv.FormatInt(u.UID, 10), strconv.FormatInt(u.GID, 10), groupList(u.Groups))
	}
	for _, m := range a.Mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		put("--mount", m.Source, m.Target, mode)
	}
	for _, c := range a.Cgroups {
		put("--cgroup", c)
	}
	if a.OOM != nil && a.OOM.File != "" {
		put("--oom", a.OOM.File, a.OOM.Key)
	}
	if o := a.Overlay; o != nil {
		put("--overlay", o.Lower, o.Upper, o.Work, o.Target)
	}
	if d := a.RuncDelete; d != nil {
		put("--runc-delete", d.Runtime, d.ID)
	}
	if a.Join > 0 {
		put("--join", strconv.Itoa(a.Join))
	}
	put("--")
	put(a.Argv...)
	if bad {
		return nil, errors.New("invalid argument: contains a NUL byte")
	}
	// The length first: a payload cut short (the node agent killed in the
	// middle of writing one larger than the pipe's buffer) is refused by
	// the supervisor as a whole — nothing runs, nothing is recorded, and
	// the run is one that never started — where its last arguments missing
	// could still parse as a shorter command.
	body := b.Bytes()
	return append([]byte(strconv.Itoa(len(body))+"\x00"), body...), nil
}

// groupList is the supervisor's form of supplementary groups: comma-separated, "-" for none.
func groupList(groups []int64) string {
	if len(groups) == 0 {
		return "-"
	}
	gs := make([]string, len(groups))
	for i, g := range groups {
		gs[i] = strconv.FormatInt(g, 10)
	}
	return strings.Join(gs, ",")
}

// checkNUL refuses a command or environment with a NUL byte, before the run exists.
func checkNUL(argv, env []string) error {
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return errors.New("invalid argument: contains a NUL byte")
		}
	}
	for _, kv := range env {
		if strings.IndexByte(kv, 0) >= 0 {
			k, _, _ := strings.Cut(kv, "=")
			return fmt.Errorf("invalid environment variable %q: its value contains a NUL byte", k)
		}
	}
	return nil
}

// supervisorEnv is the supervisor's own environment: fixed, so that nothing
// of a pod's (LD_PRELOAD, LD_LIBRARY_PATH …) reaches a process running as root.
var supervisorEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// handle is a supervisor this runtime watches: one it started, or one an
// earlier server started and Recover adopted. done is closed once the
// supervisor exited (and with it the run).
type handle struct {
	supervisor int
	done       chan struct{}
}

func (h *handle) ended() bool {
	select {
	case <-h.done:
		return true
	default:
	}
	return false
}

// launch starts a supervisor with args and returns its handle once the
// outcome of the exec is recorded: the supervisor closes its end of the
// start pipe (fd 4) then. The arguments go through a pipe on its fd 3: its
// command line, which every user can read, is only
// "batchd-supervise __batchd_supervise". track is given the handle as
// soon as the supervisor runs; exited runs once it ended.
func launch(ctx context.Context, exe string, args supervisorArgs, track func(*handle), exited func()) error {
	payload, err := args.encode()
	if err != nil {
		return err
	}
	sup, err := spawn(exe, args.Dir)
	if err != nil {
		return err
	}
	h := &handle{supervisor: sup.cmd.Process.Pid, done: make(chan struct{})}
	track(h)
	go func() {
		_ = sup.cmd.Wait()
		exited()
		close(h.done)
	}()
	_, werr := sup.args.Write(payload)
	if cerr := sup.args.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		sup.start.Close()
		return fmt.Errorf("pass arguments to supervisor: %w", werr)
	}
	started := make(chan struct{})
	go func() {
		// EOF: the supervisor recorded the outcome, or died.
		_, _ = io.Copy(io.Discard, sup.start)
		sup.start.Close()
		close(started)
	}()
	select {
	case <-started:
	case <-ctx.Done():
	}
	return nil
}

// envRunDir names, in a supervisor's environment, the run directory it
// supervises. A server killed after spawning a supervisor and before the
// supervisor recorded its start leaves a run with no record; the next
// server finds that supervisor by this (liveSupervisors) and waits for it,
// rather than take a container that is starting for one that never will.
// The environment, unlike the command line, is readable only by the
// supervisor's own user; the container never sees it (its environment is
// set at exec).
const envRunDir = "BATCHD_RUN_DIR"

// spawned is a supervisor that runs and waits for its arguments.
type spawned struct {
	cmd   *exec.Cmd
	args  *os.File // write end of its fd 3: the arguments, then close
	start *os.File // read end of its fd 4: EOF once the start is recorded
}

func spawn(exe, dir string) (*spawned, error) {
	argsR, argsW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	startR, startW, err := os.Pipe()
	if err != nil {
		argsR.Close()
		argsW.Close()
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	cmd := exec.Command(exe, "__batchd_supervise")
	cmd.Args[0] = "batchd-supervise"
	cmd.Env = append(append([]string{}, supervisorEnv...), envRunDir+"="+dir)
	cmd.ExtraFiles = []*os.File{argsR, startW}
	cmd.Dir = "/"
	// Its own session: a signal to the server's process group or terminal does
	// not reach the supervisor or the container.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	argsR.Close()
	startW.Close()
	if err != nil {
		argsW.Close()
		startR.Close()
		return nil, fmt.Errorf("start supervisor: %w", err)
	}
	return &spawned{cmd: cmd, args: argsW, start: startR}, nil
}

// liveSupervisors maps the run directory of every supervisor that runs on
// this machine to its pid, as their environments say (envRunDir).
func liveSupervisors() map[string]int {
	out := map[string]int{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !supervisorAlive(pid) {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if dir, ok := strings.CutPrefix(kv, envRunDir+"="); ok {
				out[dir] = pid
			}
		}
	}
	return out
}

// watch returns the handle of an earlier server's supervisor pid, done
// once it exits: a pidfd polled by the Go runtime's poller, or, on kernels
// without pidfd_open, a check every 200ms. track is given the handle
// first; exited runs once it ended.
func watch(pid int, track func(*handle), exited func()) {
	h := &handle{supervisor: pid, done: make(chan struct{})}
	track(h)
	go func() {
		if !waitPidfd(pid) {
			for supervisorAlive(pid) {
				time.Sleep(200 * time.Millisecond)
			}
		}
		exited()
		close(h.done)
	}()
}

// waitPidfd waits for pid to exit through a pidfd; false when the kernel
// has none (or pid is already gone: the caller's check then sees it).
func waitPidfd(pid int) bool {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	if !supervisorAlive(pid) {
		return true // gone, or the pid is another process's now
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	// The pidfd is readable once the process exited.
	err = rc.Read(func(fd uintptr) bool {
		p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(p, 0)
		return err != nil || n > 0
	})
	return err == nil
}

// supervisorAlive tells whether pid is one of our supervisors.
func supervisorAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	if len(args) < 2 || args[0] != "batchd-supervise" || args[1] != "__batchd_supervise" {
		return false
	}
	// A zombie has ended already.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}
