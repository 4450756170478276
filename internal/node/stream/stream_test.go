package stream

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/batchd/batchd/internal/node/runtime"
)

// The endpoint serves the API server's certificate only, and answers as
// the kubelet for a pod or container it cannot reach.
func TestHandlerRefusals(t *testing.T) {
	h := Handler(Config{
		ClientUser: "kube-apiserver-kubelet-client",
		Find: func(ns, pod, container string) (runtime.ID, error) {
			if pod == "ghost" {
				return runtime.ID{}, ErrPodNotFound
			}
			return runtime.ID{}, runtime.ErrNotRunning
		},
		Running: func(ns, pod string) error { return ErrPodNotFound },
	})
	as := func(cn string) *tls.ConnectionState {
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Subject: pkix.Name{CommonName: cn}}}}
	}
	for _, c := range []struct {
		name   string
		tls    *tls.ConnectionState
		path   string
		code   int
		answer string
	}{
		{"no client certificate", nil, "/exec/ns/p/c?command=true&output=1", http.StatusForbidden, "Forbidden"},
		{"another client", as("batchd-admin"), "/exec/ns/p/c?command=true&output=1", http.StatusForbidden, "Forbidden"},
		{"no stream asked for", as("kube-apiserver-kubelet-client"), "/exec/ns/p/c?command=true", http.StatusBadRequest, "you must specify at least 1 of stdin, stdout, stderr"},
		{"no such pod", as("kube-apiserver-kubelet-client"), "/exec/ns/ghost/c?command=true&output=1", http.StatusNotFound, "pod does not exist"},
		{"container not running", as("kube-apiserver-kubelet-client"), "/attach/ns/p/c?output=1", http.StatusInternalServerError, `container not found ("c")`},
		{"port-forward to a pod not running", as("kube-apiserver-kubelet-client"), "/portForward/ns/p", http.StatusNotFound, `pod not found ("p_ns")`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", c.path, nil)
			r.TLS = c.tls
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != c.code || !strings.Contains(w.Body.String(), c.answer) {
				t.Fatalf("%d %q, want %d %q", w.Code, w.Body.String(), c.code, c.answer)
			}
		})
	}
}
