package bench

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/batchd/batchd/internal/image"
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
	// OCI pods (runtimeClassName oci, a busybox-static image from a
	// registry in this process) for the runc start-latency figure, at OCIRate/s.
	OCI     int
	OCIRate float64
	// Crun adds the same OCI pods with crun (a RuntimeClass of handler crun).
	Crun    bool
	Busybox string
	Out     io.Writer
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
	var p50s, p99s, rates, xargs, hostP50s, hostP99s, ociP50s, ociP99s, crunP50s, crunP99s []float64
	imageRef := ""
	if o.OCI > 0 {
		if imageRef, err = benchRegistry(o.Busybox); err != nil {
			return err
		}
	}
	for i := 0; i < o.Runs; i++ {
		dir := filepath.Join(tmp, fmt.Sprintf("run-%d", i))
		p, err := startServer(o.Binary, dir)
		if err != nil {
			return err
		}
		c, err := client(p)
		if err == nil {
			var p50, p99, rate float64
			if p50, p99, err = startLatency(ctx, c, "lat-", o.Latency, o.Rate, hostPod); err == nil {
				p50s, p99s = append(p50s, p50), append(p99s, p99)
				if rate, err = podThroughput(ctx, c, o.Throughput, o.Writers); err == nil {
					rates = append(rates, rate)
				}
			}
			if err == nil && o.OCI > 0 {
				// The same small pods both ways (`sh -c "echo started"`: the
				// image has busybox's sh, not an echo binary), at the same
				// rate, in the same run.
				shPod := func(name string, _ ...string) *corev1.Pod { return benchPod(name, "sh", "-c", "echo started") }
				if p50, p99, err = startLatency(ctx, c, "host-", o.OCI, o.OCIRate, shPod); err == nil {
					hostP50s, hostP99s = append(hostP50s, p50), append(hostP99s, p99)
				}
				podOf := func(class string) func(string, ...string) *corev1.Pod {
					return func(name string, _ ...string) *corev1.Pod {
						pod := shPod(name)
						pod.Spec.RuntimeClassName = &class
						pod.Spec.Containers[0].Image = imageRef
						pod.Spec.Containers[0].ImagePullPolicy = corev1.PullIfNotPresent
						return pod
					}
				}
				// One pod pulls and unpacks the image first: what is measured is starts.
				if err == nil {
					_, _, err = startLatency(ctx, c, "pull-", 1, 1, podOf("oci"))
				}
				if err == nil {
					if p50, p99, err = startLatency(ctx, c, "oci-", o.OCI, o.OCIRate, podOf("oci")); err == nil {
						ociP50s, ociP99s = append(ociP50s, p50), append(ociP99s, p99)
					}
				}
				// crun, where the node has it, through a RuntimeClass of handler crun.
				if err == nil && o.Crun {
					rc := &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "crun"}, Handler: "crun"}
					if _, err = c.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{}); err == nil {
						if p50, p99, err = startLatency(ctx, c, "crun-", o.OCI, o.OCIRate, podOf("crun")); err == nil {
							crunP50s, crunP99s = append(crunP50s, p50), append(crunP99s, p99)
						}
					}
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
	if o.OCI > 0 {
		rowMedian(o.Out, fmt.Sprintf("pod start latency p50, host runtime, %d pods at %.0f/s (ms)", o.OCI, o.OCIRate), hostP50s, "%.1f")
		rowMedian(o.Out, fmt.Sprintf("pod start latency p99, host runtime, %d pods at %.0f/s (ms)", o.OCI, o.OCIRate), hostP99s, "%.1f")
		rowMedian(o.Out, fmt.Sprintf("pod start latency p50, runc (runtimeClassName oci, image present), %d pods at %.0f/s (ms)", o.OCI, o.OCIRate), ociP50s, "%.1f")
		rowMedian(o.Out, fmt.Sprintf("pod start latency p99, runc (runtimeClassName oci, image present), %d pods at %.0f/s (ms)", o.OCI, o.OCIRate), ociP99s, "%.1f")
	}
	if o.OCI > 0 && o.Crun {
		rowMedian(o.Out, fmt.Sprintf("pod start latency p50, crun (RuntimeClass of handler crun, image present), %d pods at %.0f/s (ms)", o.OCI, o.OCIRate), crunP50s, "%.1f")
		rowMedian(o.Out, fmt.Sprintf("pod start latency p99, crun (RuntimeClass of handler crun, image present), %d pods at %.0f/s (ms)", o.OCI, o.OCIRate), crunP99s, "%.1f")
	}
	return nil
}

func hostPod(name string, argv ...string) *corev1.Pod { return benchPod(name, argv...) }

// benchRegistry serves a registry on 127.0.0.1 for the rest of the process
// holding a busybox-static image, and returns the image's reference.
func benchRegistry(busybox string) (string, error) {
	img, err := image.Busybox(busybox, v1.Config{Env: []string{"PATH=/bin"}})
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go http.Serve(ln, registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	ref := ln.Addr().String() + "/bench/busybox:1"
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	return ref, remote.Write(r, img)
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
func startLatency(ctx context.Context, c kubernetes.Interface, prefix string, n int, rate float64, newPod func(string, ...string) *corev1.Pod) (p50, p99 float64, err error) {
	created := make([]time.Time, n)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for i := 0; i < n; i++ {
		<-tick.C
		created[i] = time.Now()
		if _, err := c.CoreV1().Pods("default").Create(ctx, newPod(fmt.Sprintf("%s%d", prefix, i), "echo", "started"), metav1.CreateOptions{}); err != nil {
			return 0, 0, err
		}
	}
	if err := waitSucceeded(ctx, c, prefix, n); err != nil {
		return 0, 0, err
	}
	lat := make([]float64, n)
	for i := 0; i < n; i++ {
		raw, err := c.CoreV1().Pods("default").GetLogs(fmt.Sprintf("%s%d", prefix, i), &corev1.PodLogOptions{Timestamps: true}).DoRaw(ctx)
		if err != nil {
			return 0, 0, err
		}
		ts, _, _ := strings.Cut(string(raw), " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return 0, 0, fmt.Errorf("pod %s%d log %q: %w", prefix, i, raw, err)
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
		list, err := c.CoreV1().Pods("default").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return err
		}
		done := 0
		for _, p := range list.Items {
			if !strings.HasPrefix(p.Name, prefix) {
				continue
			}
			switch p.Status.Phase {
			case corev1.PodSucceeded:
				done++
			case corev1.PodFailed:
				return fmt.Errorf("pod %s failed: %+v", p.Name, p.Status.ContainerStatuses)
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
