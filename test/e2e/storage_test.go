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
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	t.Cleanup(func() {
		_ = srv.Stop(30 * time.Second)
		// A defrag of etcd's closed backend writes its copy to the
		// server's working directory, which is this one.
		if left, _ := filepath.Glob("db.tmp.*"); len(left) > 0 {
			t.Errorf("a stopped server left %v in its working directory", left)
		}
	})
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
	// Serial (before the parallel tests start): it needs etcd to answer its
	// health check while the quota fills, which the multi-server tests'
	// load on two cores made miss its waits once (CI of 2026-11-30).
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
	// The controllers keep their Lease while full: renewals land, none is
	// refused (were they, leadership would lapse after the renew deadline,
	// and with it the controllers that finish what deletes begin).
	full := time.Now()
	eventually(t, "the controllers' Lease renewed while the storage is full", func() bool {
		l, err := c.CoordinationV1().Leases("kube-system").Get(ctx, "kube-controller-manager", metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime != nil && l.Spec.RenewTime.After(full)
	})
	if log, err := os.ReadFile(logPath); err != nil {
		t.Fatal(err)
	} else if refused := regexp.MustCompile(`.*"Failed to update lease".*database space exceeded.*`).Find(log); refused != nil {
		t.Errorf("a Lease renewal was refused while full:\n%s", refused)
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
		t.Fatal("mounting a small file system needs root (CI runs as root)")
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

// trackedPod creates a Job whose pod (Pending: the server runs no node
// agent) carries the Job's tracking finalizer, and returns the pod's name.
func trackedPod(t *testing.T, c kubernetes.Interface, kubeconfig string) string {
	t.Helper()
	must(t, kubectl(t, `apiVersion: batch/v1
kind: Job
metadata: {name: victim, namespace: default}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["sleep", "3600"]}]
`, "--kubeconfig", kubeconfig, "apply", "-f", "-"), "created")
	var name string
	eventually(t, "the Job's pod with its tracking finalizer", func() bool {
		pods, err := c.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "job-name=victim"})
		if err != nil || len(pods.Items) != 1 || !slices.Contains(pods.Items[0].Finalizers, batchv1.JobTrackingFinalizer) {
			return false
		}
		name = pods.Items[0].Name
		return true
	})
	return name
}

// forceDeleteWhileFull force-deletes the tracked pod while the storage is
// full, as a user cleaning up does: the delete (a write: the pod has a
// finalizer) and the Job controller's finalizer removal go through, the pod
// is gone, and the Job counts it as failed — nothing lost.
func forceDeleteWhileFull(t *testing.T, c kubernetes.Interface, kubeconfig, pod string) {
	t.Helper()
	ctx := context.Background()
	_, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "refused"}}, metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "etcdserver: mvcc: database space exceeded") {
		t.Fatalf("create while full: err = %v, want etcd's database space exceeded", err)
	}
	must(t, kubectl(t, "", "--kubeconfig", kubeconfig, "-n", "default", "delete", "pod", pod, "--force", "--grace-period=0"), `pod "`+pod+`" force deleted`)
	eventually(t, "the force-deleted pod gone", func() bool {
		_, err := c.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	eventually(t, "the Job counting its deleted pod as failed", func() bool {
		j, err := c.BatchV1().Jobs("default").Get(ctx, "victim", metav1.GetOptions{})
		return err == nil && j.Status.Failed == 1 && j.Status.UncountedTerminatedPods != nil &&
			len(j.Status.UncountedTerminatedPods.Failed) == 0
	})
}

// TestFullDiskStillDeletesPodsWithFinalizers: with the data dir's disk short
// of the reserve (as a pod's log flood leaves it), creates are refused, but a
// pod with the Job tracking finalizer can be force-deleted and is gone, and
// what was stored stays.
func TestFullDiskStillDeletesPodsWithFinalizers(t *testing.T) {
	t.Parallel()
	fs := smallFS(t, "200m")
	srv, c, logPath := storageServer(t, filepath.Join(fs, "data"), "--data-dir-reserve", "64Mi")
	ctx := context.Background()
	keep, err := c.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := trackedPod(t, c, srv.Kubeconfig)

	var st syscall.Statfs_t
	if err := syscall.Statfs(fs, &st); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(fs, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	// Leave 40 MiB: under the 64 MiB reserve, above a quarter of it.
	if _, err := f.Write(make([]byte, int64(st.Bavail)*st.Bsize-40<<20)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitReadyz(t, c, false, 10*time.Second)
	waitLog(t, logPath, "less than the 64.0 MiB reserve; writes are refused until space is freed (deletes, finalizer removals and status updates are accepted)")
	forceDeleteWhileFull(t, c, srv.Kubeconfig, pod)

	got, err := c.CoreV1().ConfigMaps("default").Get(ctx, "keep", metav1.GetOptions{})
	if err != nil || got.UID != keep.UID {
		t.Fatalf("get keep: %v", err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitReadyz(t, c, true, 10*time.Second)
	// The Job controller's creates were refused while the disk was full, and
	// it backs off as upstream's does, up to a minute between tries
	// (MaxJobApiBackOff): the replacement comes within that and a little.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 75*time.Second, true, func(ctx context.Context) (bool, error) {
		pods, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=victim"})
		return err == nil && len(pods.Items) == 1 && pods.Items[0].Name != pod, nil
	})
	if err != nil {
		t.Fatalf("a replacement pod once space is back: %v", err)
	}
}

// TestDatabaseAtQuotaStillDeletesPodsWithFinalizers: the same with etcd's
// database at --etcd-quota-backend-bytes.
func TestDatabaseAtQuotaStillDeletesPodsWithFinalizers(t *testing.T) {
	t.Parallel()
	srv, c, _ := storageServer(t, filepath.Join(t.TempDir(), "data"), "--etcd-quota-backend-bytes", "16Mi")
	ctx := context.Background()
	pod := trackedPod(t, c, srv.Kubeconfig)
	var names []string
	for round := 0; ; round++ {
		more, err := fill(t, c, fmt.Sprintf("cm%d", round), 200_000)
		names = append(names, more...)
		if err == nil || !strings.Contains(err.Error(), "etcdserver: mvcc: database space exceeded") {
			t.Fatalf("after %d ConfigMaps: err = %v, want etcd's database space exceeded", len(names), err)
		}
		if round == 20 {
			t.Fatalf("storage not full after %d refusals", round)
		}
		if _, ok := readyzWithin(c, false, 3*time.Second); !ok {
			continue
		}
		// Refused and unready — but at its quota the guard compacts and
		// defragments (etcd blocks meanwhile, so the etcd check fails
		// too), and when the file's free pages were what filled it, the
		// live data is under the quota after that and writes are accepted
		// again, rightly. Fill on until the live data alone is over it (a
		// CI run saw the create below succeed after one round).
		if _, ok := readyzWithin(c, true, 5*time.Second); !ok {
			break
		}
	}
	forceDeleteWhileFull(t, c, srv.Kubeconfig, pod)
	list, err := c.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) < len(names) {
		t.Errorf("%d ConfigMaps stored, want the %d created", len(list.Items), len(names))
	}
}
