package event

import (
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/registry/generic"
)

// coreOptions gives the events.k8s.io/v1 store the storage of core/v1
// events — same keys — read and written through the converting Codec.
type coreOptions struct{ generic.RESTOptionsGetter }

func storedAsCore(g generic.RESTOptionsGetter, _ serializer.CodecFactory) generic.RESTOptionsGetter {
	return coreOptions{g}
}

func (g coreOptions) GetRESTOptions(_ schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := g.RESTOptionsGetter.GetRESTOptions(corev1.Resource("events"), &corev1.Event{})
	if err != nil {
		return opts, err
	}
	cfg := *opts.StorageConfig
	cfg.Codec = Codec{Core: cfg.Codec}
	cfg.GroupResource = eventsv1.Resource("events")
	opts.StorageConfig = &cfg
	return opts, nil
}
