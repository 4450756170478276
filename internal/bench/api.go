package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// APIOptions size the API benchmark.
type APIOptions struct {
	Binary  string // the batchd binary to run
	Runs    int    // repetitions per figure (median reported)
	Creates int    // Jobs created per writer-count run
	Writers []int  // concurrent writers
	Stored  int    // Jobs stored for the memory and list figures
	// ServerArgs are more flags of every server started (e.g.
	// --run-history=false, to compare).
	ServerArgs []string
	Out        io.Writer
}

// API measures start-up, memory, create throughput and list latency.
func API(ctx context.Context, o APIOptions) error {
	tmp, err := begin(o.Out, "batchd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// Start-up with an existing data dir: initialise once, then restart.
	dir := filepath.Join(tmp, "startup")
	p, err := startServer(o.Binary, dir, o.ServerArgs...)
	if err != nil {
		return err
	}
	first := p.Ready
	if err := stop(p); err != nil {
		return err
	}
	var starts []float64
	for i := 0; i < o.Runs; i++ {
		p, err := startServer(o.Binary, dir, o.ServerArgs...)
		if err != nil {
			return err
		}
		starts = append(starts, p.Ready.Seconds())
		if err := stop(p); err != nil {
			return err
		}
	}
	row(o.Out, "start to ready, new data dir (s)", first.Seconds(), "%.2f", 1)
	rowMedian(o.Out, "start to ready, existing data dir (s)", starts, "%.3f")

	// Create throughput: a fresh server per run and writer count.
	for _, w := range o.Writers {
		var rates []float64
		for i := 0; i < o.Runs; i++ {
			p, err := startServer(o.Binary, filepath.Join(tmp, fmt.Sprintf("create-%d-%d", w, i)), o.ServerArgs...)
			if err != nil {
				return err
			}
			c, err := client(p)
			if err != nil {
				return err
			}
			rate, err := createJobs(ctx, c, "default", o.Creates, w, "bench")
			stop(p)
			if err != nil {
				return err
			}
			rates = append(rates, rate)
		}
		rowMedian(o.Out, fmt.Sprintf("Job creates/s, %d writer(s), %d Jobs", w, o.Creates), rates, "%.0f")
	}

	// Memory and listing with o.Stored Jobs.
	var idle, idleAnon, loaded, loadedAnon, lists, stock, unchunked, server []float64
	stockKubectl, _ := exec.LookPath("kubectl")
	for i := 0; i < o.Runs; i++ {
		p, err := startServer(o.Binary, filepath.Join(tmp, fmt.Sprintf("mem-%d", i)), o.ServerArgs...)
		if err != nil {
			return err
		}
		time.Sleep(2 * time.Second) // settle: what is measured is the idle footprint
		r, a, err := p.Memory()
		if err != nil {
			return err
		}
		idle, idleAnon = append(idle, r), append(idleAnon, a)
		c, err := client(p)
		if err != nil {
			return err
		}
		if _, err := createJobs(ctx, c, "default", o.Stored, 32, "stored"); err != nil {
			return err
		}
		took, err := timeCommand(ctx, o.Binary, "kubectl", "get", "jobs", "--kubeconfig", p.Kubeconfig)
		if err != nil {
			return err
		}
		lists = append(lists, took)
		if took, err = timeCommand(ctx, o.Binary, "kubectl", "get", "jobs", "--chunk-size=0", "--kubeconfig", p.Kubeconfig); err != nil {
			return err
		}
		unchunked = append(unchunked, took)
		if stockKubectl != "" {
			if took, err = timeCommand(ctx, stockKubectl, "get", "jobs", "--kubeconfig", p.Kubeconfig); err != nil {
				return err
			}
			stock = append(stock, took)
		}
		if took, err = timeServerTable(ctx, c); err != nil {
			return err
		}
		server = append(server, took)
		time.Sleep(2 * time.Second)
		r, a, err = p.Memory()
		if err != nil {
			return err
		}
		loaded, loadedAnon = append(loaded, r), append(loadedAnon, a)
		stop(p)
	}
	rowMedian(o.Out, "idle RSS (MiB)", idle, "%.0f")
	rowMedian(o.Out, "idle RSS, anonymous part (MiB)", idleAnon, "%.0f")
	rowMedian(o.Out, fmt.Sprintf("RSS with %d Jobs stored, after listing them (MiB)", o.Stored), loaded, "%.0f")
	rowMedian(o.Out, fmt.Sprintf("RSS with %d Jobs stored, anonymous part (MiB)", o.Stored), loadedAnon, "%.0f")
	rowMedian(o.Out, fmt.Sprintf("`batchd kubectl get jobs` over %d Jobs (s)", o.Stored), lists, "%.2f")
	if len(stock) > 0 {
		rowMedian(o.Out, fmt.Sprintf("stock `kubectl get jobs` (%s) over %d Jobs, same server (s)", kubectlVersion(ctx, stockKubectl), o.Stored), stock, "%.2f")
	}
	rowMedian(o.Out, fmt.Sprintf("`batchd kubectl get jobs --chunk-size=0` over %d Jobs (s)", o.Stored), unchunked, "%.2f")
	rowMedian(o.Out, fmt.Sprintf("server alone: one LIST of %d Jobs as a Table, client-go (s)", o.Stored), server, "%.2f")
	return nil
}

func row(w io.Writer, name string, v float64, format string, runs int) {
	fmt.Fprintf(w, "| %s | "+format+" | %d |\n", name, v, runs)
}

func rowMedian(w io.Writer, name string, vs []float64, format string) {
	sorted := append([]float64(nil), vs...)
	sort.Float64s(sorted)
	all := make([]string, len(vs))
	for i, v := range vs {
		all[i] = fmt.Sprintf(format, v)
	}
	fmt.Fprintf(w, "| %s | "+format+" | %d (%s) |\n", name, sorted[len(sorted)/2], len(vs), strings.Join(all, ", "))
}

// createJobs creates n Jobs with the given number of concurrent writers and
// returns creates per second.
func createJobs(ctx context.Context, c kubernetes.Interface, ns string, n, writers int, prefix string) (float64, error) {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				_, err := c.BatchV1().Jobs(ns).Create(ctx, benchJob(fmt.Sprintf("%s-%d", prefix, i)), metav1.CreateOptions{})
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds(), firstErr
}

func benchJob(name string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			Suspend: func() *bool { b := true; return &b }(), // nothing should run while benchmarking the API
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}},
			}},
		},
	}
}

// timeCommand times a command that must print something.
func timeCommand(ctx context.Context, name string, args ...string) (float64, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	start := time.Now()
	out, err := cmd.Output()
	took := time.Since(start).Seconds()
	if err != nil {
		return 0, fmt.Errorf("%s %v: %w", name, args, err)
	}
	if len(out) == 0 {
		return 0, fmt.Errorf("%s %v printed nothing", name, args)
	}
	return took, nil
}

func kubectlVersion(ctx context.Context, path string) string {
	out, err := exec.CommandContext(ctx, path, "version", "--client", "-o", "json").Output()
	if err != nil {
		return "unknown version"
	}
	if _, rest, ok := strings.Cut(string(out), `"gitVersion": "`); ok {
		if v, _, ok := strings.Cut(rest, `"`); ok {
			return v
		}
	}
	return "unknown version"
}

// timeServerTable times one unpaginated LIST of all Jobs as a Table, the
// request kubectl makes, read fully.
func timeServerTable(ctx context.Context, c kubernetes.Interface) (float64, error) {
	start := time.Now()
	body, err := c.BatchV1().RESTClient().Get().Resource("jobs").Namespace("default").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	if err != nil {
		return 0, err
	}
	if len(body) == 0 {
		return 0, fmt.Errorf("empty table")
	}
	return time.Since(start).Seconds(), nil
}
