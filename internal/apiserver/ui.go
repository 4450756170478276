package apiserver

import (
	"net/http"
	"strings"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/request/union"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/batchd/batchd/internal/join"
)

// UI is a web view served on the API port (internal/ui).
type UI interface {
	// Session authenticates the view's own API reads by its session cookie;
	// it is added to the server's authenticators.
	Session() authenticator.Request
	// Handler serves the view's paths in front of the API handler chain;
	// authn is the server's authenticator without the session cookie.
	Handler(api http.Handler, authn authenticator.Request) http.Handler
}

// installUI puts the view in front of the API chain and its session cookie
// after the server's other authenticators.
func installUI(gcfg *genericapiserver.Config, ui UI) {
	if ui == nil {
		return
	}
	authn := gcfg.Authentication.Authenticator
	gcfg.Authentication.Authenticator = union.New(authn, ui.Session())
	gcfg.BuildHandlerChainFunc = func(api http.Handler, c *genericapiserver.Config) http.Handler {
		return ui.Handler(genericapiserver.DefaultBuildHandlerChain(api, c), authn)
	}
}

// installJoin serves the join endpoints (internal/join) in front of the API
// chain: a joining server has no credentials of this cluster yet.
func installJoin(gcfg *genericapiserver.Config, h http.Handler) {
	if h == nil {
		return
	}
	chain := gcfg.BuildHandlerChainFunc
	gcfg.BuildHandlerChainFunc = func(api http.Handler, c *genericapiserver.Config) http.Handler {
		rest := chain(api, c)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, join.Prefix) {
				h.ServeHTTP(w, r)
				return
			}
			rest.ServeHTTP(w, r)
		})
	}
}
