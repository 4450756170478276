package cronjob

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/controller"
)

// Config wires a Controller; nil Clock and Local mean the real clock and time.Local.
type Config struct {
	Client   kubernetes.Interface
	Informer informers.SharedInformerFactory
	Recorder record.EventRecorder
	Clock    clock.PassiveClock
	Local    *time.Location
	// Register exports the controller's metrics (e.g. legacyregistry.Register); nil keeps them private.
	Register func(metrics.Registerable) error
}

// Controller runs CronJobs.
type Controller struct {
	cfg      Config
	cronJobs batchlisters.CronJobLister
	byOwner  cache.Indexer
	runner   *controller.Runner
	written  *written
	// skew is upstream's cronjob_controller_job_creation_skew_duration_seconds.
	skew *metrics.Histogram
}

// New wires the controller to the factory's CronJob and Job informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Local == nil {
		cfg.Local = time.Local
	}
	jobInformer := cfg.Informer.Batch().V1().Jobs().Informer()
	// Jobs by their controlling CronJob: a sync reads its own Jobs, not the namespace's.
	if err := jobInformer.AddIndexers(cache.Indexers{ownerIndex: func(obj any) ([]string, error) {
		j := obj.(*batchv1.Job)
		if ref := metav1.GetControllerOf(j); ref != nil && ref.Kind == "CronJob" {
			return []string{j.Namespace + "/" + ref.Name}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg, cronJobs: cfg.Informer.Batch().V1().CronJobs().Lister(),
		byOwner: jobInformer.GetIndexer(), written: newWritten(cfg.Clock)}
	c.runner = controller.NewRunner("cronjob", c.sync)
	c.skew = metrics.NewHistogram(&metrics.HistogramOpts{
		Subsystem:      "cronjob_controller",
		Name:           "job_creation_skew_duration_seconds",
		Help:           "Time between when a cronjob is scheduled to be run, and when the corresponding job is created",
		StabilityLevel: metrics.STABLE,
		Buckets:        metrics.ExponentialBuckets(1, 2, 10),
	})
	if cfg.Register != nil {
		if err := cfg.Register(c.skew); err != nil {
			return nil, fmt.Errorf("register cronjob metrics: %w", err)
		}
	} else {
		c.skew.Create(nil)
	}
	key := func(obj any) string {
		k, _ := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		return k
	}
	_, err := cfg.Informer.Batch().V1().CronJobs().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.runner.Add(key(obj)) },
		UpdateFunc: func(oldObj, obj any) {
			old, cj := oldObj.(*batchv1.CronJob), obj.(*batchv1.CronJob)
			c.written.seen(key(obj), cj.ResourceVersion)
			if old.Spec.Schedule == cj.Spec.Schedule && equalPtr(old.Spec.TimeZone, cj.Spec.TimeZone) {
				c.runner.Add(key(obj))
				return
			}
			if _, err := parseSchedule(cj.Spec.Schedule, cj.Spec.TimeZone, c.cfg.Local); err != nil {
				c.event(cj, Event{Type: corev1.EventTypeWarning, Reason: ReasonUnParseableCronJobSchedule, Message: "unparseable schedule for cronjob: " + cj.Spec.Schedule})
				return
			}
			// A new schedule starts at its next slot, not at slots it would have missed.
			if d := c.untilNextSlot(cj); d > 0 {
				c.runner.AddAfter(key(obj), d)
			} else {
				c.runner.Add(key(obj))
			}
		},
		DeleteFunc: func(obj any) {
			c.written.forget(key(obj))
			c.runner.Add(key(obj))
		},
	})
	if err != nil {
		return nil, err
	}
	owner := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		j, ok := obj.(*batchv1.Job)
		if !ok {
			return
		}
		if ref := metav1.GetControllerOf(j); ref != nil && ref.Kind == "CronJob" {
			c.runner.Add(j.Namespace + "/" + ref.Name)
		}
	}
	_, err = cfg.Informer.Batch().V1().Jobs().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: owner, UpdateFunc: func(_, obj any) { owner(obj) }, DeleteFunc: owner,
	})
	return c, err
}

func equalPtr(a, b *string) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func (c *Controller) untilNextSlot(cj *batchv1.CronJob) time.Duration {
	s, err := parseSchedule(cj.Spec.Schedule, cj.Spec.TimeZone, c.cfg.Local)
	if err != nil {
		return 0
	}
	now := c.cfg.Clock.Now()
	return untilNext(s, now, now)
}

// ownerIndex indexes Jobs by "<namespace>/<controlling CronJob>".
const ownerIndex = "cronjob"

// Run processes CronJobs until ctx ends. Every-minute CronJobs all wake at the
// same instant; enough workers keep the API server's writes batched.
func (c *Controller) Run(ctx context.Context) { c.runner.Run(ctx, 32) }

func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cj, err := c.cronJobs.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if c.written.pending(key, cj.ResourceVersion) {
		// The cache has not shown our last status write yet (a Job we just
		// created woke us): deciding now would take that Job for an
		// unexpected one. The write's own event brings us back, or, should
		// the informer relist past it, this requeue.
		return writtenPatience, nil
	}
	objs, err := c.byOwner.ByIndex(ownerIndex, key)
	if err != nil {
		return 0, err
	}
	owned := make([]*batchv1.Job, 0, len(objs))
	listed := map[types.UID]bool{}
	for _, o := range objs {
		j := o.(*batchv1.Job)
		owned = append(owned, j)
		listed[j.UID] = true
	}
	// An active Job the cache does not show may be new (stale cache) or gone: ask.
	gone := map[types.UID]bool{}
	for _, ref := range cj.Status.Active {
		if listed[ref.UID] {
			continue
		}
		j, err := c.cfg.Client.BatchV1().Jobs(ns).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) || (err == nil && j.UID != ref.UID):
			gone[ref.UID] = true
		case err != nil:
			return 0, err
		}
	}
	p := Decide(Observed{CronJob: cj, Jobs: owned, Gone: gone, Now: c.cfg.Clock.Now(), Local: c.cfg.Local})
	return p.Requeue, c.apply(ctx, cj, p)
}

func (c *Controller) event(cj *batchv1.CronJob, e Event) {
	c.cfg.Recorder.Event(cj, e.Type, e.Reason, e.Message)
}

// apply deletes, creates, then writes the status once.
func (c *Controller) apply(ctx context.Context, cj *batchv1.CronJob, p Plan) error {
	for _, e := range p.Events {
		c.event(cj, e)
	}
	status := *p.Status.DeepCopy()
	background := metav1.DeletePropagationBackground
	for _, j := range p.Delete {
		err := c.cfg.Client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{
			PropagationPolicy: &background, Preconditions: &metav1.Preconditions{UID: &j.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			c.event(cj, Event{Type: corev1.EventTypeWarning, Reason: ReasonFailedDelete, Message: "Deleted job: " + err.Error()})
			if p.Replace[j.UID] {
				return fmt.Errorf("could not replace job %s/%s: %w", j.Namespace, j.Name, err)
			}
			continue
		}
		c.event(cj, Event{Type: corev1.EventTypeNormal, Reason: ReasonSuccessfulDelete, Message: "Deleted job " + j.Name})
	}
	var createErr error
	if p.Create != nil {
		created, err := c.cfg.Client.BatchV1().Jobs(cj.Namespace).Create(ctx, p.Create, metav1.CreateOptions{})
		switch {
		case err == nil:
			c.event(cj, Event{Type: corev1.EventTypeNormal, Reason: ReasonSuccessfulCreate, Message: "Created job " + created.Name})
			c.skew.Observe(c.cfg.Clock.Now().Sub(p.Scheduled).Seconds())
			status.Active = append(status.Active, Ref(created))
			status.LastScheduleTime = &metav1.Time{Time: p.Scheduled}
		case apierrors.IsAlreadyExists(err):
			// The slot's Job exists: created by us before a restart or a stale cache.
			existing, gerr := c.cfg.Client.BatchV1().Jobs(cj.Namespace).Get(ctx, p.Create.Name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			if ref := metav1.GetControllerOf(existing); ref != nil && ref.UID == cj.UID {
				if activeIndex(&status, existing.UID) < 0 && finished(existing) == "" {
					status.Active = append(status.Active, Ref(existing))
				}
				status.LastScheduleTime = &metav1.Time{Time: p.Scheduled}
			}
		case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			return err
		default:
			c.event(cj, Event{Type: corev1.EventTypeWarning, Reason: ReasonFailedCreate, Message: "Error creating job: " + err.Error()})
			createErr = err
		}
	}
	if !apiequality.Semantic.DeepEqual(status, cj.Status) {
		fresh := cj.DeepCopy()
		fresh.Status = status
		updated, err := c.cfg.Client.BatchV1().CronJobs(cj.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
		switch {
		case err == nil:
			c.written.wrote(cj.Namespace+"/"+cj.Name, updated.ResourceVersion)
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("update status of cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
		}
	}
	return createErr
}
