// Package namespace empties a deleted namespace and then lets it go, as
// upstream's namespace controller does: every namespaced resource the server
// serves is deleted (DeleteCollection, background propagation); once nothing
// is left, the "kubernetes" finalizer is removed through namespaces/finalize
// and the namespace is deleted for good.
package namespace

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"

	"github.com/batchd/batchd/internal/controller"
)

// recheck is how soon a namespace whose contents are still going is looked at again.
const recheck = time.Second

// Controller deletes the contents of terminating namespaces.
type Controller struct {
	client     kubernetes.Interface
	meta       metadata.Interface
	discovery  discovery.DiscoveryInterface
	namespaces corelisters.NamespaceLister
	runner     *controller.Runner[string]
}

// Config holds the controller's dependencies.
type Config struct {
	Client kubernetes.Interface
	// Meta deletes the contents, of every resource, by their metadata.
	Meta     metadata.Interface
	Informer informers.SharedInformerFactory
	// Discovery finds the namespaced resources (nil: Client's).
	Discovery discovery.DiscoveryInterface
}

// New wires the controller to the informers.
func New(cfg Config) (*Controller, error) {
	if cfg.Discovery == nil {
		cfg.Discovery = cfg.Client.Discovery()
	}
	f := cfg.Informer
	c := &Controller{
		client:     cfg.Client,
		meta:       cfg.Meta,
		discovery:  cfg.Discovery,
		namespaces: f.Core().V1().Namespaces().Lister(),
	}
	c.runner = controller.NewRunner("namespace", c.sync)
	enqueue := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
			c.runner.Add(ns.Name)
		}
	}
	_, err := f.Core().V1().Namespaces().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	return c, err
}

// Run processes namespaces until ctx ends.
func (c *Controller) Run(ctx context.Context) { c.runner.Run(ctx, 2) }

func (c *Controller) sync(ctx context.Context, name string) (time.Duration, error) {
	ns, err := c.namespaces.Get(name)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if ns.DeletionTimestamp == nil {
		return 0, nil
	}
	left, err := c.deleteContents(ctx, name)
	if err != nil {
		return 0, err
	}
	if left > 0 {
		return recheck, nil
	}
	return 0, c.finalize(ctx, name)
}

// deleteContents deletes every namespaced object and counts what remains.
func (c *Controller) deleteContents(ctx context.Context, namespace string) (int, error) {
	lists, err := c.discovery.ServerPreferredNamespacedResources()
	if err != nil && len(lists) == 0 {
		return 0, fmt.Errorf("discover resources: %w", err)
	}
	background := metav1.DeletePropagationBackground
	left := 0
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if !hasVerb(r.Verbs, "deletecollection") || !hasVerb(r.Verbs, "list") {
				continue
			}
			// Most resources of a namespace hold nothing: one list of
			// at most one item each, and a delete and a full list only
			// where something is (every pass, while pods terminate).
			client := c.meta.Resource(gv.WithResource(r.Name)).Namespace(namespace)
			present, err := client.List(ctx, metav1.ListOptions{Limit: 1})
			if err != nil {
				return 0, fmt.Errorf("list %s in %s: %w", r.Name, namespace, err)
			}
			if len(present.Items) == 0 {
				continue
			}
			err = client.DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &background}, metav1.ListOptions{})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
				return 0, fmt.Errorf("delete %s in %s: %w", r.Name, namespace, err)
			}
			remaining, err := client.List(ctx, metav1.ListOptions{})
			if err != nil {
				return 0, fmt.Errorf("list %s in %s: %w", r.Name, namespace, err)
			}
			left += len(remaining.Items)
		}
	}
	return left, nil
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

// finalize removes the "kubernetes" finalizer and deletes the namespace.
func (c *Controller) finalize(ctx context.Context, name string) error {
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var keep []corev1.FinalizerName
	for _, f := range ns.Spec.Finalizers {
		if f != corev1.FinalizerKubernetes {
			keep = append(keep, f)
		}
	}
	if len(keep) != len(ns.Spec.Finalizers) {
		ns.Spec.Finalizers = keep
		if ns, err = c.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("finalize namespace %s: %w", name, err)
		}
	}
	if len(ns.Spec.Finalizers) > 0 {
		return nil
	}
	uid := ns.UID
	err = c.client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}
