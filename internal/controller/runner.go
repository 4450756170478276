package controller

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// SyncFunc reconciles one key. A positive requeue asks to be called again after
// that long; an error retries with per-key exponential backoff.
type SyncFunc func(ctx context.Context, key string) (requeue time.Duration, err error)

// Runner drives a SyncFunc from a work queue.
type Runner struct {
	Name  string
	Queue workqueue.TypedRateLimitingInterface[string]
	Sync  SyncFunc
}

// NewRunner returns a runner with the default controller rate limiter.
func NewRunner(name string, sync SyncFunc) *Runner {
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
	return &Runner{Name: name, Queue: q, Sync: sync}
}

// Add enqueues key now.
func (r *Runner) Add(key string) { r.Queue.Add(key) }

// AddAfter enqueues key after d.
func (r *Runner) AddAfter(key string, d time.Duration) { r.Queue.AddAfter(key, d) }

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
		r.Queue.AddRateLimited(key)
	case err != nil && ctx.Err() != nil:
		// Stopping: the sync was cut short, it did not fail.
	case err != nil:
		klog.FromContext(ctx).Error(err, "sync failed", "controller", r.Name, "key", key)
		r.Queue.AddRateLimited(key)
	case requeue > 0:
		r.Queue.Forget(key)
		r.Queue.AddAfter(key, requeue)
	default:
		r.Queue.Forget(key)
	}
	return true
}
