package jobrun

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
	"github.com/batchd/batchd/internal/apiserver/registry"
)

// newREST serves JobRuns with the jobruns/log subresource.
func newREST(logs LogSource) func(*registry.Storage) (rest.Storage, map[string]rest.Storage) {
	return func(s *registry.Storage) (rest.Storage, map[string]rest.Storage) {
		return s, map[string]rest.Storage{"log": &LogREST{Store: s.Store, Source: logs}}
	}
}

// jsonOptions stores batchd's own types as JSON: they have no protobuf
// encoding.
type jsonOptions struct {
	generic.RESTOptionsGetter
	codecs serializer.CodecFactory
}

func storedAsJSON(g generic.RESTOptionsGetter, codecs serializer.CodecFactory) generic.RESTOptionsGetter {
	return jsonOptions{g, codecs}
}

func (g jsonOptions) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := g.RESTOptionsGetter.GetRESTOptions(resource, example)
	if err != nil {
		return opts, err
	}
	info, ok := runtime.SerializerInfoForMediaType(g.codecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
	if !ok {
		return opts, fmt.Errorf("no JSON serializer")
	}
	cfg := *opts.StorageConfig
	gv := schema.GroupVersions{v1alpha1.SchemeGroupVersion}
	cfg.Codec = g.codecs.CodecForVersions(info.Serializer, g.codecs.UniversalDeserializer(), gv, runtime.InternalGroupVersioner)
	cfg.EncodeVersioner = gv
	opts.StorageConfig = &cfg
	return opts, nil
}
