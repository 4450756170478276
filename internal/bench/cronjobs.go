package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/batchd/batchd/internal/serverproc"
)

// CronJobsOptions size the CronJob benchmark.
type CronJobsOptions struct {
	Binary string
	Runs   int
	Sizes  []int // CronJobs at "* * * * *" per run
	Out    io.Writer
}

// CronJobs measures, for n every-minute CronJobs, the skew between a slot and
// the moment its Job is seen by a watching client, and the server's CPU
// seconds over the minute that starts at the slot. The server runs without a
// node agent and scheduler: pods stay Pending, so what is measured is the control plane.
func CronJobs(ctx context.Context, o CronJobsOptions) error {
	tmp, err := begin(o.Out, "batchd-bench-cronjobs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, n := range o.Sizes {
		var p50s, p99s, cpus []float64
		for i := 0; i < o.Runs; i++ {
			log, err := os.Create(filepath.Join(tmp, fmt.Sprintf("cj-%d-%d.log", n, i)))
			if err != nil {
				return err
			}
			p, err := serverproc.Start(o.Binary, filepath.Join(tmp, fmt.Sprintf("cj-%d-%d", n, i)), log, time.Minute, "--disable-node-agent", "--disable-scheduler")
			if err != nil {
				return err
			}
			c, err := client(p)
			var p50, p99, cpu float64
			if err == nil {
				p50, p99, cpu, err = cronJobSlot(ctx, c, p, n)
			}
			stop(p)
			log.Close()
			if err != nil {
				return err
			}
			p50s, p99s, cpus = append(p50s, p50), append(p99s, p99), append(cpus, cpu)
		}
		rowMedian(o.Out, fmt.Sprintf("Job creation skew p50, %d CronJobs at `* * * * *` (s)", n), p50s, "%.2f")
		rowMedian(o.Out, fmt.Sprintf("Job creation skew p99, %d CronJobs at `* * * * *` (s)", n), p99s, "%.2f")
		rowMedian(o.Out, fmt.Sprintf("server CPU seconds in the minute from the slot, %d CronJobs", n), cpus, "%.1f")
	}
	return nil
}

func benchCronJob(name string) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.CronJobSpec{Schedule: "* * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"true"}}}}}}}},
	}
}

// cronJobSlot creates n CronJobs, waits for the next minute's slot and
// returns the p50/p99 skew (s) of their Jobs and the server's CPU seconds
// over the minute from the slot.
func cronJobSlot(ctx context.Context, c kubernetes.Interface, p *serverproc.Process, n int) (p50, p99, cpu float64, err error) {
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 32 {
				if _, err := c.BatchV1().CronJobs("default").Create(ctx, benchCronJob(fmt.Sprintf("cj-%d", i)), metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, 0, err
	}
	slot := time.Now().Truncate(time.Minute).Add(time.Minute)
	// The server ends a watch that falls behind a burst (its buffer full):
	// client-go's RetryWatcher goes on from the last event seen, as a
	// reflector does; the Jobs' arrivals include the gap.
	jobs := c.BatchV1().Jobs("default")
	now, err := jobs.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return 0, 0, 0, err
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, now.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return jobs.Watch(ctx, o) },
	})
	if err != nil {
		return 0, 0, 0, err
	}
	defer w.Stop()
	time.Sleep(time.Until(slot))
	cpu0, err := p.CPUSeconds()
	if err != nil {
		return 0, 0, 0, err
	}
	var skews []float64
	// Jobs later than the next slot still count (the skew shows it); CPU is
	// read at slot + 1 minute either way.
	deadline := time.After(time.Until(slot.Add(3 * time.Minute)))
	cpuAt := time.After(time.Until(slot.Add(time.Minute)))
	cpu1 := -1.0
	for len(skews) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, 0, 0, fmt.Errorf("watch ended after %d Jobs", len(skews))
			}
			if ev.Type == watch.Error {
				return 0, 0, 0, fmt.Errorf("watch after %d Jobs: %w", len(skews), apierrors.FromObject(ev.Object))
			}
			if ev.Type == watch.Added {
				skews = append(skews, time.Since(slot).Seconds())
			}
		case <-cpuAt:
			if cpu1, err = p.CPUSeconds(); err != nil {
				return 0, 0, 0, err
			}
		case <-deadline:
			return 0, 0, 0, fmt.Errorf("only %d of %d Jobs within 3 minutes of the slot", len(skews), n)
		}
	}
	if cpu1 < 0 {
		time.Sleep(time.Until(slot.Add(time.Minute)))
		if cpu1, err = p.CPUSeconds(); err != nil {
			return 0, 0, 0, err
		}
	}
	sort.Float64s(skews)
	return skews[n/2], skews[(n*99+99)/100-1], cpu1 - cpu0, nil
}
