package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestDebugEphemeralContainers drives kubectl debug -it --target against
// pods of the host and of the OCI runtime: an ephemeral container from the
// test's own image, attached on a terminal, that sees the target's
// process; its status, log and exit; the pod's columns untouched; the
// same on a completed pod as upstream (accepted, never started, attach
// refused); and kubectl debug --copy-to.
func TestDebugEphemeralContainers(t *testing.T) {
	t.Parallel()
	for _, class := range []string{"host", "oci"} {
		t.Run(class, func(t *testing.T) {
			if class == "oci" && os.Geteuid() != 0 {
				t.Fatal("runc needs root (CI runs as root)")
			}
			// The debugger's image is the test's own, on both runtimes (the
			// host runtime runs its command on the host).
			img := toolsImage(t)
			podImg := "busybox"
			if class == "oci" {
				podImg = img
			}
			testDebug(t, class, podImg, img)
		})
	}
}

func testDebug(t *testing.T, class, podImg, img string) {
	n := ns(t)
	apply(t, n, streamPod("box", class, podImg, "echo private > /tmp/mine; exec sleep 6071", ""))
	waitFor(t, n, "pod/box", "{.status.phase}", "Running")

	for _, k := range kubectlBins() {
		t.Run(k.name, func(t *testing.T) {
			dbg := "debugger-" + k.name
			// The target's process, seen from the debugger: on the OCI
			// runtime in its PID namespace (pid 1), on the host in the
			// machine's, which the target shares.
			out, _ := onTerminal(t, k, "ps -e -o pid,args | grep 'sleep 607[1]'; hostname; exit 4\r",
				"debug", "-it", "-n", n, "box", "--image="+img, "--target=c", "-c", dbg, "--", "sh")
			if !strings.Contains(out, "sleep 6071") || !strings.Contains(out, "box") {
				t.Fatalf("kubectl debug -it: %q", out)
			}
			if class == "oci" && !strings.Contains(out, "    1 sleep 6071") && !strings.Contains(out, "1 sleep 6071") {
				t.Errorf("the target is not pid 1 of the debugger's PID namespace: %q", out)
			}
			waitFor(t, n, "pod/box", fmt.Sprintf(`{.status.ephemeralContainerStatuses[?(@.name=="%s")].state.terminated.exitCode}`, dbg), "4")
			must(t, k.run(t, "", "logs", "-n", n, "box", "-c", dbg), "sleep 6071")
			// Ephemeral containers do not count in READY or RESTARTS.
			r := k.run(t, "", "get", "pod", "box", "-n", n, "--no-headers")
			if f := strings.Fields(r.stdout); len(f) < 4 || f[1] != "1/1" || f[2] != "Running" || f[3] != "0" {
				t.Errorf("kubectl get pod: %q", r.stdout)
			}
		})
	}
	// Never restarted.
	if got := get(t, n, "pod/box", `{.status.ephemeralContainerStatuses[*].restartCount}`); strings.Trim(got, "0 ") != "" {
		t.Errorf("restart counts %q", got)
	}
	// The host runtime's debugger shares the target's /tmp (its mount
	// namespace); the OCI one runs from its image, as upstream.
	if class == "host" {
		must(t, kubectl(t, "go\n", "debug", "-i", "-n", n, "box", "--image="+img, "--target=c", "-c", "reader", "--", "sh", "-c", "read x; cat /tmp/mine"), "private\n")
	}

	// A completed pod: the API takes the container, as upstream's does; it
	// never starts, and attaching to it is refused.
	apply(t, n, streamPod("done", class, podImg, "true", ""))
	waitFor(t, n, "pod/done", "{.status.phase}", "Succeeded")
	must(t, kubectl(t, "", "debug", "-n", n, "done", "--image="+img, "-c", "late", "--", "true"))
	fails(t, kubectl(t, "", "attach", "-n", n, "done", "-c", "late"), "cannot attach a container in a completed pod; current phase is Succeeded")
	if got := get(t, n, "pod/done", `{.status.ephemeralContainerStatuses[*].name}`); got != "" {
		t.Errorf("a completed pod reports ephemeral containers %q", got)
	}

	// kubectl debug --copy-to: a copy of the pod with the container's command replaced.
	must(t, kubectl(t, "", "debug", "-n", n, "box", "--copy-to=box-copy", "--container=c", "--", "sh", "-c", "echo copied; exec sleep 600"))
	waitFor(t, n, "pod/box-copy", "{.status.phase}", "Running")
	eventually(t, "the copy's log", func() bool { return strings.Contains(kubectl(t, "", "logs", "-n", n, "box-copy").stdout, "copied") })
	if got := get(t, n, "pod/box-copy", "{.spec.runtimeClassName}"); got != class {
		t.Errorf("the copy's runtime class %q", got)
	}
}

// TestDebugForbiddenToViewers: a batchd:view user may not add an
// ephemeral container, in kube-apiserver's words.
func TestDebugForbiddenToViewers(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, streamPod("box", "host", "busybox", "exec sleep 600", ""))
	waitFor(t, n, "pod/box", "{.status.phase}", "Running")
	must(t, kubectl(t, "", "create", "serviceaccount", "viewer", "-n", n))
	must(t, kubectl(t, "", "create", "rolebinding", "viewer", "--clusterrole=batchd:view", "--serviceaccount="+n+":viewer", "-n", n))
	token := strings.TrimSpace(kubectl(t, "", "create", "token", "viewer", "-n", n).stdout)
	for _, k := range kubectlBins() {
		run := func(args ...string) result { return k.run(t, "", args...) }
		eventually(t, "the viewer reads pods", func() bool { return asToken(t, run, token, "get", "pod", "box", "-n", n).code == 0 })
		fails(t, asToken(t, run, token, "debug", "box", "-n", n, "--image=busybox", "--", "true"),
			fmt.Sprintf(`pods "box" is forbidden: User "system:serviceaccount:%s:viewer" cannot patch resource "pods/ephemeralcontainers" in API group "" in the namespace %q`, n, n))
	}
}
