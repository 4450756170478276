package apiserver

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapifilters "k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/util/notfoundhandler"
)

// notFoundDelegate ends the delegation chain as kube-apiserver's does: a
// path no handler serves (/foo, /apis/nope/v1/things) is answered with a
// Status object — NotFound, 404, "the server could not find the requested
// resource" — that clients can decode, not with the path index; before every
// path is installed the answer is upstream's 503 "try again".
func notFoundDelegate(serializer runtime.NegotiatedSerializer) genericapiserver.DelegationTarget {
	early := notfoundhandler.New(serializer, genericapifilters.NoMuxAndDiscoveryIncompleteKey)
	return genericapiserver.NewEmptyDelegateWithCustomHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !genericapifilters.NoMuxAndDiscoveryIncompleteKey(r.Context()) {
			early.ServeHTTP(w, r)
			return
		}
		err := apierrors.NewGenericServerResponse(http.StatusNotFound, "", schema.GroupResource{}, "", "", 0, false)
		responsewriters.ErrorNegotiated(err, serializer, schema.GroupVersion{}, w, r)
	}))
}
