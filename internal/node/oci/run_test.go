package oci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/node/runtime"
)

// bundle writes an OCI bundle around a busybox-static root file system.
func bundle(t *testing.T, in Input) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	if err := image.BusyboxRoot("/bin/busybox", root); err != nil {
		t.Fatalf("%v: install Debian's busybox-static (.ci/run does)", err)
	}
	in.Root = root
	data, err := json.Marshal(Spec(in))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runtimes are the OCI runtimes the specs are checked with: Debian's runc
// and crun.
var runtimes = []string{"runc", "crun"}

// eachRuntime runs test with each of runtimes.
func eachRuntime(t *testing.T, test func(t *testing.T, bin string)) {
	for _, name := range runtimes {
		t.Run(name, func(t *testing.T) {
			path, err := exec.LookPath(name)
			if err != nil {
				t.Fatalf("%v: install %s (.ci/run does)", err, name)
			}
			if os.Geteuid() != 0 {
				t.Fatal("running a container needs root (CI runs as root)")
			}
			if cg, err := runtime.DetectCgroups("/sys/fs/cgroup"); err == nil && name == "crun" && cg.CrunProblem() != "" {
				t.Fatalf("%s (.ci/run does)", cg.CrunProblem())
			}
			test(t, path)
		})
	}
}

// run runs the bundle in dir with runtime bin.
func run(t *testing.T, bin, dir string) (string, int) {
	t.Helper()
	id := fmt.Sprintf("batchd-test-%d", time.Now().UnixNano())
	cmd := exec.Command(bin, "run", "--bundle", dir, id)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

// TestSpecRuns: the generated spec is accepted by runc and crun and gives
// what it says: argv, env, user, hostname, working dir, a read-only root, a
// read-only volume, its own pid namespace, the exit code.
func TestSpecRuns(t *testing.T) { eachRuntime(t, testSpecRuns) }

func testSpecRuns(t *testing.T, bin string) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "in"), []byte("from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `echo "argv=$0 env=$GREETING uid=$(id -u) gid=$(id -g) groups=$(id -G) host=$(hostname) pwd=$(pwd) pid=$$"
cat /data/in; echo
touch /rootfs-write 2>/dev/null && echo root-writable || echo root-read-only
touch /data/out 2>/dev/null && echo data-writable || echo data-read-only
exit 3`
	dir := bundle(t, Input{
		Args: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/bin", "GREETING=hi"}, Cwd: "/tmp", Hostname: "worker-0",
		User: User{UID: 1000, GID: 2000, Groups: []uint32{3000}}, ReadOnlyRoot: true, NoNewPrivileges: true,
		Mounts: []Mount{{Source: host, Destination: "/data", ReadOnly: true}},
	})
	out, code := run(t, bin, dir)
	if code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", code, out)
	}
	for _, want := range []string{
		"argv=/bin/sh env=hi uid=1000 gid=2000 groups=2000 3000 host=worker-0 pwd=/tmp pid=1\n",
		"from the host\n", "root-read-only\n", "data-read-only\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestSpecMemoryLimitOOMKills: a container over its memory limit is killed
// by the kernel (137), as a pod's OOMKilled container.
func TestSpecMemoryLimitOOMKills(t *testing.T) { eachRuntime(t, testSpecMemoryLimitOOMKills) }

func testSpecMemoryLimitOOMKills(t *testing.T, bin string) {
	dir := bundle(t, Input{
		Args: []string{"/bin/sh", "-c", "echo start; x=$(head -c 100000000 /dev/zero | tr '\\0' x); echo survived"},
		Env:  []string{"PATH=/bin"}, MemoryLimit: 32 << 20, CgroupsPath: fmt.Sprintf("/batchd-test/oom-%d", time.Now().UnixNano()),
	})
	out, code := run(t, bin, dir)
	if code != 137 || strings.Contains(out, "survived") {
		t.Fatalf("exit %d, want 137 (OOM kill):\n%s", code, out)
	}
}
