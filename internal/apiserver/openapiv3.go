package apiserver

import (
	"maps"
	"strings"

	restful "github.com/emicklei/go-restful/v3"
	"k8s.io/apiserver/pkg/server/mux"
	"k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/cached"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/common/restfuladapter"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
)

// installLazyOpenAPIV3 serves /openapi/v3 and one document per group
// version, as the generic server does, but builds each document on its
// first request instead of before the server serves (~5 % of the CPU of a
// start, on the path to ready, for documents only kubectl's validation and
// explain read). The first request for /openapi/v3 itself builds them all:
// its answer carries each document's hash. cfg must be the completed
// config; the generic server must skip its own installation.
func installLazyOpenAPIV3(cfg *common.OpenAPIV3Config, routes *restful.Container, m *mux.PathRecorderMux) error {
	svc := handler3.NewOpenAPIService()
	if err := svc.RegisterOpenAPIV3VersionedService("/openapi/v3", m); err != nil {
		return err
	}
	for _, ws := range routes.RegisteredWebServices() {
		gv := strings.TrimPrefix(ws.RootPath(), "/")
		services := []*restful.WebService{ws}
		svc.UpdateGroupVersionLazy(gv, cached.Once(cached.Func(func() (*spec3.OpenAPI, string, error) {
			doc, err := builder3.BuildOpenAPISpecFromRoutes(restfuladapter.AdaptWebServices(services), ownDefinitions(cfg))
			if err != nil {
				return nil, "", err
			}
			if group, version, ok := splitGroupVersionPath(gv); ok {
				narrowSharedKinds(doc, group, version)
			}
			return doc, "", nil
		})))
	}
	return nil
}

// ownDefinitions is cfg for one build, which may run beside others and
// beside the serialisation of documents already built. The builder writes
// into its config (route and name functions left nil) and into the
// top-level extension map of each definition it uses (the kind's group
// version kinds; it deletes the embedded v2 schema): kube-apiserver builds
// its documents one after the other before it serves, we build them on
// request, so each build gets its own config and its own copies of those
// maps.
func ownDefinitions(cfg *common.OpenAPIV3Config) *common.OpenAPIV3Config {
	own := *cfg
	if cfg.Definitions == nil {
		return &own // the builder asks GetDefinitions for fresh ones
	}
	own.Definitions = make(map[string]common.OpenAPIDefinition, len(cfg.Definitions))
	for name, def := range cfg.Definitions {
		if def.Schema.Extensions != nil {
			def.Schema.Extensions = maps.Clone(def.Schema.Extensions)
		}
		own.Definitions[name] = def
	}
	return &own
}

// splitGroupVersionPath reads a route root: "api/v1" is the core group's v1,
// "apis/batch/v1" batch's v1; anything else is no group version.
func splitGroupVersionPath(root string) (group, version string, ok bool) {
	parts := strings.Split(root, "/")
	switch {
	case len(parts) == 2 && parts[0] == "api":
		return "", parts[1], true
	case len(parts) == 3 && parts[0] == "apis":
		return parts[1], parts[2], true
	}
	return "", "", false
}

// narrowSharedKinds trims the group-version-kind list of the meta kinds every
// group registers (WatchEvent, DeleteOptions) to this document's group
// version and core v1, as kube-apiserver's per-group documents do
// (k8s.io/apiserver's routes.OpenAPI.InstallV3): otherwise each document
// lists them under every group.
func narrowSharedKinds(doc *spec3.OpenAPI, group, version string) {
	if doc == nil || doc.Components == nil {
		return
	}
	const ext = "x-kubernetes-group-version-kind"
	for _, schema := range doc.Components.Schemas {
		if schema == nil {
			continue
		}
		gvks, _ := schema.Extensions[ext].([]any)
		if len(gvks) < 2 {
			continue
		}
		if first, _ := gvks[0].(map[string]any); first["kind"] != "WatchEvent" && first["kind"] != "DeleteOptions" {
			continue
		}
		var kept []any
		for _, e := range gvks {
			m, _ := e.(map[string]any)
			g, _ := m["group"].(string)
			v, _ := m["version"].(string)
			if (g == group && v == version) || (g == "" && v == "v1") {
				kept = append(kept, e)
			}
		}
		if len(kept) == 0 {
			delete(schema.Extensions, ext)
			continue
		}
		schema.Extensions[ext] = kept
	}
}
