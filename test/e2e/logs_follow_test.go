package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// `kubectl logs -f` follows a container for longer than the API server's
// request timeout, which cuts the requests that are not long-running: the
// log subresource is long-running, as in kube-apiserver. It used to end at
// the timeout with "stream error: stream ID 3; INTERNAL_ERROR". The
// server's --request-timeout is 3 s here rather than the default minute.
func TestLogsFollowOutlivesRequestTimeout(t *testing.T) {
	t.Parallel()
	srv, _, _ := ownServer(t, filepath.Join(t.TempDir(), "data"), "--node-name", "timeouts", "--request-timeout", "3s")
	k := func(args ...string) result {
		t.Helper()
		return runKubectl(t, batchd, append([]string{"kubectl", "--kubeconfig", srv.Kubeconfig}, args...), "")
	}
	// A request that is not long-running ends at the timeout: a create
	// whose body the client is slow to send.
	began := time.Now()
	if code, body := slowCreate(t, srv.Kubeconfig); code != http.StatusGatewayTimeout || !strings.Contains(body, `"reason":"Timeout"`) {
		t.Errorf("a create whose body took longer than the request timeout: %d %s", code, body)
	}
	if took := time.Since(began); took > 6*time.Second {
		t.Errorf("the slow create was answered after %v, want at the 3 s timeout", took.Round(time.Millisecond))
	}

	must(t, k("run", "long", "--image=busybox", "--restart=Never", "--",
		"sh", "-c", "i=0; while [ $i -lt 15 ]; do i=$((i+1)); echo line $i; sleep 1; done"), "pod/long created")
	must(t, k("wait", "--for=condition=ready", "pod/long", "--timeout=60s"), "condition met")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, batchd, "kubectl", "--kubeconfig", srv.Kubeconfig, "logs", "-f", "long")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil || !strings.HasSuffix(out.String(), "line 15\n") {
		t.Fatalf("kubectl logs -f after %v: %v\nstdout tail: %q\nstderr: %s", took.Round(time.Second), err, tail(out.String(), 40), errOut.String())
	}
	if took < 3*time.Second {
		t.Errorf("kubectl logs -f took %v, not beyond the 3 s request timeout", took.Round(time.Millisecond))
	}
}

// slowCreate posts a ConfigMap whose body's second half the client sends
// only once the server answered (or after 20 s), and returns the answer.
func slowCreate(t *testing.T, kubeconfig string) (int, string) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	answered := make(chan struct{})
	go func() {
		_, _ = pw.Write([]byte(`{"apiVersion":"v1","kind":"ConfigMap",`))
		select {
		case <-answered:
		case <-time.After(20 * time.Second):
		}
		_, _ = pw.Write([]byte(`"metadata":{"name":"slow"}}`))
		pw.Close()
	}()
	defer close(answered)
	req, err := http.NewRequest(http.MethodPost, cfg.Host+"/api/v1/namespaces/default/configmaps", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
