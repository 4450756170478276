package apiserver

import (
	"net/http"

	genericapiserver "k8s.io/apiserver/pkg/server"
)

// crdListPath is where kubectl looks for CustomResourceDefinitions when a
// manifest names a kind the server does not serve.
const crdListPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"

// installCRDList answers kubectl's CRD lookup with the truth — batchd serves no
// custom resources — so an unknown kind gets kubectl's usual
// `no matches for kind "X" in version "G/V"` instead of "failed to list CRDs".
// The group is not advertised in discovery; only this read-only list exists.
func installCRDList(s *genericapiserver.GenericAPIServer) {
	s.Handler.NonGoRestfulMux.Handle(crdListPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"CustomResourceDefinitionList","apiVersion":"apiextensions.k8s.io/v1","metadata":{"resourceVersion":"0"},"items":[]}`))
	}))
}
