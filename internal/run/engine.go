package run

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// Options are the choices of one `batchd run`.
type Options struct {
	Out io.Writer
	// Terminal redraws progress in place; otherwise lines are appended.
	Terminal bool
	// Logs is all (stream every container), failed (only failed pods' last
	// lines at the end) or none.
	Logs string
	// Trigger creates one Job from each CronJob at once.
	Trigger bool
	// For keeps following (and CronJobs firing) this long, on Clock.
	For time.Duration
	// Clock is the server's clock (nil: the real one): a virtual clock's
	// --for is virtual time, and durations shown are measured on it.
	Clock clock.WithTicker
	// Namespace is used for objects that name none (default "default").
	Namespace string
	// OnInterrupt is what an interrupted run does with what it started:
	// nothing (an ephemeral server goes away with it), suspend the followed
	// Jobs and applied CronJobs (a shared server keeps them), or delete them.
	OnInterrupt Interrupt
	// Remove deletes the followed Jobs when the run ends, however it ends
	// (--rm).
	Remove bool
}

// Interrupt says what an interrupted run does with its Jobs.
type Interrupt int

const (
	InterruptLeave Interrupt = iota
	InterruptSuspend
	InterruptDelete
)

// Engine applies manifests to one API server and follows their Jobs.
type Engine struct {
	o      Options
	client kubernetes.Interface
	dyn    dynamic.Interface
	mapper meta.RESTMapper
	screen *screen
}

// New connects to the server of cfg.
func New(cfg *rest.Config, o Options) (*Engine, error) {
	// One user's run: client-side throttling would only delay it (and
	// client-go would say so on standard error).
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if o.Namespace == "" {
		o.Namespace = metav1.NamespaceDefault
	}
	if o.Logs == "" {
		o.Logs = "all"
	}
	return &Engine{o: o, client: client, dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
		screen: &screen{w: o.Out, terminal: o.Terminal, plain: map[string]string{}, said: map[string]bool{}}}, nil
}

// CheckCronJobs refuses CronJobs when neither --trigger nor --for says what
// to do with them: the explanation is the error.
func CheckCronJobs(objs []Object, o Options) error {
	if o.Trigger || o.For > 0 {
		return nil
	}
	for _, obj := range objs {
		if obj.GetKind() == "CronJob" {
			return InputError{fmt.Errorf("%s contains CronJob %q: a CronJob only creates Jobs on its schedule.\n"+
				"  --trigger   create one Job from each CronJob now (as kubectl create job --from=cronjob/NAME) and follow it\n"+
				"  --for=10m   keep batchd running that long so the schedules fire, following the Jobs they create", obj.Source, obj.GetName())}
		}
	}
	return nil
}

type applied struct {
	obj     Object
	mapping *meta.RESTMapping
	uid     types.UID
}

// Run applies objs, follows the Jobs and returns the exit code. Bad input
// (unknown kinds, manifests the server rejects) is found by a dry run before
// anything is created, so an invalid file changes nothing.
func (e *Engine) Run(ctx context.Context, objs []Object) (int, error) {
	if err := CheckCronJobs(objs, e.o); err != nil {
		return ExitBadInput, err
	}
	var todo []applied
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		m, err := e.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return ExitBadInput, InputError{fmt.Errorf("resource mapping not found for name: %q namespace: %q from %q: %w", obj.GetName(), obj.GetNamespace(), obj.Source, err)}
		}
		if m.Scope.Name() == meta.RESTScopeNameNamespace && obj.GetNamespace() == "" {
			obj.SetNamespace(e.o.Namespace)
		}
		todo = append(todo, applied{obj: obj, mapping: m})
	}
	for _, a := range todo {
		if _, err := e.apply(ctx, a, true); err != nil {
			return ExitBadInput, InputError{err}
		}
	}
	var follow []types.NamespacedName
	var cronJobs []applied
	for i := range todo {
		a := &todo[i]
		got, err := e.apply(ctx, *a, false)
		if err != nil {
			return ExitFailed, err
		}
		a.uid = got.GetUID()
		switch a.obj.GetKind() {
		case "Job":
			follow = append(follow, types.NamespacedName{Namespace: got.GetNamespace(), Name: got.GetName()})
		case "CronJob":
			cronJobs = append(cronJobs, *a)
		}
	}
	if e.o.Trigger {
		for _, cj := range cronJobs {
			j, err := e.trigger(ctx, cj.obj.GetNamespace(), cj.obj.GetName())
			if err != nil {
				return ExitFailed, err
			}
			follow = append(follow, types.NamespacedName{Namespace: j.Namespace, Name: j.Name})
		}
	}
	if len(follow) == 0 && e.o.For == 0 {
		return ExitOK, nil // nothing to wait for (ConfigMaps, Secrets, …)
	}
	return e.follow(ctx, follow, cronJobs)
}

// follow watches the Jobs (and, with --for, those the CronJobs create) until
// all have finished or the time is up, streaming logs, then prints the summary.
func (e *Engine) follow(ctx context.Context, names []types.NamespacedName, cronJobs []applied) (int, error) {
	followed := map[types.NamespacedName]bool{}
	namespaces := map[string]bool{}
	for _, n := range names {
		followed[n] = true
		namespaces[n.Namespace] = true
	}
	owners := map[types.UID]bool{}
	for _, cj := range cronJobs {
		owners[cj.uid] = true
		namespaces[cj.obj.GetNamespace()] = true
	}
	changed := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{AddFunc: poke, UpdateFunc: func(_, o any) { poke(o) }, DeleteFunc: poke}
	stop := make(chan struct{})
	var factories []informers.SharedInformerFactory
	defer func() {
		close(stop)
		// Their watches have ended when Run returns: an ephemeral server
		// stopped next finds these connections idle and closes them at
		// once (apiserver.CloseIdle) instead of a second after its GOAWAY.
		for _, f := range factories {
			f.Shutdown()
		}
	}()
	type lists struct {
		jobs func(string) (*batchv1.Job, error)
		pods func() ([]*corev1.Pod, error)
		all  func() ([]*batchv1.Job, error)
	}
	var listers []lists
	start := time.Now()
	notes := newImageNotes(start.Add(-time.Second))
	for ns := range namespaces {
		nf, err := notes.watch(e.client, ns, stop, poke)
		if err != nil {
			return ExitFailed, err
		}
		f := informers.NewSharedInformerFactoryWithOptions(e.client, 0, informers.WithNamespace(ns))
		factories = append(factories, nf, f)
		ji, pi := f.Batch().V1().Jobs(), f.Core().V1().Pods()
		if _, err := ji.Informer().AddEventHandler(handler); err != nil {
			return ExitFailed, err
		}
		if _, err := pi.Informer().AddEventHandler(handler); err != nil {
			return ExitFailed, err
		}
		f.Start(stop)
		jl, pl := ji.Lister().Jobs(ns), pi.Lister().Pods(ns)
		listers = append(listers, lists{jobs: jl.Get, pods: func() ([]*corev1.Pod, error) { return pl.List(labels.Everything()) },
			all: func() ([]*batchv1.Job, error) { return jl.List(labels.Everything()) }})
		if !cache.WaitForCacheSync(ctx.Done(), ji.Informer().HasSynced, pi.Informer().HasSynced) {
			return e.interrupted(names, cronJobs)
		}
	}
	logs := newStreamer(e.client, e.screen, e.o.Logs == "all")
	problems := map[string][]Problem{}  // Job UID → last problems seen with its pods
	seen := map[types.UID]*corev1.Pod{} // every pod of a followed Job seen, as last seen
	var deadline <-chan time.Time
	if e.o.For > 0 {
		deadline = e.clock().After(e.o.For)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var jobs []*batchv1.Job
		var pods []*corev1.Pod
		for _, l := range listers {
			all, _ := l.all()
			for _, j := range all {
				n := types.NamespacedName{Namespace: j.Namespace, Name: j.Name}
				if ref := metav1.GetControllerOf(j); ref != nil && owners[ref.UID] && j.CreationTimestamp.Time.After(start.Add(-time.Second)) {
					followed[n] = true
				}
				if followed[n] {
					jobs = append(jobs, j)
				}
			}
			ps, _ := l.pods()
			pods = append(pods, ps...)
		}
		SortJobs(jobs)
		for _, j := range jobs {
			if ps := Problems(j, pods); len(ps) > 0 {
				problems[string(j.UID)] = ps
			} else if Progressing(j, pods) {
				delete(problems, string(j.UID))
			}
		}
		for _, p := range pods {
			seen[p.UID] = p
		}
		for _, line := range notes.say(jobs, pods) {
			e.screen.log(line)
		}
		if e.o.Logs != "none" {
			logs.start(ctx, jobs, pods)
		}
		e.screen.progress(jobs, problems, e.clock().Now())
		done := len(jobs) == len(followed)
		for _, j := range jobs {
			if _, ok := Finished(j); !ok {
				done = false
			}
		}
		if done && e.o.For == 0 {
			return e.finish(ctx, jobs, seen, problems, logs)
		}
		select {
		case <-ctx.Done():
			logs.wait(0)
			return e.interrupted(keys(followed), cronJobs)
		case <-deadline:
			return e.finish(ctx, jobs, seen, problems, logs)
		case <-changed:
		case <-tick.C:
		}
	}
}

// clock is the server's clock.
func (e *Engine) clock() clock.WithTicker {
	if e.o.Clock == nil {
		return clock.RealClock{}
	}
	return e.o.Clock
}

func keys(m map[types.NamespacedName]bool) []types.NamespacedName {
	var out []types.NamespacedName
	for k := range m {
		out = append(out, k)
	}
	return out
}

// maxFailedLogs caps how many failed pods' last lines the summary prints.
const maxFailedLogs = 5

// finish lets log streams drain, prints the summary and, for failed Jobs, the
// last lines of their failed pods' logs — kept from the streams, so that
// pods the Job controller deleted when the Job failed still show theirs —
// then deletes the Jobs if asked to.
func (e *Engine) finish(ctx context.Context, jobs []*batchv1.Job, seen map[types.UID]*corev1.Pod, problems map[string][]Problem, logs *streamer) (int, error) {
	logs.wait(3 * time.Second)
	e.screen.done()
	fmt.Fprint(e.o.Out, "\n"+Summary(jobs, problems, e.clock().Now()))
	if e.o.Logs != "none" {
		var pods []*corev1.Pod
		for _, p := range seen {
			pods = append(pods, p)
		}
		sort.Slice(pods, func(a, b int) bool { return pods[a].Name < pods[b].Name })
		for _, j := range jobs {
			if c, ok := Finished(j); !ok || c.Type != batchv1.JobFailed {
				continue
			}
			shown, more := 0, 0
			for _, p := range pods {
				if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != j.UID {
					continue
				}
				for _, run := range FailedRuns(p) {
					if shown == maxFailedLogs {
						more++
						break
					}
					lines := logs.last(run.key())
					if lines == nil {
						lines = e.tail(ctx, p, run)
					}
					if lines == nil {
						lines = e.runTail(ctx, j, p, run)
					}
					shown++
					fmt.Fprintf(e.o.Out, "\n--- %s ---\n", run.Header(p.Name))
					if len(lines) > 0 {
						fmt.Fprintln(e.o.Out, strings.Join(lines, "\n"))
					}
				}
			}
			if more > 0 {
				fmt.Fprintf(e.o.Out, "\n(%d more failed pods of job/%s: kubectl logs -l batch.kubernetes.io/job-name=%s)\n", more, j.Name, j.Name)
			}
		}
	}
	if e.o.Remove {
		if err := e.deleteJobs(jobNames(jobs)); err != nil {
			return ExitCode(jobs), err
		}
	}
	return ExitCode(jobs), nil
}

// tail reads a failed run's last lines from the server, for a run whose log
// this run did not stream (it ended between two looks).
func (e *Engine) tail(ctx context.Context, p *corev1.Pod, run Run) []string {
	opts := &corev1.PodLogOptions{Container: run.Container, TailLines: ptr.To[int64](logLines), Previous: run.Previous}
	out, err := e.client.CoreV1().Pods(p.Namespace).GetLogs(p.Name, opts).DoRaw(ctx)
	if err != nil || len(out) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// runTail reads a failed run's last lines from the run history
// (jobruns/log), for a pod already gone — the Job controller deletes an
// OnFailure Job's pods when the Job fails. The record may lag the pod by a
// moment: it is asked for a few seconds.
func (e *Engine) runTail(ctx context.Context, j *batchv1.Job, p *corev1.Pod, run Run) []string {
	var lines []string
	_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 3*time.Second, true, func(ctx context.Context) (bool, error) {
		out, err := e.client.CoreV1().RESTClient().Get().AbsPath("/apis/batchd.dev/v1alpha1/namespaces", j.Namespace, "jobruns", j.Name, "log").
			Param("pod", p.Name).Param("container", run.Container).Param("attempt", strconv.Itoa(int(run.Attempt))).
			Param("tailLines", strconv.Itoa(logLines)).DoRaw(ctx)
		if err != nil {
			// Forbidden, or no history on this server: give up at once.
			return apierrors.IsForbidden(err) || apierrors.IsMethodNotSupported(err), nil
		}
		if len(out) > 0 {
			lines = strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		}
		return true, nil
	})
	return lines
}

func jobNames(jobs []*batchv1.Job) []types.NamespacedName {
	var out []types.NamespacedName
	for _, j := range jobs {
		out = append(out, types.NamespacedName{Namespace: j.Namespace, Name: j.Name})
	}
	return out
}
