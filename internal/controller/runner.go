package controller

import (
	"context"
	"time"

	"golang.org/x/time/rate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// SyncFunc reconciles one key. A positive requeue asks to be called again after
// that long; an error retries with per-key exponential backoff.
type SyncFunc[K comparable] func(ctx context.Context, key K) (requeue time.Duration, err error)

// Runner drives a SyncFunc from a work queue of keys K: most controllers'
// are "namespace/name" strings, the garbage collector's a struct naming the
// resource too.
//
// Delays have two clocks. A requeue a controller asks for (a deadline, a
// back-off, the next cron slot: AddAfter and a SyncFunc's requeue) is in the
// controller's time, which may be virtual (WithClock). A batching window
// (AddAfterReal) and the back-off after a sync error are about the
// machine's work and the API server's health, so they run in real time:
// with a frozen virtual clock a burst is still batched and a failed write is
// still retried.
type Runner[K comparable] struct {
	Name string
	// Queue is the work queue, its delays in real time.
	Queue workqueue.TypedRateLimitingInterface[K]
	Sync  SyncFunc[K]
	// timed holds requeues in the controller's clock when it is not the
	// machine's (nil: they go to Queue directly).
	timed workqueue.TypedDelayingInterface[K]
}

// Option configures a Runner.
type Option func(*options)

type options struct {
	clock      clock.WithTicker
	maxBackoff time.Duration
}

// WithMaxBackoff caps the back-off after failed syncs of a key at max
// instead of client-go's default controller rate limiter's 1000 s (its
// 5 ms start and overall 10/s bucket kept).
func WithMaxBackoff(max time.Duration) Option {
	return func(o *options) { o.maxBackoff = max }
}

// WithClock makes requeues (AddAfter and a SyncFunc's requeue) wait in clk's
// time instead of the machine's.
func WithClock(clk clock.WithTicker) Option {
	return func(o *options) { o.clock = clk }
}

// NewRunner returns a runner with the default controller rate limiter.
func NewRunner[K comparable](name string, sync SyncFunc[K], opts ...Option) *Runner[K] {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	q := workqueue.NewTypedRateLimitingQueueWithConfig(failureLimiter[K](o.maxBackoff), workqueue.TypedRateLimitingQueueConfig[K]{Name: name})
	r := &Runner[K]{Name: name, Queue: q, Sync: sync}
	if _, real := o.clock.(clock.RealClock); o.clock != nil && !real {
		r.timed = workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[K]{Clock: o.clock})
	}
	return r
}

// failureLimiter is client-go's default controller rate limiter (per key
// 5 ms doubling to 1000 s, all keys 10/s with a burst of 100), its per-key
// back-off capped at max when max > 0.
func failureLimiter[K comparable](max time.Duration) workqueue.TypedRateLimiter[K] {
	if max <= 0 {
		return workqueue.DefaultTypedControllerRateLimiter[K]()
	}
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[K](5*time.Millisecond, max),
		&workqueue.TypedBucketRateLimiter[K]{Limiter: rate.NewLimiter(rate.Limit(10), 100)})
}

// Add enqueues key now.
func (r *Runner[K]) Add(key K) { r.Queue.Add(key) }

// AddAfter enqueues key after d of the controller's time.
func (r *Runner[K]) AddAfter(key K, d time.Duration) {
	if r.timed != nil {
		r.timed.AddAfter(key, d)
		return
	}
	r.Queue.AddAfter(key, d)
}

// AddAfterReal enqueues key after d of real time: a batching window.
func (r *Runner[K]) AddAfterReal(key K, d time.Duration) { r.Queue.AddAfter(key, d) }

// Run processes keys with the given number of workers until ctx ends.
func (r *Runner[K]) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	go func() {
		<-ctx.Done()
		r.Queue.ShutDown()
		if r.timed != nil {
			r.timed.ShutDown()
		}
	}()
	if r.timed != nil {
		go func() {
			for {
				key, quit := r.timed.Get()
				if quit {
					return
				}
				r.timed.Done(key)
				r.Queue.Add(key)
			}
		}()
	}
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

func (r *Runner[K]) next(ctx context.Context) bool {
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
		r.Queue.AddRateLimited(key)
	case err != nil && ctx.Err() != nil:
		// Stopping: the sync was cut short, it did not fail.
	case err != nil:
		klog.FromContext(ctx).Error(err, "sync failed", "controller", r.Name, "key", key)
		r.Queue.AddRateLimited(key)
	case requeue > 0:
		r.Queue.Forget(key)
		r.AddAfter(key, requeue)
	default:
		r.Queue.Forget(key)
	}
	return true
}
