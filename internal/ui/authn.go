package ui

import (
	"net"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	genericrequest "k8s.io/apiserver/pkg/endpoints/request"
)

// CookiePrefix starts the session cookie's name; the server's port ends it
// (CookieName), so servers on other ports of the host keep their own
// sessions. The __Host- prefix makes browsers refuse the cookie unless it is
// Secure, for path / and without a Domain: no other host, nor plain HTTP,
// can set or overwrite it.
const CookiePrefix = "__Host-batchd-ui-"

// PageKeyHeader carries the session's page key (see Store.NewSession).
const PageKeyHeader = "X-Batchd-Page-Key"

// CookieName is the session cookie's name for a request to host (host:port).
func CookieName(host string) string {
	_, port, err := net.SplitHostPort(host)
	if err != nil || port == "" {
		port = "443"
	}
	return CookiePrefix + port
}

// sessionOf reads a request's session secrets.
func sessionOf(r *http.Request) (token, pageKey string, ok bool) {
	c, err := r.Cookie(CookieName(r.Host))
	if err != nil || c.Value == "" {
		return "", "", false
	}
	pageKey = r.Header.Get(PageKeyHeader)
	return c.Value, pageKey, pageKey != ""
}

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

// sessionAuthenticator maps the session (cookie and page key) to the
// signed-in user for the API server's safe reads (see SafeRead); for
// anything else it has no opinion, so such a request needs real credentials.
type sessionAuthenticator struct{ store *Store }

func (a sessionAuthenticator) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	token, pageKey, ok := sessionOf(r)
	if !ok || !SafeRead(r) {
		return nil, false, nil
	}
	u, _, ok := a.store.Lookup(token, pageKey)
	if !ok {
		return nil, false, nil
	}
	// Neither secret goes further down the chain (proxies, audit).
	r.Header.Del(PageKeyHeader)
	return &authenticator.Response{User: u}, true, nil
}
