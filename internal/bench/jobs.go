package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/serverproc"
)

// JobsOptions size the Job benchmark.
type JobsOptions struct {
	Binary      string
	Runs        int
	Completions int
	Parallelism int
	// FakeKubelets are the concurrent status writers of the instant fake runtime.
	FakeKubelets int
	// NoHistory runs the servers with --run-history=false (no JobRuns, no kept logs).
	NoHistory bool
	// Agents, when above 0, adds a run of the real runtime with that many
	// `batchd agent` processes beside the server (on 127.0.0.2 and up),
	// the pods spread over all the nodes by the scheduler.
	Agents int
	Out    io.Writer
	// Progress, when set, gets each run's figures as soon as it is done
	// (a five-run campaign of 10,000 completions takes over an hour).
	Progress io.Writer
}

// serverArgs are the flags of every server the benchmark starts.
func (o JobsOptions) serverArgs(args ...string) []string {
	if o.NoHistory {
		args = append(args, "--run-history=false")
	}
	return args
}

// Jobs measures one Indexed Job of `true` from create to Complete, in pods
// per second: run by the real node agent, next to xargs -P running the same
// processes in the same run, and with the runtime replaced by an instant fake
// (the server without its node agent, the benchmark marking each new pod
// Succeeded through the API, as upstream's Job integration benchmark does),
// which leaves the controller's and the API server's cost.
func Jobs(ctx context.Context, o JobsOptions) error {
	tmp, err := begin(o.Out, "batchd-bench-jobs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var real, xargs, fake, spread []float64
	for i := 0; i < o.Runs; i++ {
		dir := filepath.Join(tmp, fmt.Sprintf("real-%d", i))
		p, err := startServer(o.Binary, dir, o.serverArgs()...)
		if err != nil {
			return err
		}
		rate, err := jobRun(ctx, p, o, nil)
		stop(p)
		runtime.KillAll(filepath.Join(dir, "pods"))
		// Each run's data dir goes once measured: five runs of 10,000
		// pods would otherwise bring the disk toward DiskPressure.
		os.RemoveAll(dir)
		if err != nil {
			return fmt.Errorf("real runtime: %w", err)
		}
		real = append(real, rate)

		if o.Agents > 0 {
			rate, err := agentsRun(ctx, tmp, i, o)
			if err != nil {
				return fmt.Errorf("real runtime on 1 server + %d agents: %w", o.Agents, err)
			}
			spread = append(spread, rate)
		}

		rate, err = xargsRate(ctx, o.Completions, o.Parallelism)
		if err != nil {
			return err
		}
		xargs = append(xargs, rate)

		dir = filepath.Join(tmp, fmt.Sprintf("fake-%d", i))
		log, err := os.Create(dir + ".log")
		if err != nil {
			return err
		}
		p, err = serverproc.Start(o.Binary, dir, log, time.Minute, o.serverArgs("--disable-node-agent", "--disable-scheduler")...)
		if err != nil {
			return err
		}
		rate, err = jobRun(ctx, p, o, fakeKubelet(o.FakeKubelets))
		stop(p)
		log.Close()
		os.RemoveAll(dir)
		if err != nil {
			return fmt.Errorf("instant fake runtime: %w", err)
		}
		fake = append(fake, rate)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "run %d of %d: real runtime %.1f", i+1, o.Runs, real[i])
			if o.Agents > 0 {
				fmt.Fprintf(o.Progress, ", with %d agents %.1f", o.Agents, spread[i])
			}
			fmt.Fprintf(o.Progress, ", xargs %.0f, instant fake runtime %.0f pods/s\n", xargs[i], fake[i])
		}
	}
	what := fmt.Sprintf("Indexed Job, %d completions of `true`, parallelism %d", o.Completions, o.Parallelism)
	rowMedian(o.Out, what+", real runtime: pods/s (create → Complete)", real, "%.0f")
	if o.Agents > 0 {
		rowMedian(o.Out, fmt.Sprintf("%s, real runtime on 1 server + %d agents: pods/s (create → Complete)", what, o.Agents), spread, "%.0f")
	}
	rowMedian(o.Out, fmt.Sprintf("same %d `true` through `xargs -P %d`, same run: commands/s", o.Completions, o.Parallelism), xargs, "%.0f")
	rowMedian(o.Out, what+", instant fake runtime: pods/s (controller + API only)", fake, "%.0f")
	return nil
}

// jobRun creates the benchmark Job on p, runs kubelet (if any) beside it, and
// returns completions per second from the create request to the Complete
// condition.
func jobRun(ctx context.Context, p *serverproc.Process, o JobsOptions, kubelet func(context.Context, kubernetes.Interface) error) (float64, error) {
	c, err := client(p)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	kerr := make(chan error, 1)
	if kubelet != nil {
		go func() { kerr <- kubelet(ctx, c) }()
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: batchv1.JobSpec{
			Completions: ptr.To(int32(o.Completions)), Parallelism: ptr.To(int32(o.Parallelism)),
			CompletionMode: ptr.To(batchv1.IndexedCompletion),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: ptr.To(int64(0)),
				Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}},
			}},
		},
	}
	w, err := c.BatchV1().Jobs("default").Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "bench").String()})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	start := time.Now()
	if _, err := c.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	for {
		select {
		case err := <-kerr:
			return 0, fmt.Errorf("fake kubelet: %w", err)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, fmt.Errorf("watch of the Job closed")
			}
			if ev.Type == watch.Error {
				return 0, apierrors.FromObject(ev.Object)
			}
			j, ok := ev.Object.(*batchv1.Job)
			if !ok {
				continue
			}
			for _, cond := range j.Status.Conditions {
				if cond.Status != corev1.ConditionTrue {
					continue
				}
				switch cond.Type {
				case batchv1.JobComplete:
					if j.Status.Succeeded != int32(o.Completions) {
						return 0, fmt.Errorf("Complete with %d succeeded, want %d", j.Status.Succeeded, o.Completions)
					}
					return float64(o.Completions) / time.Since(start).Seconds(), nil
				case batchv1.JobFailed:
					return 0, fmt.Errorf("Job failed: %s: %s", cond.Reason, cond.Message)
				}
			}
		}
	}
}

// fakeKubelet returns an instant runtime: every pod that appears is marked
// Succeeded by one of n writers. Only the phase is written, as upstream's
// integration benchmark does: the pods are not bound to a node, and
// container statuses of an unbound pod are invalid.
func fakeKubelet(n int) func(context.Context, kubernetes.Interface) error {
	return func(ctx context.Context, c kubernetes.Interface) error {
		todo := make(chan *corev1.Pod, 1<<16)
		factory := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace("default"))
		inf := factory.Core().V1().Pods().Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
			if pod := obj.(*corev1.Pod); pod.Status.Phase == corev1.PodPending && pod.DeletionTimestamp == nil {
				todo <- pod
			}
		}}); err != nil {
			return err
		}
		factory.Start(ctx.Done())
		defer factory.Shutdown()
		errs := make(chan error, n)
		var wg sync.WaitGroup
		defer wg.Wait()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // before the wait: it is what ends the writers
		for k := 0; k < n; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-ctx.Done():
						return
					case pod := <-todo:
						if err := succeed(ctx, c, pod); err != nil && ctx.Err() == nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		select {
		case err := <-errs:
			return err
		case <-ctx.Done():
			return nil
		}
	}
}

// succeed marks pod Succeeded.
func succeed(ctx context.Context, c kubernetes.Interface, pod *corev1.Pod) error {
	for {
		pod = pod.DeepCopy()
		pod.Status.Phase = corev1.PodSucceeded
		_, err := c.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) {
			return err
		}
		if pod, err = c.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); err != nil {
			return err
		}
		if pod.Status.Phase != corev1.PodPending || pod.DeletionTimestamp != nil {
			return nil
		}
	}
}
