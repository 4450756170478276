package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/klog/v2"

	"github.com/batchd/batchd/internal/node/runtime"
)

// The pod worker. Every pod is keyed by its UID only: the informer's
// updates, the deletion of its object, the end of one of its runs and an
// eviction all queue the same key, and the queue never hands one key to
// two workers at once, so one worker at a time owns a pod's runs, its state
// directory and what the agent remembers of it (podState). Each sync
// observes the pod and its runs, asks Decide (pure) what to do, acts, and
// returns when to look again.

// Result is what a sync asks of the queue.
type Result struct {
	// Requeue: look again at once (something was started: see it run).
	Requeue bool
	// RequeueAt: look again at this time of the agent's clock (a back-off,
	// a deadline, a retry). A time, not a duration: the sync's own Now plus
	// what Decide asked, so a clock that moves while the sync writes status
	// does not push the wake-up later.
	RequeueAt time.Time
}

// podState is what the agent remembers of a pod between syncs: the last
// failed attempt to start each container, and the wake-up its last sync
// asked for. Only the pod's worker touches it.
type podState struct {
	startErrors map[string]Waiting
	cancelWake  chan struct{}
}

// runWorkers syncs pods with n workers until ctx ends.
func (a *Agent) runWorkers(ctx context.Context, n int) {
	defer utilruntime.HandleCrash()
	go func() {
		<-ctx.Done()
		a.queue.ShutDown()
	}()
	done := make(chan struct{})
	for i := 0; i < n; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for a.next(ctx) {
			}
		}()
	}
	for i := 0; i < n; i++ {
		<-done
	}
}

// next syncs one pod; errors are retried with per-pod back-off, and logged
// here only.
func (a *Agent) next(ctx context.Context) bool {
	uid, quit := a.queue.Get()
	if quit {
		return false
	}
	defer a.queue.Done(uid)
	res, err := a.syncPod(ctx, uid)
	switch {
	case apierrors.IsConflict(err):
		// A stale cache lost a write race: expected, retried, not worth an error line.
		klog.FromContext(ctx).V(4).Info("sync conflict", "controller", "node-agent", "pod", uid, "err", err)
		a.queue.AddRateLimited(uid)
	case err != nil:
		klog.FromContext(ctx).Error(err, "sync failed", "controller", "node-agent", "pod", uid)
		a.queue.AddRateLimited(uid)
	case res.Requeue:
		a.queue.Forget(uid)
		a.queue.Add(uid)
	case !res.RequeueAt.IsZero():
		a.queue.Forget(uid)
		a.wakeAt(uid, res.RequeueAt)
	default:
		a.queue.Forget(uid)
	}
	return true
}

// wakeAt queues uid once the agent's clock reaches at (a back-off or a
// deadline is the agent's time, which a test steps), replacing the wake-up
// an earlier sync asked for.
func (a *Agent) wakeAt(uid types.UID, at time.Time) {
	st := a.stateOf(uid)
	if st.cancelWake != nil {
		close(st.cancelWake)
		st.cancelWake = nil
	}
	d := at.Sub(a.clock.Now())
	if d <= 0 {
		a.queue.Add(uid)
		return
	}
	cancel := make(chan struct{})
	st.cancelWake = cancel
	t := a.clock.NewTimer(d)
	go func() {
		defer t.Stop()
		select {
		case <-t.C():
			a.queue.Add(uid)
		case <-cancel:
		case <-a.done:
		}
	}()
}

// podOf is the pod object of uid, nil when it is gone.
func (a *Agent) podOf(uid types.UID) (*corev1.Pod, error) {
	objs, err := a.pods.ByIndex(uidIndex, string(uid))
	if err != nil || len(objs) == 0 {
		return nil, err
	}
	return objs[0].(*corev1.Pod), nil
}

func (a *Agent) stateOf(uid types.UID) *podState {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.state[uid]
	if st == nil {
		st = &podState{startErrors: map[string]Waiting{}}
		a.state[uid] = st
	}
	return st
}

// syncPod is one look at a pod: observe, decide, act.
func (a *Agent) syncPod(ctx context.Context, uid types.UID) (Result, error) {
	pod, err := a.podOf(uid)
	if err != nil {
		return Result{}, err
	}
	if pod == nil {
		return Result{}, a.syncOrphan(ctx, uid)
	}
	st := a.stateOf(uid)
	runs, err := a.cfg.Runtime.Runs(string(uid))
	if err != nil {
		return Result{}, err
	}
	now := a.clock.Now()
	plan := Decide(Observed{Pod: pod, Runs: runs, StartErrors: copyErrors(st.startErrors), HostIP: a.cfg.Machine.IP,
		Evicted: a.storage.evictionOf(uid), Now: now})
	a.events.record(pod, plan.Events)
	for _, k := range plan.Kill {
		a.stopper.stop(pod, k)
	}
	if len(plan.Start) > 0 {
		// As the kubelet's status manager, what is about to start is shown
		// first: waiting (ContainerCreating, PodInitializing), or a restarted
		// container's end (Error) — what `kubectl get pods -w` prints.
		if gone, err := a.writeStatus(ctx, pod, plan.Status); gone || err != nil {
			return Result{}, err
		}
		for _, c := range plan.Start {
			var join *runtime.Join
			if j, ok := plan.Join[c]; ok {
				join = &j
			}
			a.start(ctx, pod, st, c, len(runs[c]), join)
		}
		// What was started is seen, and reported, by the next look.
		return Result{Requeue: true}, nil
	}
	if gone, err := a.writeStatus(ctx, pod, plan.Status); gone || err != nil {
		return Result{}, err
	}
	if plan.Remove {
		return Result{}, a.remove(ctx, pod)
	}
	if terminal(plan.Status.Phase) && len(plan.Kill) == 0 && !anyRunning(runs) {
		// As the kubelet tears down a terminated pod's volumes: its emptyDirs
		// go now (an evicted pod's disk is freed), its logs when it is deleted.
		if err := a.cfg.Runtime.RemoveVolumes(string(uid), emptyDirs(pod)); err != nil {
			return Result{}, err
		}
		return requeueAt(now, plan.Requeue), nil
	}
	if pod.Spec.Subdomain != "" && len(pod.Status.ContainerStatuses) > 0 {
		// Peers came or went: their names in its /etc/hosts.
		if err := a.specs.writeHosts(pod); err != nil {
			return Result{}, err
		}
	}
	return requeueAt(now, a.refreshTokens(pod, plan.Requeue)), nil
}

// requeueAt is the Result that looks again d after now; none for d <= 0
// (nothing asked).
func requeueAt(now time.Time, d time.Duration) Result {
	if d <= 0 {
		return Result{}
	}
	return Result{RequeueAt: now.Add(d)}
}

// writeStatus writes status as pod's unless the pod already shows it; gone
// is a pod whose object went meanwhile.
func (a *Agent) writeStatus(ctx context.Context, pod *corev1.Pod, status corev1.PodStatus) (gone bool, err error) {
	if apiequality.Semantic.DeepEqual(status, pod.Status) {
		return false, nil
	}
	fresh := pod.DeepCopy()
	fresh.Status = status
	if _, err := a.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("update status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return false, nil
}

// refreshTokens rewrites the volumes of a pod that runs once a
// service-account token in them is due for refresh (their configMaps and
// Secrets are read again too, as the kubelet's periodic remount does), and
// returns when to look again: requeue, or sooner for the next refresh.
func (a *Agent) refreshTokens(pod *corev1.Pod, requeue time.Duration) time.Duration {
	if !hasTokenVolume(pod) || len(pod.Status.ContainerStatuses) == 0 {
		return requeue
	}
	at := a.tokens.nextRefresh(pod.UID)
	if at.IsZero() {
		return requeue
	}
	now := a.cfg.Wall.Now()
	if !now.Before(at) {
		if err := a.specs.refreshVolumes(pod); err != nil {
			a.events.pod(pod, "", corev1.EventTypeWarning, ReasonFailedMount, err.Error())
			return min(nonZero(requeue), tokenRetry)
		}
		at = a.tokens.nextRefresh(pod.UID)
	}
	return min(nonZero(requeue), max(at.Sub(now), time.Second))
}

// tokenRetry is how soon a failed token refresh is tried again.
const tokenRetry = 10 * time.Second

// nonZero is d, or "never" for zero (no requeue asked).
func nonZero(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Duration(1<<63 - 1)
	}
	return d
}

func copyErrors(m map[string]Waiting) map[string]Waiting {
	out := make(map[string]Waiting, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// start starts attempt of container name (joining the namespaces of run
// join, an ephemeral container's); failures become the container's
// waiting reason and an event.
func (a *Agent) start(ctx context.Context, pod *corev1.Pod, st *podState, name string, attempt int, join *runtime.Join) {
	uid := string(pod.UID)
	now := a.clock.Now()
	spec, err := a.specs.build(ctx, pod, containerByName(&pod.Spec, name), runtime.ID{Pod: uid, Container: name, Attempt: attempt})
	if err == nil {
		spec.Join = join
		err = a.cfg.Runtime.Start(ctx, spec)
	}
	var (
		cfgErr     *ConfigError
		mountErr   *MountError
		sandboxErr *SandboxError
		pullErr    *PullError
		startErr   *runtime.StartError
	)
	switch {
	case errors.As(err, &pullErr):
		// The image step recorded its own events.
		st.startErrors[name] = Waiting{Reason: pullErr.Waiting.Reason, Message: pullErr.Waiting.Message, At: now}
	case errors.As(err, &startErr):
		// A command that could not be executed is a run of its own
		// (StartError): created, never started; Decide reports its Failed
		// event, as the kubelet's failed StartContainer.
		delete(st.startErrors, name)
		a.events.pod(pod, name, corev1.EventTypeNormal, ReasonCreated, "Created container: "+name)
	case err == nil:
		delete(st.startErrors, name)
		a.events.pod(pod, name, corev1.EventTypeNormal, ReasonCreated, "Created container: "+name)
		a.events.pod(pod, name, corev1.EventTypeNormal, ReasonStarted, "Started container "+name)
	case errors.As(err, &mountErr):
		// The pod stays ContainerCreating, as with an unmountable volume on a node.
		st.startErrors[name] = Waiting{Reason: reasonCreating, At: now}
		a.events.pod(pod, "", corev1.EventTypeWarning, ReasonFailedMount, err.Error())
	case errors.As(err, &sandboxErr):
		// No runtime for the pod's class: it stays ContainerCreating, as on a
		// node whose CRI has no such handler.
		st.startErrors[name] = Waiting{Reason: reasonCreating, At: now}
		a.events.pod(pod, "", corev1.EventTypeWarning, ReasonFailedSandbox, "Failed to create pod sandbox: "+err.Error())
	default:
		reason, msg := "CreateContainerError", err.Error()
		if errors.As(err, &cfgErr) {
			reason, msg = "CreateContainerConfigError", cfgErr.Message
		}
		st.startErrors[name] = Waiting{Reason: reason, Message: msg, At: now}
		a.events.pod(pod, name, corev1.EventTypeWarning, ReasonFailed, "Error: "+msg)
	}
}

// remove deletes a terminated pod's object and then its state.
func (a *Agent) remove(ctx context.Context, pod *corev1.Pod) error {
	uid := pod.UID
	err := a.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return a.forget(uid)
}

// syncOrphan stops and removes the state of a pod whose object is gone.
func (a *Agent) syncOrphan(ctx context.Context, uid types.UID) error {
	runs, err := a.cfg.Runtime.Runs(string(uid))
	if err != nil {
		return err
	}
	for _, rs := range runs {
		if last := latest(rs); last != nil && last.Running {
			if err := a.cfg.Runtime.Stop(last.ID, minimumGrace); err != nil {
				return err
			}
		}
	}
	return a.forget(uid)
}

// forget removes a pod's state, and what the agent remembers of it.
func (a *Agent) forget(uid types.UID) error {
	if a.cfg.KeepLogs != nil {
		if runs, err := a.cfg.Runtime.Runs(string(uid)); err == nil && len(runs) > 0 {
			a.cfg.KeepLogs(string(uid), runs)
		}
	}
	if err := a.cfg.Runtime.RemovePod(string(uid)); err != nil {
		return fmt.Errorf("remove state of pod %s: %w", uid, err)
	}
	a.mu.Lock()
	if st := a.state[uid]; st != nil && st.cancelWake != nil {
		close(st.cancelWake)
	}
	delete(a.state, uid)
	a.mu.Unlock()
	a.events.forget(uid)
	a.storage.forget(uid)
	a.tokens.forget(uid)
	a.specs.sandboxes.forget(uid)
	return nil
}

func terminal(p corev1.PodPhase) bool { return p == corev1.PodSucceeded || p == corev1.PodFailed }

func anyRunning(runs map[string][]runtime.Run) bool {
	for _, rs := range runs {
		for _, r := range rs {
			if r.Running {
				return true
			}
		}
	}
	return false
}

// emptyDirs names the pod's emptyDir volumes.
func emptyDirs(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir != nil {
			out = append(out, v.Name)
		}
	}
	return out
}

func containerByName(spec *corev1.PodSpec, name string) *corev1.Container {
	for _, c := range append(allContainers(spec), ephemeralContainers(spec)...) {
		if c.Name == name {
			return c
		}
	}
	return nil
}
