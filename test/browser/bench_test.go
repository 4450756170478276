package browser

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/serverproc"
)

// BenchmarkOverview measures the figures BENCHMARKS.md reports for the web
// view. Each iteration is one run on a fresh `batchd server` (run history
// on, as by default) with BATCHD_UI_BENCH_JOBS (10,000) suspended Jobs
// stored, and reports: the time to first render of the overview (the first
// rows of the Jobs table in the DOM) from the navigation's start, opened
// from the `batchd ui` link (sign-in included) and reloaded; the time until
// all Jobs are loaded and the watch runs; the server's RSS idle with the
// Jobs stored, after one ordinary client listed them all, and with the page
// open; the page's JavaScript heap; and, as a peer on the same server,
// `batchd kubectl get jobs -A` over the same Jobs. One run takes about a
// minute, so the default -benchtime makes one iteration; for medians:
//
//	go test -run '^$' -bench BenchmarkOverview -count 5 -timeout 60m ./test/browser/
func BenchmarkOverview(b *testing.B) {
	jobs := envInt("BATCHD_UI_BENCH_JOBS", 10000)
	var sum overviewResult
	for i := 0; i < b.N; i++ {
		r := overviewRun(b, jobs)
		sum.open += r.open
		sum.openLoaded += r.openLoaded
		sum.reload += r.reload
		sum.reloadLoaded += r.reloadLoaded
		sum.before += r.before
		sum.listed += r.listed
		sum.after += r.after
		sum.beforeAnon += r.beforeAnon
		sum.listedAnon += r.listedAnon
		sum.afterAnon += r.afterAnon
		sum.heap += r.heap
		sum.kubectl += r.kubectl
	}
	n := float64(b.N)
	for _, m := range []struct {
		v    float64
		unit string
	}{
		{sum.open, "open-first-rows-ms"},
		{sum.openLoaded, "open-all-loaded-ms"},
		{sum.reload, "reload-first-rows-ms"},
		{sum.reloadLoaded, "reload-all-loaded-ms"},
		{sum.kubectl, "kubectl-get-jobs-ms"},
		{sum.before, "rss-idle-MiB"},
		{sum.listed, "rss-listed-MiB"},
		{sum.after, "rss-page-open-MiB"},
		{sum.after - sum.listed, "rss-page-extra-MiB"},
		{sum.afterAnon - sum.listedAnon, "anon-page-extra-MiB"},
		{sum.listed - sum.before, "rss-listing-extra-MiB"},
		{sum.heap, "js-heap-MiB"},
	} {
		b.ReportMetric(m.v/n, m.unit)
	}
	b.ReportMetric(0, "ns/op") // one op is a whole run: its time says nothing
}

type overviewResult struct {
	open, openLoaded, reload, reloadLoaded float64
	before, after, beforeAnon, afterAnon   float64
	listed, listedAnon                     float64
	heap                                   float64
	kubectl                                float64 // ms
}

func overviewRun(b *testing.B, jobs int) overviewResult {
	b.Helper()
	tmp, err := os.MkdirTemp("", "batchd-ui-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	log, err := os.Create(filepath.Join(tmp, "server.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer log.Close()
	dir := filepath.Join(tmp, "data")
	srv, err := serverproc.Start(batchd, dir, log, 2*time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop(30 * time.Second)
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, -1
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := createSuspendedJobs(ctx, c, "default", jobs, 32); err != nil {
		b.Fatal(err)
	}
	settle(b, srv)
	var r overviewResult
	if r.before, r.beforeAnon, err = srv.Memory(); err != nil {
		b.Fatal(err)
	}
	// For comparison: the same Jobs listed once by an ordinary client (JSON,
	// pages of 500, as kubectl pages), before the page is opened.
	if err := listAll(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	settle(b, srv)
	if r.listed, r.listedAnon, err = srv.Memory(); err != nil {
		b.Fatal(err)
	}

	spki, err := servingSPKI(filepath.Join(dir, "pki", "serving.crt"))
	if err != nil {
		b.Fatal(err)
	}
	br, stop, err := startBrowser(chromium, filepath.Join(tmp, "profile"), spki, strings.TrimSuffix(cfg.Host, "/"), srv.Kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	p := br.newPage(b)
	loaded := `document.querySelector('main')?.dataset.loaded === 'true'`
	marks := func() (first, all float64) {
		p.waitJSFor("all Jobs loaded", loaded, 2*time.Minute)
		v := eval[[]float64](p, `['batchd:overview-first-render', 'batchd:overview-loaded'].map(n => performance.getEntriesByName(n)[0].startTime)`)
		return v[0], v[1]
	}
	p.login()
	r.open, r.openLoaded = marks()
	p.open("/ui/")
	r.reload, r.reloadLoaded = marks()
	if n := eval[string](p, `document.querySelector('table.jobs').closest('.paged').querySelector('.pager-info').innerText`); !strings.Contains(n, fmt.Sprintf("of %s", commas(jobs))) {
		b.Fatalf("pager says %q, want all %d Jobs", n, jobs)
	}
	r.heap = eval[float64](p, `performance.memory ? performance.memory.usedJSHeapSize / 1048576 : 0`)
	settle(b, srv)
	if r.after, r.afterAnon, err = srv.Memory(); err != nil {
		b.Fatal(err)
	}
	// The peer: the same Jobs shown by kubectl (as people would without the
	// view), the embedded one, as a separate process; last, so that its
	// listing weighs on none of the memory figures.
	start := time.Now()
	get := exec.Command(batchd, "kubectl", "get", "jobs", "-A")
	get.Env = append(os.Environ(), "KUBECONFIG="+srv.Kubeconfig)
	if out, err := get.Output(); err != nil || bytes.Count(out, []byte("\n")) != jobs+1 {
		b.Fatalf("kubectl get jobs -A: %v (%d lines, want %d)", err, bytes.Count(out, []byte("\n")), jobs+1)
	}
	r.kubectl = float64(time.Since(start).Milliseconds())
	b.Logf("run: %+v", r)
	return r
}

// settle waits until the server is idle (under 5% of a core over a second),
// at most two minutes.
func settle(b *testing.B, srv *serverproc.Process) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	last, err := srv.CPUSeconds()
	if err != nil {
		b.Fatal(err)
	}
	for time.Now().Before(deadline) {
		time.Sleep(time.Second) // sampling CPU time over a second is the measurement itself
		now, err := srv.CPUSeconds()
		if err != nil {
			b.Fatal(err)
		}
		if now-last < 0.05 {
			return
		}
		last = now
	}
}

// listAll lists every Job as an ordinary client does: JSON, pages of 500.
func listAll(ctx context.Context, cfg *rest.Config) error {
	c := rest.CopyConfig(cfg)
	c.ContentType, c.AcceptContentTypes = "application/json", "application/json"
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return err
	}
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := cs.BatchV1().Jobs("").List(ctx, opts)
		if err != nil {
			return err
		}
		if list.Continue == "" {
			return nil
		}
		opts.Continue = list.Continue
	}
}

func createSuspendedJobs(ctx context.Context, c kubernetes.Interface, ns string, n, writers int) error {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				job := &batchv1.Job{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("stored-%d", i)},
					Spec: batchv1.JobSpec{
						Suspend: ptr.To(true),
						Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
							RestartPolicy: corev1.RestartPolicyNever,
							Containers:    []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}},
						}},
					},
				}
				if _, err := c.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// commas writes n as toLocaleString('en') does.
func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
