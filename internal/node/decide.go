package node

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/batchd/batchd/internal/node/runtime"
)

// Kubelet constants (pkg/kubelet: backOffPeriod, MaxContainerBackOff; config errors are retried each sync).
const (
	initialBackoff  = 10 * time.Second
	maxBackoff      = 300 * time.Second
	configRetry     = 10 * time.Second
	defaultGrace    = 30 * time.Second
	deadlineReason  = "DeadlineExceeded"
	deadlineMessage = "Pod was active on the node longer than the specified deadline"
	reasonBackOff   = "BackOff"
	reasonCrashLoop = "CrashLoopBackOff"
	reasonCreating  = "ContainerCreating"
	reasonPodInit   = "PodInitializing"
)

// Waiting is why a container could not be started (a config or mount error).
type Waiting struct {
	Reason, Message string
	At              time.Time
}

// Observed is what Decide looks at.
type Observed struct {
	Pod *corev1.Pod
	// Runs of each container, oldest attempt first.
	Runs map[string][]runtime.Run
	// StartErrors are the last failed attempts to start a container.
	StartErrors map[string]Waiting
	// HostIP is the node's address (pods use the host network).
	HostIP string
	// Evicted is why the node evicts the pod (local ephemeral storage over
	// its limits, or the node short of disk), "" when it does not.
	Evicted string
	Now     time.Time
}

// Kill stops the latest run of a container.
type Kill struct {
	Container string
	Attempt   int
	Grace     time.Duration
}

// Event is an event on the pod, about one container when Container is set.
type Event struct {
	Type, Reason, Message string
	Container             string
	// Key identifies the occurrence, so an event is recorded once.
	Key string
}

// Plan is what the agent does for a pod.
type Plan struct {
	// Start lists containers to start now, each as its next attempt.
	Start []string
	Kill  []Kill
	// Status is the pod status to report.
	Status corev1.PodStatus
	Events []Event
	// Remove: the pod is deleted and nothing of it runs: delete the object and its state.
	Remove  bool
	Requeue time.Duration
	// Join says, for an ephemeral container in Start, the running run
	// whose namespaces it joins (absent: none runs, it gets its own).
	Join map[string]runtime.Join
}

// containerPlan is the outcome for one container.
type containerPlan struct {
	start   bool
	waiting *corev1.ContainerStateWaiting // set when it should run but cannot yet
	done    bool                          // ended and will not restart
}

// Decide computes a pod's next step.
func Decide(o Observed) Plan {
	pod := o.Pod
	spec := &pod.Spec
	p := Plan{}
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	deleting := pod.DeletionTimestamp != nil
	deadline := pastDeadline(o, terminal, &p)
	evicted := o.Evicted != "" && !terminal
	out := podOutcome{initDone: true, deadline: deadline, stopping: terminal || deleting || deadline || evicted}
	if evicted {
		out.evicted = o.Evicted
	}
	plans := map[string]containerPlan{}
	if !out.stopping {
		out.initDone, out.initFailed = decideInit(o, plans, &p)
		if out.initDone {
			for i := range spec.Containers {
				c := &spec.Containers[i]
				plans[c.Name] = decideContainer(o, c, spec.RestartPolicy, &p)
			}
		}
	}
	appDone := out.initDone && !out.stopping
	for _, c := range spec.Containers {
		if !plans[c.Name].done {
			appDone = false
		}
	}
	if appDone || out.initFailed {
		// Sidecars do not restart once the pod's work is over.
		for i := range spec.InitContainers {
			if c := &spec.InitContainers[i]; isSidecar(c) {
				plans[c.Name] = containerPlan{done: true}
			}
		}
	}
	if !out.stopping {
		decideEphemeral(o, plans, &p)
	}
	for name, cp := range plans {
		if cp.start {
			p.Start = append(p.Start, name)
		}
	}
	sort.Slice(p.Start, func(i, j int) bool { return containerIndex(spec, p.Start[i]) < containerIndex(spec, p.Start[j]) })

	// What must stop: everything when the pod ends; the sidecars once the app
	// containers are done (or an init container failed for good).
	grace := gracePeriod(pod, evicted)
	for _, c := range append(allContainers(spec), ephemeralContainers(spec)...) {
		last := latest(o.Runs[c.Name])
		if last == nil || !last.Running {
			continue
		}
		if out.stopping || ((appDone || out.initFailed) && isSidecar(c)) {
			p.Kill = append(p.Kill, Kill{Container: c.Name, Attempt: last.ID.Attempt, Grace: grace})
		}
	}

	if evicted {
		p.Events = append(p.Events, Event{Type: corev1.EventTypeWarning, Reason: ReasonEvicted, Message: o.Evicted, Key: ReasonEvicted})
	}
	p.Status = status(o, plans, out)
	if ph := p.Status.Phase; !out.stopping && (ph == corev1.PodSucceeded || ph == corev1.PodFailed) {
		// The pod's work ended: its ephemeral containers go with it (the
		// phase does not wait for them, as upstream's getPhase ignores them).
		for _, ec := range spec.EphemeralContainers {
			if last := latest(o.Runs[ec.Name]); last != nil && last.Running {
				p.Kill = append(p.Kill, Kill{Container: ec.Name, Attempt: last.ID.Attempt, Grace: grace})
			}
		}
	}
	if deadline {
		p.Events = append(p.Events, Event{Type: corev1.EventTypeNormal, Reason: deadlineReason, Message: deadlineMessage, Key: deadlineReason})
	}
	if deleting && len(p.Kill) == 0 {
		p.Remove = true
	}
	return p
}

// pastDeadline tells whether the pod ran past its activeDeadlineSeconds,
// and has it looked at again when it will.
func pastDeadline(o Observed, terminal bool, p *Plan) bool {
	spec := &o.Pod.Spec
	if spec.ActiveDeadlineSeconds == nil || terminal {
		return false
	}
	startTime := o.Now
	if o.Pod.Status.StartTime != nil {
		startTime = o.Pod.Status.StartTime.Time
	}
	end := startTime.Add(time.Duration(*spec.ActiveDeadlineSeconds) * time.Second)
	if !o.Now.Before(end) {
		return true
	}
	p.requeue(end.Sub(o.Now))
	return false
}

// gracePeriod is how long the pod's containers get between SIGTERM and
// SIGKILL: the deletion's, else the pod's; none when it is evicted (the
// kubelet's hard eviction).
func gracePeriod(pod *corev1.Pod, evicted bool) time.Duration {
	if evicted {
		return 0
	}
	grace := defaultGrace
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	if pod.DeletionTimestamp != nil && pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	return grace
}

// decideInit walks the init containers in order: each must succeed (a
// sidecar: have started) before the next; it tells whether all are done,
// and whether one failed for good.
func decideInit(o Observed, plans map[string]containerPlan, p *Plan) (done, failed bool) {
	spec := &o.Pod.Spec
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		cp := decideContainer(o, c, restartFor(spec, c), p)
		plans[c.Name] = cp
		if isSidecar(c) {
			if latest(o.Runs[c.Name]) == nil {
				return false, false
			}
			continue
		}
		if last := latest(o.Runs[c.Name]); last != nil && !last.Running && succeeded(last) {
			continue
		}
		return false, cp.done
	}
	return true, false
}

func (p *Plan) requeue(d time.Duration) {
	if d <= 0 {
		d = time.Millisecond
	}
	if p.Requeue == 0 || d < p.Requeue {
		p.Requeue = d
	}
}

// decideContainer decides whether c starts now, waits, or is done.
func decideContainer(o Observed, c *corev1.Container, policy corev1.RestartPolicy, p *Plan) containerPlan {
	runs := o.Runs[c.Name]
	last := latest(runs)
	if last != nil && last.Running {
		return containerPlan{}
	}
	if last != nil && last.Reason == runtime.ReasonStartError {
		p.Events = append(p.Events, Event{Type: corev1.EventTypeWarning, Reason: ReasonFailed, Message: "Error: " + last.Message,
			Container: c.Name, Key: fmt.Sprintf("start-error/%s/%d", c.Name, last.ID.Attempt)})
	}
	if last != nil && !restartsAfter(c, policy, last) {
		return containerPlan{done: true}
	}
	if w, ok := o.StartErrors[c.Name]; ok {
		if retry := w.At.Add(configRetry); o.Now.Before(retry) {
			p.requeue(retry.Sub(o.Now))
			return containerPlan{waiting: &corev1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}}
		}
	}
	if last != nil {
		if wait, delay := restartBackoff(runs, o.Now); wait > 0 {
			p.requeue(wait)
			if !shownEnded(o.Pod, c.Name, last.ID) {
				// As the kubelet: the run's end (Error) is reported first,
				// the back-off (CrashLoopBackOff) by the look after it.
				return containerPlan{}
			}
			msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.Name, o.Pod.Name, o.Pod.Namespace, o.Pod.UID)
			p.Events = append(p.Events, Event{Type: corev1.EventTypeWarning, Reason: reasonBackOff,
				Message:   fmt.Sprintf("Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, o.Pod.Name, o.Pod.Namespace, o.Pod.UID),
				Container: c.Name, Key: fmt.Sprintf("backoff/%s/%d", c.Name, last.ID.Attempt)})
			return containerPlan{waiting: &corev1.ContainerStateWaiting{Reason: reasonCrashLoop, Message: msg}}
		}
	}
	return containerPlan{start: true}
}

// shownEnded tells whether pod's status already shows run id of container
// name as ended (terminated, or waiting after it).
func shownEnded(pod *corev1.Pod, name string, id runtime.ID) bool {
	for _, cs := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
		if cs.Name == name {
			return cs.ContainerID == ContainerID(id) && cs.State.Running == nil
		}
	}
	return false
}

// restartFor is the restart policy of an init container: sidecars always
// restart; the others restart unless the pod's policy is Never.
func restartFor(spec *corev1.PodSpec, c *corev1.Container) corev1.RestartPolicy {
	if isSidecar(c) {
		return corev1.RestartPolicyAlways
	}
	if spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.RestartPolicyNever
	}
	return corev1.RestartPolicyOnFailure
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// restartsAfter tells whether container c restarts in place after its run
// last ended (KEP-5307): the first of its restartPolicyRules whose exit
// codes match decides; else its own restartPolicy, for a regular container;
// else policy (the pod's, or an init container's as restartFor says).
func restartsAfter(c *corev1.Container, policy corev1.RestartPolicy, last *runtime.Run) bool {
	for _, r := range c.RestartPolicyRules {
		if r.ExitCodes != nil && exitCodesMatch(r.ExitCodes, last.ExitCode) {
			return r.Action == corev1.ContainerRestartRuleActionRestart
		}
	}
	if c.RestartPolicy != nil && !isSidecar(c) {
		policy = corev1.RestartPolicy(*c.RestartPolicy)
	}
	return shouldRestart(policy, last)
}

func exitCodesMatch(m *corev1.ContainerRestartRuleOnExitCodes, code int) bool {
	in := false
	for _, v := range m.Values {
		in = in || int(v) == code
	}
	if m.Operator == corev1.ContainerRestartRuleOnExitCodesOpNotIn {
		return !in
	}
	return in
}

func shouldRestart(policy corev1.RestartPolicy, last *runtime.Run) bool {
	switch policy {
	case corev1.RestartPolicyAlways:
		return true
	case corev1.RestartPolicyOnFailure:
		return !succeeded(last)
	}
	return false
}

func succeeded(r *runtime.Run) bool { return r.ExitCode == 0 && r.Reason == "" }

func latest(runs []runtime.Run) *runtime.Run {
	if len(runs) == 0 {
		return nil
	}
	return &runs[len(runs)-1]
}

// restartBackoff replays the kubelet's per-container back-off over the past
// runs: the first restart is immediate, then 10s doubling to 5 min; an entry
// older than 10 min is forgotten. It returns how long to wait still and the
// current delay.
func restartBackoff(runs []runtime.Run, now time.Time) (wait, delay time.Duration) {
	var (
		have    bool
		backoff time.Duration
		updated time.Time
	)
	expired := func(t time.Time) bool { return t.Sub(updated) > 2*maxBackoff }
	for i := 0; i < len(runs)-1; i++ {
		t := runs[i].FinishedAt
		if !have || expired(t) {
			backoff = initialBackoff
		} else {
			backoff = min(2*backoff, maxBackoff)
		}
		have, updated = true, t
	}
	last := runs[len(runs)-1].FinishedAt
	if !have || expired(last) {
		return 0, 0
	}
	if since := now.Sub(last); since < backoff {
		return backoff - since, backoff
	}
	return 0, backoff
}

func allContainers(spec *corev1.PodSpec) []*corev1.Container {
	out := make([]*corev1.Container, 0, len(spec.InitContainers)+len(spec.Containers))
	for i := range spec.InitContainers {
		out = append(out, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
}

// ephemeralContainers are the pod's ephemeral containers as containers
// (the fields they share; the allow list of the API keeps the others unset).
func ephemeralContainers(spec *corev1.PodSpec) []*corev1.Container {
	out := make([]*corev1.Container, 0, len(spec.EphemeralContainers))
	for i := range spec.EphemeralContainers {
		c := corev1.Container(spec.EphemeralContainers[i].EphemeralContainerCommon)
		out = append(out, &c)
	}
	return out
}

// decideEphemeral starts each ephemeral container once, while the pod
// runs: never restarted, whatever the pod's restart policy (upstream's
// computePodActions). One with a targetContainerName joins that
// container's namespaces, its processes included, and waits while it does
// not run; one without joins those of the pod's first running container,
// if any (the pod's namespaces where a pod has one set).
func decideEphemeral(o Observed, plans map[string]containerPlan, p *Plan) {
	spec := &o.Pod.Spec
	for i, c := range ephemeralContainers(spec) {
		cp := decideContainer(o, c, corev1.RestartPolicyNever, p)
		if cp.start {
			target := spec.EphemeralContainers[i].TargetContainerName
			join, ok := joinFor(o, target)
			switch {
			case ok:
				if p.Join == nil {
					p.Join = map[string]runtime.Join{}
				}
				p.Join[c.Name] = join
			case target != "":
				// The target is not running (yet, or any more): no
				// namespaces to join; looked at again.
				p.requeue(configRetry)
				cp = containerPlan{waiting: &corev1.ContainerStateWaiting{Reason: reasonCreating,
					Message: fmt.Sprintf("target container %q is not running", target)}}
			}
		}
		plans[c.Name] = cp
	}
}

// joinFor is the running run whose namespaces an ephemeral container with
// target joins: the target's, with its PID namespace; without one, the
// first running container's.
func joinFor(o Observed, target string) (runtime.Join, bool) {
	if target != "" {
		if last := latest(o.Runs[target]); last != nil && last.Running {
			return runtime.Join{ID: last.ID, PID: true}, true
		}
		return runtime.Join{}, false
	}
	for _, c := range allContainers(&o.Pod.Spec) {
		if last := latest(o.Runs[c.Name]); last != nil && last.Running {
			return runtime.Join{ID: last.ID}, true
		}
	}
	return runtime.Join{}, false
}

func containerIndex(spec *corev1.PodSpec, name string) int {
	for i, c := range append(allContainers(spec), ephemeralContainers(spec)...) {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// ContainerID is the runtime ID reported for a run.
func ContainerID(id runtime.ID) string {
	sum := sha256.Sum256([]byte(id.String()))
	return "batchd://" + hex.EncodeToString(sum[:])
}

func terminatedState(r *runtime.Run) *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{
		ExitCode:    int32(r.ExitCode),
		Reason:      string(r.Reason),
		Message:     r.Message,
		StartedAt:   metav1.NewTime(r.StartedAt.Truncate(time.Second)),
		FinishedAt:  metav1.NewTime(r.FinishedAt.Truncate(time.Second)),
		ContainerID: ContainerID(r.ID),
	}
	switch {
	case t.Reason != "":
	case r.OOMKilled:
		t.Reason = "OOMKilled"
	case r.ExitCode == 0:
		t.Reason = "Completed"
	default:
		t.Reason = "Error"
	}
	return t
}

func names(cs []string) string { return "[" + strings.Join(cs, " ") + "]" }
