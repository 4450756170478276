package apiserver

import (
	restful "github.com/emicklei/go-restful/v3"
	"k8s.io/apiserver/pkg/server/mux"
	"k8s.io/kube-openapi/pkg/builder"
	"k8s.io/kube-openapi/pkg/cached"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/common/restfuladapter"
	"k8s.io/kube-openapi/pkg/handler"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// installLazyOpenAPIV2 serves /openapi/v2 built on its first request from
// the routes registered by then, instead of the generic server building it
// before it serves (a fifth of the CPU of a start, for a document today's
// kubectl no longer asks for: it reads /openapi/v3). kube-apiserver serves
// its merged v2 document lazily too (kube-aggregator's spec aggregator).
// cfg must be the completed config; the generic server must not have it.
func installLazyOpenAPIV2(cfg *common.Config, routes *restful.Container, m *mux.PathRecorderMux) {
	doc := cached.Once(cached.Func(func() (*spec.Swagger, string, error) {
		sw, err := builder.BuildOpenAPISpecFromRoutes(restfuladapter.AdaptWebServices(routes.RegisteredWebServices()), cfg)
		if err != nil {
			return nil, "", err
		}
		sw.Definitions = handler.PruneDefaults(sw.Definitions)
		return sw, "v2", nil
	}))
	handler.NewOpenAPIServiceLazy(doc).RegisterOpenAPIVersionedService("/openapi/v2", m)
}
