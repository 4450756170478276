// Package ttl deletes finished Jobs once their ttlSecondsAfterFinished has
// passed, as upstream's ttl-after-finished controller does: it is woken at the
// expiry instant (no polling), re-reads the Job from the API server before
// deleting, and deletes with foreground propagation and a UID precondition so
// the Job's pods go first and a re-created Job of the same name is never hit.
package ttl

import (
	"context"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/controller"
)

// Controller expires finished Jobs.
type Controller struct {
	client kubernetes.Interface
	jobs   batchlisters.JobLister
	clock  clock.WithTicker
	runner *controller.Runner[string]
}

// Config holds the controller's dependencies.
type Config struct {
	Client   kubernetes.Interface
	Informer informers.SharedInformerFactory
	// Clock is when Jobs expire (nil: the real clock); it may be virtual.
	Clock clock.WithTicker
}

// New wires the controller to the informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	f := cfg.Informer
	c := &Controller{client: cfg.Client, jobs: f.Batch().V1().Jobs().Lister(), clock: cfg.Clock}
	c.runner = controller.NewRunner("ttl-after-finished", c.sync, controller.WithClock(cfg.Clock))
	enqueue := func(obj any) {
		if j, ok := obj.(*batchv1.Job); ok && j.Spec.TTLSecondsAfterFinished != nil {
			if key, err := cache.MetaNamespaceKeyFunc(j); err == nil {
				c.runner.Add(key)
			}
		}
	}
	_, err := f.Batch().V1().Jobs().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	return c, err
}

// Run processes Jobs until ctx ends.
func (c *Controller) Run(ctx context.Context) { c.runner.Run(ctx, 2) }

func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	j, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	d := Decide(j, c.clock.Now())
	if !d.Delete {
		return d.Requeue, nil
	}
	// The cache may be stale (TTL changed, Job re-created): decide again on a fresh read.
	fresh, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if d = Decide(fresh, c.clock.Now()); !d.Delete {
		return d.Requeue, nil
	}
	policy := metav1.DeletePropagationForeground
	err = c.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return 0, nil
	}
	return 0, err
}
