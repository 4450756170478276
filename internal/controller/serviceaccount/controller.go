// Package serviceaccount keeps a "default" ServiceAccount in every active
// namespace, as upstream's serviceaccounts controller does, so that pods and
// `kubectl create job` work in any namespace.
package serviceaccount

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/batchd/batchd/internal/controller"
)

// Name is the account every namespace gets.
const Name = "default"

// Controller creates missing default service accounts.
type Controller struct {
	client     kubernetes.Interface
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	runner     *controller.Runner[string]
}

// Config holds the controller's dependencies.
type Config struct {
	Client   kubernetes.Interface
	Informer informers.SharedInformerFactory
}

// New wires the controller to the informers.
func New(cfg Config) (*Controller, error) {
	f := cfg.Informer
	c := &Controller{
		client:     cfg.Client,
		namespaces: f.Core().V1().Namespaces().Lister(),
		accounts:   f.Core().V1().ServiceAccounts().Lister(),
	}
	c.runner = controller.NewRunner("serviceaccount", c.sync)
	enqueueNS := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok {
			c.runner.Add(ns.Name)
		}
	}
	if _, err := f.Core().V1().Namespaces().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueNS,
		UpdateFunc: func(_, obj any) { enqueueNS(obj) },
	}); err != nil {
		return nil, err
	}
	if _, err := f.Core().V1().ServiceAccounts().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if sa, ok := obj.(*corev1.ServiceAccount); ok && sa.Name == Name {
				c.runner.Add(sa.Namespace)
			}
		},
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run processes namespaces until ctx ends.
func (c *Controller) Run(ctx context.Context) { c.runner.Run(ctx, 1) }

func (c *Controller) sync(ctx context.Context, namespace string) (time.Duration, error) {
	ns, err := c.namespaces.Get(namespace)
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if ns.Status.Phase != corev1.NamespaceActive || ns.DeletionTimestamp != nil {
		return 0, nil
	}
	if _, err := c.accounts.ServiceAccounts(namespace).Get(Name); err == nil {
		return 0, nil
	}
	_, err = c.client.CoreV1().ServiceAccounts(namespace).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: Name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) || apierrors.IsForbidden(err) {
		// Forbidden: the namespace began terminating meanwhile.
		return 0, nil
	}
	return 0, err
}
