package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/node/runtime"
)

// testRegistry serves a registry on 127.0.0.1 (plain HTTP, as registries on
// loopback are spoken to) holding busybox-static images, and returns its host.
func testRegistry(t *testing.T, images map[string]v1.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	host := ln.Addr().String()
	for ref, cfg := range images {
		img, err := image.Busybox("/bin/busybox", cfg)
		if err != nil {
			t.Fatal(err)
		}
		r, err := name.ParseReference(host + "/" + ref)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(r, img); err != nil {
			t.Fatal(err)
		}
	}
	return host
}

// TestOCIPodsRunTheirImages: pods with runtimeClassName oci pull their image
// from a registry and run it with runc: the image's ENTRYPOINT/CMD, env,
// working directory and USER apply unless the pod overrides them; the
// root file system is the image's, private and writable; pull policies and
// failures give the kubelet's events and waiting reasons.
func TestOCIPodsRunTheirImages(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("runc needs root (CI runs as root)")
	}
	host := testRegistry(t, map[string]v1.Config{
		"tools/greeter:1": {
			Entrypoint: []string{"/bin/sh", "-c"},
			Cmd:        []string{`echo "cmd: $GREETING from $(pwd) as $(id -u):$(id -g) on $(hostname)"; ls /etc/image-only 2>/dev/null || echo "root is the image's: $(ls /bin)"`},
			Env:        []string{"PATH=/bin", "GREETING=hello"},
			WorkingDir: "/tmp",
			User:       "nobody",
		},
	})
	n := ns(t)
	pod := func(name, extra string) string {
		return `apiVersion: v1
kind: Pod
metadata:
  name: ` + name + `
spec:
  runtimeClassName: oci
  restartPolicy: Never
  containers:
  - name: c
    image: ` + host + `/tools/greeter:1
` + extra
	}
	// The image's own command, env, working dir and user.
	apply(t, n, pod("defaults", "    imagePullPolicy: Always\n"))
	waitFor(t, n, "pod/defaults", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "logs", "-n", n, "defaults"), "cmd: hello from /tmp as 65534:65534 on defaults\n", "root is the image's: busybox\nsh\n")
	mustSoon(t, func() result {
		return kubectl(t, "", "get", "events", "-n", n, "--field-selector", "involvedObject.name=defaults")
	}, `Pulling image "`+host+`/tools/greeter:1"`, `Successfully pulled image "`+host+`/tools/greeter:1" in `)
	// The status names the image and its digest, as containerd reports them.
	must(t, kubectl(t, "", "get", "pod", "defaults", "-n", n, "-o", "jsonpath={.status.containerStatuses[0].image} {.status.containerStatuses[0].imageID}"),
		host+"/tools/greeter:1 "+host+"/tools/greeter@sha256:")
	must(t, kubectl(t, "", "describe", "pod", "defaults", "-n", n), "Image ID:       "+host+"/tools/greeter@sha256:")

	// args replace CMD; env and runAsUser override the image's; the root is
	// writable and private to the container.
	apply(t, n, pod("overrides", `    imagePullPolicy: IfNotPresent
    args: ['echo "args: $GREETING as $(id -u)"; echo x > /bin/new && echo wrote']
    env: [{name: GREETING, value: bonjour}]
    securityContext: {runAsUser: 0}
`))
	waitFor(t, n, "pod/overrides", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "logs", "-n", n, "overrides"), "args: bonjour as 0\nwrote\n")
	mustSoon(t, func() result {
		return kubectl(t, "", "get", "events", "-n", n, "--field-selector", "involvedObject.name=overrides")
	}, `Container image "`+host+`/tools/greeter:1" already present on machine`)
	// command replaces ENTRYPOINT (and drops CMD); the first pod's write is gone.
	apply(t, n, pod("command", `    command: ["/bin/sh", "-c", "ls /bin/new 2>&1 || true"]
`))
	waitFor(t, n, "pod/command", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "logs", "-n", n, "command"), "No such file or directory")

	// The service-account files the node projected, readable by the image's
	// user (nobody): the namespace and a token.
	apply(t, n, pod("token", `    command: ["/bin/sh", "-c", "d=/var/run/secrets/kubernetes.io/serviceaccount; echo ns=$(cat $d/namespace); test -s $d/token && echo token=yes"]
`))
	waitFor(t, n, "pod/token", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "logs", "-n", n, "token"), "ns="+n+"\ntoken=yes\n")

	// Never without the image; a pull that fails.
	apply(t, n, `apiVersion: v1
kind: Pod
metadata:
  name: never
spec:
  runtimeClassName: oci
  containers:
  - name: c
    image: `+host+`/tools/absent:1
    imagePullPolicy: Never
`)
	waitFor(t, n, "pod/never", "{.status.containerStatuses[0].state.waiting.reason}", "ErrImageNeverPull")
	must(t, kubectl(t, "", "get", "pod", "never", "-n", n, "-o", "jsonpath={.status.containerStatuses[0].state.waiting.message}"),
		`Container image "`+host+`/tools/absent:1" is not present with pull policy of Never`)
	apply(t, n, `apiVersion: v1
kind: Pod
metadata:
  name: missing
spec:
  runtimeClassName: oci
  containers:
  - name: c
    image: `+host+`/tools/absent:1
`)
	eventually(t, "missing waits with ErrImagePull or ImagePullBackOff", func() bool {
		r := get(t, n, "pod/missing", "{.status.containerStatuses[0].state.waiting.reason}")
		return r == "ErrImagePull" || r == "ImagePullBackOff"
	})
	mustSoon(t, func() result {
		return kubectl(t, "", "get", "events", "-n", n, "--field-selector", "involvedObject.name=missing")
	}, `Failed to pull image "`+host+`/tools/absent:1"`)

	// RuntimeClasses: host and oci exist; a class of the user's naming the oci
	// handler runs images; one naming a handler this node lacks leaves its pod
	// ContainerCreating with FailedCreatePodSandBox; a missing class is refused.
	rcs := kubectl(t, "", "get", "runtimeclass", "host", "oci")
	must(t, rcs, "NAME   HANDLER   AGE\n")
	for _, row := range []string{"\nhost   host      ", "\noci    oci       "} {
		if !strings.Contains(rcs.stdout, row) {
			t.Errorf("kubectl get runtimeclass lacks %q:\n%s", row, rcs)
		}
	}
	must(t, kubectl(t, "", "get", "nodes", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="OCIRuntime")].message}`),
		`pods without runtimeClassName run from their images with "oci" where the node can have them`)
	must(t, kubectl(t, "", "get", "nodes", "-o", `jsonpath={.items[0].status.runtimeHandlers[*].name}`), "host oci runc crun")
	classes := `apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: ` + n + `-runc
handler: oci
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: ` + n + `-kata
handler: kata
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: ` + n + `-crun
handler: crun
`
	must(t, kubectl(t, classes, "apply", "-f", "-"), "runtimeclass.node.k8s.io/"+n+"-runc created")
	t.Cleanup(func() { kubectl(t, classes, "delete", "-f", "-") })
	byClass := func(name, class string) string {
		return strings.Replace(pod(name, ""), "runtimeClassName: oci", "runtimeClassName: "+class, 1)
	}
	apply(t, n, byClass("by-class", n+"-runc"))
	waitFor(t, n, "pod/by-class", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "logs", "-n", n, "by-class"), "cmd: hello from /tmp as 65534:65534 on by-class\n")
	apply(t, n, byClass("by-crun", n+"-crun"))
	waitFor(t, n, "pod/by-crun", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "logs", "-n", n, "by-crun"), "cmd: hello from /tmp as 65534:65534 on by-crun\n")
	apply(t, n, byClass("no-handler", n+"-kata"))
	eventually(t, "FailedCreatePodSandBox for a handler the node lacks", func() bool {
		return strings.Contains(kubectl(t, "", "get", "events", "-n", n, "--field-selector", "involvedObject.name=no-handler,reason=FailedCreatePodSandBox").stdout,
			`Failed to create pod sandbox: no runtime for "kata" is configured`)
	})
	must(t, kubectl(t, "", "get", "pod", "no-handler", "-n", n), "ContainerCreating")
	fails(t, kubectl(t, byClass("no-class", "gvisor"), "apply", "-n", n, "-f", "-"),
		`pods "no-class" is forbidden: pod rejected: RuntimeClass "gvisor" not found`)

	// A read-only root file system, and a container over its memory limit.
	apply(t, n, pod("read-only", `    command: ["/bin/sh", "-c", "touch /bin/x 2>&1 || echo refused; touch /tmp/x 2>&1 || echo also refused"]
    securityContext: {readOnlyRootFilesystem: true}
`))
	waitFor(t, n, "pod/read-only", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "logs", "-n", n, "read-only"), "Read-only file system\nrefused\n")
	apply(t, n, pod("hog", `    command: ["/bin/sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' x); echo survived"]
    resources: {limits: {memory: 32Mi}}
`))
	waitFor(t, n, "pod/hog", "{.status.phase}", "Failed")
	if got := get(t, n, "pod/hog", "{.status.containerStatuses[0].state.terminated.reason}/{.status.containerStatuses[0].state.terminated.exitCode}"); got != "OOMKilled/137" {
		t.Errorf("hog terminated %s, want OOMKilled/137", got)
	}

	// fsGroup, as with the host runtime.
	must(t, kubectl(t, "", "create", "secret", "generic", "fsgroup-creds", "-n", n, "--from-literal=token=s3cret"), "created")
	apply(t, n, fsGroupPod("fsgroup", "oci", host+"/tools/greeter:1"))
	waitFor(t, n, "pod/fsgroup", "{.status.phase}", "Succeeded")
	if got := kubectl(t, "", "logs", "-n", n, "fsgroup").stdout; got != fsGroupOutput {
		t.Errorf("fsGroup pod logs = %q, want %q", got, fsGroupOutput)
	}

	// A preStop exec hook runs inside the container before SIGTERM.
	hookDir := t.TempDir()
	if err := os.Chmod(hookDir, 0o777); err != nil { // the image's user is nobody
		t.Fatal(err)
	}
	apply(t, n, pod("hooked", `    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done"]
    lifecycle:
      preStop:
        exec: {command: ["/bin/sh", "-c", "echo \"bye from $(hostname), $GREETING\" > /hook/prestop"]}
    volumeMounts: [{name: hook, mountPath: /hook}]
  volumes:
  - name: hook
    hostPath: {path: `+hookDir+`}
`))
	eventually(t, "hooked ready", func() bool { return kubectl(t, "", "logs", "-n", n, "hooked").stdout == "ready\n" })
	must(t, kubectl(t, "", "delete", "pod", "hooked", "-n", n), `pod "hooked" deleted`)
	if b, err := os.ReadFile(filepath.Join(hookDir, "prestop")); err != nil || string(b) != "bye from hooked, hello\n" {
		t.Errorf("preStop hook: %q %v\n%s", b, err, kubectl(t, "", "get", "events", "-n", n, "--field-selector", "involvedObject.name=hooked"))
	}

	// A Job runs its pods the same way.
	apply(t, n, `apiVersion: batch/v1
kind: Job
metadata:
  name: oci-job
spec:
  completions: 2
  template:
    spec:
      runtimeClassName: oci
      restartPolicy: Never
      containers:
      - name: c
        image: `+host+`/tools/greeter:1
        args: ["echo done in $(hostname)"]
`)
	waitCondition(t, n, "oci-job", "Complete")
	if out := kubectl(t, "", "logs", "-n", n, "job/oci-job").stdout; !strings.HasPrefix(out, "done in oci-job-") {
		t.Errorf("job logs: %q", out)
	}
}

// TestOCIContainersSurviveServerCrashAndUnusedImagesGo runs a server whose
// image garbage collection is always over its threshold. Pulling a second
// image removes the first, which no pod uses any more, and the node says
// that it could not free enough. A Job's runc container then outlives a
// kill -9 of the server: after the restart the Job completes once, with the
// container's own output.
func TestOCIContainersSurviveServerCrashAndUnusedImagesGo(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("runc needs root (CI runs as root)")
	}
	host := testRegistry(t, map[string]v1.Config{
		"gc/one:1": {Cmd: []string{"/bin/sh", "-c", "echo one"}, Env: []string{"PATH=/bin", "N=1"}},
		"gc/two:1": {Cmd: []string{"/bin/sh", "-c", "echo two"}, Env: []string{"PATH=/bin", "N=2"}},
	})
	data := filepath.Join(t.TempDir(), "data")
	t.Cleanup(func() { runtime.KillAll(filepath.Join(data, "pods")) })
	args := []string{"--node-name", "ocicrash", "--image-gc-high-threshold=1", "--image-gc-low-threshold=0", "--image-minimum-gc-age=0s"}
	srv, _, logPath := ownServer(t, data, args...)
	k := func(stdin string, args ...string) result {
		return runKubectl(t, batchd, append([]string{"kubectl", "--kubeconfig", srv.Kubeconfig}, args...), stdin)
	}
	images := func() string {
		return runKubectl(t, batchd, []string{"image", "ls", "--data-dir", data}, "").stdout
	}

	must(t, k(`apiVersion: v1
kind: Pod
metadata: {name: old}
spec:
  runtimeClassName: oci
  restartPolicy: Never
  containers: [{name: c, image: `+host+`/gc/one:1}]
`, "apply", "-f", "-"), "pod/old created")
	eventually(t, "old Succeeded", func() bool {
		return k("", "get", "pod", "old", "-o", "jsonpath={.status.phase}").stdout == "Succeeded"
	})
	must(t, k("", "logs", "old"), "one\n")
	if !strings.Contains(images(), "gc/one") {
		t.Fatalf("image one not stored:\n%s", images())
	}
	must(t, k("", "delete", "pod", "old"), `pod "old" deleted`)

	release := filepath.Join(t.TempDir(), "release")
	must(t, k(`apiVersion: batch/v1
kind: Job
metadata: {name: crashy}
spec:
  backoffLimit: 0
  template:
    spec:
      runtimeClassName: oci
      restartPolicy: Never
      containers:
      - name: c
        image: `+host+`/gc/two:1
        command: ["sh", "-c", "while [ ! -f /signal/release ]; do sleep 0.1; done; echo released from $(hostname)"]
        volumeMounts: [{name: signal, mountPath: /signal}]
      volumes:
      - name: signal
        hostPath: {path: `+filepath.Dir(release)+`}
`, "apply", "-f", "-"), "job.batch/crashy created")
	must(t, k(`apiVersion: v1
kind: Pod
metadata: {name: lost}
spec:
  runtimeClassName: oci
  restartPolicy: Never
  containers: [{name: c, image: `+host+`/gc/two:1, command: ["sh", "-c", "sleep 3605"]}]
`, "apply", "-f", "-"), "pod/lost created")
	eventually(t, "crashy and lost running", func() bool {
		return k("", "get", "pods", "-l", "job-name=crashy", "-o", "jsonpath={.items[*].status.phase}").stdout == "Running" &&
			len(processes("sleep 3605")) > 0
	})
	lostUID := k("", "get", "pod", "lost", "-o", "jsonpath={.metadata.uid}").stdout
	lostID := runtime.OCIContainerID(runtime.ID{Pod: lostUID, Container: "c"})
	// Pulling two set off a collection: one, unused, is gone; two stays.
	eventually(t, "image one collected", func() bool { return !strings.Contains(images(), "gc/one") })
	if ls := images(); !strings.Contains(ls, "gc/two") {
		t.Errorf("image two, in use, was collected:\n%s", ls)
	}
	waitLog(t, logPath, `"Removing image to free bytes" image="`+host+`/gc/one:1"`)
	eventually(t, "FreeDiskSpaceFailed on the node", func() bool {
		return strings.Contains(k("", "get", "events", "--field-selector", "involvedObject.kind=Node,reason=FreeDiskSpaceFailed").stdout,
			"Failed to garbage collect required amount of images. Attempted to free")
	})

	srv.Kill()
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// lost's supervisor and runc die too; its container runs on, orphaned.
	killSupervisors(t, filepath.Join(data, "pods"), lostUID)
	if out, err := exec.Command("pkill", "-KILL", "-f", lostID).CombinedOutput(); err != nil {
		t.Fatalf("pkill: %v %s", err, out)
	}
	srv, _, _ = ownServer(t, data, args...)
	eventually(t, "crashy Complete after the restart", func() bool {
		return k("", "get", "job", "crashy", "-o", "jsonpath={.status.succeeded}/{.status.failed}").stdout == "1/"
	})
	if pods := k("", "get", "pods", "-l", "job-name=crashy", "-o", "name").stdout; strings.Count(pods, "pod/") != 1 {
		t.Errorf("crashy has pods %q, want exactly one", pods)
	}
	must(t, k("", "logs", "job/crashy"), "released from crashy-")
	// The orphan is found, ended, and forgotten by runc.
	eventually(t, "lost reported", func() bool {
		return k("", "get", "pod", "lost", "-o", "jsonpath={.status.containerStatuses[0].state.terminated.reason}/{.status.containerStatuses[0].state.terminated.exitCode}").stdout == "ContainerStatusUnknown/137"
	})
	eventually(t, "lost's container gone", func() bool { return len(processes("sleep 3605")) == 0 })
	if out, _ := exec.Command("runc", "list", "-q").Output(); strings.Contains(string(out), lostID) {
		t.Errorf("runc still lists %s:\n%s", lostID, out)
	}
}

// TestImagesByDefault: under the default --default-runtime auto a pod
// without runtimeClassName runs from its image when the node can have it —
// pulled from a registry, or imported with `batchd image import` and used
// although its pull fails (no network) — and otherwise runs its command on
// the host, with an ImageUnavailable event and a line in `batchd run`.
func TestImagesByDefault(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("runc needs root (CI runs as root)")
	}
	// Pulled from a registry on loopback, on the shared server.
	host := testRegistry(t, map[string]v1.Config{"tools/plain:1": {Env: []string{"PATH=/bin"}}})
	n := ns(t)
	apply(t, n, `apiVersion: v1
kind: Pod
metadata: {name: pulled}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: `+host+`/tools/plain:1
    command: [sh, -c, 'echo "in the image: $(ls /bin | tr "\n" " ")"']
`)
	waitFor(t, n, "pod/pulled", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "logs", "-n", n, "pulled"), "in the image: busybox sh \n")
	must(t, kubectl(t, "", "get", "pod", "pulled", "-n", n, "-o", "jsonpath={.status.containerStatuses[0].imageID}"), host+"/tools/plain@sha256:")
	must(t, kubectl(t, "", "get", "nodes", "-o", `jsonpath={.items[0].status.conditions[?(@.type=="OCIRuntime")].message}`),
		`pods without runtimeClassName run from their images with "oci" where the node can have them, else as commands on this host with an ImageUnavailable event (--default-runtime=auto)`)

	// Imported before the server starts, on a machine without a registry.
	img, err := image.Busybox("/bin/busybox", v1.Config{Env: []string{"PATH=/bin"}})
	if err != nil {
		t.Fatal(err)
	}
	marker, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return tarOf(map[string]string{"etc/imported": "yes\n"}) })
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, marker); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tarPath := filepath.Join(dir, "busybox.tar")
	refs := map[name.Reference]v1.Image{}
	for _, tag := range []string{"busybox:1.36", "busybox:latest"} {
		ref, err := name.ParseReference(tag)
		if err != nil {
			t.Fatal(err)
		}
		refs[ref] = img
	}
	if err := tarball.MultiRefWriteToFile(tarPath, refs); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	must(t, runKubectl(t, batchd, []string{"image", "import", "--data-dir", data, tarPath}, ""), "Loaded image: ")
	t.Cleanup(func() { runtime.KillAll(filepath.Join(data, "pods")) })
	srv, _, _ := ownServer(t, data, "--node-name", "images")
	k := func(stdin string, args ...string) result {
		return runKubectl(t, batchd, append([]string{"kubectl", "--kubeconfig", srv.Kubeconfig}, args...), stdin)
	}
	// The seed's `image: busybox` (pull policy Always): the pull fails, the
	// stored image serves; its shell has $RANDOM, as busybox's does.
	must(t, k(`apiVersion: batch/v1
kind: Job
metadata: {name: imported}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: [sh, -c, 'echo "imported: $(cat /etc/imported) random: ${RANDOM:-none}"']
`, "apply", "-f", "-"), "job.batch/imported created")
	eventually(t, "imported Complete", func() bool {
		return k("", "get", "job", "imported", "-o", `jsonpath={.status.conditions[?(@.type=="Complete")].status}`).stdout == "True"
	})
	logs := k("", "logs", "job/imported")
	must(t, logs, "imported: yes random: ")
	if strings.Contains(logs.stdout, "random: none") {
		t.Errorf("$RANDOM is empty: the command ran under the host's sh:\n%s", logs)
	}
	must(t, k("", "get", "pods", "-l", "job-name=imported", "-o", "jsonpath={.items[0].status.containerStatuses[0].imageID}"), "docker.io/library/busybox@sha256:")

	// An unreachable registry: the command runs on the host, saying why; a
	// second pod of the image within the back-off does not pull again.
	for _, p := range []string{"unreachable", "again"} {
		must(t, k(`apiVersion: v1
kind: Pod
metadata: {name: `+p+`}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: 127.0.0.1:1/nope:1
    command: [sh, -c, 'test -f /etc/debian_version && echo "on the host"']
`, "apply", "-f", "-"), "pod/"+p+" created")
		eventually(t, p+" Succeeded", func() bool {
			return k("", "get", "pod", p, "-o", "jsonpath={.status.phase}").stdout == "Succeeded"
		})
		must(t, k("", "logs", p), "on the host\n")
	}
	mustSoon(t, func() result {
		return k("", "get", "events", "--field-selector", "involvedObject.name=unreachable,reason=ImageUnavailable", "-o", "jsonpath={.items[*].type} {.items[*].message}")
	}, `Warning image "127.0.0.1:1/nope:1" cannot be used: pull failed: `, `: running the container's command on this host instead (--default-runtime=auto)`)
	mustSoon(t, func() result {
		return k("", "get", "events", "--field-selector", "involvedObject.name=again,reason=ImageUnavailable", "-o", "jsonpath={.items[*].message}")
	}, `image "127.0.0.1:1/nope:1" cannot be used: its last pull failed `)
	if ev := k("", "get", "events", "--field-selector", "involvedObject.name=again,reason=Pulling", "-o", "name"); ev.stdout != "" {
		t.Errorf("the second pod pulled again within the back-off: %s", ev)
	}

	// batchd run says so, once per image.
	r := batchdRun(t, `apiVersion: batch/v1
kind: Job
metadata: {name: offline}
spec:
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: 127.0.0.1:1/nope:2
        command: [sh, -c, 'echo done']
`, "-f", "-", "--kubeconfig", srv.Kubeconfig)
	if r.code != 0 || strings.Count(r.stdout, `image "127.0.0.1:1/nope:2" cannot be used: pull failed: `) != 1 ||
		!strings.Contains(r.stdout, "running the container's command on this host instead (--default-runtime=auto)\n") {
		t.Errorf("batchd run of an unreachable image: %+v", r)
	}
}

// tarOf is a tar stream of files (name → content).
func tarOf(files map[string]string) (io.ReadCloser, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return io.NopCloser(&buf), nil
}
