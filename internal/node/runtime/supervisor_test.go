package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// echoSupervisor has the supervisor of this very binary parse args as it
// would for a run, and returns what it parsed (its echo mode).
func echoSupervisor(t *testing.T, args supervisorArgs) string {
	t.Helper()
	if !haveSupervisor {
		t.Fatal("built without cgo: no supervisor (the build needs gcc: README Install)")
	}
	payload, err := args.encode()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "__batchd_supervise_echo")
	cmd.Args[0] = "batchd-supervise"
	cmd.ExtraFiles = []*os.File{pr}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	if _, err := pw.Write(payload); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("echo: %v\n%s", err, out.String())
	}
	return out.String()
}

// echoOf is what the supervisor's echo mode prints for args, field by field.
func echoOf(a supervisorArgs) string {
	var b strings.Builder
	line := func(format string, v ...any) { fmt.Fprintf(&b, format+"\n", v...) }
	line("dir=%s", a.Dir)
	if a.Log != "" {
		line("log=%s", a.Log)
		if a.LogMaxSize > 0 && a.LogMaxFiles >= 2 {
			line("log-max-size=%d", a.LogMaxSize)
			line("log-max-files=%d", a.LogMaxFiles)
		}
	}
	if a.Hostname != "" {
		line("hostname=%s", a.Hostname)
	}
	if a.WorkDir != "" {
		line("workdir=%s", a.WorkDir)
	}
	if a.Argv0Name != "" {
		line("argv0-name=%s", a.Argv0Name)
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{a.Attach, "attach"}, {a.Stdin, "stdin"}, {a.StdinOnce, "stdin-once"}, {a.TTY, "tty"}} {
		if f.on {
			line("%s", f.name)
		}
	}
	if a.Join > 0 {
		line("join=%d", a.Join)
	}
	for _, e := range a.Env {
		line("env=%s", e)
	}
	for _, c := range a.Cgroups {
		line("cgroup=%s", c)
	}
	if a.OOM != nil {
		line("oom=%s %s", a.OOM.File, a.OOM.Key)
	}
	if o := a.Overlay; o != nil {
		line("overlay=%s %s %s %s", o.Lower, o.Upper, o.Work, o.Target)
	}
	if d := a.RuncDelete; d != nil {
		line("runc-delete=%s %s", d.Runtime, d.ID)
	}
	for _, m := range a.Masks {
		line("mask=%s", m)
	}
	if u := a.User; u != nil {
		line("user=%d %d %s", u.UID, u.GID, groupList(u.Groups))
	}
	for _, m := range a.Mounts {
		mode := "rw"
		if m.ReadOnly {
			mode = "ro"
		}
		line("mount=%s %s %s", m.Source, m.Target, mode)
	}
	for _, a := range a.Argv {
		line("argv=%s", a)
	}
	return b.String()
}

// TestSupervisorParsesWhatGoEncodes: every option the runtime gives a
// supervisor reads back, through supervise.c's own parser, as the value
// it was built from; arguments that look like options stay arguments.
func TestSupervisorParsesWhatGoEncodes(t *testing.T) {
	for name, args := range map[string]supervisorArgs{
		"host, everything": {
			Dir: "/data/pods/u/containers/c/0", Env: []string{"PATH=/usr/bin", "X=a b", "EMPTY=", "DASHES=--mount / /mnt rw"},
			Log: "/data/pods/u/containers/c/0.log", LogMaxSize: 10 << 20, LogMaxFiles: 5,
			Hostname: "worker-0", WorkDir: "/tmp", Argv0Name: "<redacted: from secret s key k>",
			Attach: true, Stdin: true, StdinOnce: true, TTY: true,
			Masks: []string{"/data", "/etc/token"}, User: &User{UID: 1000, GID: 3000, Groups: []int64{2000, 4000, 5000}},
			Mounts:  []Mount{{Source: "/src/a", Target: "/a", ReadOnly: true}, {Source: "/src/b c", Target: "/b", ReadOnly: false}},
			Cgroups: []string{"/sys/fs/cgroup/batchd/u/c-0"}, OOM: &OOMCounter{File: "/sys/fs/cgroup/batchd/u/c-0/memory.events", Key: "oom_kill"},
			Argv: []string{"sh", "-c", "echo --env X=y", "--", "", "--user"},
		},
		"oci": {
			Dir: "/d", Env: supervisorEnv, Log: "/d.log", WorkDir: "/d/bundle", Attach: true, Stdin: true,
			Overlay:    &overlayArgs{Lower: "/images/x", Upper: "/d/upper", Work: "/d/work", Target: "/d/bundle/rootfs"},
			RuncDelete: &runcDelete{Runtime: "/usr/sbin/runc", ID: "batchd-0123"},
			Argv:       []string{"/usr/sbin/runc", "run", "--keep", "batchd-0123"},
		},
		"ephemeral, joining a container": {
			Dir: "/d", Log: "/d.log", Attach: true, Stdin: true, TTY: true, Join: 4242,
			Mounts: []Mount{{Source: "/src/v", Target: "/v"}}, Argv: []string{"sh"},
		},
		"user without groups, no log": {Dir: "/d", User: &User{UID: 0, GID: 0}, Argv: []string{"true"}},
		"log cap needs two files":     {Dir: "/d", Log: "/l", LogMaxSize: 100, LogMaxFiles: 1, Argv: []string{"true"}},
	} {
		t.Run(name, func(t *testing.T) {
			if got, want := echoSupervisor(t, args), echoOf(args); got != want {
				t.Errorf("the supervisor parsed\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestEncodeRefusesNUL(t *testing.T) {
	for _, a := range []supervisorArgs{
		{Dir: "/d", Argv: []string{"a\x00--mount"}},
		{Dir: "/d", Env: []string{"X=\x00"}, Argv: []string{"true"}},
		{Dir: "/d", Hostname: "h\x00--user", Argv: []string{"true"}},
	} {
		if _, err := a.encode(); err == nil {
			t.Errorf("%+v encoded", a)
		}
	}
}
