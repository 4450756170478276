package controller

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// SyncFunc reconciles one key. A positive requeue asks to be called again after
// that long; an error retries with per-key exponential backoff.
type SyncFunc func(ctx context.Context, key string) (requeue time.Duration, err error)

// Runner drives a SyncFunc from a work queue.
//
// Two kinds of delay have two clocks. A requeue a controller asks for
// (a deadline, a back-off, the next cron slot) is in the controller's time:
// the Runner's clock, which may be virtual. The back-off after a sync
// error is a matter of the API server's health, so it runs in real time:
// with a frozen virtual clock a failed write is still retried.
type Runner struct {
	Name string
	// Queue delays AddAfter in the Runner's clock.
	Queue   workqueue.TypedDelayingInterface[string]
	Sync    SyncFunc
	limiter workqueue.TypedRateLimiter[string]
	real    clock.WithDelayedExecution
}

// Option configures a Runner.
type Option func(*runnerOptions)

type runnerOptions struct{ clock clock.WithTicker }

// WithClock makes requeues (AddAfter and a SyncFunc's requeue) wait in clk's
// time instead of the machine's.
func WithClock(clk clock.WithTicker) Option {
	return func(o *runnerOptions) {
		if clk != nil {
			o.clock = clk
		}
	}
}

// NewRunner returns a runner with the default controller rate limiter.
func NewRunner(name string, sync SyncFunc, opts ...Option) *Runner {
	o := runnerOptions{clock: clock.RealClock{}}
	for _, opt := range opts {
		opt(&o)
	}
	q := workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{Name: name, Clock: o.clock})
	return &Runner{Name: name, Queue: q, Sync: sync, limiter: workqueue.DefaultTypedControllerRateLimiter[string](), real: clock.RealClock{}}
}

// Add enqueues key now.
func (r *Runner) Add(key string) { r.Queue.Add(key) }

// AddAfter enqueues key after d of the Runner's clock.
func (r *Runner) AddAfter(key string, d time.Duration) { r.Queue.AddAfter(key, d) }

// retry enqueues key after its per-key back-off, in real time.
func (r *Runner) retry(key string) {
	r.real.AfterFunc(r.limiter.When(key), func() { r.Queue.Add(key) })
}

// Run processes keys with the given number of workers until ctx ends.
func (r *Runner) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	go func() {
		<-ctx.Done()
		r.Queue.ShutDown()
	}()
	done := make(chan struct{})
	for i := 0; i < workers; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for r.next(ctx) {
			}
		}()
	}
	for i := 0; i < workers; i++ {
		<-done
	}
}

func (r *Runner) next(ctx context.Context) bool {
	key, quit := r.Queue.Get()
	if quit {
		return false
	}
	defer r.Queue.Done(key)
	requeue, err := r.Sync(ctx, key)
	switch {
	case apierrors.IsConflict(err):
		// A stale cache lost a write race: expected, retried, not worth an error line.
		klog.FromContext(ctx).V(4).Info("sync conflict", "controller", r.Name, "key", key, "err", err)
		r.retry(key)
	case err != nil:
		klog.FromContext(ctx).Error(err, "sync failed", "controller", r.Name, "key", key)
		r.retry(key)
	case requeue > 0:
		r.limiter.Forget(key)
		r.Queue.AddAfter(key, requeue)
	default:
		r.limiter.Forget(key)
	}
	return true
}
