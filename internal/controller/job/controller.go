package job

import (
	"context"
	"errors"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/controller"
)

// Component is the event source of the Job controller.
const Component = "job-controller"

// Controller runs Jobs.
type Controller struct {
	client   kubernetes.Interface
	jobs     batchlisters.JobLister
	pods     corelisters.PodLister
	podIndex cache.Indexer // by claimIndex
	clock    clock.WithTicker
	recorder record.EventRecorder
	expect   *expectations
	// releasing holds finalizer removals the pod informer has yet to show.
	releasing *releasing
	runner    *controller.Runner[string]
	batch     time.Duration
	drained   *drained
	metrics   *Metrics
}

// Config holds the controller's dependencies; nil Clock means the real one.
type Config struct {
	Client   kubernetes.Interface
	Informer informers.SharedInformerFactory
	Recorder record.EventRecorder
	// Clock is the controller's time (deadlines, back-off, status times);
	// it may be virtual. Batching windows are in real time.
	Clock clock.WithTicker
	// SyncBatchPeriod gathers a Job's pod changes into one sync (default 1 s, as upstream).
	SyncBatchPeriod time.Duration
	// Register exports the controller's metrics (e.g. legacyregistry.Register); nil keeps them private.
	Register func(metrics.Registerable) error
}

// New wires the controller to the informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	c := &Controller{
		client:    cfg.Client,
		jobs:      cfg.Informer.Batch().V1().Jobs().Lister(),
		pods:      cfg.Informer.Core().V1().Pods().Lister(),
		clock:     cfg.Clock,
		recorder:  cfg.Recorder,
		expect:    newExpectations(),
		releasing: newReleasing(),
		batch:     cfg.SyncBatchPeriod,
		drained:   newDrained(),
	}
	if c.batch == 0 {
		c.batch = time.Second
	}
	podInformer := cfg.Informer.Core().V1().Pods().Informer()
	if err := podInformer.AddIndexers(cache.Indexers{claimIndex: claimKeys}); err != nil {
		return nil, err
	}
	c.podIndex = podInformer.GetIndexer()
	m, err := newMetrics(cfg.Register)
	if err != nil {
		return nil, err
	}
	c.metrics = m
	// A Job whose syncs fail for a while (its pods' creates refused while
	// the storage is full) is retried at least once a minute, as upstream's
	// MaxJobApiBackOff (pkg/controller/job/job_controller.go); with
	// client-go's default limiter it could wait up to 1000 s once the
	// storage was back.
	c.runner = controller.NewRunner("job", c.sync, controller.WithClock(cfg.Clock), controller.WithMaxBackoff(maxAPIBackoff))
	if _, err := cfg.Informer.Batch().V1().Jobs().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if j, ok := obj.(*batchv1.Job); ok && j.Spec.ManagedBy != nil && *j.Spec.ManagedBy != batchv1.JobControllerName {
				c.metrics.external.WithLabelValues(*j.Spec.ManagedBy).Inc()
			}
			c.enqueueJob(obj)
		},
		UpdateFunc: func(_, obj any) { c.enqueueJob(obj) },
		DeleteFunc: c.enqueueJob,
	}); err != nil {
		return nil, err
	}
	_, err = cfg.Informer.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			c.metrics.trackFinalizer(nil, obj)
			if key, ok := ownerKey(obj); ok {
				c.expect.observed(key, 1, 0)
			}
			c.enqueuePod(nil, obj)
		},
		UpdateFunc: func(old, obj any) {
			c.metrics.trackFinalizer(old, obj)
			c.enqueuePod(old, obj)
			c.syncIfDrained(old, obj)
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				c.metrics.trackFinalizer(tomb.Obj, nil)
			} else {
				c.metrics.trackFinalizer(obj, nil)
			}
			if key, ok := ownerKey(obj); ok {
				c.expect.observed(key, 0, 1)
			}
			c.enqueuePod(nil, obj)
		},
	})
	return c, err
}

// enqueuePod schedules a sync of the Jobs a pod change concerns: its
// controller (and former controller), or for an orphan every Job whose
// selector matches it, so that it can be adopted. Pod changes are batched
// over SyncBatchPeriod, as upstream does, so a burst costs one sync.
func (c *Controller) enqueuePod(old, obj any) {
	for _, o := range []any{old, obj} {
		if o == nil {
			continue
		}
		if key, ok := ownerKey(o); ok {
			c.runner.AddAfterReal(key, c.batch)
			continue
		}
		if tomb, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = tomb.Obj
		}
		p, ok := o.(*corev1.Pod)
		if !ok || metav1.GetControllerOf(p) != nil || p.DeletionTimestamp != nil {
			continue
		}
		jobs, err := c.jobs.Jobs(p.Namespace).List(labels.Everything())
		if err != nil {
			continue
		}
		for _, j := range jobs {
			if sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector); err == nil && j.Spec.Selector != nil && sel.Matches(labels.Set(p.Labels)) {
				c.runner.AddAfterReal(j.Namespace+"/"+j.Name, c.batch)
			}
		}
	}
}

// syncIfDrained syncs a Job at once when its last active pod has finished
// (see drained).
func (c *Controller) syncIfDrained(old, obj any) {
	oldPod, _ := old.(*corev1.Pod)
	pod, _ := obj.(*corev1.Pod)
	if !justFinished(oldPod, pod) {
		return // most pod updates: nothing to look up
	}
	key, ok := ownerKey(obj)
	if !ok {
		return
	}
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	j, err := c.jobs.Jobs(ns).Get(name)
	if err != nil {
		return
	}
	if c.drained.observe(key, oldPod, pod, j.Status.Active) {
		c.runner.Add(key)
	}
}

func (c *Controller) enqueueJob(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.runner.Add(key)
	}
}

// ownerKey is the namespace/name of the Job controlling a pod.
func ownerKey(obj any) (string, bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return "", false
	}
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.Kind != "Job" || ref.APIVersion != "batch/v1" {
		return "", false
	}
	return p.Namespace + "/" + ref.Name, true
}

// Run processes Jobs until ctx ends; the informers must have synced.
func (c *Controller) Run(ctx context.Context) { c.runner.Run(ctx, 4) }

func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	c.drained.synced(key) // first, so that a gone Job leaves no count behind
	j, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expect.forget(key)
		c.releasing.forget(key)
		return 0, c.releaseOrphans(ctx, ns, name)
	}
	if err != nil {
		return 0, err
	}
	if j.Spec.ManagedBy != nil && *j.Spec.ManagedBy != batchv1.JobControllerName {
		return 0, nil // another controller runs this Job
	}
	start := time.Now() // the sync's real duration, for the metric
	cached, err := c.claimPods(ctx, j)
	if err != nil {
		return 0, err
	}
	pods := c.releasing.view(key, cached)
	now := c.clock.Now()
	unsynced := !c.expect.satisfied(key, now)
	plan := Decide(Observed{Job: j, Pods: pods, Now: now, Unsynced: unsynced})
	written, err := c.apply(ctx, key, j, plan)
	if err == nil && flushable(plan) {
		// As upstream's flushUncountedAndRemoveFinalizers, the pods just
		// recorded and released are counted in this same sync (and the Job
		// finished if they were its last) rather than by a later one that
		// waits out the batching period: the second phase of counting,
		// decided over the Job as written and the pods as released (their
		// removals recorded in c.releasing). Only its status is written; a
		// pod to create or delete waits for the next sync, which sees the
		// informers' view.
		flush := Decide(Observed{Job: written, Pods: c.releasing.view(key, cached), Now: now, Unsynced: unsynced})
		if flush.Status != nil && len(flush.Create)+len(flush.DeleteUncounted)+len(flush.DeleteFailed)+len(flush.RemoveFinalizers) == 0 {
			_, err = c.apply(ctx, key, written, flush)
			plan.Requeue = flush.Requeue
		}
	}
	result := "success"
	if err != nil {
		result = "error"
	}
	labels := []string{completionMode(j), result, syncAction(plan, unsynced)}
	c.metrics.syncs.WithLabelValues(labels...).Inc()
	c.metrics.syncDuration.WithLabelValues(labels...).Observe(time.Since(start).Seconds())
	return plan.Requeue, err
}

// releaseOrphans removes the tracking finalizer from pods whose Job is gone,
// so that they can be deleted; the Job's absence is confirmed live first.
func (c *Controller) releaseOrphans(ctx context.Context, ns, name string) error {
	pods, err := c.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var orphans []*corev1.Pod
	for _, p := range pods {
		if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "Job" && ref.Name == name && hasString(p.Finalizers, TrackingFinalizer) {
			orphans = append(orphans, p)
		}
	}
	if len(orphans) == 0 {
		return nil
	}
	live, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	var errs []error
	for _, p := range orphans {
		if live != nil && err == nil && metav1.GetControllerOf(p).UID == live.UID {
			continue // the Job exists after all; the next sync handles its pods
		}
		errs = append(errs, c.removeFinalizer(ctx, p))
	}
	return errors.Join(errs...)
}
