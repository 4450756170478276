package ui

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
)

// CookieName is the session cookie. The __Host- prefix makes browsers
// refuse it unless it is Secure, for path / and without a Domain, so no
// other host (nor plain HTTP) can set or overwrite it.
const CookieName = "__Host-batchd-ui"

// SafeRead reports whether the session cookie may authenticate r: a plain
// GET (list, get, watch, logs) from the view's own pages or typed by the
// user. Everything that could change something is refused — other methods,
// protocol upgrades (exec, attach and port-forward run over a GET upgraded
// to WebSocket or SPDY), the streaming subresources and proxies, whatever
// their method — and so are requests another site made the browser send. A
// forged request therefore carries no identity and gets the API's 401:
// CSRF-proof by construction, with SameSite=Strict as a second wall.
func SafeRead(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	if r.Header.Get("Upgrade") != "" || headerHasToken(r.Header, "Connection", "upgrade") {
		return false
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	// Read the path as the API server does (kube-apiserver's prefixes).
	parse := genericrequest.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")}
	info, err := parse.NewRequestInfo(r)
	if err != nil {
		return false
	}
	switch {
	case info.Verb == "proxy":
		return false
	case info.IsResourceRequest:
		switch info.Subresource {
		case "exec", "attach", "portforward", "proxy":
			return false
		}
	}
	return true
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// sessionAuthenticator maps the session cookie to the signed-in user for
// the API server's safe reads (see SafeRead); for anything else it has no
// opinion, so such a request needs real credentials.
type sessionAuthenticator struct{ store *Store }

func (a sessionAuthenticator) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" || !SafeRead(r) {
		return nil, false, nil
	}
	u, _, ok := a.store.Lookup(c.Value)
	if !ok {
		return nil, false, nil
	}
	return &authenticator.Response{User: u}, true, nil
}
