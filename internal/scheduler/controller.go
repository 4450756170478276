package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"

	"github.com/batchd/batchd/internal/controller"
)

// Name is the scheduler's name in pods' spec.schedulerName and its event source.
const Name = "default-scheduler"

// Event reasons, and the actions kube-scheduler records them with.
const (
	ReasonScheduled        = "Scheduled"
	ReasonFailedScheduling = "FailedScheduling"
	ActionBinding          = "Binding"
	ActionScheduling       = "Scheduling"
)

// retryUnschedulable is how often unschedulable pods are tried again without
// a cluster change (the scheduler's podMaxInUnschedulablePodsDuration is 5 min).
const retryUnschedulable = time.Minute

// Controller binds pending pods.
type Controller struct {
	client kubernetes.Interface
	// events records through events.k8s.io/v1 as kube-scheduler does
	// (eventTime, action, reportingController default-scheduler,
	// reportingInstance default-scheduler-<host>); kubectl describe and get
	// events read them through core/v1, the same storage.
	events       events.EventBroadcaster
	recorder     events.EventRecorder
	pods         corelisters.PodLister
	nodes        corelisters.NodeLister
	claims       corelisters.PersistentVolumeClaimLister
	claimsSynced cache.InformerSynced
	runner       *controller.Runner[string]

	mu      sync.Mutex
	assumed map[string]assumed // pod key → node, until the informer shows the binding
	// placed holds the unfinished pods the informer shows bound: what
	// occupies the nodes, kept by the event handlers so that a decision costs
	// the running pods, not every pod ever stored.
	placed map[string]*corev1.Pod
	// unschedulable holds the pods that fit nowhere, tried again when a
	// node changes or a pod leaves one.
	unschedulable map[string]bool
	// binds bounds the bindings in flight.
	binds chan struct{}
}

type assumed struct {
	node string
	pod  *corev1.Pod
}

// New wires the scheduler to the factory's pod, node and claim informers.
// Its events go through an events.k8s.io/v1 broadcaster of its own, started
// by Run, to sink (nil: the client's events.k8s.io/v1 API).
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, sink events.EventSink) *Controller {
	if sink == nil {
		sink = &events.EventSinkImpl{Interface: client.EventsV1()}
	}
	broadcaster := events.NewBroadcaster(sink)
	claimInformer := factory.Core().V1().PersistentVolumeClaims().Informer()
	c := &Controller{client: client, events: broadcaster, recorder: broadcaster.NewRecorder(scheme.Scheme, Name),
		pods: factory.Core().V1().Pods().Lister(), nodes: factory.Core().V1().Nodes().Lister(),
		claims: factory.Core().V1().PersistentVolumeClaims().Lister(), claimsSynced: claimInformer.HasSynced,
		assumed: map[string]assumed{}, placed: map[string]*corev1.Pod{}, unschedulable: map[string]bool{},
		binds: make(chan struct{}, maxBinds)}
	// A pod waiting for a claim is tried again when one appears.
	_, _ = claimInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.retryUnschedulable() },
	})
	c.runner = controller.NewRunner("scheduler", c.sync)
	_, _ = factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.podChanged(nil, obj.(*corev1.Pod)) },
		UpdateFunc: func(old, obj any) {
			c.podChanged(old.(*corev1.Pod), obj.(*corev1.Pod))
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				c.mu.Lock()
				_, wasPlaced := c.placed[key(p)]
				delete(c.placed, key(p))
				delete(c.assumed, key(p))
				delete(c.unschedulable, key(p))
				c.mu.Unlock()
				if wasPlaced {
					c.retryUnschedulable()
				}
			}
		},
	})
	_, _ = factory.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.retryUnschedulable() },
		UpdateFunc: func(old, obj any) { c.retryUnschedulable() },
	})
	return c
}

func key(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

func pending(p *corev1.Pod) bool {
	return p.Spec.NodeName == "" && p.DeletionTimestamp == nil && !finished(p) && len(p.Spec.SchedulingGates) == 0 &&
		(p.Spec.SchedulerName == "" || p.Spec.SchedulerName == Name)
}

func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func (c *Controller) podChanged(old, p *corev1.Pod) {
	freed := false
	if p.Spec.NodeName != "" {
		c.mu.Lock()
		delete(c.assumed, key(p))
		if finished(p) {
			_, freed = c.placed[key(p)]
			delete(c.placed, key(p))
		} else {
			c.placed[key(p)] = p
		}
		c.mu.Unlock()
	}
	// A spec change (e.g. an added toleration) may make a pending pod fit; our
	// own Unschedulable status write must not retry it.
	if pending(p) && (old == nil || !apiequality.Semantic.DeepEqual(old.Spec, p.Spec)) {
		c.runner.Add(key(p))
	}
	// A pod that finished frees its node's resources.
	if freed {
		c.retryUnschedulable()
	}
}

// retryUnschedulable queues again the pods that fit nowhere.
func (c *Controller) retryUnschedulable() {
	c.mu.Lock()
	keys := make([]string, 0, len(c.unschedulable))
	for k := range c.unschedulable {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	for _, k := range keys {
		c.runner.Add(k)
	}
}

// retryPending queues every pending pod (at start and once a minute).
func (c *Controller) retryPending() {
	pods, _ := c.pods.List(labels.Everything())
	for _, p := range pods {
		if pending(p) {
			c.runner.Add(key(p))
		}
	}
}

// maxBinds is how many bindings may be in flight at once.
const maxBinds = 32

// Run schedules until ctx ends. One worker decides, so that each decision
// sees the ones before it (as assumed pods); the bindings run beside it, as
// the upstream scheduler's binding cycle does.
func (c *Controller) Run(ctx context.Context) {
	if err := c.events.StartRecordingToSinkWithContext(ctx); err != nil {
		utilruntime.HandleError(fmt.Errorf("start scheduler events: %w", err))
	}
	defer c.events.Shutdown()
	// A claim not yet in the cache must not make a pod "not found".
	if !cache.WaitForCacheSync(ctx.Done(), c.claimsSynced) {
		return
	}
	go func() {
		t := time.NewTicker(retryUnschedulable)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.retryPending()
			}
		}
	}()
	c.retryPending()
	c.runner.Run(ctx, 1)
}

func (c *Controller) sync(ctx context.Context, k string) (time.Duration, error) {
	ns, name, _ := cache.SplitMetaNamespaceKey(k)
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	_, isAssumed := c.assumed[k]
	if !pending(pod) {
		delete(c.unschedulable, k)
	}
	c.mu.Unlock()
	if !pending(pod) || isAssumed {
		return 0, nil
	}
	states, err := c.nodeStates()
	if err != nil {
		return 0, err
	}
	res := Decide(pod, states, func(name string) *corev1.PersistentVolumeClaim {
		pvc, err := c.claims.PersistentVolumeClaims(pod.Namespace).Get(name)
		if err != nil {
			return nil
		}
		return pvc
	})
	if res.Node == "" {
		c.mu.Lock()
		c.unschedulable[k] = true
		c.mu.Unlock()
		c.recorder.Eventf(pod, nil, corev1.EventTypeWarning, ReasonFailedScheduling, ActionScheduling, res.Message)
		return 0, c.markUnschedulable(ctx, pod, res.Message)
	}
	c.mu.Lock()
	delete(c.unschedulable, k)
	c.assumed[k] = assumed{node: res.Node, pod: pod}
	c.mu.Unlock()
	select {
	case c.binds <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	go func() {
		defer func() { <-c.binds }()
		c.bind(ctx, k, pod, res.Node)
	}()
	return 0, nil
}

// bind writes the decision; on failure the pod is no longer assumed and,
// unless it is gone or already bound, is tried again.
func (c *Controller) bind(ctx context.Context, k string, pod *corev1.Pod, node string) {
	err := c.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	if err != nil {
		c.mu.Lock()
		delete(c.assumed, k)
		c.mu.Unlock()
		if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
			utilruntime.HandleError(fmt.Errorf("bind pod %s: %w", k, err))
			c.runner.AddAfter(k, time.Second)
		}
		return
	}
	c.recorder.Eventf(pod, nil, corev1.EventTypeNormal, ReasonScheduled, ActionBinding, "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
}

// nodeStates sums the requests of the unfinished pods on each node,
// including pods bound but not yet seen bound by the informer.
func (c *Controller) nodeStates() ([]NodeState, error) {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	byName := map[string]*NodeState{}
	out := make([]NodeState, len(nodes))
	for i, n := range nodes {
		out[i] = NodeState{Node: n, Requested: corev1.ResourceList{}}
		byName[n.Name] = &out[i]
	}
	add := func(node string, p *corev1.Pod) {
		s, ok := byName[node]
		if !ok || finished(p) {
			return
		}
		s.Add(p)
	}
	c.mu.Lock()
	for _, p := range c.placed {
		add(p.Spec.NodeName, p)
	}
	for k, a := range c.assumed {
		if _, seen := c.placed[k]; !seen {
			add(a.node, a.pod)
		}
	}
	c.mu.Unlock()
	return out, nil
}

func (c *Controller) markUnschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Message == msg {
			return nil
		}
	}
	p := pod.DeepCopy()
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable,
		Message: msg, LastTransitionTime: metav1.Now()}
	replaced := false
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			p.Status.Conditions[i], replaced = cond, true
		}
	}
	if !replaced {
		p.Status.Conditions = append(p.Status.Conditions, cond)
	}
	_, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}
