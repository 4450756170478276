package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/batchd/batchd/internal/serverproc"
)

// storageServer starts a server of its own without node agent.
func storageServer(t *testing.T, dataDir string, args ...string) (*serverproc.Process, kubernetes.Interface, string) {
	t.Helper()
	return ownServer(t, dataDir, append([]string{"--disable-node-agent"}, args...)...)
}

// ownServer starts a server of the test's own in dataDir with extra flags,
// and returns a client for it and its log's path (printed if the test fails).
func ownServer(t *testing.T, dataDir string, args ...string) (*serverproc.Process, kubernetes.Interface, string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "server.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		logf.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("server log:\n%s", log)
		}
	})
	srv, err := serverproc.Start(batchd, dataDir, logf, time.Minute, args...)
	if err != nil {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("%v\n%s", err, log)
	}
	t.Cleanup(func() { _ = srv.Stop(30 * time.Second) })
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return srv, kubernetes.NewForConfigOrDie(cfg), logPath
}

func blob(t *testing.T, n int) string {
	b := make([]byte, n*3/4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// fill creates ConfigMaps of size bytes until the server refuses one; it
// returns their names and the refusal.
func fill(t *testing.T, c kubernetes.Interface, prefix string, size int) ([]string, error) {
	t.Helper()
	var names []string
	data := blob(t, size)
	for i := 0; i < 1000; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		_, err := c.CoreV1().ConfigMaps("default").Create(context.Background(),
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"blob": data}}, metav1.CreateOptions{})
		if err != nil {
			return names, err
		}
		names = append(names, name)
	}
	t.Fatalf("%d ConfigMaps of %d bytes fit: the quota is not enforced", len(names), size)
	return nil, nil
}

// readyz returns /readyz?verbose's body and whether it answered ok.
func readyz(c kubernetes.Interface) (string, bool) {
	body, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").Param("verbose", "").DoRaw(context.Background())
	return string(body), err == nil
}

// readyzWithin polls /readyz until its answer is want, for at most within.
func readyzWithin(c kubernetes.Interface, want bool, within time.Duration) (string, bool) {
	var body string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, within, true, func(context.Context) (bool, error) {
		var ok bool
		body, ok = readyz(c)
		return ok == want, nil
	})
	return body, err == nil
}

func waitReadyz(t *testing.T, c kubernetes.Interface, want bool, within time.Duration) string {
	t.Helper()
	body, ok := readyzWithin(c, want, within)
	if !ok {
		t.Fatalf("/readyz did not become ready=%v within %s:\n%s", want, within, body)
	}
	return body
}

func waitLog(t *testing.T, path, want string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		log, _ := os.ReadFile(path)
		return bytes.Contains(log, []byte(want)), nil
	})
	if err != nil {
		log, _ := os.ReadFile(path)
		t.Fatalf("log never said %q:\n%s", want, log)
	}
}

// TestEtcdQuotaExceededRefusesWritesThenRecovers: a database at its quota
// refuses writes with etcd's error, fails /readyz with a reason in the log,
// keeps what it stored, and accepts writes again once objects are deleted.
func TestEtcdQuotaExceededRefusesWritesThenRecovers(t *testing.T) {
	t.Parallel()
	_, c, logPath := storageServer(t, filepath.Join(t.TempDir(), "data"), "--etcd-quota-backend-bytes", "16Mi")
	ctx := context.Background()
	keep, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Fill until a write is refused and the refusal lasts: while the
	// database holds free pages the server defragments and takes writes
	// again, and /readyz stays ok.
	var names []string
	var body string
	for round := 0; ; round++ {
		more, err := fill(t, c, fmt.Sprintf("cm%d", round), 200_000)
		names = append(names, more...)
		if err == nil || !strings.Contains(err.Error(), "etcdserver: mvcc: database space exceeded") {
			t.Fatalf("after %d ConfigMaps: err = %v, want etcd's database space exceeded", len(names), err)
		}
		var ok bool
		if body, ok = readyzWithin(c, false, 3*time.Second); ok {
			break
		}
		if round == 20 {
			t.Fatalf("/readyz still ok after %d refusals:\n%s", round, body)
		}
	}
	if !strings.Contains(body, "[-]etcd-space failed") {
		t.Errorf("/readyz does not name the failing check:\n%s", body)
	}
	waitLog(t, logPath, "storage: not ready: etcd database space exceeded:")
	// Reads still work and nothing was lost.
	got, err := c.CoreV1().ConfigMaps("default").Get(ctx, "keep", metav1.GetOptions{})
	if err != nil || got.UID != keep.UID {
		t.Fatalf("get keep: %v (uid %v, want %v)", err, got.UID, keep.UID)
	}
	// Deletes are accepted at the quota; then the server recovers by itself.
	for _, n := range names[:len(names)/2] {
		if err := c.CoreV1().ConfigMaps("default").Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete %s at the quota: %v", n, err)
		}
	}
	waitReadyz(t, c, true, 30*time.Second)
	waitLog(t, logPath, "storage: space recovered; writes accepted again")
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after"}, Data: map[string]string{"blob": blob(t, 900_000)}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create after recovery: %v", err)
	}
	// The test's own ConfigMaps, not the cluster CA every namespace gets.
	list, err := c.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name!=kube-root-ca.crt"})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + (len(names) - len(names)/2) + 1; len(list.Items) != want {
		t.Errorf("%d ConfigMaps after recovery, want %d (keep, %d kept of the filling, after)", len(list.Items), want, len(names)-len(names)/2)
	}
}

// smallFS mounts a tmpfs of size bytes for the test (needs root, as CI has).
func smallFS(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		// The server has stopped (cleanups run last-in first-out).
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	return dir
}

// TestFullDataDirRefusesWritesThenRecovers: when the data dir's file system
// runs short of the reserve, writes are refused before etcd could hit ENOSPC
// (which it treats as fatal), /readyz fails, and freeing space recovers.
func TestFullDataDirRefusesWritesThenRecovers(t *testing.T) {
	t.Parallel()
	fs := smallFS(t, "200m")
	_, c, logPath := storageServer(t, filepath.Join(fs, "data"), "--data-dir-reserve", "64Mi")
	ctx := context.Background()
	waitReadyz(t, c, true, 10*time.Second)
	var st syscall.Statfs_t
	if err := syscall.Statfs(fs, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	filler := filepath.Join(fs, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	// Leave 30 MiB: under the reserve, still room for etcd.
	if _, err := f.Write(make([]byte, free-30<<20)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	body := waitReadyz(t, c, false, 10*time.Second)
	if !strings.Contains(body, "[-]etcd-space failed") {
		t.Errorf("/readyz does not name the failing check:\n%s", body)
	}
	waitLog(t, logPath, "less than the 64.0 MiB reserve; writes are refused until space is freed")
	_, err = c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "refused"}}, metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "database space exceeded") {
		t.Fatalf("create with the disk short: err = %v, want refused", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitReadyz(t, c, true, 10*time.Second)
	waitLog(t, logPath, "storage: space recovered; writes accepted again")
	if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "accepted"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create after space returned: %v", err)
	}
}

// TestReadOnlyDataDirIsRefusedAtStart: a data dir that cannot be written
// stops the server at once with the reason, before etcd opens anything.
func TestReadOnlyDataDirIsRefusedAtStart(t *testing.T) {
	t.Parallel()
	fs := smallFS(t, "16m")
	data := filepath.Join(fs, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-o", "remount,ro", fs).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, batchd, "server", "--data-dir", data, "--secure-port", "0").CombinedOutput()
	if err == nil {
		t.Fatalf("server started on a read-only data dir:\n%s", out)
	}
	if want := "data dir " + data + " is not writable: read-only file system"; !strings.Contains(string(out), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}
