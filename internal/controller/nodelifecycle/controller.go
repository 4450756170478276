package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// Component is the controller's event source, as upstream names it.
const Component = "node-controller"

// Config holds the controller's dependencies.
type Config struct {
	Client   kubernetes.Interface
	Informer informers.SharedInformerFactory
	Recorder record.EventRecorder
	Timing   Timing
	// Clock is the machine's (nil: the real one); tests pass a fake.
	Clock clock.WithTicker
}

// Controller monitors nodes' health.
type Controller struct {
	client   kubernetes.Interface
	nodes    corelisters.NodeLister
	leases   coordinationlisters.LeaseLister
	pods     corelisters.PodLister
	recorder record.EventRecorder
	timing   Timing
	clock    clock.WithTicker

	mu     sync.Mutex
	health map[types.UID]*Health
	// retry holds nodes whose pods could not all be marked not ready.
	retry map[types.UID]bool
}

// New wires the controller to the informers.
func New(cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Timing == (Timing{}) {
		cfg.Timing = DefaultTiming
	}
	f := cfg.Informer
	// Registered now so that the factory starts them.
	f.Core().V1().Nodes().Informer()
	f.Coordination().V1().Leases().Informer()
	f.Core().V1().Pods().Informer()
	return &Controller{client: cfg.Client, nodes: f.Core().V1().Nodes().Lister(), leases: f.Coordination().V1().Leases().Lister(),
		pods: f.Core().V1().Pods().Lister(), recorder: cfg.Recorder, timing: cfg.Timing, clock: cfg.Clock,
		health: map[types.UID]*Health{}, retry: map[types.UID]bool{}}
}

// Run monitors every node each MonitorPeriod until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	t := c.clock.NewTicker(c.timing.MonitorPeriod)
	defer t.Stop()
	for {
		if err := c.Monitor(ctx); err != nil && ctx.Err() == nil {
			utilruntime.HandleError(fmt.Errorf("monitor nodes: %w", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// Monitor is one pass over every node.
func (c *Controller) Monitor(ctx context.Context) error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	seen := map[types.UID]bool{}
	var errs []error
	for _, n := range nodes {
		seen[n.UID] = true
		if err := c.monitor(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.Name, err))
		}
	}
	c.mu.Lock()
	for uid := range c.health {
		if !seen[uid] {
			delete(c.health, uid)
			delete(c.retry, uid)
		}
	}
	c.mu.Unlock()
	return errors.Join(errs...)
}

func (c *Controller) monitor(ctx context.Context, n *corev1.Node) error {
	lease, err := c.leases.Leases(corev1.NamespaceNodeLease).Get(n.Name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	c.mu.Lock()
	prev := c.health[n.UID]
	retry := c.retry[n.UID]
	c.mu.Unlock()
	now := c.clock.Now()
	p := Decide(Observed{Node: n, Lease: lease, Health: prev, Now: now, Timing: c.timing})
	c.mu.Lock()
	c.health[n.UID] = &p.Health
	c.mu.Unlock()
	cur := n
	if p.Conditions != nil {
		upd := n.DeepCopy()
		upd.Status.Conditions = p.Conditions
		if cur, err = c.client.CoreV1().Nodes().UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			// Decided again next pass, on a fresher node.
			c.mu.Lock()
			c.health[n.UID] = prev
			c.mu.Unlock()
			return fmt.Errorf("update status: %w", err)
		}
	}
	if p.Taints != nil {
		upd := cur.DeepCopy()
		upd.Spec.Taints = p.Taints
		if _, err := c.client.CoreV1().Nodes().Update(ctx, upd, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("update taints: %w", err)
		}
	}
	if p.NotReady {
		c.recorder.Eventf(n, corev1.EventTypeNormal, EventNodeNotReady, "Node %s status is now: %s", n.Name, EventNodeNotReady)
	}
	stillNotReady := false
	if r := condition(cur.Status.Conditions, corev1.NodeReady); r != nil && r.Status != corev1.ConditionTrue {
		stillNotReady = true
	}
	if p.NotReady || (retry && stillNotReady) {
		err := c.markPodsNotReady(ctx, n.Name)
		c.mu.Lock()
		c.retry[n.UID] = err != nil
		c.mu.Unlock()
		return err
	}
	return nil
}

func (c *Controller) markPodsNotReady(ctx context.Context, node string) error {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	for _, pod := range pods {
		if pod.Spec.NodeName != node {
			continue
		}
		s := MarkNotReady(pod, c.clock.Now())
		if s == nil {
			continue
		}
		upd := pod.DeepCopy()
		upd.Status = *s
		if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("mark pod %s/%s not ready: %w", pod.Namespace, pod.Name, err))
			}
			continue
		}
		c.recorder.Event(pod, corev1.EventTypeWarning, EventNodeNotReady, "Node is not ready")
	}
	return errors.Join(errs...)
}
