// Package runtimetest has Fake, a runtime.Runtime that runs nothing: the
// node agent on it runs in-process, in milliseconds, on a fake clock, for
// tests of the agent's behaviour (internal/node's, internal/testenv's).
package runtimetest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/node/runtime"
)

// Fake keeps runs as records. How a run behaves follows from its command,
// a tiny shell of its own:
//
//   - a command whose name starts with "no-such" cannot be executed
//     (StartError, as an executable missing from $PATH);
//   - one that says "sleep" or "while" runs until it is stopped or Exit
//     ends it; with "trap ” TERM" it ignores SIGTERM, and Stop kills it
//     once the grace period passed on the clock;
//   - one that says "exit N" exits with N at once, "false" with 1;
//   - anything else exits 0 at once.
//
// Exec records the command and succeeds. ExecStream records it too, runs
// the same tiny shell on it (its exit code; "cat" copies stdin to stdout;
// "echo WORDS" prints them) against a running run only; Attach copies stdin
// to stdout until stdin ends, or without stdin waits until ctx or the run ends. Exits are reported to Notify's
// functions from a goroutine of their own, as the real runtime does.
type Fake struct {
	dir   string
	clock clock.Clock

	mu        sync.Mutex
	runs      map[string]map[string][]*run // pod → container → attempts
	listeners []func(runtime.ID)
	execs     []Exec
	started   []runtime.Spec
}

// Exec is a command run inside a container.
type Exec struct {
	ID   runtime.ID
	Argv []string
}

type run struct {
	run        runtime.Run
	ignoreTerm bool
	done       chan struct{}
}

var _ runtime.Runtime = (*Fake)(nil)

// New returns a fake runtime whose pods' directories (volumes, /etc/hosts)
// are made under dir, timed by clk.
func New(dir string, clk clock.Clock) *Fake {
	return &Fake{dir: dir, clock: clk, runs: map[string]map[string][]*run{}}
}

var exitCode = regexp.MustCompile(`\bexit (\d+)`)

// Start records the run and plays its command.
func (f *Fake) Start(_ context.Context, spec runtime.Spec) error {
	argv := spec.Argv
	if spec.OCI != nil && spec.OCI.Spec != nil && spec.OCI.Spec.Process != nil {
		argv = spec.OCI.Spec.Process.Args
	}
	if len(argv) == 0 {
		return fmt.Errorf("no command")
	}
	cmd := strings.Join(argv, " ")
	now := f.clock.Now()
	f.mu.Lock()
	r := &run{run: runtime.Run{ID: spec.ID, Pid: 1000 + len(f.started), StartedAt: now, Running: true}, done: make(chan struct{})}
	f.started = append(f.started, spec)
	if f.runs[spec.ID.Pod] == nil {
		f.runs[spec.ID.Pod] = map[string][]*run{}
	}
	f.runs[spec.ID.Pod][spec.ID.Container] = append(f.runs[spec.ID.Pod][spec.ID.Container], r)
	f.mu.Unlock()
	switch {
	case strings.HasPrefix(filepath.Base(argv[0]), "no-such"):
		msg := fmt.Sprintf("exec: %q: executable file not found in $PATH", argv[0])
		if spec.Argv0Name != "" {
			msg = fmt.Sprintf("exec: %q: executable file not found in $PATH", spec.Argv0Name)
		}
		f.end(r, 128, 0, runtime.ReasonStartError, msg)
		return &runtime.StartError{Message: msg}
	case strings.Contains(cmd, "sleep") || strings.Contains(cmd, "while"):
		r.ignoreTerm = strings.Contains(cmd, "trap '' TERM")
	case exitCode.MatchString(cmd):
		code, _ := strconv.Atoi(exitCode.FindStringSubmatch(cmd)[1])
		f.end(r, code, 0, "", "")
	case argv[0] == "false":
		f.end(r, 1, 0, "", "")
	default:
		f.end(r, 0, 0, "", "")
	}
	return nil
}

// end records how r ended and tells the listeners.
func (f *Fake) end(r *run, code, signal int, reason runtime.Reason, msg string) {
	f.mu.Lock()
	if !r.run.Running {
		f.mu.Unlock()
		return
	}
	r.run.Running, r.run.ExitCode, r.run.Signal, r.run.Reason, r.run.Message = false, code, signal, reason, msg
	r.run.FinishedAt = f.clock.Now()
	close(r.done)
	listeners := append([]func(runtime.ID){}, f.listeners...)
	f.mu.Unlock()
	go func() {
		for _, l := range listeners {
			l(r.run.ID)
		}
	}()
}

func (f *Fake) find(id runtime.ID) *run {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := f.runs[id.Pod][id.Container]
	if id.Attempt < len(rs) {
		return rs[id.Attempt]
	}
	return nil
}

// Exit ends the latest run of the container with code, as if its process exited.
func (f *Fake) Exit(pod, container string, code int) error {
	f.mu.Lock()
	rs := f.runs[pod][container]
	f.mu.Unlock()
	if len(rs) == 0 || !rs[len(rs)-1].run.Running {
		return fmt.Errorf("no running run of %s/%s", pod, container)
	}
	f.end(rs[len(rs)-1], code, 0, "", "")
	return nil
}

// Stop plays SIGTERM: a run that ignores it is killed once grace passed.
func (f *Fake) Stop(id runtime.ID, grace time.Duration) error {
	r := f.find(id)
	if r == nil {
		return nil
	}
	f.mu.Lock()
	running, ignore := r.run.Running, r.ignoreTerm
	f.mu.Unlock()
	if !running {
		return nil
	}
	if !ignore {
		f.end(r, 143, 15, "", "")
		return nil
	}
	select {
	case <-r.done:
	case <-f.clock.After(grace):
		f.end(r, 137, 9, "", "")
	}
	return nil
}

// Wait waits up to timeout, on the clock, for the run to end.
func (f *Fake) Wait(id runtime.ID, timeout time.Duration) error {
	r := f.find(id)
	if r == nil {
		return nil
	}
	select {
	case <-r.done:
		return nil
	case <-f.clock.After(timeout):
		return fmt.Errorf("run %s still running after %s", id, timeout)
	}
}

// Exec records argv.
func (f *Fake) Exec(_ context.Context, id runtime.ID, argv []string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs = append(f.execs, Exec{ID: id, Argv: argv})
	return nil
}

// ExecStream records argv and plays it against a running run.
func (f *Fake) ExecStream(_ context.Context, id runtime.ID, argv []string, s runtime.Streams) (int, error) {
	r := f.find(id)
	f.mu.Lock()
	running := r != nil && r.run.Running
	if running {
		f.execs = append(f.execs, Exec{ID: id, Argv: argv})
	}
	f.mu.Unlock()
	if !running {
		return 0, runtime.ErrNotRunning
	}
	cmd := strings.Join(argv, " ")
	switch {
	case len(argv) > 0 && strings.HasPrefix(argv[0], "no-such"):
		return 0, fmt.Errorf("exec: %q: executable file not found in $PATH", argv[0])
	case cmd == "cat" && s.Stdin != nil && s.Stdout != nil:
		_, _ = io.Copy(s.Stdout, s.Stdin)
	case strings.HasPrefix(cmd, "echo ") && s.Stdout != nil:
		fmt.Fprintln(s.Stdout, strings.TrimPrefix(cmd, "echo "))
	}
	if m := exitCode.FindStringSubmatch(cmd); m != nil {
		code, _ := strconv.Atoi(m[1])
		return code, nil
	}
	return 0, nil
}

// Attach copies stdin to stdout until ctx ends or the run does.
func (f *Fake) Attach(ctx context.Context, id runtime.ID, s runtime.Streams) error {
	r := f.find(id)
	f.mu.Lock()
	running := r != nil && r.run.Running
	f.mu.Unlock()
	if !running {
		return runtime.ErrNotRunning
	}
	if s.Stdin != nil && s.Stdout != nil {
		// As a container with stdinOnce whose stdin ends the session.
		_, _ = io.Copy(s.Stdout, s.Stdin)
		return nil
	}
	select {
	case <-ctx.Done():
	case <-r.done:
	}
	return nil
}

// Execs are the commands run inside containers so far.
func (f *Fake) Execs() []Exec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Exec{}, f.execs...)
}

// Started are the specs of every run started so far, in order.
func (f *Fake) Started() []runtime.Spec {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]runtime.Spec{}, f.started...)
}

// Runs lists the pod's runs (not its hooks', whose names start with a dot).
func (f *Fake) Runs(pod string) (map[string][]runtime.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]runtime.Run{}
	for c, rs := range f.runs[pod] {
		if strings.HasPrefix(c, ".") {
			continue
		}
		for _, r := range rs {
			out[c] = append(out[c], r.run)
		}
	}
	return out, nil
}

// Running tells whether the latest run of the container runs.
func (f *Fake) Running(pod, container string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	rs := f.runs[pod][container]
	return len(rs) > 0 && rs[len(rs)-1].run.Running
}

// Pods lists the pods that have runs or a directory.
func (f *Fake) Pods() ([]string, error) {
	f.mu.Lock()
	set := map[string]bool{}
	for p := range f.runs {
		set[p] = true
	}
	f.mu.Unlock()
	entries, _ := os.ReadDir(f.dir)
	for _, e := range entries {
		if e.IsDir() {
			set[e.Name()] = true
		}
	}
	var out []string
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// Notify registers l, told of every run that ended.
func (f *Fake) Notify(l func(runtime.ID)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listeners = append(f.listeners, l)
}

// RemovePod forgets the pod; it is an error while one of its runs runs.
func (f *Fake) RemovePod(pod string) error {
	f.mu.Lock()
	for c, rs := range f.runs[pod] {
		for _, r := range rs {
			if r.run.Running {
				f.mu.Unlock()
				return fmt.Errorf("remove pod %s: %s/%d still runs", pod, c, r.run.ID.Attempt)
			}
		}
	}
	delete(f.runs, pod)
	f.mu.Unlock()
	return os.RemoveAll(f.PodDir(pod))
}

// RemoveVolumes removes the pod's named volume directories.
func (f *Fake) RemoveVolumes(pod string, names []string) error {
	for _, n := range names {
		if err := os.RemoveAll(filepath.Join(f.PodDir(pod), "volumes", n)); err != nil {
			return err
		}
	}
	return nil
}

// PodDir is the pod's directory under the fake's.
func (f *Fake) PodDir(pod string) string { return filepath.Join(f.dir, pod) }

// TmpDir is a run's private /tmp.
func (f *Fake) TmpDir(id runtime.ID) string {
	return filepath.Join(f.PodDir(id.Pod), "tmp", id.Container, strconv.Itoa(id.Attempt))
}
