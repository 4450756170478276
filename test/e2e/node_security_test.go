package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/serverproc"
)

// smallPodsDisk runs a server of its own whose pods directory (containers'
// logs, run records, emptyDirs, private /tmp) is a tmpfs of size bytes: a
// small disk that a pod can fill. It returns the server, a kubectl for it
// and the pods directory.
func smallPodsDisk(t *testing.T, size string, args ...string) (*serverproc.Process, func(stdin string, args ...string) result, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("mounting a small file system needs root (CI runs as root)")
	}
	data := filepath.Join(t.TempDir(), "data")
	pods := filepath.Join(data, "pods")
	if err := os.MkdirAll(pods, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", pods, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Fatalf("mount a %s tmpfs: %v", size, err)
	}
	t.Cleanup(func() {
		runtime.KillAll(pods)
		_ = syscall.Unmount(pods, syscall.MNT_DETACH)
	})
	srv, _, _ := ownServer(t, data, args...)
	k := func(stdin string, args ...string) result {
		t.Helper()
		return runKubectl(t, batchd, append([]string{"kubectl", "--kubeconfig", srv.Kubeconfig, "-n", "default"}, args...), stdin)
	}
	return srv, k, pods
}

// TestFullDiskExitIsAFailure: a Job's container fills the disk that holds
// its exit record and exits 3. The record cannot be written; the run is an
// unknown outcome (ContainerStatusUnknown, 137) and the Job with
// backoffLimit 0 fails; before, the empty record read as exit code 0 and
// the Job completed.
func TestFullDiskExitIsAFailure(t *testing.T) {
	t.Parallel()
	srv, k, _ := smallPodsDisk(t, "4m", "--node-name", "fulldisk")
	must(t, k(`apiVersion: batch/v1
kind: Job
metadata: {name: filler}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      volumes: [{name: scratch, emptyDir: {}}]
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "dd if=/dev/zero of=/scratch/fill bs=64k 2>/dev/null; exit 3"]
        volumeMounts: [{name: scratch, mountPath: /scratch}]
`, "apply", "-f", "-"), "job.batch/filler created")
	eventually(t, "the Job ends", func() bool {
		s := getFrom(t, srv.Kubeconfig, "default", "job/filler", `{.status.conditions[?(@.status=="True")].type}`)
		return strings.Contains(s, "Failed") || strings.Contains(s, "Complete")
	})
	if s := k("", "get", "job", "filler", "-o", `jsonpath={.status.conditions[?(@.status=="True")].type} {.status.succeeded}/{.status.failed}`).stdout; !strings.Contains(s, "Failed") || strings.Contains(s, "Complete") {
		t.Errorf("Job ended as %q, want Failed", s)
	}
	got := k("", "get", "pods", "-l", "job-name=filler", "-o", "jsonpath={.items[0].status.containerStatuses[0].state.terminated.reason}/{.items[0].status.containerStatuses[0].state.terminated.exitCode}").stdout
	if got != "ContainerStatusUnknown/137" {
		t.Errorf("container terminated %s, want ContainerStatusUnknown/137", got)
	}
}

// volumeEscapes performs the volume attacks of CVE-2017-1002101/1002102 on
// runtime class (host or oci) with image: a subPath through a symlink the
// pod made to /, a subPathExpr that expands to `..`s (another pod's Secret
// volume, or the host's root), writes into Secret and ConfigMap volumes;
// and checks that each is refused as the kubelet refuses it.
func volumeEscapes(t *testing.T, n, class, image string) {
	must(t, kubectl(t, "", "create", "secret", "generic", "sec", "-n", n, "--from-literal=key=s3cret"), "created")
	must(t, kubectl(t, "", "create", "configmap", "cfg", "-n", n, "--from-literal=conf=original"), "created")
	pod := func(name, body string) string {
		return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  runtimeClassName: ` + class + `
  restartPolicy: Never
` + body
	}
	// A subPath through a link to / in an emptyDir.
	apply(t, n, pod("link", `  volumes: [{name: e, emptyDir: {}}]
  initContainers:
  - {name: plant, image: `+image+`, command: ["sh", "-c", "ln -s / /e/hostroot"], volumeMounts: [{name: e, mountPath: /e}]}
  containers:
  - name: main
    image: `+image+`
    command: ["sh", "-c", "ls /h/etc/passwd && echo ESCAPED"]
    volumeMounts: [{name: e, mountPath: /h, subPath: hostroot}]
`))
	waitFor(t, n, "pod/link", "{.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}",
		`CreateContainerConfigError: failed to prepare subPath for volumeMount "e" of container "main"`)
	// subPathExpr climbing out of the volume: to the host's root, and to
	// another pod's Secret volume.
	apply(t, n, pod("victim", `  volumes: [{name: sec, secret: {secretName: sec}}]
  containers: [{name: main, image: `+image+`, command: ["sh", "-c", "sleep 3610"], volumeMounts: [{name: sec, mountPath: /sec}]}]
`))
	waitFor(t, n, "pod/victim", "{.status.phase}", "Running")
	victim := get(t, n, "pod/victim", "{.metadata.uid}")
	for name, climb := range map[string]string{"climb-root": "../../../../../../../..", "climb-secret": "../../../" + victim + "/volumes/sec"} {
		apply(t, n, pod(name, `  securityContext: {runAsUser: 65534}
  volumes: [{name: e, emptyDir: {}}]
  containers:
  - name: main
    image: `+image+`
    command: ["sh", "-c", "cat /x/key /x/etc/passwd && echo ESCAPED"]
    env: [{name: CLIMB, value: "`+climb+`"}]
    volumeMounts: [{name: e, mountPath: /x, subPathExpr: $(CLIMB)}]
`))
		waitFor(t, n, "pod/"+name, "{.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}",
			"CreateContainerConfigError: unable to provision SubPath `"+climb+"`: must not contain '..'")
	}
	// Secret and ConfigMap volumes are read-only even when the mount does not say so.
	// (Its errors go to stdout: the log's order of two pipes is not the
	// order of writes, on a kubelet either.)
	apply(t, n, pod("writer", `  volumes: [{name: sec, secret: {secretName: sec}}, {name: cfg, configMap: {name: cfg}}]
  containers:
  - name: main
    image: `+image+`
    command: ["sh", "-c", "exec 2>&1; echo x > /sec/key && echo SECRET-WRITTEN; ln -sf /etc/passwd /cfg/conf && echo CONFIG-REPLACED; cat /sec/key; echo; cat /cfg/conf"]
    volumeMounts: [{name: sec, mountPath: /sec}, {name: cfg, mountPath: /cfg}]
`))
	waitFor(t, n, "pod/writer", "{.status.phase}", "Succeeded")
	out := kubectl(t, "", "logs", "-n", n, "writer").stdout
	if strings.Contains(out, "WRITTEN") || strings.Contains(out, "REPLACED") || !strings.HasSuffix(out, "s3cret\noriginal\n") {
		t.Errorf("writer: %q", out)
	}
	for _, p := range []string{"link", "climb-root", "climb-secret"} {
		if strings.Contains(kubectl(t, "", "logs", "-n", n, p).stdout, "ESCAPED") {
			t.Errorf("%s escaped", p)
		}
	}
	must(t, kubectl(t, "", "delete", "pod", "victim", "-n", n, "--grace-period=1"), "deleted")
}

func TestHostVolumeEscapesAreRefused(t *testing.T) {
	t.Parallel()
	volumeEscapes(t, ns(t), "host", "busybox")
}

func TestOCIVolumeEscapesAreRefused(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("runc needs root (CI runs as root)")
	}
	host := testRegistry(t, map[string]v1.Config{"escape/busybox:1": {Env: []string{"PATH=/bin"}}})
	volumeEscapes(t, ns(t), "oci", host+"/escape/busybox:1")
}

// TestMountPathsAreNotMadeOnTheHost: a pod running as 65534 mounts an
// emptyDir and a ConfigMap at paths the host lacks; it sees its volumes,
// and the host never gets those paths (they were made as root on the
// host's root before, and stayed after the pod).
func TestMountPathsAreNotMadeOnTheHost(t *testing.T) {
	t.Parallel()
	n := ns(t)
	top := fmt.Sprintf("/batchd-test-%d", time.Now().UnixNano())
	under := fmt.Sprintf("/etc/batchd-test-%d", time.Now().UnixNano())
	must(t, kubectl(t, "", "create", "configmap", "cfg", "-n", n, "--from-literal=conf=hello"), "created")
	release := filepath.Join(t.TempDir(), "release")
	if err := os.Chmod(filepath.Dir(release), 0o777); err != nil {
		t.Fatal(err)
	}
	apply(t, n, `apiVersion: v1
kind: Pod
metadata: {name: mounts}
spec:
  runtimeClassName: host
  restartPolicy: Never
  securityContext: {runAsUser: 65534, runAsGroup: 65534}
  volumes: [{name: e, emptyDir: {}}, {name: cfg, configMap: {name: cfg}}, {name: signal, hostPath: {path: `+filepath.Dir(release)+`}}]
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo mine > `+top+`/x/f && cat `+top+`/x/f `+under+`/conf/conf; echo; test -f /etc/passwd && echo host-root-visible; while [ ! -f /signal/release ]; do sleep 0.1; done"]
    volumeMounts: [{name: e, mountPath: `+top+`/x}, {name: cfg, mountPath: `+under+`/conf}, {name: signal, mountPath: /signal}]
`)
	eventually(t, "the pod wrote its volume", func() bool {
		return kubectl(t, "", "logs", "-n", n, "mounts").stdout == "mine\nhello\nhost-root-visible\n"
	})
	for _, p := range []string{top, under} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s exists on the host while the pod runs", p)
		}
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, n, "pod/mounts", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "delete", "pod", "mounts", "-n", n), "deleted")
	for _, p := range []string{top, under} {
		if _, err := os.Lstat(p); err == nil {
			os.RemoveAll(p)
			t.Errorf("%s was left on the host", p)
		}
	}
}

// TestManyVolumesAndGroupsWork: 130 volume mounts and 70 supplementalGroups
// are valid pods: every mount and group applies (the supervisor refused its
// own arguments past 128 mounts, and dropped groups past 64, silently).
func TestManyVolumesAndGroupsWork(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("supplementary groups need a root server")
	}
	n := ns(t)
	var vols, mounts, groups []string
	for i := 0; i < 130; i++ {
		vols = append(vols, fmt.Sprintf("{name: v%d, emptyDir: {}}", i))
		mounts = append(mounts, fmt.Sprintf("{name: v%d, mountPath: /v/%d}", i, i))
	}
	for g := 5000; g < 5070; g++ {
		groups = append(groups, fmt.Sprint(g))
	}
	apply(t, n, `apiVersion: v1
kind: Pod
metadata: {name: many}
spec:
  runtimeClassName: host
  restartPolicy: Never
  securityContext: {runAsUser: 65534, runAsGroup: 65534, supplementalGroups: [`+strings.Join(groups, ", ")+`]}
  volumes: [`+strings.Join(vols, ", ")+`]
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "for i in $(seq 0 129); do echo $i > /v/$i/n || exit 1; done; grep -l . /v/*/n | wc -l; id -G | wc -w"]
    volumeMounts: [`+strings.Join(mounts, ", ")+`]
`)
	waitFor(t, n, "pod/many", "{.status.phase}", "Succeeded")
	if got := kubectl(t, "", "logs", "-n", n, "many").stdout; got != "130\n71\n" {
		t.Errorf("logs = %q, want 130 mounts and 71 groups", got)
	}
}

// TestLogFloodStaysBounded: a pod writing its stdout as fast as it can on a
// node whose pods directory is a 32 MiB file system: its log is rotated and
// capped (1 MiB × 3 files here), the disk never fills, kubectl logs reads
// it, and kubectl delete pod ends it and removes its files.
func TestLogFloodStaysBounded(t *testing.T) {
	t.Parallel()
	_, k, pods := smallPodsDisk(t, "32m", "--node-name", "flood", "--container-log-max-size=1Mi", "--container-log-max-files=3")
	marker := fmt.Sprintf("flood-%d", time.Now().UnixNano())
	must(t, k(`apiVersion: v1
kind: Pod
metadata: {name: flood}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: busybox, command: ["yes", "`+marker+` ................................................................"]}]
`, "apply", "-f", "-"), "pod/flood created")
	eventually(t, "flood running", func() bool { return len(processes(marker)) > 0 })
	logBytes := func() (total int64, files int) {
		_ = filepath.WalkDir(pods, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(filepath.Base(p), ".log") {
				if fi, err := d.Info(); err == nil {
					total += fi.Size()
					files++
				}
			}
			return nil
		})
		return total, files
	}
	// Long enough for yes to write far more than the cap.
	eventually(t, "the log rotated", func() bool { _, n := logBytes(); return n == 3 })
	for i := 0; i < 20; i++ {
		if total, n := logBytes(); total > 3*(1<<20)+64<<10 || n > 3 {
			t.Fatalf("logs hold %d bytes in %d files, past 3 × 1 MiB", total, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(pods, &st); err != nil {
		t.Fatal(err)
	}
	if free := st.Bavail * uint64(st.Bsize); free < 16<<20 {
		t.Errorf("only %d bytes free on the pods' 32 MiB file system", free)
	}
	if out := k("", "logs", "flood", "--tail=2").stdout; strings.Count(out, marker) != 2 {
		t.Errorf("logs --tail=2 = %.400q (%d lines)", out, strings.Count(out, "\n"))
	}
	must(t, k("", "delete", "pod", "flood", "--timeout=60s"), `pod "flood" deleted`)
	eventually(t, "flood's process gone", func() bool { return len(processes(marker)) == 0 })
	eventually(t, "flood's logs removed", func() bool { total, _ := logBytes(); return total == 0 })
}

// TestSecretUsedAsCommandIsRedacted: a Secret's value used as the command
// (`command: ["$(PW)"]`) or as a subPathExpr is quoted back by the failures
// they cause; status, events and describe show
// `<redacted: from secret NAME key KEY>` instead, to users who may not
// read the Secret.
func TestSecretUsedAsCommandIsRedacted(t *testing.T) {
	t.Parallel()
	n := ns(t)
	value := fmt.Sprintf("sv-cmd-%d", time.Now().UnixNano())
	must(t, kubectl(t, "", "create", "secret", "generic", "creds", "-n", n, "--from-literal=pw="+value, "--from-literal=path=/"+value), "created")
	apply(t, n, `apiVersion: batch/v1
kind: Job
metadata: {name: as-command}
spec:
  backoffLimit: 0
  template:
    spec:
      runtimeClassName: host
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: ["$(PW)"]
        env: [{name: PW, valueFrom: {secretKeyRef: {name: creds, key: pw}}}]
`)
	waitCondition(t, n, "as-command", "Failed")
	apply(t, n, `apiVersion: v1
kind: Pod
metadata: {name: as-subpath}
spec:
  runtimeClassName: host
  restartPolicy: Never
  volumes: [{name: e, emptyDir: {}}]
  containers:
  - name: c
    image: busybox
    command: ["true"]
    envFrom: [{secretRef: {name: creds}}]
    volumeMounts: [{name: e, mountPath: /e, subPathExpr: $(path)}]
`)
	want := "error SubPath `<redacted: from secret creds key path>` must not be an absolute path"
	eventually(t, "as-subpath waits", func() bool {
		return get(t, n, "pod/as-subpath", "{.status.containerStatuses[0].state.waiting.message}") != ""
	})
	if got := get(t, n, "pod/as-subpath", "{.status.containerStatuses[0].state.waiting.reason}: {.status.containerStatuses[0].state.waiting.message}"); got != "CreateContainerConfigError: "+want {
		t.Errorf("as-subpath waits with %q, want %q", got, want)
	}
	status := kubectl(t, "", "get", "pods", "-n", n, "-o", "yaml").stdout
	if got := kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=as-command", "-o", "jsonpath={.items[0].status.containerStatuses[0].state.terminated.message}").stdout; got != `exec: "<redacted: from secret creds key pw>": executable file not found in $PATH` {
		t.Errorf("the StartError message is %q, not redacted as documented", got)
	}
	for what, text := range map[string]string{
		"pods":     status,
		"describe": kubectl(t, "", "describe", "pods", "-n", n).stdout,
		"events":   kubectl(t, "", "get", "events", "-n", n, "-o", "yaml").stdout,
		"job":      kubectl(t, "", "get", "job", "as-command", "-n", n, "-o", "yaml").stdout,
	} {
		if strings.Contains(text, value) {
			t.Errorf("%s shows the Secret's value:\n%s", what, text)
		}
	}
	// The redacted Failed event (and then, again, no value in any event).
	mustSoon(t, func() result { return kubectl(t, "", "get", "events", "-n", n) }, "<redacted: from secret creds key pw>")
	if events := kubectl(t, "", "get", "events", "-n", n, "-o", "yaml").stdout; strings.Contains(events, value) {
		t.Errorf("events show the Secret's value:\n%s", events)
	}
}

// TestEphemeralStorageLimitsEvict: an emptyDir over its sizeLimit and a
// pod over its containers' ephemeral-storage limits (its private /tmp is
// its writable layer) are evicted as the kubelet evicts them.
func TestEphemeralStorageLimitsEvict(t *testing.T) {
	t.Parallel()
	n := ns(t)
	marker := fmt.Sprintf("sleep 36%d", time.Now().UnixNano()%100)
	apply(t, n, `apiVersion: v1
kind: Pod
metadata: {name: sizelimit}
spec:
  runtimeClassName: host
  restartPolicy: Never
  volumes: [{name: e, emptyDir: {sizeLimit: 1Mi}}]
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "head -c 4194304 /dev/zero > /e/fill; `+marker+`"]
    volumeMounts: [{name: e, mountPath: /e}]
---
apiVersion: v1
kind: Pod
metadata: {name: podlimit}
spec:
  runtimeClassName: host
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "head -c 4194304 /dev/zero > /tmp/fill; `+marker+`"]
    resources: {limits: {ephemeral-storage: 1Mi}}
`)
	for pod, want := range map[string]string{
		"sizelimit": `Usage of EmptyDir volume "e" exceeds the limit "1Mi".`,
		"podlimit":  "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi.",
	} {
		eventually(t, pod+" evicted", func() bool {
			return get(t, n, "pod/"+pod, "{.status.phase}/{.status.reason}") == "Failed/Evicted"
		})
		if got := get(t, n, "pod/"+pod, "{.status.message}"); strings.TrimSpace(got) != want {
			t.Errorf("%s evicted with %q, want %q", pod, got, want)
		}
		if got := get(t, n, "pod/"+pod, `{.status.conditions[?(@.type=="DisruptionTarget")].reason}`); got != "TerminationByKubelet" {
			t.Errorf("%s DisruptionTarget reason %q", pod, got)
		}
	}
	mustSoon(t, func() result { return kubectl(t, "", "get", "events", "-n", n, "--field-selector", "reason=Evicted") }, "Usage of EmptyDir volume", "Pod ephemeral local storage usage exceeds")
	eventually(t, "evicted containers gone", func() bool { return len(processes(marker)) == 0 })
}

// TestDiskPressureEvicts: a pod fills the node's small pods file system to
// past 90%: the node reports DiskPressure, the pod is evicted with the
// kubelet's message, its emptyDir is freed, and the pressure goes.
func TestDiskPressureEvicts(t *testing.T) {
	t.Parallel()
	srv, k, _ := smallPodsDisk(t, "32m", "--node-name", "pressure")
	must(t, k(`apiVersion: v1
kind: Pod
metadata: {name: filler}
spec:
  restartPolicy: Never
  volumes: [{name: e, emptyDir: {}}]
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "head -c 31457280 /dev/zero > /e/fill; sleep 3650"]
    volumeMounts: [{name: e, mountPath: /e}]
`, "apply", "-f", "-"), "pod/filler created")
	eventually(t, "filler evicted", func() bool {
		return getFrom(t, srv.Kubeconfig, "default", "pod/filler", "{.status.phase}/{.status.reason}") == "Failed/Evicted"
	})
	if msg := k("", "get", "pod", "filler", "-o", "jsonpath={.status.message}").stdout; !strings.HasPrefix(msg, "The node was low on resource: ephemeral-storage. Threshold quantity: ") {
		t.Errorf("evicted with %q", msg)
	}
	mustSoon(t, func() result { return k("", "get", "events", "--field-selector", "involvedObject.kind=Node") }, "NodeHasDiskPressure")
	eventually(t, "the pressure goes once the emptyDir is freed", func() bool {
		return getFrom(t, srv.Kubeconfig, "", "nodes", `{.items[0].status.conditions[?(@.type=="DiskPressure")].status}`) == "False"
	})
	must(t, k("", "delete", "pod", "filler"), `pod "filler" deleted`)
}
