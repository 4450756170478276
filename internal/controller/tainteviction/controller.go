package tainteviction

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/controller"
)

// Config holds the controller's dependencies.
type Config struct {
	Client   kubernetes.Interface
	Informer informers.SharedInformerFactory
	Recorder record.EventRecorder
	// Clock is the machine's (nil: the real one): taints' timeAdded is
	// written in it, never in a virtual time.
	Clock clock.WithTicker
}

// Controller evicts pods from tainted nodes.
type Controller struct {
	client   kubernetes.Interface
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	recorder record.EventRecorder
	clock    clock.WithTicker
	runner   *controller.Runner[string]

	mu sync.Mutex
	// seen is when a taint without timeAdded was first seen, by node and taint.
	seen map[string]time.Time
	// scheduled are the pods with an eviction ahead (their cancellation
	// is an event too).
	scheduled map[string]bool
}

// New wires the controller to the informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	f := cfg.Informer
	c := &Controller{client: cfg.Client, pods: f.Core().V1().Pods().Lister(), nodes: f.Core().V1().Nodes().Lister(),
		recorder: cfg.Recorder, clock: cfg.Clock, seen: map[string]time.Time{}, scheduled: map[string]bool{}}
	c.runner = controller.NewRunner(Component, c.sync, controller.WithClock(cfg.Clock))
	enqueuePod := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			if key, err := cache.MetaNamespaceKeyFunc(p); err == nil {
				c.runner.Add(key)
			}
		}
	}
	if _, err := f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueuePod,
		UpdateFunc: func(_, obj any) { enqueuePod(obj) },
	}); err != nil {
		return nil, err
	}
	// A node's NoExecute taints changed: its pods are judged again.
	nodeChanged := func(old, cur *corev1.Node) {
		if old != nil && noExecute(old.Spec.Taints) == noExecute(cur.Spec.Taints) {
			return
		}
		pods, _ := c.pods.List(labels.Everything())
		for _, p := range pods {
			if p.Spec.NodeName == cur.Name {
				enqueuePod(p)
			}
		}
	}
	_, err := f.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { nodeChanged(nil, obj.(*corev1.Node)) },
		UpdateFunc: func(old, obj any) { nodeChanged(old.(*corev1.Node), obj.(*corev1.Node)) },
	})
	return c, err
}

// noExecute is a node's NoExecute taints as one comparable string.
func noExecute(taints []corev1.Taint) string {
	s := ""
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			s += t.ToString() + ";"
		}
	}
	return s
}

// Run evicts until ctx ends.
func (c *Controller) Run(ctx context.Context) { c.runner.Run(ctx, 2) }

func (c *Controller) since(node string) func(corev1.Taint) time.Time {
	return func(t corev1.Taint) time.Time {
		k := node + "\x00" + t.ToString()
		c.mu.Lock()
		defer c.mu.Unlock()
		at, ok := c.seen[k]
		if !ok {
			at = c.clock.Now()
			c.seen[k] = at
		}
		return at
	}
}

func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.unschedule(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		// PodGC's concern.
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	v := Decide(pod, node.Spec.Taints, c.since(node.Name), c.clock.Now())
	switch {
	case v.After > 0:
		c.mu.Lock()
		c.scheduled[key] = true
		c.mu.Unlock()
		return v.After, nil
	case !v.Evict:
		if c.unschedule(key) && pod.DeletionTimestamp == nil {
			c.recorder.Eventf(pod, corev1.EventTypeNormal, ReasonEviction, "Cancelling deletion of Pod %s", key)
		}
		return 0, nil
	}
	c.unschedule(key)
	return 0, c.evict(ctx, pod)
}

// unschedule forgets a scheduled eviction; it says whether there was one.
func (c *Controller) unschedule(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	had := c.scheduled[key]
	delete(c.scheduled, key)
	return had
}

// evict adds the DisruptionTarget condition, then deletes the pod (its UID
// as a precondition: a pod of the same name made since is not touched).
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod) error {
	c.recorder.Eventf(pod, corev1.EventTypeNormal, ReasonEviction, "Marking for deletion Pod %s/%s", pod.Namespace, pod.Name)
	fresh, err := c.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if fresh.UID != pod.UID || fresh.DeletionTimestamp != nil {
		return nil
	}
	if setDisruption(&fresh.Status, c.clock.Now()) {
		if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("set pod %s/%s DisruptionTarget: %w", pod.Namespace, pod.Name, err)
		}
	}
	err = c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// setDisruption sets the DisruptionTarget condition; false when it is set already.
func setDisruption(s *corev1.PodStatus, now time.Time) bool {
	cond := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: ReasonDeletionByTaints,
		Message: MessageDeletion, LastTransitionTime: metav1.NewTime(now)}
	for i, c := range s.Conditions {
		if c.Type != corev1.DisruptionTarget {
			continue
		}
		if c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message {
			return false
		}
		if c.Status == cond.Status {
			cond.LastTransitionTime = c.LastTransitionTime
		}
		s.Conditions[i] = cond
		return true
	}
	s.Conditions = append(s.Conditions, cond)
	return true
}
