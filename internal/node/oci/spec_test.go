package oci

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCommand(t *testing.T) {
	ep, cmd := []string{"/entry"}, []string{"--default"}
	for _, tc := range []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"neither: ENTRYPOINT + CMD", nil, nil, []string{"/entry", "--default"}},
		{"args replace CMD", nil, []string{"--mine"}, []string{"/entry", "--mine"}},
		{"command replaces ENTRYPOINT and drops CMD", []string{"/bin/sh"}, nil, []string{"/bin/sh"}},
		{"command and args", []string{"/bin/sh"}, []string{"-c", "date"}, []string{"/bin/sh", "-c", "date"}},
	} {
		if got := Command(ep, cmd, tc.command, tc.args); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := Command(nil, []string{"sh"}, nil, nil); !reflect.DeepEqual(got, []string{"sh"}) {
		t.Errorf("CMD only: %q", got)
	}
}

func TestEnv(t *testing.T) {
	got := Env([]string{"PATH=/usr/bin:/bin", "LANG=C", "IMAGE=1"}, []string{"LANG=ko_KR.UTF-8", "POD=1", "PATH=/opt/bin"})
	want := []string{"PATH=/opt/bin", "LANG=ko_KR.UTF-8", "IMAGE=1", "POD=1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestImageUser(t *testing.T) {
	passwd := "root:x:0:0:root:/root:/bin/sh\npostgres:x:70:70::/var/lib/postgresql:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"
	group := "root:x:0:\npostgres:x:70:\ndocker:x:999:postgres,nobody\nwheel:x:10:root\n"
	for _, tc := range []struct {
		user string
		want User
		err  string
	}{
		{"", User{}, ""},
		{"postgres", User{UID: 70, GID: 70, Groups: []uint32{999}}, ""},
		{"70", User{UID: 70, GID: 70, Groups: []uint32{999}}, ""},
		{"1234", User{UID: 1234}, ""},
		{"1234:5678", User{UID: 1234, GID: 5678}, ""},
		{"nobody:docker", User{UID: 65534, GID: 999}, ""},
		{"root", User{UID: 0, GID: 0, Groups: []uint32{10}}, ""},
		{"ghost", User{}, "unable to find user ghost: no matching entries in passwd file"},
		{"nobody:ghosts", User{}, "unable to find group ghosts: no matching entries in group file"},
	} {
		got, err := ImageUser(tc.user, strings.NewReader(passwd), strings.NewReader(group))
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: err %v, want %q", tc.user, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v %v, want %+v", tc.user, got, err, tc.want)
		}
	}
	if u, err := ImageUser("1000", nil, nil); err != nil || u.UID != 1000 {
		t.Errorf("no passwd file: %+v %v", u, err)
	}
}

func TestCapabilities(t *testing.T) {
	def := Capabilities(nil, nil)
	if len(def) != 14 || !slices.Contains(def, "CAP_CHOWN") || slices.Contains(def, "CAP_SYS_ADMIN") {
		t.Errorf("default set: %v", def)
	}
	got := Capabilities([]string{"NET_ADMIN"}, []string{"ALL"})
	if !reflect.DeepEqual(got, []string{"CAP_NET_ADMIN"}) {
		t.Errorf("drop ALL, add NET_ADMIN: %v", got)
	}
	got = Capabilities(nil, []string{"CHOWN", "kill"})
	if slices.Contains(got, "CAP_CHOWN") || slices.Contains(got, "CAP_KILL") || len(got) != 12 {
		t.Errorf("drop two: %v", got)
	}
	if got := Capabilities([]string{"ALL"}, nil); len(got) != len(allCaps) {
		t.Errorf("add ALL: %d", len(got))
	}
}

func TestSpec(t *testing.T) {
	s := Spec(Input{
		Args: []string{"/bin/sh", "-c", "id"}, Env: []string{"A=1"}, Hostname: "worker-0", Root: "/r", ReadOnlyRoot: true,
		User:   User{UID: 1000, GID: 2000, Groups: []uint32{3000}},
		Mounts: []Mount{{Source: "/host/data", Destination: "/data", ReadOnly: true}}, NoNewPrivileges: true,
		CgroupsPath: "/batchd/c1", MemoryLimit: 64 << 20, CPUMillis: 500,
	})
	if s.Process.Cwd != "/" || s.Process.User.UID != 1000 || !s.Process.NoNewPrivileges || !s.Root.Readonly || s.Hostname != "worker-0" {
		t.Errorf("process/root: %+v %+v", s.Process, s.Root)
	}
	var ns []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		ns = append(ns, n.Type)
	}
	if !reflect.DeepEqual(ns, []specs.LinuxNamespaceType{specs.PIDNamespace, specs.MountNamespace, specs.UTSNamespace, specs.IPCNamespace}) {
		t.Errorf("namespaces %v: want pid, mount, uts, ipc and the host network", ns)
	}
	last := s.Mounts[len(s.Mounts)-1]
	if last.Destination != "/data" || last.Type != "bind" || !slices.Contains(last.Options, "ro") {
		t.Errorf("volume mount %+v", last)
	}
	if *s.Linux.Resources.Memory.Limit != 64<<20 || *s.Linux.Resources.CPU.Quota != 50000 || *s.Linux.Resources.CPU.Period != 100000 {
		t.Errorf("limits %+v %+v", s.Linux.Resources.Memory, s.Linux.Resources.CPU)
	}
	if !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") {
		t.Errorf("masked paths %v", s.Linux.MaskedPaths)
	}
	p := Spec(Input{Args: []string{"x"}, Privileged: true})
	if len(p.Linux.MaskedPaths) != 0 || !p.Linux.Resources.Devices[0].Allow || !slices.Contains(p.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
		t.Errorf("privileged: %+v", p.Linux)
	}
}
