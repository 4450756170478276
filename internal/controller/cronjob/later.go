package cronjob

import (
	"context"
	"fmt"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// statusWorkers write the statuses a slot's syncs left behind.
const statusWorkers = 8

// later holds, per CronJob, the status a sync computed after creating a Job,
// until the status writer has written it (Config.StatusClient). Meanwhile
// the CronJob is not synced again: its cache would not show the Job in
// status.active, and a sync would take it for a Job it did not create.
type later struct {
	mu      sync.Mutex
	pending map[string]*batchv1.CronJob
}

func newLater() *later { return &later{pending: map[string]*batchv1.CronJob{}} }

func (l *later) put(key string, cj *batchv1.CronJob) {
	l.mu.Lock()
	l.pending[key] = cj
	l.mu.Unlock()
}

func (l *later) get(key string) *batchv1.CronJob {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pending[key]
}

func (l *later) keys() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.pending))
	for k := range l.pending {
		out = append(out, k)
	}
	return out
}

func (l *later) done(key string) {
	l.mu.Lock()
	delete(l.pending, key)
	l.mu.Unlock()
}

// writeStatus writes the status a sync left for key, then wakes the CronJob's
// sync. A conflict (the CronJob changed meanwhile) drops it: the sync decides
// again from what is stored, and finds the Job it created by its name.
func (c *Controller) writeStatus(ctx context.Context, key string) (time.Duration, error) {
	cj := c.later.get(key)
	if cj == nil {
		return 0, nil
	}
	updated, err := c.cfg.StatusClient.BatchV1().CronJobs(cj.Namespace).UpdateStatus(ctx, cj, metav1.UpdateOptions{})
	switch {
	case err == nil:
		c.written.wrote(key, updated.ResourceVersion)
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
	default:
		return 0, fmt.Errorf("update status of cronjob %s: %w", key, err)
	}
	c.later.done(key)
	c.runner.Add(key)
	return 0, nil
}

// flushLater writes what the stopped status writer left, for flushTimeout
// at most.
func (c *Controller) flushLater(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, flushTimeout)
	defer cancel()
	for _, key := range c.later.keys() {
		if _, err := c.writeStatus(ctx, key); err != nil {
			klog.FromContext(ctx).Error(err, "status left unwritten at stop", "cronjob", key)
		}
	}
}

// flushTimeout bounds the status writes of a stop.
const flushTimeout = 5 * time.Second

// forgetLater drops what is left to write for a deleted CronJob.
func (c *Controller) forgetLater(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.later.done(key)
	}
}
