package endpoint

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/batchd/batchd/internal/controller"
)

// Controller keeps the Endpoints and EndpointSlice of selector Services.
type Controller struct {
	client    kubernetes.Interface
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	slices    discoverylisters.EndpointSliceLister
	runner    *controller.Runner[string]
}

// Config holds the controller's dependencies.
type Config struct {
	Client   kubernetes.Interface
	Informer informers.SharedInformerFactory
}

// New wires the controller to the informers.
func New(cfg Config) (*Controller, error) {
	f := cfg.Informer
	c := &Controller{client: cfg.Client, services: f.Core().V1().Services().Lister(), pods: f.Core().V1().Pods().Lister(),
		endpoints: f.Core().V1().Endpoints().Lister(), slices: f.Discovery().V1().EndpointSlices().Lister()}
	c.runner = controller.NewRunner("endpoint", c.sync)
	onService := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			c.runner.Add(key)
		}
	}
	if _, err := f.Core().V1().Services().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onService, UpdateFunc: func(_, obj any) { onService(obj) }, DeleteFunc: onService,
	}); err != nil {
		return nil, err
	}
	// A pod change concerns the services of its namespace that select it, before or after.
	onPod := func(objs ...any) {
		for _, obj := range objs {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			p, ok := obj.(*corev1.Pod)
			if !ok {
				continue
			}
			svcs, _ := c.services.Services(p.Namespace).List(labels.Everything())
			for _, s := range svcs {
				if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(p.Labels)) {
					c.runner.Add(s.Namespace + "/" + s.Name)
				}
			}
		}
	}
	if _, err := f.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { onPod(obj) }, UpdateFunc: func(old, obj any) { onPod(old, obj) }, DeleteFunc: func(obj any) { onPod(obj) },
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Run processes services until ctx ends.
func (c *Controller) Run(ctx context.Context) { c.runner.Run(ctx, 1) }

func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	svc, err := c.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The slices go with their owner (garbage collector); the Endpoints
		// go with the service, as upstream's endpoints controller removes them.
		if _, err := c.endpoints.Endpoints(ns).Get(name); err == nil {
			err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return 0, err
			}
		}
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return 0, nil // endpoints of selector-less services are their owner's
	}
	pods, err := c.pods.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return 0, err
	}
	d := Decide(svc, pods)
	if err := c.writeEndpoints(ctx, svc, d); err != nil {
		return 0, err
	}
	return 0, c.writeSlice(ctx, svc, d)
}

func serviceLabels(svc *corev1.Service) map[string]string {
	l := map[string]string{}
	for k, v := range svc.Labels {
		l[k] = v
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[HeadlessLabel] = ""
	}
	return l
}

func (c *Controller) writeEndpoints(ctx context.Context, svc *corev1.Service, d Desired) error {
	want := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: serviceLabels(svc)}, Subsets: d.Subsets}
	old, err := c.endpoints.Endpoints(svc.Namespace).Get(svc.Name)
	if apierrors.IsNotFound(err) {
		_, err = c.client.CoreV1().Endpoints(svc.Namespace).Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil // a stale cache: the informer brings the key back
		}
		return err
	}
	if err != nil {
		return err
	}
	if equality.Semantic.DeepEqual(old.Subsets, want.Subsets) && equality.Semantic.DeepEqual(old.Labels, want.Labels) {
		return nil
	}
	upd := old.DeepCopy()
	upd.Subsets, upd.Labels = want.Subsets, want.Labels
	_, err = c.client.CoreV1().Endpoints(svc.Namespace).Update(ctx, upd, metav1.UpdateOptions{})
	return err
}

func (c *Controller) writeSlice(ctx context.Context, svc *corev1.Service, d Desired) error {
	l := serviceLabels(svc)
	l[serviceNameLabel] = svc.Name
	l[managedByLabel] = ManagedBy
	existing, err := c.slices.EndpointSlices(svc.Namespace).List(labels.SelectorFromSet(map[string]string{serviceNameLabel: svc.Name, managedByLabel: ManagedBy}))
	if err != nil {
		return err
	}
	if len(existing) == 0 {
		s := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{GenerateName: svc.Name + "-", Namespace: svc.Namespace, Labels: l,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))}},
			AddressType: discoveryv1.AddressTypeIPv4, Endpoints: d.Endpoints, Ports: d.Ports,
		}
		_, err := c.client.DiscoveryV1().EndpointSlices(svc.Namespace).Create(ctx, s, metav1.CreateOptions{})
		return err
	}
	s := existing[0]
	for _, extra := range existing[1:] {
		if err := c.client.DiscoveryV1().EndpointSlices(svc.Namespace).Delete(ctx, extra.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if equality.Semantic.DeepEqual(s.Endpoints, d.Endpoints) && equality.Semantic.DeepEqual(s.Ports, d.Ports) && equality.Semantic.DeepEqual(s.Labels, l) {
		return nil
	}
	upd := s.DeepCopy()
	upd.Endpoints, upd.Ports, upd.Labels = d.Endpoints, d.Ports, l
	_, err = c.client.DiscoveryV1().EndpointSlices(svc.Namespace).Update(ctx, upd, metav1.UpdateOptions{})
	return err
}
