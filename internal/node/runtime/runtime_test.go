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
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func newRuntime(t *testing.T, cg *Cgroups) (*Local, chan ID) {
	t.Helper()
	exited := make(chan ID, 16)
	r, err := New(Config{Dir: t.TempDir(), Cgroups: cg, OnExit: func(id ID) { exited <- id }})
	if err != nil {
		t.Fatal(err)
	}
	return r, exited
}

func waitExit(t *testing.T, ch chan ID, want ID) {
	t.Helper()
	select {
	case id := <-ch:
		if id != want {
			t.Fatalf("exit of %v, want %v", id, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%v did not end", want)
	}
}

func readLog(t *testing.T, r *Local, id ID, opts LogOptions) string {
	t.Helper()
	var b bytes.Buffer
	if err := ReadLog(context.Background(), r.LogPath(id), opts, &b, func() bool { return false }); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestRunRecordsExitCodeAndLog(t *testing.T) {
	r, exited := newRuntime(t, nil)
	id := ID{Pod: "p1", Container: "c", Attempt: 0}
	err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", `echo "hello $GREETING"; echo oops >&2; printf tail; exit 3`},
		Env: []string{"GREETING=world", "PATH=/usr/bin:/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	runs, err := r.Runs("p1")
	if err != nil {
		t.Fatal(err)
	}
	run := runs["c"][0]
	if run.Running || run.ExitCode != 3 || run.Reason != "" || run.StartedAt.IsZero() || run.FinishedAt.Before(run.StartedAt) {
		t.Fatalf("run = %+v", run)
	}
	// stdout and stderr are separate pipes: their relative order is not kept.
	if got := readLog(t, r, id, LogOptions{Tail: -1}); !strings.HasPrefix(got, "hello world\n") || !strings.Contains(got, "oops\n") || !strings.Contains(got, "tail\n") {
		t.Fatalf("log = %q", got)
	}
	if got := readLog(t, r, id, LogOptions{Tail: 1}); got != "tail\n" && got != "oops\n" {
		t.Fatalf("tail 1 = %q", got)
	}
	if got := readLog(t, r, id, LogOptions{Tail: -1, Timestamps: true}); !strings.HasPrefix(got, run.StartedAt.Format("2006-01-02T")) || !strings.Contains(got, "Z hello world\n") {
		t.Fatalf("timestamps = %q", got)
	}
	raw, _ := os.ReadFile(r.LogPath(id))
	if !strings.Contains(string(raw), " stderr F oops\n") || !strings.Contains(string(raw), " stdout F hello world\n") {
		t.Fatalf("not CRI format: %q", raw)
	}
}

func TestStartErrorIsRecorded(t *testing.T) {
	r, exited := newRuntime(t, nil)
	id := ID{Pod: "p", Container: "c"}
	var se *StartError
	if err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"no-such-command-batchd"}, Env: []string{"PATH=/usr/bin"}}); !errors.As(err, &se) ||
		se.Message != `exec: "no-such-command-batchd": executable file not found in $PATH` {
		t.Fatalf("Start = %v, want the StartError", err)
	}
	waitExit(t, exited, id)
	runs, _ := r.Runs("p")
	run := runs["c"][0]
	if run.ExitCode != 128 || run.Reason != "StartError" || run.Message != `exec: "no-such-command-batchd": executable file not found in $PATH` {
		t.Fatalf("run = %+v", run)
	}
}

func TestStopKillsTheWholeGroup(t *testing.T) {
	r, exited := newRuntime(t, nil)
	id := ID{Pod: "p", Container: "c"}
	pidFile := filepath.Join(t.TempDir(), "child")
	// The shell ignores TERM; its background child would outlive it if only the
	// shell were killed.
	script := `trap '' TERM; sleep 300 & echo $! > ` + pidFile + `; echo ready; wait`
	if err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(readLog(t, r, id, LogOptions{Tail: -1}), "ready") {
		if time.Now().After(deadline) {
			t.Fatal("container did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	data, _ := os.ReadFile(pidFile)
	var child int
	for _, c := range strings.TrimSpace(string(data)) {
		child = child*10 + int(c-'0')
	}
	start := time.Now()
	if err := r.Stop(id, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("stopped after %v, before the grace period", took)
	}
	runs, _ := r.Runs("p")
	if run := runs["c"][0]; run.Running || run.ExitCode != 137 || run.Signal != 9 {
		t.Fatalf("run = %+v", run)
	}
	if alive(child) {
		t.Fatalf("background child %d survived", child)
	}
}

func TestNewRuntimeReattachesToRunningContainers(t *testing.T) {
	dir := t.TempDir()
	first, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	id := ID{Pod: "p", Container: "c"}
	release := filepath.Join(t.TempDir(), "release")
	script := `while [ ! -f ` + release + ` ]; do sleep 0.05; done; echo done; exit 7`
	if err := first.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}}); err != nil {
		t.Fatal(err)
	}
	// Wait until the supervisor recorded the start, as a server that crashes later would see.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(first.runDir(id), "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no start record")
		}
		time.Sleep(10 * time.Millisecond)
	}
	exited := make(chan ID, 1)
	second, err := New(Config{Dir: dir, OnExit: func(id ID) { exited <- id }})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Recover(); err != nil {
		t.Fatal(err)
	}
	runs, _ := second.Runs("p")
	if !runs["c"][0].Running {
		t.Fatalf("run not seen running: %+v", runs["c"][0])
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	runs, _ = second.Runs("p")
	if run := runs["c"][0]; run.Running || run.ExitCode != 7 {
		t.Fatalf("run = %+v", run)
	}
	if got := readLog(t, second, id, LogOptions{Tail: -1}); got != "done\n" {
		t.Fatalf("log = %q", got)
	}
}

func TestLostSupervisorIsContainerStatusUnknown(t *testing.T) {
	r, _ := newRuntime(t, nil)
	id := ID{Pod: "p", Container: "c"}
	if err := os.MkdirAll(r.runDir(id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.runDir(id), "started"), []byte("pid=999999\nsupervisor=999999\nstarted=2026-01-01T00:00:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runs, _ := r.Runs("p")
	if run := runs["c"][0]; run.Running || run.Reason != "ContainerStatusUnknown" || run.ExitCode != 137 {
		t.Fatalf("run = %+v", run)
	}
}

func TestMountsHostnameAndWorkDir(t *testing.T) {
	r, exited := newRuntime(t, nil)
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "greeting"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "does", "not", "exist")
	id := ID{Pod: "p", Container: "c"}
	script := `cat ` + target + `/greeting; echo; hostname; pwd; touch ` + target + `/x 2>/dev/null && echo writable || echo read-only`
	err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"},
		Hostname: "pod-host", WorkDir: "/tmp", Mounts: []Mount{{Source: vol, Target: target, ReadOnly: true}}})
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	if got, want := readLog(t, r, id, LogOptions{Tail: -1}), "hi\npod-host\n/tmp\nread-only\n"; got != want {
		t.Fatalf("log = %q, want %q", got, want)
	}
	if h, _ := os.Hostname(); h == "pod-host" {
		t.Fatal("host's hostname changed")
	}
	if _, err := os.Stat(filepath.Dir(filepath.Dir(target))); err == nil {
		t.Fatal("the mount point was made on the host")
	}
}

// TestMountPointsAreNotMadeOnTheHost: a mount at a path the host lacks
// (below / itself, and below a directory that exists) is made on the
// container's own tmpfs: the container sees its volumes and everything of
// the host's root besides; the host gets no new path, during the run or
// after.
func TestMountPointsAreNotMadeOnTheHost(t *testing.T) {
	r, exited := newRuntime(t, nil)
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	top := fmt.Sprintf("/batchd-test-%d", time.Now().UnixNano())
	etc := fmt.Sprintf("/etc/batchd-test-%d/conf", time.Now().UnixNano())
	id := ID{Pod: "p", Container: "c"}
	script := `cat ` + top + `/x/f; echo; cat ` + etc + `/f; echo; test -f /etc/passwd && echo passwd; ls -d /usr/bin /proc/self >/dev/null && echo root-intact; id -u`
	err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, PrivateTmp: true,
		User:   &User{UID: 65534, GID: 65534},
		Mounts: []Mount{{Source: vol, Target: top + "/x", ReadOnly: true}, {Source: vol, Target: etc}}})
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	if got, want := readLog(t, r, id, LogOptions{Tail: -1}), "data\ndata\npasswd\nroot-intact\n65534\n"; got != want {
		runs, _ := r.Runs("p")
		t.Fatalf("log = %q, want %q (%+v)", got, want, runs["c"])
	}
	for _, p := range []string{top, filepath.Dir(etc)} {
		if _, err := os.Lstat(p); err == nil {
			os.RemoveAll(p)
			t.Errorf("%s was made on the host", p)
		}
	}
}

func TestMemoryLimitOOMKills(t *testing.T) {
	cg, err := DetectCgroups("/sys/fs/cgroup")
	if err != nil {
		t.Skipf("no cgroups on this machine: %v", err)
	}
	r, exited := newRuntime(t, cg)
	id := ID{Pod: "p-oom", Container: "c"}
	// perl allocates 200 MiB against a 32 MiB limit.
	err = r.Start(context.Background(), Spec{ID: id, Argv: []string{"perl", "-e", `my $x = "a" x (200*1024*1024); print length($x)`},
		Env: []string{"PATH=/usr/bin:/bin"}, Resources: Resources{MemoryBytes: 32 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	runs, _ := r.Runs("p-oom")
	if run := runs["c"][0]; !run.OOMKilled || run.ExitCode != 137 {
		t.Fatalf("run = %+v", run)
	}
	if err := r.RemovePod("p-oom"); err != nil {
		t.Fatal(err)
	}
}

// alive tells whether pid runs (a zombie waiting to be reaped does not).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}

func TestPrivateTmpIsFreshPerRun(t *testing.T) {
	r, exited := newRuntime(t, nil)
	hostFile := filepath.Join(t.TempDir(), "visible")
	if err := os.WriteFile(hostFile, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `ls -A /tmp | wc -l; touch /tmp/leak; stat -c %a /tmp; cat /mnt/visible`
	for attempt := 0; attempt < 2; attempt++ {
		id := ID{Pod: "p", Container: "c", Attempt: attempt}
		err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, PrivateTmp: true,
			Mounts: []Mount{{Source: filepath.Dir(hostFile), Target: "/mnt", ReadOnly: true}}})
		if err != nil {
			t.Fatal(err)
		}
		waitExit(t, exited, id)
		if got, want := readLog(t, r, id, LogOptions{Tail: -1}), "0\n1777\nhost\n"; got != want {
			t.Fatalf("attempt %d: log = %q, want %q", attempt, got, want)
		}
	}
	if _, err := os.Stat("/tmp/leak"); err == nil {
		t.Fatal("/tmp/leak reached the host")
	}
}

// TestUnprivilegedRunStillMounts runs this test binary again as an
// unprivileged user: without root there are no cgroups, but a container still
// gets its volumes, hostname and exit record (through a user namespace).
func TestUnprivilegedRunStillMounts(t *testing.T) {
	if os.Getenv("BATCHD_UNPRIVILEGED_CHILD") == "1" {
		unprivilegedChild(t)
		return
	}
	if os.Getuid() != 0 {
		unprivilegedChild(t)
		return
	}
	// A copy of the test binary in a directory the unprivileged user can read.
	dir, err := os.MkdirTemp("", "batchd-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "runtime.test")
	if err := os.WriteFile(exe, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestUnprivilegedRunStillMounts$", "-test.count=1", "-test.v")
	cmd.Env = []string{"BATCHD_UNPRIVILEGED_CHILD=1", "TMPDIR=" + dir, "PATH=/usr/bin:/bin", "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestUnprivilegedRunStillMounts") {
		t.Fatalf("as uid 65534: %v\n%s", err, out)
	}
}

func unprivilegedChild(t *testing.T) {
	if _, err := DetectCgroups("/sys/fs/cgroup"); err == nil {
		t.Fatal("cgroups usable without root")
	}
	r, exited := newRuntime(t, nil)
	vol := t.TempDir()
	if err := os.WriteFile(filepath.Join(vol, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := ID{Pod: "p", Container: "c"}
	err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", "cat /mnt/f; echo; hostname; exit 4"}, Env: []string{"PATH=/usr/bin:/bin"},
		Hostname: "unpriv", PrivateTmp: true, Mounts: []Mount{{Source: vol, Target: "/mnt", ReadOnly: true}}})
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	runs, _ := r.Runs("p")
	if run := runs["c"][0]; run.ExitCode != 4 || run.Reason != "" {
		t.Fatalf("run = %+v", run)
	}
	if got := readLog(t, r, id, LogOptions{Tail: -1}); got != "data\nunpriv\n" {
		t.Fatalf("log = %q", got)
	}
}

func TestCPULimitBecomesAQuota(t *testing.T) {
	cg, err := DetectCgroups("/sys/fs/cgroup")
	if err != nil {
		t.Skipf("no cgroups on this machine: %v", err)
	}
	const name = "quota-test/c-0"
	dirs, _, err := cg.Create(name, Resources{CPUMillis: 500, MemoryBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Remove("quota-test")
	var quota string
	if cg.Version == 2 {
		b, _ := os.ReadFile(filepath.Join(dirs[0], "cpu.max"))
		quota = strings.TrimSpace(string(b))
		if quota != "50000 100000" {
			t.Fatalf("cpu.max = %q, want 50000 100000", quota)
		}
		return
	}
	b, _ := os.ReadFile(filepath.Join(dirs[1], "cpu.cfs_quota_us"))
	p, _ := os.ReadFile(filepath.Join(dirs[1], "cpu.cfs_period_us"))
	if q := strings.TrimSpace(string(b)) + "/" + strings.TrimSpace(string(p)); q != "50000/100000" {
		t.Fatalf("quota/period = %s, want 50000/100000", q)
	}
	m, _ := os.ReadFile(filepath.Join(dirs[0], "memory.limit_in_bytes"))
	if strings.TrimSpace(string(m)) != "67108864" {
		t.Fatalf("memory.limit_in_bytes = %s", m)
	}
}

func TestEndedRunLeavesNoCgroup(t *testing.T) {
	cg, err := DetectCgroups("/sys/fs/cgroup")
	if err != nil {
		t.Skipf("no cgroups on this machine: %v", err)
	}
	r, exited := newRuntime(t, cg)
	id := ID{Pod: "p-cgroup-cleanup", Container: "c"}
	if err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"true"}, Env: []string{"PATH=/usr/bin:/bin"}, Resources: Resources{CPUMillis: 100}}); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	for _, d := range cg.dirs(id.Pod) {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup %s left behind", d)
		}
	}
}

func TestCrunProblemOnHybridCgroups(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "unified"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := &Cgroups{Version: 1, root: root}
	if p := c.CrunProblem(); p != "" {
		t.Errorf("no unified controllers file: %q", p)
	}
	if err := os.WriteFile(filepath.Join(root, "unified", "cgroup.controllers"), []byte("hugetlb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := "crun refuses this host's hybrid cgroups (cgroup v1, with hugetlb in the v2 hierarchy at " + filepath.Join(root, "unified") + "): use runc, or mount hugetlb as cgroup v1"
	if p := c.CrunProblem(); p != want {
		t.Errorf("got %q\nwant %q", p, want)
	}
	if p := (&Cgroups{Version: 2, root: root}).CrunProblem(); p != "" {
		t.Errorf("cgroup v2: %q", p)
	}
	if p := (*Cgroups)(nil).CrunProblem(); p != "" {
		t.Errorf("no cgroups: %q", p)
	}
}

func TestWithoutCapability(t *testing.T) {
	p := &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: []string{"CAP_CHOWN", "CAP_MKNOD"}, Effective: []string{"CAP_MKNOD"}, Permitted: []string{"CAP_MKNOD", "CAP_KILL"},
	}}
	got := withoutCapability(p, "CAP_MKNOD")
	if c := got.Capabilities; !slices.Equal(c.Bounding, []string{"CAP_CHOWN"}) || len(c.Effective) != 0 || !slices.Equal(c.Permitted, []string{"CAP_KILL"}) {
		t.Errorf("got %+v", c)
	}
	if len(p.Capabilities.Effective) != 1 {
		t.Error("the original process was changed")
	}
}

// TestSupervisorHidesPodAndEnvironment: the supervisor's command line, which
// every user can read, names neither the pod's directory nor the command,
// and the supervisor itself (root) runs without the container's
// environment, which only the container gets.
func TestSupervisorHidesPodAndEnvironment(t *testing.T) {
	r, exited := newRuntime(t, nil)
	id := ID{Pod: "pod-uid-5f1c", Container: "c"}
	release := filepath.Join(t.TempDir(), "release")
	err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", `while [ ! -f ` + release + ` ]; do sleep 0.05; done; echo "secret=$SECRET_VALUE"`},
		Env: []string{"PATH=/usr/bin:/bin", "SECRET_VALUE=hunter2", "LD_LIBRARY_PATH=/nowhere"}})
	if err != nil {
		t.Fatal(err)
	}
	var sup int
	deadline := time.Now().Add(10 * time.Second)
	for sup == 0 {
		if kv, err := readKV(filepath.Join(r.runDir(id), "started")); err == nil {
			fmt.Sscan(kv["supervisor"], &sup)
		}
		if time.Now().After(deadline) {
			t.Fatal("no start record")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", sup))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(cmdline); got != "batchd-supervise\x00__batchd_supervise\x00" {
		t.Errorf("supervisor command line = %q", got)
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", sup))
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"SECRET_VALUE", "LD_LIBRARY_PATH"} {
		if strings.Contains(string(environ), leak) {
			t.Errorf("supervisor environment has %s: %q", leak, environ)
		}
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	if got := readLog(t, r, id, LogOptions{Tail: -1}); got != "secret=hunter2\n" {
		t.Fatalf("log = %q", got)
	}
}

// TestNULInArgumentsIsRefused: a NUL byte would end an argument early and
// let the rest pass as supervisor options.
func TestNULInArgumentsIsRefused(t *testing.T) {
	r, _ := newRuntime(t, nil)
	err := r.Start(context.Background(), Spec{ID: ID{Pod: "p", Container: "c"}, Argv: []string{"true"},
		Env: []string{"X=a\x00--mount\x00/\x00/mnt\x00rw"}})
	if err == nil || !strings.Contains(err.Error(), `invalid environment variable "X"`) || strings.Contains(err.Error(), "mount") {
		t.Fatalf("err = %v", err)
	}
	if runs, _ := r.Runs("p"); len(runs) != 0 {
		t.Errorf("a refused start left runs: %+v", runs)
	}
}

// TestDamagedExitRecordIsUnknown: an exit record that is empty (what a full
// disk leaves), cut short or garbage is an unknown outcome with exit code
// 137, never exit code 0.
func TestDamagedExitRecordIsUnknown(t *testing.T) {
	for name, record := range map[string]string{
		"empty":    "",
		"cut":      "code=3\nsignal=0\n",
		"garbage":  "\x00\x00\x00\x00",
		"bad code": "code=x\nsignal=0\noom=0\nstarted=2026-01-01T00:00:00Z\nfinished=2026-01-01T00:00:01Z\n",
		"no times": "code=0\n",
	} {
		t.Run(name, func(t *testing.T) {
			r, _ := newRuntime(t, nil)
			id := ID{Pod: "p", Container: "c"}
			if err := os.MkdirAll(r.runDir(id), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(r.runDir(id), "exit"), []byte(record), 0o600); err != nil {
				t.Fatal(err)
			}
			runs, _ := r.Runs("p")
			if run := runs["c"][0]; run.Running || run.Reason != "ContainerStatusUnknown" || run.ExitCode != 137 {
				t.Fatalf("run = %+v", run)
			}
		})
	}
	r, _ := newRuntime(t, nil)
	id := ID{Pod: "p", Container: "c"}
	_ = os.MkdirAll(r.runDir(id), 0o700)
	whole := "code=3\nsignal=0\noom=0\nstarted=2026-01-01T00:00:00Z\nfinished=2026-01-01T00:00:01Z\n"
	if err := os.WriteFile(filepath.Join(r.runDir(id), "exit"), []byte(whole), 0o600); err != nil {
		t.Fatal(err)
	}
	runs, _ := r.Runs("p")
	if run := runs["c"][0]; run.ExitCode != 3 || run.Reason != "" {
		t.Fatalf("a whole record: run = %+v", run)
	}
}

// TestStartErrorMessageCannotForgeTheRecord: a command whose name holds
// line breaks ends as a StartError, not as the exit code its name spells.
func TestStartErrorMessageCannotForgeTheRecord(t *testing.T) {
	r, exited := newRuntime(t, nil)
	id := ID{Pod: "p", Container: "c"}
	var se *StartError
	if err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"nothing\ncode=0\nreason=\nmessage=ok"}, Env: []string{"PATH=/usr/bin"}}); !errors.As(err, &se) {
		t.Fatalf("Start = %v, want a StartError", err)
	}
	waitExit(t, exited, id)
	runs, _ := r.Runs("p")
	if run := runs["c"][0]; run.ExitCode != 128 || run.Reason != "StartError" {
		t.Fatalf("run = %+v", run)
	}
}

// TestManyMountsAndGroups: no fixed limit below upstream's: 130 mounts and
// 70 supplementary groups all apply (the supervisor had room for 128 and 64).
func TestManyMountsAndGroups(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("setgroups needs root")
	}
	r, exited := newRuntime(t, nil)
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	var mounts []Mount
	for i := 0; i < 130; i++ {
		src := filepath.Join(base, fmt.Sprint(i))
		if err := os.Mkdir(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "n"), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		mounts = append(mounts, Mount{Source: src, Target: fmt.Sprintf("/batchd-many/%d", i), ReadOnly: true})
	}
	var groups []int64
	for g := int64(5000); g < 5070; g++ {
		groups = append(groups, g)
	}
	id := ID{Pod: "p", Container: "c"}
	err := r.Start(context.Background(), Spec{ID: id, Argv: []string{"sh", "-c", "cat /batchd-many/0/n /batchd-many/129/n; echo; id -G | wc -w"}, Env: []string{"PATH=/usr/bin:/bin"},
		User: &User{UID: 65534, GID: 65534, Groups: groups}, Mounts: mounts})
	if err != nil {
		t.Fatal(err)
	}
	waitExit(t, exited, id)
	runs, _ := r.Runs("p")
	if got, want := readLog(t, r, id, LogOptions{Tail: -1}), "0129\n71\n"; got != want {
		t.Fatalf("log = %q, want %q (run %+v)", got, want, runs["c"][0])
	}
}

// TestInspectHasNoEffectRecoverReaps: reading a lost run reports it and
// leaves it be; Recover, the step a new server takes, records it lost once.
func TestInspectHasNoEffectRecoverReaps(t *testing.T) {
	r, _ := newRuntime(t, nil)
	id := ID{Pod: "p", Container: "c"}
	if err := os.MkdirAll(r.runDir(id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.runDir(id), "started"), []byte("pid=999999\nsupervisor=999999\nstarted=2026-01-01T00:00:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		runs, _ := r.Runs("p")
		if run := runs["c"][0]; run.Running || run.Reason != ReasonUnknown {
			t.Fatalf("run = %+v", run)
		}
		if _, err := os.Stat(filepath.Join(r.runDir(id), "exit")); err == nil {
			t.Fatal("inspecting wrote an exit record")
		}
	}
	if err := r.Recover(); err != nil {
		t.Fatal(err)
	}
	kv, err := readKV(filepath.Join(r.runDir(id), "exit"))
	if err != nil || kv["reason"] != "ContainerStatusUnknown" || kv["code"] != "137" {
		t.Fatalf("after Recover: exit record %v, %v", kv, err)
	}
}

// TestRemoveIfEmptyInEveryV1Hierarchy: a pod's group goes from every cgroup
// v1 hierarchy, also those only runc makes groups in (pids, blkio: they
// leaked, one per OCI pod), once per hierarchy linked under two names; a
// group still holding one stays.
func TestRemoveIfEmptyInEveryV1Hierarchy(t *testing.T) {
	root := t.TempDir()
	for _, h := range []string{"memory", "cpu,cpuacct", "pids", "blkio", "systemd"} {
		if err := os.MkdirAll(filepath.Join(root, h, cgroupParent, "pod-a"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, link := range []string{"cpu", "cpuacct"} {
		if err := os.Symlink("cpu,cpuacct", filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "unified"), 0o755); err != nil { // no batchd parent there
		t.Fatal(err)
	}
	busy := filepath.Join(root, "blkio", cgroupParent, "pod-b", "c")
	if err := os.MkdirAll(busy, 0o755); err != nil {
		t.Fatal(err)
	}
	c := &Cgroups{Version: 1, root: root}
	if got := len(c.v1Parents()); got != 5 {
		t.Errorf("%d parents, want 5 (memory, cpu,cpuacct once, pids, blkio, systemd): %v", got, c.v1Parents())
	}
	c.RemoveIfEmpty("pod-a")
	c.RemoveIfEmpty("pod-b")
	for _, h := range []string{"memory", "cpu,cpuacct", "pids", "blkio", "systemd"} {
		if _, err := os.Stat(filepath.Join(root, h, cgroupParent, "pod-a")); err == nil {
			t.Errorf("pod-a's group stays in %s", h)
		}
	}
	if _, err := os.Stat(busy); err != nil {
		t.Errorf("a group with a group in it went: %v", err)
	}
}

// TestRunThatNeverStartedIsRemoved: a server killed after creating a run's
// directory and before its supervisor recorded a start (here: no
// supervisor at all) leaves a run that never ran. Recover removes it, so
// the container is started again as the same attempt, not reported as a
// lost container (ContainerStatusUnknown, a failure of its Job).
func TestRunThatNeverStartedIsRemoved(t *testing.T) {
	r, _ := newRuntime(t, nil)
	id := ID{Pod: "p", Container: "c"}
	if err := os.MkdirAll(r.runDir(id), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.runDir(id), "config.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Recover(); err != nil {
		t.Fatal(err)
	}
	runs, err := r.Runs("p")
	if err != nil {
		t.Fatal(err)
	}
	if len(runs["c"]) != 0 {
		t.Fatalf("runs after Recover = %+v, want none", runs["c"])
	}
	if _, err := os.Stat(r.runDir(id)); !os.IsNotExist(err) {
		t.Fatalf("run dir still there: %v", err)
	}
}

// startingRun is a runtime in a new dir and the directory of a run of it
// that a server created before it was killed: no supervisor record yet.
func startingRun(t *testing.T) (dir string, first *Local, id ID, runDir string) {
	t.Helper()
	dir = t.TempDir()
	first, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	id = ID{Pod: "p", Container: "c"}
	runDir = first.runDir(id)
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir, first, id, runDir
}

// TestRecoverWaitsForAStartingSupervisor: a supervisor the earlier server
// spawned that has not recorded its start yet (it waits for its
// arguments) is found by its run directory and watched: the run is
// running, and its outcome is the supervisor's record, not a lost run.
func TestRecoverWaitsForAStartingSupervisor(t *testing.T) {
	dir, first, id, runDir := startingRun(t)
	sup, err := spawn(first.cfg.Exe, runDir)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { _ = sup.cmd.Wait(); close(waited) }()
	defer func() { sup.args.Close(); <-waited }()

	exited := make(chan ID, 1)
	second, err := New(Config{Dir: dir, OnExit: func(id ID) { exited <- id }})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Recover(); err != nil {
		t.Fatal(err)
	}
	runs, _ := second.Runs("p")
	if len(runs["c"]) != 1 || !runs["c"][0].Running {
		t.Fatalf("runs after Recover = %+v, want one running", runs["c"])
	}
	payload, err := supervisorArgs{Dir: runDir, Log: first.LogPath(id), Attach: true, Argv: []string{"sh", "-c", "echo hi; exit 3"}, Env: []string{"PATH=/usr/bin:/bin"}}.encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sup.args.Write(payload); err != nil {
		t.Fatal(err)
	}
	sup.args.Close()
	sup.start.Close()
	waitExit(t, exited, id)
	runs, _ = second.Runs("p")
	if run := runs["c"][0]; run.Running || run.ExitCode != 3 || run.Reason == ReasonUnknown {
		t.Fatalf("run = %+v", run)
	}
	if got := readLog(t, second, id, LogOptions{Tail: -1}); got != "hi\n" {
		t.Fatalf("log = %q", got)
	}
}

// TestArgumentsCutShortRunNothing: a supervisor whose arguments end
// early (the agent killed in the middle of writing more than the pipe's
// buffer holds) runs nothing and records nothing, even where the part it
// got would parse as a shorter command; the next start's Recover removes
// the run, which is then started again as the same attempt.
func TestArgumentsCutShortRunNothing(t *testing.T) {
	dir, first, id, runDir := startingRun(t)
	ran := filepath.Join(t.TempDir(), "ran")
	payload, err := supervisorArgs{Dir: runDir, Log: first.LogPath(id), Env: []string{"PATH=/usr/bin:/bin", "PAD=" + strings.Repeat("x", 8192)},
		Argv: []string{"touch", ran, "extra-argument"}}.encode()
	if err != nil {
		t.Fatal(err)
	}
	sup, err := spawn(first.cfg.Exe, runDir)
	if err != nil {
		t.Fatal(err)
	}
	// Up to the last argument's start: what is left, `touch RAN`, is a
	// command that would run.
	cut := bytes.LastIndex(payload, []byte("extra-argument"))
	if _, err := sup.args.Write(payload[:cut]); err != nil {
		t.Fatal(err)
	}
	sup.args.Close()
	if _, err := io.ReadAll(sup.start); err != nil { // closed when it exits
		t.Fatal(err)
	}
	sup.start.Close()
	if err := sup.cmd.Wait(); err == nil {
		t.Fatal("the supervisor exited 0 on arguments cut short")
	}
	if _, err := os.Stat(ran); !os.IsNotExist(err) {
		t.Fatalf("the command ran on arguments cut short: %v", err)
	}
	for _, f := range []string{"started", "exit"} {
		if _, err := os.Stat(filepath.Join(runDir, f)); !os.IsNotExist(err) {
			t.Fatalf("record %s written: %v", f, err)
		}
	}
	second, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Recover(); err != nil {
		t.Fatal(err)
	}
	if runs, _ := second.Runs("p"); len(runs["c"]) != 0 {
		t.Fatalf("runs after Recover = %+v, want none", runs["c"])
	}
}

// Two nodes on one machine (a server's agent and `batchd agent`s, each with
// its own data dir): one starting up — its cgroup sweep and Recover, which
// reaps what its own earlier supervisors left — leaves the other's running
// containers alone.
func TestStartupLeavesAnotherNodesRuns(t *testing.T) {
	cg, err := DetectCgroups("/sys/fs/cgroup")
	if err != nil {
		cg = nil // the runs then have no groups; Recover is still checked
	}
	other, _ := newRuntime(t, cg)
	id := ID{Pod: "other-node-pod", Container: "c"}
	if err := other.Start(context.Background(), Spec{ID: id, Argv: []string{"sleep", "30"}, Env: []string{"PATH=/usr/bin:/bin"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Stop(id, 0) })
	// This node: a lost run of its own, so that Recover has something to reap.
	if cg != nil {
		if cg, err = DetectCgroups("/sys/fs/cgroup"); err != nil {
			t.Fatal(err)
		}
	}
	self, _ := newRuntime(t, cg)
	lost := ID{Pod: "p", Container: "c"}
	if err := os.MkdirAll(self.runDir(lost), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(self.runDir(lost), "started"), []byte("pid=999999\nsupervisor=999999\nstarted=2026-01-01T00:00:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := self.Recover(); err != nil {
		t.Fatal(err)
	}
	if runs, _ := self.Runs("p"); runs["c"][0].Reason != ReasonUnknown {
		t.Fatalf("own lost run not reaped: %+v", runs["c"][0])
	}
	runs, err := other.Runs(id.Pod)
	if err != nil || len(runs["c"]) != 1 || !runs["c"][0].Running {
		t.Fatalf("the other node's run after this node's start-up: %+v, %v", runs, err)
	}
}
