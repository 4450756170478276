package cronjob

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/controller"
	"github.com/batchd/batchd/internal/cronspec"
)

// Config wires a Controller; nil Clock and Local mean the real clock and time.Local.
type Config struct {
	Client   kubernetes.Interface
	Informer informers.SharedInformerFactory
	Recorder record.EventRecorder
	Clock    clock.WithTicker
	Local    *time.Location
	// Register exports the controller's metrics (e.g. legacyregistry.Register); nil keeps them private.
	Register func(metrics.Registerable) error
	// Monotonic reads a monotonic clock, to tell a wall-clock jump (a
	// machine's sleep, a clock set by hand) from time passing. Nil means the
	// process's monotonic clock with the real Clock, and no jump detection
	// with a given one (unless this is given too).
	Monotonic func() time.Duration
	// Skips records the slots that start no Job (the run history); nil
	// records none.
	Skips SkipRecorder
	// CreatedWhenSeen takes a CronJob's creation to be when the controller
	// first saw it, on Clock, instead of its creationTimestamp: the API
	// server stamps that in real time, which a virtual Clock does not read
	// (a CronJob made at a virtual instant months ahead would otherwise
	// have "missed" every slot since its real creation).
	CreatedWhenSeen bool
	// HoldOthers, when set, is called before a sync creates a Job, and the
	// func it returns once the sync's writes are done: the server makes the
	// other in-process clients' writes wait meanwhile, so that a slot's Job
	// creates are not queued behind the work the first ones woke (package
	// priority). Nil holds nothing.
	HoldOthers func() (release func())
	// StatusClient, when set, writes a CronJob's status after a sync created
	// its slot's Job, out of the sync and on this client (one whose writes
	// wait while Job creates are under way: HoldOthers), so that the slot's
	// other Job creates go first; the CronJob is not synced again until it
	// is written. Nil: the sync writes it, on Client, right after the create
	// (upstream's order).
	StatusClient kubernetes.Interface
}

// Controller runs CronJobs.
type Controller struct {
	cfg      Config
	cronJobs batchlisters.CronJobLister
	byOwner  cache.Indexer
	runner   *controller.Runner[string]
	written  *written
	// later and statusWriter: the status writes left by syncs (StatusClient).
	later        *later
	statusWriter *controller.Runner[string]
	metrics      *Metrics
	awake        *awake
	// reported is, per CronJob, Plan.Reported of its last sync: missed
	// slots up to it were signalled (in memory: a restart signals again
	// the slots missed since the last run).
	mu       sync.Mutex
	reported map[types.UID]time.Time
	// created is when each CronJob was first seen (CreatedWhenSeen).
	created map[types.UID]time.Time
}

// New wires the controller to the factory's CronJob and Job informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
		if cfg.Monotonic == nil {
			start := time.Now()
			cfg.Monotonic = func() time.Duration { return time.Since(start) }
		}
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
	m, err := newMetrics(cfg.Register)
	if err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg, cronJobs: cfg.Informer.Batch().V1().CronJobs().Lister(),
		byOwner: jobInformer.GetIndexer(), written: newWritten(cfg.Clock), metrics: m,
		awake: newAwake(cfg.Clock, cfg.Monotonic), reported: map[types.UID]time.Time{}, created: map[types.UID]time.Time{}, later: newLater()}
	c.runner = controller.NewRunner("cronjob", c.sync, controller.WithClock(cfg.Clock))
	c.statusWriter = controller.NewRunner("cronjob-status", c.writeStatus, controller.WithClock(cfg.Clock))
	key := func(obj any) string {
		k, _ := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		return k
	}
	_, err = cfg.Informer.Batch().V1().CronJobs().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
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
			c.forgetLater(obj)
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if cj, ok := obj.(*batchv1.CronJob); ok {
				c.mu.Lock()
				delete(c.reported, cj.UID)
				c.mu.Unlock()
			}
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
	opts, _ := cronspec.ParseOptions(cj.Annotations)
	s, err := newSchedule(cj, c.cfg.Local, opts.DST)
	if err != nil {
		return 0
	}
	now, offset := c.cfg.Clock.Now(), cronspec.Offset(string(cj.UID), opts.Jitter)
	return untilFire(s, now.Add(-offset), now, offset)
}

// ownerIndex indexes Jobs by "<namespace>/<controlling CronJob>".
const ownerIndex = "cronjob"

// Run processes CronJobs until ctx ends. Every-minute CronJobs all wake at the
// same instant; enough workers keep the API server's writes batched.
func (c *Controller) Run(ctx context.Context) {
	go func() {
		t := time.NewTicker(jumpCheckEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.checkClock()
			}
		}
	}()
	if c.cfg.StatusClient != nil {
		written := make(chan struct{})
		go func() {
			defer close(written)
			c.statusWriter.Run(ctx, statusWorkers)
		}()
		// An orderly stop leaves no status unwritten (a crash may: the
		// next sync finds the Job by its name).
		defer func() {
			<-written
			c.flushLater(context.WithoutCancel(ctx))
		}()
	}
	c.runner.Run(ctx, 32)
}

// checkClock syncs every CronJob at once after a wall-clock jump: their
// timers run on the monotonic clock, which a machine's sleep stopped.
func (c *Controller) checkClock() {
	if _, jumped := c.awake.observe(); !jumped {
		return
	}
	all, err := c.cronJobs.List(labels.Everything())
	if err != nil {
		return
	}
	for _, cj := range all {
		c.runner.Add(cj.Namespace + "/" + cj.Name)
	}
}

func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	cj, err := c.cronJobs.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.metrics.forget(ns, name)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if c.later.get(key) != nil {
		// Its status, written after the Job its last sync created, is
		// still to be written (StatusClient): the writer wakes it then.
		return writtenPatience, nil
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
	since, _ := c.awake.observe()
	now := c.cfg.Clock.Now()
	c.mu.Lock()
	reported := c.reported[cj.UID]
	var created time.Time
	if c.cfg.CreatedWhenSeen {
		if _, ok := c.created[cj.UID]; !ok {
			c.created[cj.UID] = now
		}
		created = c.created[cj.UID]
	}
	c.mu.Unlock()
	p := Decide(Observed{CronJob: cj, Jobs: owned, Gone: gone, Now: now, Local: c.cfg.Local, Reported: reported, Awake: since, Created: created})
	if p.Next.IsZero() {
		c.metrics.next.DeleteLabelValues(ns, name)
	} else {
		c.metrics.next.WithLabelValues(ns, name).Set(float64(p.Next.Unix()))
	}
	if p.Remind > 0 {
		c.runner.AddAfter(key, p.Remind)
	}
	return p.Requeue, c.apply(ctx, cj, p)
}

func (c *Controller) event(cj *batchv1.CronJob, e Event) {
	c.cfg.Recorder.Event(cj, e.Type, e.Reason, e.Message)
}

// apply deletes, creates, then writes the status once.
func (c *Controller) apply(ctx context.Context, cj *batchv1.CronJob, p Plan) error {
	// First, so that a failure leaves the slots to be signalled again.
	if c.cfg.Skips != nil && len(p.Skips) > 0 {
		if err := c.cfg.Skips.RecordSkips(ctx, cj, p.Skips); err != nil {
			return fmt.Errorf("record skipped slots of cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
		}
	}
	for _, e := range p.Events {
		c.event(cj, e)
	}
	// Signalled: not again, whatever the writes below do.
	c.mu.Lock()
	c.reported[cj.UID] = p.Reported
	c.mu.Unlock()
	for _, m := range p.Missed {
		c.metrics.missed.WithLabelValues(cj.Namespace, cj.Name, m.Reason).Add(float64(m.Count))
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
	if p.Create != nil && c.cfg.HoldOthers != nil {
		defer c.cfg.HoldOthers()()
	}
	if p.Create != nil {
		created, err := c.cfg.Client.BatchV1().Jobs(cj.Namespace).Create(ctx, p.Create, metav1.CreateOptions{})
		switch {
		case err == nil:
			c.event(cj, Event{Type: corev1.EventTypeNormal, Reason: ReasonSuccessfulCreate, Message: "Created job " + created.Name})
			c.metrics.skew.Observe(c.cfg.Clock.Now().Sub(p.FireAt).Seconds())
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
				at := p.Scheduled
				// A trigger's Job carries the instant it fired at, not this sync's.
				if t, err := time.Parse(time.RFC3339, existing.Annotations[ScheduledTimestampAnnotation]); err == nil && p.Trigger != "" {
					at = t
				}
				if status.LastScheduleTime == nil || at.After(status.LastScheduleTime.Time) {
					status.LastScheduleTime = &metav1.Time{Time: at}
				}
			} else if p.Trigger != "" {
				return fmt.Errorf("create job %s for trigger %q: a job of that name exists that this cronjob does not control", p.Create.Name, p.Trigger)
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
		if c.cfg.StatusClient != nil && p.Create != nil && createErr == nil && p.Trigger == "" {
			// After the slot's other Job creates (see StatusClient).
			key := cj.Namespace + "/" + cj.Name
			c.later.put(key, fresh)
			c.statusWriter.Add(key)
			return nil
		}
		updated, err := c.cfg.Client.BatchV1().CronJobs(cj.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
		switch {
		case err == nil:
			c.written.wrote(cj.Namespace+"/"+cj.Name, updated.ResourceVersion)
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("update status of cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
		}
	}
	if createErr != nil || p.Trigger == "" {
		return createErr
	}
	// Last: the token is recorded once its Job exists (or its skip is
	// signalled). A crash before this finds the Job by its name and only
	// records the token; a crash before the Job exists leaves the token to
	// fire again.
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{cronspec.TriggerHandledAnnotation: p.Trigger}}})
	if err != nil {
		return err
	}
	updated, err := c.cfg.Client.BatchV1().CronJobs(cj.Namespace).Patch(ctx, cj.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	switch {
	case err == nil:
		c.written.wrote(cj.Namespace+"/"+cj.Name, updated.ResourceVersion)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("record trigger %q of cronjob %s/%s: %w", p.Trigger, cj.Namespace, cj.Name, err)
	}
	return nil
}
