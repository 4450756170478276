package apiserver

import (
	"context"
	"reflect"
	"slices"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/client-go/tools/cache"
)

// gatedOptions gives every resource a storage behind the write gate full:
// while full returns an error, only writes that lead toward removing objects
// reach etcd, and the others get that error. Toward removal are deletes, and
// updates that change nothing but the status, mark the object for deletion,
// or drop finalizers or owner references: what `kubectl delete --force`, the
// garbage collector and the Job controller need (it records a pod in the
// Job's status, then removes the pod's tracking finalizer). A full disk or
// database would otherwise keep a pod with a finalizer for ever: etcd itself
// refuses every write but a plain delete at its quota. Leases are kept up too
// (leaseKeptUp): those writers need their leader's Lease, and a node its own.
type gatedOptions struct {
	generic.RESTOptionsGetter
	full func() error
}

func (g gatedOptions) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := g.RESTOptionsGetter.GetRESTOptions(resource, example)
	if err != nil {
		return opts, err
	}
	decorate := opts.Decorator
	opts.Decorator = func(config *storagebackend.ConfigForResource, resourcePrefix string, keyFunc func(obj runtime.Object) (string, error), newFunc func() runtime.Object, newListFunc func() runtime.Object, getAttrsFunc storage.AttrFunc, trigger storage.IndexerFuncs, indexers *cache.Indexers) (storage.Interface, factory.DestroyFunc, error) {
		s, destroy, err := decorate(config, resourcePrefix, keyFunc, newFunc, newListFunc, getAttrsFunc, trigger, indexers)
		if err != nil {
			return s, destroy, err
		}
		return gatedStorage{Interface: s, full: g.full}, destroy, nil
	}
	return opts, nil
}

// gatedStorage refuses creates, and updates not toward removal, while full
// says why.
type gatedStorage struct {
	storage.Interface
	full func() error
}

func (s gatedStorage) Create(ctx context.Context, key string, obj, out runtime.Object, ttl uint64) error {
	if err := s.full(); err != nil {
		return err
	}
	return s.Interface.Create(ctx, key, obj, out, ttl)
}

func (s gatedStorage) GuaranteedUpdate(ctx context.Context, key string, destination runtime.Object, ignoreNotFound bool, preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc, cachedExistingObject runtime.Object) error {
	gated := func(input runtime.Object, res storage.ResponseMeta) (runtime.Object, *uint64, error) {
		out, ttl, err := tryUpdate(input, res)
		if err != nil {
			return out, ttl, err
		}
		if full := s.full(); full != nil && !towardRemoval(input, out) && !leaseKeptUp(input, out) {
			return nil, nil, full
		}
		return out, ttl, nil
	}
	return s.Interface.GuaranteedUpdate(ctx, key, destination, ignoreNotFound, preconditions, gated, cachedExistingObject)
}

// towardRemoval reports whether updating old to updated changes nothing but
// the status, the deletion mark, finalizers (only removed, unless the update
// marks the object for deletion, which may add the garbage collector's),
// owner references (only removed), a Namespace's spec.finalizers (only
// removed), and what the server maintains (resourceVersion, generation,
// managedFields).
func towardRemoval(old, updated runtime.Object) bool {
	om, err := meta.Accessor(old)
	if err != nil {
		return false
	}
	um, err := meta.Accessor(updated)
	if err != nil || om.GetResourceVersion() == "" {
		return false // a create through update
	}
	deleting := um.GetDeletionTimestamp() != nil
	if !deleting && !slices.Equal(om.GetFinalizers(), um.GetFinalizers()) && !subset(um.GetFinalizers(), om.GetFinalizers()) {
		return false
	}
	var oldOwners, newOwners []string
	for _, r := range om.GetOwnerReferences() {
		oldOwners = append(oldOwners, string(r.UID))
	}
	for _, r := range um.GetOwnerReferences() {
		newOwners = append(newOwners, string(r.UID))
	}
	if !subset(newOwners, oldOwners) {
		return false
	}
	o, err := runtime.DefaultUnstructuredConverter.ToUnstructured(old)
	if err != nil {
		return false
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(updated)
	if err != nil {
		return false
	}
	_, namespace := old.(*corev1.Namespace)
	if namespace && !subset(specFinalizers(u), specFinalizers(o)) {
		return false
	}
	for _, obj := range []map[string]any{o, u} {
		delete(obj, "status")
		if spec, ok := obj["spec"].(map[string]any); ok && namespace {
			delete(spec, "finalizers")
		}
		if md, ok := obj["metadata"].(map[string]any); ok {
			for _, f := range []string{"resourceVersion", "generation", "managedFields", "finalizers", "ownerReferences", "deletionTimestamp", "deletionGracePeriodSeconds"} {
				delete(md, f)
			}
		}
	}
	return reflect.DeepEqual(o, u)
}

// leaseKeptUp reports whether updated is an existing Lease written again: a
// leader's renewal (or a new leader's take-over) or a node's heartbeat. Were
// they refused, the controllers would lose their leadership ten seconds into
// a full storage (their renew deadline), and with it the Job controller that
// removes the finalizer a forced delete waits for, and the node's Lease would
// lapse and its pods be taken for lost. A renewal adds a few hundred bytes,
// which the headroom above the enforced quota (storage.Headroom) absorbs
// until the next compaction. A new Lease is still refused.
func leaseKeptUp(old, updated runtime.Object) bool {
	if _, ok := updated.(*coordinationv1.Lease); !ok {
		return false
	}
	om, err := meta.Accessor(old)
	return err == nil && om.GetResourceVersion() != ""
}

// subset: every element of a is in b.
func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// specFinalizers are a Namespace's spec.finalizers.
func specFinalizers(obj map[string]any) []string {
	spec, _ := obj["spec"].(map[string]any)
	list, _ := spec["finalizers"].([]any)
	var out []string
	for _, f := range list {
		if s, ok := f.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
