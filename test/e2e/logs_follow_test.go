package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// `kubectl logs -f` follows a container for longer than the API server's
// request timeout (60 s): the log subresource is long-running, as in
// kube-apiserver. It used to end after a minute with "stream error: stream ID
// 3; INTERNAL_ERROR".
func TestLogsFollowOutlivesRequestTimeout(t *testing.T) {
	t.Parallel()
	n := ns(t)
	must(t, kubectl(t, "", "run", "long", "-n", n, "--image=busybox", "--restart=Never", "--",
		"sh", "-c", "i=0; while [ $i -lt 75 ]; do i=$((i+1)); echo line $i; sleep 1; done"), "pod/long created")
	must(t, kubectl(t, "", "wait", "-n", n, "--for=condition=ready", "pod/long", "--timeout=60s"), "condition met")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, batchd, "kubectl", "logs", "-f", "-n", n, "long")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	if err != nil || !strings.HasSuffix(out.String(), "line 75\n") {
		t.Fatalf("kubectl logs -f after %v: %v\nstdout tail: %q\nstderr: %s", time.Since(start).Round(time.Second), err, tail(out.String(), 40), errOut.String())
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
