package browser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
// view, each on a fresh `batchd server` with BATCHD_UI_BENCH_JOBS (10,000)
// suspended Jobs stored, BATCHD_UI_BENCH_RUNS (5) times, and prints the
// medians: the time to first render of the overview (the first rows of the
// Jobs table in the DOM) from the navigation's start, opened from the
// `batchd ui` link (sign-in included) and reloaded; the time until all Jobs
// are loaded and the watch runs; the server's RSS before and after one
// client's listing and with the page open. Run it with
//
//	go test -run '^$' -bench Overview -benchtime 1x -timeout 60m ./test/browser/
func BenchmarkOverview(b *testing.B) {
	runs := envInt("BATCHD_UI_BENCH_RUNS", 5)
	jobs := envInt("BATCHD_UI_BENCH_JOBS", 10000)
	var open, openLoaded, reload, reloadLoaded, before, after, beforeAnon, afterAnon, listed, listedAnon, heap []float64
	for i := 0; i < runs; i++ {
		r := overviewRun(b, jobs)
		open, openLoaded = append(open, r.open), append(openLoaded, r.openLoaded)
		reload, reloadLoaded = append(reload, r.reload), append(reloadLoaded, r.reloadLoaded)
		before, after = append(before, r.before), append(after, r.after)
		beforeAnon, afterAnon = append(beforeAnon, r.beforeAnon), append(afterAnon, r.afterAnon)
		listed, listedAnon = append(listed, r.listed), append(listedAnon, r.listedAnon)
		heap = append(heap, r.heap)
	}
	var extra, extraAnon, extraListed, extraListedAnon []float64
	for i := range before {
		extra = append(extra, after[i]-before[i])
		extraAnon = append(extraAnon, afterAnon[i]-beforeAnon[i])
		extraListed = append(extraListed, listed[i]-before[i])
		extraListedAnon = append(extraListedAnon, listedAnon[i]-beforeAnon[i])
	}
	out := &strings.Builder{}
	fmt.Fprintf(out, "| figure (%d Jobs stored) | median | runs |\n|---|---|---|\n", jobs)
	row := func(name string, vs []float64, format string) {
		sorted := append([]float64(nil), vs...)
		sort.Float64s(sorted)
		all := make([]string, len(vs))
		for i, v := range vs {
			all[i] = fmt.Sprintf(format, v)
		}
		fmt.Fprintf(out, "| %s | "+format+" | %d (%s) |\n", name, sorted[len(sorted)/2], len(vs), strings.Join(all, ", "))
	}
	row("overview opened from the `batchd ui` link: first rows rendered (ms, sign-in included)", open, "%.0f")
	row("… all Jobs loaded, watch running (ms)", openLoaded, "%.0f")
	row("overview reloaded: first rows rendered (ms)", reload, "%.0f")
	row("… all Jobs loaded, watch running (ms)", reloadLoaded, "%.0f")
	row("server RSS, Jobs created, idle, before any listing (MiB)", before, "%.0f")
	row("… after one client listed all Jobs (JSON, pages of 500), no page open (MiB)", listed, "%.0f")
	row("… then with one open page, loaded and watching (MiB)", after, "%.0f")
	row("extra RSS from the client's listing (MiB)", extraListed, "%.1f")
	row("extra RSS from the listing and the open page (MiB)", extra, "%.1f")
	row("extra anonymous RSS from the client's listing (MiB)", extraListedAnon, "%.1f")
	row("extra anonymous RSS from the listing and the open page (MiB)", extraAnon, "%.1f")
	row("the page's JavaScript heap (MiB)", heap, "%.1f")
	fmt.Println(out.String())
}

type overviewResult struct {
	open, openLoaded, reload, reloadLoaded float64
	before, after, beforeAnon, afterAnon   float64
	listed, listedAnon                     float64
	heap                                   float64
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
