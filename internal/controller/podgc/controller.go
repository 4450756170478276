package podgc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/utils/clock"
)

// Upstream's timing: a pass every 20 s; a node missing from the cache is
// looked up after 40 s (it may just not be seen yet).
const (
	DefaultPeriod     = 20 * time.Second
	DefaultQuarantine = 40 * time.Second
)

// Config holds the collector's dependencies.
type Config struct {
	Client   kubernetes.Interface
	Informer informers.SharedInformerFactory
	// Period and Quarantine default to upstream's.
	Period, Quarantine time.Duration
	// Clock is the machine's (nil: the real one).
	Clock clock.WithTicker
}

// Controller collects pods.
type Controller struct {
	client             kubernetes.Interface
	pods               corelisters.PodLister
	nodes              corelisters.NodeLister
	period, quarantine time.Duration
	clock              clock.WithTicker

	mu      sync.Mutex
	missing map[string]time.Time // node name → first seen missing
}

// New wires the collector to the informers.
func New(cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Period <= 0 {
		cfg.Period = DefaultPeriod
	}
	if cfg.Quarantine <= 0 {
		cfg.Quarantine = DefaultQuarantine
	}
	f := cfg.Informer
	return &Controller{client: cfg.Client, pods: f.Core().V1().Pods().Lister(), nodes: f.Core().V1().Nodes().Lister(),
		period: cfg.Period, quarantine: cfg.Quarantine, clock: cfg.Clock, missing: map[string]time.Time{}}
}

// Run collects every Period until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	t := c.clock.NewTicker(c.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		if err := c.Collect(ctx); err != nil && ctx.Err() == nil {
			utilruntime.HandleError(fmt.Errorf("pod gc: %w", err))
		}
	}
}

// Collect is one pass.
func (c *Controller) Collect(ctx context.Context) error {
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	list, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	nodes := map[string]*corev1.Node{}
	for _, n := range list {
		nodes[n.Name] = n
	}
	deleted, err := c.confirmDeleted(ctx, Orphans(pods, nodes))
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, a := range Decide(pods, nodes, deleted) {
		if err := c.failAndDelete(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// confirmDeleted returns the orphans' nodes missing for the quarantine that
// the API server confirms are gone.
func (c *Controller) confirmDeleted(ctx context.Context, orphans map[string]bool) (map[string]bool, error) {
	now := c.clock.Now()
	c.mu.Lock()
	var due []string
	for name := range c.missing {
		if !orphans[name] {
			delete(c.missing, name)
		}
	}
	for name := range orphans {
		first, ok := c.missing[name]
		if !ok {
			c.missing[name] = now
			continue
		}
		if now.Sub(first) >= c.quarantine {
			due = append(due, name)
		}
	}
	c.mu.Unlock()
	deleted := map[string]bool{}
	var errs []error
	for _, name := range due {
		_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			deleted[name] = true
		case err != nil:
			errs = append(errs, fmt.Errorf("get node %s: %w", name, err))
		default:
			c.mu.Lock()
			delete(c.missing, name)
			c.mu.Unlock()
		}
	}
	return deleted, errors.Join(errs...)
}

// failAndDelete sets the pod Failed (with the action's condition) unless it
// finished, then deletes it at once.
func (c *Controller) failAndDelete(ctx context.Context, a Action) error {
	p := a.Pod
	if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		upd := p.DeepCopy()
		upd.Status.Phase = corev1.PodFailed
		if a.Condition != nil {
			cond := *a.Condition
			cond.LastTransitionTime = metav1.NewTime(c.clock.Now())
			replaced := false
			for i, old := range upd.Status.Conditions {
				if old.Type == cond.Type {
					if old.Status == cond.Status {
						cond.LastTransitionTime = old.LastTransitionTime
					}
					upd.Status.Conditions[i], replaced = cond, true
				}
			}
			if !replaced {
				upd.Status.Conditions = append(upd.Status.Conditions, cond)
			}
		}
		if _, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("fail pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64),
		Preconditions: &metav1.Preconditions{UID: &p.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}
