// Package rootca publishes the cluster CA as the kube-root-ca.crt ConfigMap in
// every namespace, as upstream's root-ca-cert-publisher does: the
// kube-api-access projected volume of every pod reads ca.crt from it, so that
// in-cluster clients (client-go's InClusterConfig, kubectl in a pod) trust the
// API server.
package rootca

import (
	"bytes"
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

// Name, Key and Description are upstream's.
const (
	Name           = "kube-root-ca.crt"
	Key            = "ca.crt"
	DescriptionKey = "kubernetes.io/description"
	Description    = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Decide returns the ConfigMap to write in a namespace: nil when the existing
// one (nil: none) already holds ca exactly. A terminating namespace gets none.
func Decide(ns *corev1.Namespace, existing *corev1.ConfigMap, ca []byte) *corev1.ConfigMap {
	if ns == nil || ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return nil
	}
	if existing != nil && existing.Data[Key] == string(ca) && len(existing.Data) == 1 &&
		existing.Annotations[DescriptionKey] == Description && len(existing.BinaryData) == 0 {
		return nil
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns.Name}}
	if existing != nil {
		cm = existing.DeepCopy()
	}
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionKey] = Description
	cm.Data = map[string]string{Key: string(ca)}
	cm.BinaryData = nil
	return cm
}

// Controller keeps kube-root-ca.crt in every namespace.
type Controller struct {
	client     kubernetes.Interface
	ca         []byte
	namespaces corelisters.NamespaceLister
	configMaps corelisters.ConfigMapLister
	runner     *controller.Runner[string]
}

// Config holds the controller's dependencies.
type Config struct {
	Client   kubernetes.Interface
	Informer informers.SharedInformerFactory
	// CA is the PEM bundle to publish.
	CA []byte
}

// New wires the controller to the informers.
func New(cfg Config) (*Controller, error) {
	f := cfg.Informer
	c := &Controller{client: cfg.Client, ca: bytes.Clone(cfg.CA),
		namespaces: f.Core().V1().Namespaces().Lister(), configMaps: f.Core().V1().ConfigMaps().Lister()}
	c.runner = controller.NewRunner("root-ca-cert-publisher", c.sync)
	onNS := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok {
			c.runner.Add(ns.Name)
		}
	}
	if _, err := f.Core().V1().Namespaces().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onNS, UpdateFunc: func(_, obj any) { onNS(obj) },
	}); err != nil {
		return nil, err
	}
	onCM := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Name == Name {
			c.runner.Add(cm.Namespace)
		}
	}
	if _, err := f.Core().V1().ConfigMaps().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { onCM(obj) }, DeleteFunc: onCM,
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
	existing, err := c.configMaps.ConfigMaps(namespace).Get(Name)
	if apierrors.IsNotFound(err) {
		existing, err = nil, nil
	}
	if err != nil {
		return 0, err
	}
	want := Decide(ns, existing, c.ca)
	switch {
	case want == nil:
		return 0, nil
	case existing == nil:
		_, err = c.client.CoreV1().ConfigMaps(namespace).Create(ctx, want, metav1.CreateOptions{})
	default:
		_, err = c.client.CoreV1().ConfigMaps(namespace).Update(ctx, want, metav1.UpdateOptions{})
	}
	if apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		// A stale cache, or the namespace began terminating: the informer brings us back.
		return 0, nil
	}
	return 0, err
}
