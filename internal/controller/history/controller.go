package history

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	runclient "github.com/batchd/batchd/internal/apis/batchd/client"
	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
	"github.com/batchd/batchd/internal/controller"
	"github.com/batchd/batchd/internal/controller/cronjob"
	"github.com/batchd/batchd/internal/history"
)

// Defaults of the server's flags.
const (
	DefaultRetention  = 30 * 24 * time.Hour
	DefaultPerCronJob = 100
)

// Writer is what the controller writes JobRuns with (v1alpha1.Client's
// JobRunInterface).
type Writer interface {
	Create(ctx context.Context, r *v1alpha1.JobRun, opts metav1.CreateOptions) (*v1alpha1.JobRun, error)
	Update(ctx context.Context, r *v1alpha1.JobRun, opts metav1.UpdateOptions) (*v1alpha1.JobRun, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// Runs reads and writes JobRuns.
type Runs interface {
	JobRuns(namespace string) Writer
	List(ctx context.Context, opts metav1.ListOptions) (*v1alpha1.JobRunList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// ClientRuns adapts a v1alpha1.Client.
type ClientRuns struct{ Client *runclient.Client }

func (c ClientRuns) JobRuns(ns string) Writer { return c.Client.JobRuns(ns) }
func (c ClientRuns) List(ctx context.Context, opts metav1.ListOptions) (*v1alpha1.JobRunList, error) {
	return c.Client.JobRuns("").List(ctx, opts)
}
func (c ClientRuns) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return c.Client.JobRuns("").Watch(ctx, opts)
}

// Config wires a Controller; a nil Clock is the real clock.
type Config struct {
	Runs     Runs
	Informer informers.SharedInformerFactory
	Clock    clock.Clock
	// Retention bounds the history.
	Retention Retention
	// Logs is the store of kept logs (nil: none kept); records' logs go with them.
	Logs *history.Store
	// Debounce delays the write after a pod's or Job's update, so that a
	// burst of updates is one write (default 500ms).
	Debounce time.Duration
	// OrphanGrace is how long kept logs no record names stay (default 10m):
	// their pod's record may not be written yet.
	OrphanGrace time.Duration
	// Quiet is how long no Job or pod may have changed before the first
	// records of Jobs that have nothing to record yet (Plan.Lazy) are
	// written at full speed (default 1s); while the Job path is busy they
	// are written at BusyQPS (default 10) only, so that they do not take
	// its writes' turn.
	Quiet   time.Duration
	BusyQPS float32
	// Wall measures the quiet: real time, whatever Clock is (a virtual
	// clock may stand still). Nil is the machine's.
	Wall clock.WithTicker
}

// Controller keeps the run history.
type Controller struct {
	cfg    Config
	jobs   batchlisters.JobLister
	pods   cache.Indexer
	runs   cache.Indexer
	runInf cache.SharedIndexInformer
	runner *controller.Runner[string]

	mu   sync.Mutex
	seen map[string]map[attemptKey]v1alpha1.Attempt // Job key → attempts seen, not yet written
	// gone are Jobs' last states as their deletion showed them, until the
	// next sync of their key: a Job that finished and went at once (TTL 0)
	// is recorded with its outcome, not as deleted while running.
	gone map[string]*batchv1.Job
	// lazy are keys whose only write is a lazy one (Plan.Lazy), waiting;
	// released are those the lazy loop let through to their next sync.
	lazy, released map[string]bool
	// lastEvent is when (Wall, Unix ns) a Job or pod last changed.
	lastEvent atomic.Int64
	// nextBusy is when the next lazy write may go while the path is busy.
	nextBusy time.Time
}

const podsByJob = "job"

// New wires the controller to the factory's Job and Pod informers and its
// own JobRun informer.
func New(cfg Config) (*Controller, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Debounce == 0 {
		cfg.Debounce = 500 * time.Millisecond
	}
	if cfg.OrphanGrace == 0 {
		cfg.OrphanGrace = 10 * time.Minute
	}
	if cfg.Quiet == 0 {
		cfg.Quiet = time.Second
	}
	if cfg.BusyQPS == 0 {
		cfg.BusyQPS = 10
	}
	if cfg.Wall == nil {
		cfg.Wall = clock.RealClock{}
	}
	c := &Controller{cfg: cfg, jobs: cfg.Informer.Batch().V1().Jobs().Lister(), seen: map[string]map[attemptKey]v1alpha1.Attempt{}, gone: map[string]*batchv1.Job{},
		lazy: map[string]bool{}, released: map[string]bool{}}
	c.nextBusy = cfg.Wall.Now().Add(c.busyEvery())
	c.runner = controller.NewRunner("history", c.sync)

	podInf := cfg.Informer.Core().V1().Pods().Informer()
	if err := podInf.AddIndexers(cache.Indexers{podsByJob: func(obj any) ([]string, error) {
		if k := jobKeyOf(obj.(*corev1.Pod)); k != "" {
			return []string{k}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, err
	}
	c.pods = podInf.GetIndexer()
	pod := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		k := jobKeyOf(p)
		if k == "" {
			return
		}
		c.touch()
		// A pod shows a container's previous run only until its next
		// restart: take it now.
		c.putSeen(k, PodAttempts(p))
		c.runner.AddAfter(k, c.cfg.Debounce)
	}
	if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: pod, UpdateFunc: func(_, obj any) { pod(obj) }, DeleteFunc: pod,
	}); err != nil {
		return nil, err
	}
	job := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if j, ok := obj.(*batchv1.Job); ok {
			c.touch()
			c.runner.AddAfter(j.Namespace+"/"+j.Name, c.cfg.Debounce)
		}
	}
	deleted := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if j, ok := obj.(*batchv1.Job); ok {
			c.mu.Lock()
			c.gone[j.Namespace+"/"+j.Name] = j
			c.mu.Unlock()
		}
		job(obj)
	}
	if _, err := cfg.Informer.Batch().V1().Jobs().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: job, UpdateFunc: func(_, obj any) { job(obj) }, DeleteFunc: deleted,
	}); err != nil {
		return nil, err
	}

	var lw cache.ListerWatcher = &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return cfg.Runs.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return cfg.Runs.Watch(ctx, opts)
		},
	}
	if u, ok := cfg.Runs.(unsupportedWatchList); ok && u.IsWatchListSemanticsUnSupported() {
		lw = noWatchList{lw}
	}
	c.runInf = cache.NewSharedIndexInformer(lw, &v1alpha1.JobRun{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if err := c.runInf.SetTransform(controller.DropManagedFields); err != nil {
		return nil, err
	}
	c.runs = c.runInf.GetIndexer()
	if _, err := c.runInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			// After a restart: a record of a run whose Job went meanwhile.
			if r := obj.(*v1alpha1.JobRun); r.Status.Outcome == v1alpha1.OutcomeRunning {
				c.runner.Add(r.Namespace + "/" + r.Name)
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if r, ok := obj.(*v1alpha1.JobRun); ok {
				c.removeLogs(r)
			}
		},
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// jobKeyOf is "<namespace>/<Job>" of a pod a Job controls.
func jobKeyOf(p *corev1.Pod) string {
	if ref := metav1.GetControllerOf(p); ref != nil && ref.Kind == "Job" {
		return p.Namespace + "/" + ref.Name
	}
	return ""
}

// Run keeps the history until ctx ends. The factory's informers must be
// started; the JobRun informer is started here.
func (c *Controller) Run(ctx context.Context) {
	go c.runInf.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), c.runInf.HasSynced) {
		return
	}
	// Every Job once at start: records missed while stopped are written.
	if jobs, err := c.jobs.List(labels.Everything()); err == nil {
		for _, j := range jobs {
			c.runner.Add(j.Namespace + "/" + j.Name)
		}
	}
	go c.expireLoop(ctx)
	go c.lazyLoop(ctx)
	c.runner.Run(ctx, 2)
}

// touch notes that the Job path is busy.
func (c *Controller) touch() { c.lastEvent.Store(c.cfg.Wall.Now().UnixNano()) }

// lazyLoop lets waiting lazy writes through: at full speed once no Job or
// pod changed for Quiet, BusyQPS of them while they do. A Job created and
// left suspended gets its record without its write competing with a burst
// of Job creates and the Job controller's follow-up writes.
func (c *Controller) lazyLoop(ctx context.Context) {
	tick := c.cfg.Wall.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C():
		}
		c.releaseLazy()
	}
}

// releaseLazy lets waiting lazy writes through: up to a hundred (a
// thousand a second: the queue stays short should a burst begin) once the
// Job path is quiet, one every 1/BusyQPS while it is busy.
func (c *Controller) releaseLazy() {
	now := c.cfg.Wall.Now()
	quiet := now.Sub(time.Unix(0, c.lastEvent.Load())) >= c.cfg.Quiet
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k := range c.lazy {
		if quiet && n == 100 {
			break
		}
		if !quiet {
			if now.Before(c.nextBusy) {
				break
			}
			c.nextBusy = now.Add(c.busyEvery())
		}
		n++
		delete(c.lazy, k)
		c.released[k] = true
		c.runner.Add(k)
	}
}

func (c *Controller) busyEvery() time.Duration {
	return time.Duration(float64(time.Second) / float64(c.cfg.BusyQPS))
}

// holdLazy tells whether a lazy write of key must wait; if so it waits in
// c.lazy. A key let through, or with another write to make, no longer waits.
func (c *Controller) holdLazy(key string, lazy bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	released := c.released[key]
	delete(c.released, key)
	if lazy && !released {
		c.lazy[key] = true
		return true
	}
	delete(c.lazy, key)
	return false
}

func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	last := c.takeGone(key)
	var run *v1alpha1.JobRun
	if obj, ok, err := c.runs.GetByKey(key); err != nil {
		return 0, err
	} else if ok {
		run = obj.(*v1alpha1.JobRun)
	}
	job, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// Gone: as its deletion showed it, if it ended before or has no
		// record yet (a lazy one was waiting). A Job deleted while running
		// is recorded so by Decide from the run.
		job = nil
		if last != nil && (finished(last) || run == nil) {
			job = deletedAt(last, c.cfg.Clock.Now())
		}
	} else if err != nil {
		return 0, err
	}
	if job == nil && run == nil {
		c.takeSeen(key)
		c.holdLazy(key, false)
		return 0, nil
	}
	var pods []*corev1.Pod
	objs, err := c.pods.ByIndex(podsByJob, key)
	if err != nil {
		return 0, err
	}
	for _, o := range objs {
		pods = append(pods, o.(*corev1.Pod))
	}
	seen := c.takeSeen(key)
	p := Decide(Observed{Job: job, Pods: pods, Seen: seen, Run: run, Now: c.cfg.Clock.Now()})
	if c.holdLazy(key, p.Lazy) {
		return 0, nil
	}
	if err := c.apply(ctx, run, p); err != nil {
		c.putSeen(key, seen)
		return 0, err
	}
	return 0, nil
}

// takeGone is the last state of the Job of key that was deleted, if any.
func (c *Controller) takeGone(key string) *batchv1.Job {
	c.mu.Lock()
	defer c.mu.Unlock()
	j := c.gone[key]
	delete(c.gone, key)
	return j
}

// deletedAt is a deleted Job's last state, marked deleted at now if it
// did not say when (a Job deleted without graceful deletion).
func deletedAt(j *batchv1.Job, now time.Time) *batchv1.Job {
	if finished(j) || j.DeletionTimestamp != nil {
		return j
	}
	j = j.DeepCopy()
	j.DeletionTimestamp = &metav1.Time{Time: now.Truncate(time.Second)}
	return j
}

// finished tells whether a Job has its Complete or Failed condition.
func finished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func (c *Controller) takeSeen(key string) []v1alpha1.Attempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.seen[key]
	delete(c.seen, key)
	out := make([]v1alpha1.Attempt, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	return out
}

// putSeen keeps attempts until the next write: per (pod, container,
// attempt) the most complete, at a constant cost per pod update.
func (c *Controller) putSeen(key string, as []v1alpha1.Attempt) {
	if len(as) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.seen[key]
	if m == nil {
		m = map[attemptKey]v1alpha1.Attempt{}
		c.seen[key] = m
	}
	for _, a := range as {
		k := attemptKey{a.PodUID, a.Container, a.Attempt}
		if old, ok := m[k]; !ok || detail(a) >= detail(old) {
			m[k] = a
		}
	}
}

func (c *Controller) apply(ctx context.Context, old *v1alpha1.JobRun, p Plan) error {
	if p.Write == nil {
		return nil
	}
	w := c.cfg.Runs.JobRuns(p.Write.Namespace)
	if p.Archive != nil {
		if _, err := w.Create(ctx, p.Archive, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("archive jobrun %s/%s: %w", p.Archive.Namespace, p.Archive.Name, err)
		}
	}
	if old == nil {
		_, err := w.Create(ctx, p.Write, metav1.CreateOptions{})
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // its runs go with it
		}
		if err != nil {
			// AlreadyExists: the cache is behind; the retry reads it.
			return fmt.Errorf("create jobrun %s/%s: %w", p.Write.Namespace, p.Write.Name, err)
		}
		return nil
	}
	if _, err := w.Update(ctx, p.Write, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update jobrun %s/%s: %w", p.Write.Namespace, p.Write.Name, err)
	}
	return nil
}

// RecordSkips records a CronJob's skipped slots (cronjob.SkipRecorder).
// A slot recorded before (a retry, a restart) is left as it is; one older
// than the retention is not recorded at all (it would go at once).
func (c *Controller) RecordSkips(ctx context.Context, cj *batchv1.CronJob, skips []cronjob.Skip) error {
	now := c.cfg.Clock.Now()
	for _, s := range skips {
		if c.cfg.Retention.Age > 0 && !s.Slot.Add(c.cfg.Retention.Age).After(now) {
			continue
		}
		if _, ok, _ := c.runs.GetByKey(cj.Namespace + "/" + s.Name); ok {
			continue
		}
		r := Skipped(cj, s, now)
		if _, err := c.cfg.Runs.JobRuns(cj.Namespace).Create(ctx, r, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create jobrun %s/%s: %w", r.Namespace, r.Name, err)
		}
	}
	return nil
}

// expireLoop applies the retention: at a tenth of its period, at most
// every minute and at least every second.
func (c *Controller) expireLoop(ctx context.Context) {
	every := time.Minute
	if a := c.cfg.Retention.Age / 10; a > 0 && a < every {
		every = max(a, time.Second)
	}
	for {
		if err := c.Expire(ctx); err != nil {
			klog.FromContext(ctx).Error(err, "run history retention")
		}
		t := c.cfg.Clock.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// Expire deletes the records the retention says are due, then the kept
// logs no record names.
func (c *Controller) Expire(ctx context.Context) error {
	var runs []*v1alpha1.JobRun
	for _, o := range c.runs.List() {
		runs = append(runs, o.(*v1alpha1.JobRun))
	}
	jobs, err := c.jobs.List(labels.Everything())
	if err != nil {
		return err
	}
	live := map[types.UID]bool{}
	for _, j := range jobs {
		live[j.UID] = true
	}
	now := c.cfg.Clock.Now()
	for _, r := range Expired(runs, live, c.cfg.Retention, now) {
		uid := r.UID
		err := c.cfg.Runs.JobRuns(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete jobrun %s/%s: %w", r.Namespace, r.Name, err)
		}
		if err == nil {
			c.removeLogs(r)
		}
	}
	return c.sweep(now)
}

// removeLogs deletes the kept logs of a deleted record's pods.
func (c *Controller) removeLogs(r *v1alpha1.JobRun) {
	if c.cfg.Logs == nil {
		return
	}
	done := map[types.UID]bool{}
	for _, a := range r.Status.Attempts {
		if a.PodUID != "" && !done[a.PodUID] {
			done[a.PodUID] = true
			_ = c.cfg.Logs.Remove(string(a.PodUID))
		}
	}
}

// sweep removes kept logs that no record names, once they are older than
// OrphanGrace (a crash between a record's deletion and its logs', or pods
// of no Job).
func (c *Controller) sweep(now time.Time) error {
	if c.cfg.Logs == nil {
		return nil
	}
	kept, err := c.cfg.Logs.Pods()
	if err != nil {
		return err
	}
	named := map[string]bool{}
	for _, o := range c.runs.List() {
		for _, a := range o.(*v1alpha1.JobRun).Status.Attempts {
			named[string(a.PodUID)] = true
		}
	}
	for _, o := range c.pods.List() {
		named[string(o.(*corev1.Pod).UID)] = true
	}
	for uid, at := range kept {
		if !named[uid] && now.Sub(at) > c.cfg.OrphanGrace {
			_ = c.cfg.Logs.Remove(uid)
		}
	}
	return nil
}

// unsupportedWatchList is what a Runs without streaming lists (a test's
// fake) says, as client-go's fake clientsets do.
type unsupportedWatchList interface{ IsWatchListSemanticsUnSupported() bool }

type noWatchList struct{ cache.ListerWatcher }

func (noWatchList) IsWatchListSemanticsUnSupported() bool { return true }
