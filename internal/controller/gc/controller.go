// Package gc is batchd's garbage collector: it honours ownerReferences and the
// propagation policies of deletes (Background, Foreground, Orphan) the way
// upstream's garbage collector does, for every resource the server serves.
// Decide (decide.go) is the policy; this file observes, apply.go acts.
package gc

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"

	"github.com/batchd/batchd/internal/controller"
)

// Key names one object of one resource; it is the work queue's key.
type Key struct {
	Group, Version, Resource string
	Namespace, Name          string
}

func (k Key) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Resource}
}

// String names the object in messages.
func (k Key) String() string {
	return strings.Join([]string{k.Group, k.Version, k.Resource, k.Namespace, k.Name}, "|")
}

const ownerIndex = "ownerUID"

type resource struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
	informer   cache.SharedIndexInformer
}

// Controller collects garbage.
type Controller struct {
	client    metadata.Interface
	resources map[schema.GroupVersionResource]*resource
	byKind    map[schema.GroupVersionKind]*resource
	runner    *controller.Runner[Key]
}

// Config holds the collector's dependencies.
type Config struct {
	// Client reads, patches and deletes objects by their metadata.
	Client metadata.Interface
	// Discovery lists the resources to watch.
	Discovery discovery.DiscoveryInterface
	// Informer watches their metadata.
	Informer metadatainformer.SharedInformerFactory
	// Ignored are resources the collector neither watches nor collects;
	// nil: upstream's default, the events of both groups (DefaultIgnored).
	Ignored map[schema.GroupResource]bool
}

// DefaultIgnored is what upstream's collector ignores unless told
// otherwise (garbagecollector.DefaultIgnoredResources): events, of
// the core group and of events.k8s.io. They are written several times a
// pod, never own anything and are rarely owned; watching them cost two
// watches fed with every event and their metadata kept in memory.
func DefaultIgnored() map[schema.GroupResource]bool {
	return map[schema.GroupResource]bool{
		{Group: "", Resource: "events"}:              true,
		{Group: "events.k8s.io", Resource: "events"}: true,
	}
}

// Collected picks, from discovery's preferred resources, those the
// collector watches: every listable, watchable, deletable and patchable
// resource but subresources and the ignored ones.
func Collected(lists []*metav1.APIResourceList, ignored map[schema.GroupResource]bool) []Resource {
	var out []Resource
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !hasAll(r.Verbs, "list", "watch", "delete", "patch") ||
				ignored[schema.GroupResource{Group: gv.Group, Resource: r.Name}] {
				continue
			}
			out = append(out, Resource{GVR: gv.WithResource(r.Name), Kind: r.Kind, Namespaced: r.Namespaced})
		}
	}
	return out
}

// Resource is one resource the collector watches.
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
}

// New discovers the resources to collect (Collected) and watches their metadata.
func New(cfg Config) (*Controller, error) {
	lists, err := cfg.Discovery.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, fmt.Errorf("discover resources: %w", err)
	}
	factory := cfg.Informer
	c := &Controller{client: cfg.Client, resources: map[schema.GroupVersionResource]*resource{}, byKind: map[schema.GroupVersionKind]*resource{}}
	c.runner = controller.NewRunner("garbage-collector", c.sync)
	ignored := cfg.Ignored
	if ignored == nil {
		ignored = DefaultIgnored()
	}
	for _, r := range Collected(lists, ignored) {
		inf := factory.ForResource(r.GVR).Informer()
		if err := inf.AddIndexers(cache.Indexers{ownerIndex: ownerUIDs}); err != nil {
			return nil, err
		}
		res := &resource{gvr: r.GVR, kind: r.Kind, namespaced: r.Namespaced, informer: inf}
		c.resources[r.GVR] = res
		c.byKind[r.GVR.GroupVersion().WithKind(r.Kind)] = res
		if _, err := inf.AddEventHandler(c.handler(res)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func hasAll(verbs []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, v := range verbs {
			found = found || v == w
		}
		if !found {
			return false
		}
	}
	return true
}

func ownerUIDs(obj any) ([]string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ref := range m.GetOwnerReferences() {
		out = append(out, string(ref.UID))
	}
	return out, nil
}

func (c *Controller) keyOf(r *resource, m metav1.Object) Key {
	return Key{Group: r.gvr.Group, Version: r.gvr.Version, Resource: r.gvr.Resource, Namespace: m.GetNamespace(), Name: m.GetName()}
}

// handler enqueues an object when it changes (its owners may be gone) and its
// dependents when it is deleted or starts deleting.
func (c *Controller) handler(r *resource) cache.ResourceEventHandler {
	enqueue := func(obj any, withDependents bool) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return
		}
		c.runner.Add(c.keyOf(r, m))
		if withDependents {
			for _, d := range c.dependents(m.GetUID()) {
				c.runner.Add(d.Key)
			}
			// An owner in foreground deletion waits for this one.
			for _, ref := range m.GetOwnerReferences() {
				if k, ok := c.ownerKey(m.GetNamespace(), ref); ok {
					c.runner.Add(k)
				}
			}
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { enqueue(obj, false) },
		UpdateFunc: func(_, obj any) {
			m, err := meta.Accessor(obj)
			enqueue(obj, err == nil && m.GetDeletionTimestamp() != nil)
		},
		DeleteFunc: func(obj any) { enqueue(obj, true) },
	}
}

// Run collects garbage until ctx ends; the informers must have synced.
func (c *Controller) Run(ctx context.Context) {
	for _, r := range c.resources {
		for _, obj := range r.informer.GetStore().List() {
			if m, err := meta.Accessor(obj); err == nil && (len(m.GetOwnerReferences()) > 0 || m.GetDeletionTimestamp() != nil) {
				c.runner.Add(c.keyOf(r, m))
			}
		}
	}
	c.runner.Run(ctx, 2)
}

// dependents finds every cached object that names uid as an owner.
func (c *Controller) dependents(uid types.UID) []Dependent {
	var out []Dependent
	for _, r := range c.resources {
		objs, err := r.informer.GetIndexer().ByIndex(ownerIndex, string(uid))
		if err != nil {
			continue
		}
		for _, obj := range objs {
			m, err := meta.Accessor(obj)
			if err != nil {
				continue
			}
			d := Dependent{Key: c.keyOf(r, m), UID: m.GetUID(), Deleting: m.GetDeletionTimestamp() != nil}
			for _, ref := range m.GetOwnerReferences() {
				if ref.UID == uid && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
					d.Blocking = true
				}
			}
			out = append(out, d)
		}
	}
	return out
}

// liveDependents lists, from the API server rather than the caches, every
// object naming uid as an owner: in the owner's namespace when it is
// namespaced, everywhere when it is not.
func (c *Controller) liveDependents(ctx context.Context, owner Key, uid types.UID) ([]Dependent, error) {
	var out []Dependent
	for _, r := range c.resources {
		if owner.Namespace != "" && !r.namespaced {
			continue
		}
		list, err := c.client.Resource(r.gvr).Namespace(owner.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", r.gvr, err)
		}
		for i := range list.Items {
			m := &list.Items[i]
			for _, ref := range m.OwnerReferences {
				if ref.UID != uid {
					continue
				}
				out = append(out, Dependent{Key: c.keyOf(r, m), UID: m.UID, Deleting: m.DeletionTimestamp != nil,
					Blocking: ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion})
				break
			}
		}
	}
	return out, nil
}

func (c *Controller) sync(ctx context.Context, key Key) (time.Duration, error) {
	r, ok := c.resources[key.GVR()]
	if !ok {
		return 0, nil
	}
	storeKey := key.Name
	if key.Namespace != "" {
		storeKey = key.Namespace + "/" + key.Name
	}
	obj, exists, err := r.informer.GetStore().GetByKey(storeKey)
	if err != nil || !exists {
		return 0, err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return 0, nil
	}
	o := Observed{Key: key, UID: m.GetUID(), Deleting: m.GetDeletionTimestamp() != nil, Finalizers: m.GetFinalizers()}
	if o.Deleting {
		o.Dependents = c.dependents(m.GetUID())
		if has(o.Finalizers, FinalizerOrphan) {
			// The caches may not show a dependent created just before the
			// delete; once the finalizer is gone, such a dependent would be
			// collected as dangling. Orphaning reads its dependents live.
			if o.Dependents, err = c.liveDependents(ctx, key, m.GetUID()); err != nil {
				return 0, err
			}
		}
		return 0, c.apply(ctx, o, Decide(o))
	}
	if o.Owners, err = c.ownerStates(ctx, key.Namespace, m.GetOwnerReferences()); err != nil {
		return 0, err
	}
	plan := Decide(o)
	if !plan.DeleteSelf && len(plan.DropOwners) == 0 {
		return 0, nil
	}
	// Before destroying anything, decide again on the object as it is now: the
	// cache may still show an ownerReference that was just removed (orphaning).
	live, err := c.client.Resource(key.GVR()).Namespace(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if live.UID != o.UID || live.DeletionTimestamp != nil {
		return 0, nil
	}
	if o.Owners, err = c.ownerStates(ctx, key.Namespace, live.OwnerReferences); err != nil {
		return 0, err
	}
	return 0, c.apply(ctx, o, Decide(o))
}

func (c *Controller) ownerStates(ctx context.Context, namespace string, refs []metav1.OwnerReference) (map[types.UID]OwnerState, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	out := map[types.UID]OwnerState{}
	for _, ref := range refs {
		state, err := c.ownerState(ctx, namespace, ref)
		if err != nil {
			return nil, err
		}
		out[ref.UID] = state
	}
	return out, nil
}

// ownerKey is the key of the object an ownerReference names.
func (c *Controller) ownerKey(namespace string, ref metav1.OwnerReference) (Key, bool) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return Key{}, false
	}
	r, ok := c.byKind[gv.WithKind(ref.Kind)]
	if !ok {
		return Key{}, false
	}
	if !r.namespaced {
		namespace = ""
	}
	return Key{Group: r.gvr.Group, Version: r.gvr.Version, Resource: r.gvr.Resource, Namespace: namespace, Name: ref.Name}, true
}

// ownerState looks an owner up in the cache and, before calling it absent,
// live: a stale cache must never get an object collected.
func (c *Controller) ownerState(ctx context.Context, namespace string, ref metav1.OwnerReference) (OwnerState, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return OwnerAbsent, nil
	}
	r, ok := c.byKind[gv.WithKind(ref.Kind)]
	if !ok {
		// A kind nobody serves cannot own anything here; leave the object alone
		// rather than delete what we cannot check.
		return OwnerPresent, nil
	}
	ns := namespace
	if !r.namespaced {
		ns = ""
	}
	storeKey := ref.Name
	if ns != "" {
		storeKey = ns + "/" + ref.Name
	}
	if obj, exists, _ := r.informer.GetStore().GetByKey(storeKey); exists {
		if m, err := meta.Accessor(obj); err == nil && m.GetUID() == ref.UID {
			return OwnerPresent, nil
		}
	}
	live, err := c.client.Resource(r.gvr).Namespace(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return OwnerAbsent, nil
	case err != nil:
		return OwnerPresent, err
	case live.UID != ref.UID:
		return OwnerAbsent, nil
	}
	return OwnerPresent, nil
}
