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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/batchd/batchd/internal/node/runtime"
)

// PodsOptions size the pod benchmark.
type PodsOptions struct {
	Binary     string
	Runs       int
	Latency    int     // pods created one by one for the start-latency figure
	Rate       float64 // pods created per second for the latency figure
	Throughput int     // trivial pods for the throughput figure
	Writers    int     // concurrent creators (and xargs -P) for the throughput figure
	Out        io.Writer
}

// Pods measures pod start latency (created → process running, from the
// container's first log line) and the throughput of trivial pods next to
// xargs -P running the same commands.
func Pods(ctx context.Context, o PodsOptions) error {
	tmp, err := begin(o.Out, "batchd-bench-pods-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var p50s, p99s, rates, xargs []float64
	for i := 0; i < o.Runs; i++ {
		dir := filepath.Join(tmp, fmt.Sprintf("run-%d", i))
		p, err := startServer(o.Binary, dir)
		if err != nil {
			return err
		}
		c, err := client(p)
		if err == nil {
			var p50, p99, rate float64
			if p50, p99, err = startLatency(ctx, c, o.Latency, o.Rate); err == nil {
				p50s, p99s = append(p50s, p50), append(p99s, p99)
				if rate, err = podThroughput(ctx, c, o.Throughput, o.Writers); err == nil {
					rates = append(rates, rate)
				}
			}
		}
		stop(p)
		runtime.KillAll(filepath.Join(dir, "pods"))
		if err != nil {
			return err
		}
		rate, err := xargsRate(ctx, o.Throughput, o.Writers)
		if err != nil {
			return err
		}
		xargs = append(xargs, rate)
	}
	rowMedian(o.Out, fmt.Sprintf("pod start latency p50, %d pods at %.0f/s (ms)", o.Latency, o.Rate), p50s, "%.1f")
	rowMedian(o.Out, fmt.Sprintf("pod start latency p99, %d pods at %.0f/s (ms)", o.Latency, o.Rate), p99s, "%.1f")
	rowMedian(o.Out, fmt.Sprintf("%d `true` pods, %d creators: pods/s (create → all Succeeded)", o.Throughput, o.Writers), rates, "%.0f")
	rowMedian(o.Out, fmt.Sprintf("same %d `true` commands through `xargs -P %d`: commands/s", o.Throughput, o.Writers), xargs, "%.0f")
	return nil
}

func benchPod(name string, argv ...string) *corev1.Pod {
	grace := int64(0)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: argv}}},
	}
}

// startLatency creates n pods at rate/s and returns the p50 and p99, in ms,
// of creation request → the container's first output line.
func startLatency(ctx context.Context, c kubernetes.Interface, n int, rate float64) (p50, p99 float64, err error) {
	created := make([]time.Time, n)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for i := 0; i < n; i++ {
		<-tick.C
		created[i] = time.Now()
		if _, err := c.CoreV1().Pods("default").Create(ctx, benchPod(fmt.Sprintf("lat-%d", i), "echo", "started"), metav1.CreateOptions{}); err != nil {
			return 0, 0, err
		}
	}
	if err := waitSucceeded(ctx, c, "lat-", n); err != nil {
		return 0, 0, err
	}
	lat := make([]float64, n)
	for i := 0; i < n; i++ {
		raw, err := c.CoreV1().Pods("default").GetLogs(fmt.Sprintf("lat-%d", i), &corev1.PodLogOptions{Timestamps: true}).DoRaw(ctx)
		if err != nil {
			return 0, 0, err
		}
		ts, _, _ := strings.Cut(string(raw), " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return 0, 0, fmt.Errorf("pod lat-%d log %q: %w", i, raw, err)
		}
		lat[i] = float64(t.Sub(created[i]).Microseconds()) / 1000
	}
	sort.Float64s(lat)
	return lat[n/2], lat[(n*99+99)/100-1], nil
}

// podThroughput creates n `true` pods with w creators and returns pods/s
// from the first create until all have Succeeded.
func podThroughput(ctx context.Context, c kubernetes.Interface, n, w int) (float64, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, w)
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			for i := k; i < n; i += w {
				if _, err := c.CoreV1().Pods("default").Create(ctx, benchPod(fmt.Sprintf("tp-%d", i), "true"), metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}(k)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	if err := waitSucceeded(ctx, c, "tp-", n); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// waitSucceeded polls until n pods named prefix* have Succeeded.
func waitSucceeded(ctx context.Context, c kubernetes.Interface, prefix string, n int) error {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		list, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Succeeded", ResourceVersion: "0"})
		if err != nil {
			return err
		}
		done := 0
		for _, p := range list.Items {
			if strings.HasPrefix(p.Name, prefix) {
				done++
			}
		}
		if done == n {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("pods %s*: not all %d Succeeded after 10 minutes", prefix, n)
}

// xargsRate runs n `true` processes through `xargs -P p` and returns
// processes per second: the baseline beside the pod figures.
func xargsRate(ctx context.Context, n, p int) (float64, error) {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "sh", "-c", fmt.Sprintf("seq %d | xargs -P %d -n 1 true", n, p))
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("xargs: %v: %s", err, out)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
