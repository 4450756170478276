package registry

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/client-go/tools/cache"
)

// Resource describes one served resource.
type Resource struct {
	Resource   schema.GroupResource // e.g. batch/jobs
	Version    string               // served version; "" means v1
	Singular   string
	Namespaced bool
	New        func() runtime.Object
	NewList    func() runtime.Object
	Funcs      Funcs
	// Default applies upstream's defaults; the scheme runs it on every decode,
	// of requests and of stored objects alike.
	Default    func(obj runtime.Object)
	Table      *Table
	ShortNames []string
	Categories []string
	// TTL, when set, expires objects that long after their last write.
	TTL time.Duration
	// Fields returns the selectable fields beyond metadata.name/namespace.
	Fields func(obj runtime.Object) fields.Set
	// Indexed are fields of Fields the watch cache indexes, as upstream's
	// pod storage does spec.nodeName: a list selecting one value of them
	// reads only the objects that have it, and a watch selecting one gets
	// only their events.
	Indexed []string
	// StorageOptions, when set, adapts the storage options the server gives
	// the resource (its codecs at hand): how it is stored.
	StorageOptions func(generic.RESTOptionsGetter, serializer.CodecFactory) generic.RESTOptionsGetter
	// REST, when set, builds what is served from the resource's store: the
	// storage at the resource's path (which may wrap the store) and further
	// subresources by name, e.g. "log" for pods/log. Without it the store
	// itself is served. The status subresource is added either way.
	REST func(s *Storage) (rest.Storage, map[string]rest.Storage)
}

// Storage is a resource's REST storage: the main store and, when the resource
// has a status, the status subresource.
type Storage struct {
	*genericregistry.Store
	Status     *StatusREST
	shortNames []string
	categories []string
}

var (
	_ rest.ShortNamesProvider = &Storage{}
	_ rest.CategoriesProvider = &Storage{}
)

func (s *Storage) ShortNames() []string { return s.shortNames }
func (s *Storage) Categories() []string { return s.categories }

// NewStorage builds the etcd-backed storage of r.
func NewStorage(r Resource, typer runtime.ObjectTyper, optsGetter generic.RESTOptionsGetter) (*Storage, error) {
	version := r.Version
	if version == "" {
		version = "v1"
	}
	strategy := NewStrategy(typer, schema.GroupVersion{Group: r.Resource.Group, Version: version}.String(), r.Namespaced, r.Funcs)
	attrs := func(obj runtime.Object) (labels.Set, fields.Set, error) {
		m, err := metaOf(obj)
		if err != nil {
			return nil, nil, err
		}
		fs := generic.ObjectMetaFieldsSet(m, r.Namespaced)
		if r.Fields != nil {
			fs = generic.MergeFieldsSets(fs, r.Fields(obj))
		}
		return labels.Set(m.Labels), fs, nil
	}
	store := &genericregistry.Store{
		NewFunc:                   r.New,
		NewListFunc:               r.NewList,
		DefaultQualifiedResource:  r.Resource,
		SingularQualifiedResource: schema.GroupResource{Group: r.Resource.Group, Resource: r.Singular},
		CreateStrategy:            strategy,
		UpdateStrategy:            strategy,
		DeleteStrategy:            strategy,
		ResetFieldsStrategy:       strategy,
		PredicateFunc: func(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
			return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: attrs, IndexFields: r.Indexed}
		},
	}
	opts := &generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: attrs}
	if len(r.Indexed) > 0 {
		opts.TriggerFunc = storage.IndexerFuncs{}
		indexers := cache.Indexers{}
		for _, f := range r.Indexed {
			value := func(obj runtime.Object) string { return r.Fields(obj)[f] }
			opts.TriggerFunc[f] = value
			indexers[storage.FieldIndex(f)] = func(obj any) ([]string, error) {
				o, ok := obj.(runtime.Object)
				if !ok {
					return nil, fmt.Errorf("index %s: not an object: %T", f, obj)
				}
				return []string{value(o)}, nil
			}
		}
		opts.Indexers = &indexers
	}
	if r.TTL > 0 {
		ttl := uint64(r.TTL.Seconds())
		store.TTLFunc = func(runtime.Object, uint64, bool) (uint64, error) { return ttl, nil }
	}
	if r.Table != nil {
		store.TableConvertor = r.Table
	}
	if err := store.CompleteWithOptions(opts); err != nil {
		return nil, fmt.Errorf("complete %s storage: %w", r.Resource, err)
	}
	s := &Storage{Store: store, shortNames: r.ShortNames, categories: r.Categories}
	if strategy.hasStatus() {
		statusStore := *store
		ss := NewStatusStrategy(strategy)
		statusStore.CreateStrategy = nil
		statusStore.DeleteStrategy = nil
		statusStore.UpdateStrategy = ss
		statusStore.ResetFieldsStrategy = ss
		s.Status = &StatusREST{store: &statusStore}
	}
	return s, nil
}

func metaOf(obj runtime.Object) (*metav1.ObjectMeta, error) {
	if o, ok := obj.(metav1.ObjectMetaAccessor); ok {
		if m, ok := o.GetObjectMeta().(*metav1.ObjectMeta); ok {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%T has no ObjectMeta", obj)
}

// StatusREST serves the status subresource: get, update and patch only.
type StatusREST struct{ store *genericregistry.Store }

var _ rest.Patcher = &StatusREST{}

func (r *StatusREST) New() runtime.Object { return r.store.New() }
func (r *StatusREST) Destroy()            {}

func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Subresources never create.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

func (r *StatusREST) ConvertToTable(ctx context.Context, obj runtime.Object, opts runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, obj, opts)
}
