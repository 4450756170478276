package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/batchd/batchd/internal/node/runtime"
)

// ExecOptions size the exec benchmark.
type ExecOptions struct {
	Binary  string
	Runs    int
	Execs   int // sequential execs per figure and run
	Busybox string
	// OCIRuntime is the runc (or crun) the OCI pod runs with and that is
	// timed alone ("": no OCI figures).
	OCIRuntime string
	Out        io.Writer
}

// Exec measures the round trip of `kubectl exec P -- true` (a kubectl
// process per exec, as a user runs it), of the same exec from client-go in
// this process (WebSocket, kubectl's first choice, and SPDY), for a host
// pod and an OCI pod, beside `runc exec` alone into the same container.
func Exec(ctx context.Context, o ExecOptions) error {
	tmp, err := begin(o.Out, "batchd-bench-exec-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	imageRef := ""
	if o.OCIRuntime != "" {
		if imageRef, err = benchRegistry(o.Busybox); err != nil {
			return err
		}
	}
	type figure struct {
		name     string
		p50, p99 []float64
	}
	var figures []*figure
	add := func(name string, p50, p99 float64) {
		for _, f := range figures {
			if f.name == name {
				f.p50, f.p99 = append(f.p50, p50), append(f.p99, p99)
				return
			}
		}
		figures = append(figures, &figure{name: name, p50: []float64{p50}, p99: []float64{p99}})
	}
	for i := 0; i < o.Runs; i++ {
		dir := filepath.Join(tmp, fmt.Sprintf("run-%d", i))
		p, err := startServer(o.Binary, dir)
		if err != nil {
			return err
		}
		err = func() error {
			c, err := client(p)
			if err != nil {
				return err
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", p.Kubeconfig)
			if err != nil {
				return err
			}
			pods := map[string]*corev1.Pod{"host": benchPod("host", "sleep", "3600")}
			if imageRef != "" {
				oci := benchPod("oci", "/bin/busybox", "sleep", "3600")
				class := "oci"
				oci.Spec.RuntimeClassName = &class
				oci.Spec.Containers[0].Image = imageRef
				pods["oci"] = oci
			}
			for _, pod := range pods {
				if _, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					return err
				}
			}
			for _, kind := range []string{"host", "oci"} {
				pod := pods[kind]
				if pod == nil {
					continue
				}
				if pod, err = waitRunning(ctx, c, pod.Name); err != nil {
					return err
				}
				argv := []string{"true"}
				if kind == "oci" {
					argv = []string{"/bin/busybox", "true"} // the image has no true of its own
				}
				kubectl := append([]string{"kubectl", "--kubeconfig", p.Kubeconfig, "exec", pod.Name, "--"}, argv...)
				p50, p99, err := timeRuns(o.Execs, func() error { return exec.CommandContext(ctx, o.Binary, kubectl...).Run() })
				if err != nil {
					return fmt.Errorf("kubectl exec: %w", err)
				}
				add(fmt.Sprintf("`batchd kubectl exec P -- %s`, %s pod", argv[len(argv)-1], kind), p50, p99)
				for _, proto := range []string{"websocket", "spdy"} {
					u := c.CoreV1().RESTClient().Post().Resource("pods").Namespace("default").Name(pod.Name).SubResource("exec").
						VersionedParams(&corev1.PodExecOptions{Command: argv, Stdout: true, Stderr: true}, scheme.ParameterCodec).URL()
					p50, p99, err := timeRuns(o.Execs, func() error {
						var ex remotecommand.Executor
						var err error
						if proto == "websocket" {
							ex, err = remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
						} else {
							ex, err = remotecommand.NewSPDYExecutor(cfg, "POST", u)
						}
						if err != nil {
							return err
						}
						return ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
					})
					if err != nil {
						return fmt.Errorf("client-go exec (%s): %w", proto, err)
					}
					add(fmt.Sprintf("client-go exec (%s) of `%s` from a process already running, %s pod", proto, argv[len(argv)-1], kind), p50, p99)
				}
				if kind == "oci" {
					cid := runtime.OCIContainerID(runtime.ID{Pod: string(pod.UID), Container: "c", Attempt: 0})
					p50, p99, err := timeRuns(o.Execs, func() error {
						return exec.CommandContext(ctx, o.OCIRuntime, "exec", cid, "/bin/busybox", "true").Run()
					})
					if err != nil {
						return fmt.Errorf("%s exec: %w", o.OCIRuntime, err)
					}
					add(fmt.Sprintf("`%s exec` alone of `/bin/busybox true` into the same container", filepath.Base(o.OCIRuntime)), p50, p99)
				}
			}
			return nil
		}()
		stop(p)
		runtime.KillAll(filepath.Join(dir, "pods"))
		if err != nil {
			return err
		}
	}
	for _, f := range figures {
		rowMedian(o.Out, fmt.Sprintf("%s: p50 of %d (ms)", f.name, o.Execs), f.p50, "%.1f")
		rowMedian(o.Out, fmt.Sprintf("%s: p99 of %d (ms)", f.name, o.Execs), f.p99, "%.1f")
	}
	return nil
}

// timeRuns runs f n times in a row and returns the p50 and p99 of its
// durations, in ms.
func timeRuns(n int, f func() error) (p50, p99 float64, err error) {
	ds := make([]float64, n)
	for i := range ds {
		start := time.Now()
		if err := f(); err != nil {
			return 0, 0, err
		}
		ds[i] = float64(time.Since(start).Microseconds()) / 1000
	}
	sort.Float64s(ds)
	return ds[n/2], ds[(n*99+99)/100-1], nil
}

// waitRunning polls until the pod runs and returns it.
func waitRunning(ctx context.Context, c kubernetes.Interface, name string) (*corev1.Pod, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		pod, err := c.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil && pod.Status.Phase == corev1.PodRunning {
			return pod, nil
		}
		if err == nil && (pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded) {
			return nil, fmt.Errorf("pod %s ended: %s", name, pod.Status.Phase)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("pod %s is not running after 5 minutes", name)
}
