package join

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/batchd/batchd/internal/pki"
)

// NodeRequest is what an agent sends for its credentials: certificate
// requests for two keys it made and keeps (the CA key never leaves the
// servers, the agent's keys never leave the agent).
type NodeRequest struct {
	// Name is its Node's name.
	Name string `json:"name"`
	// Hosts are the addresses (and names) its serving certificate covers:
	// where the API servers reach it for logs and streams.
	Hosts []string `json:"hosts"`
	// ClientCSR and ServingCSR are PEM certificate requests.
	ClientCSR  []byte `json:"clientCSR"`
	ServingCSR []byte `json:"servingCSR"`
}

// NodeResponse are its certificates, signed by the cluster's CA.
type NodeResponse struct {
	CACert      []byte `json:"caCert"`
	ClientCert  []byte `json:"clientCert"`
	ServingCert []byte `json:"servingCert"`
}

// node certifies an agent: a client certificate CN=system:node:<name>,
// O=system:nodes (what the Node authorizer knows it by) and a serving
// certificate for its hosts.
func (s *Server) node(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	var req NodeRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil {
		http.Error(w, "want a JSON body with name, hosts, clientCSR and servingCSR", http.StatusBadRequest)
		return
	}
	if errs := validation.IsDNS1123Subdomain(req.Name); len(errs) > 0 {
		http.Error(w, fmt.Sprintf("node name %q: %s", req.Name, strings.Join(errs, "; ")), http.StatusBadRequest)
		return
	}
	if len(req.Hosts) == 0 {
		http.Error(w, "hosts: the agent's serving certificate needs at least one address", http.StatusBadRequest)
		return
	}
	caCert, caKey, _, err := s.Keys()
	if err != nil {
		http.Error(w, "cluster keys unavailable", http.StatusInternalServerError)
		return
	}
	now := time.Now()
	client, err := pki.SignCSR(caCert, caKey, req.ClientCSR,
		pkix.Name{CommonName: pki.NodeUserPrefix + req.Name, Organization: []string{pki.NodeGroup}}, nil, now, x509.ExtKeyUsageClientAuth)
	if err != nil {
		http.Error(w, "clientCSR: "+err.Error(), http.StatusBadRequest)
		return
	}
	serving, err := pki.SignCSR(caCert, caKey, req.ServingCSR, pkix.Name{CommonName: req.Name}, req.Hosts, now, x509.ExtKeyUsageServerAuth)
	if err != nil {
		http.Error(w, "servingCSR: "+err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(NodeResponse{CACert: caCert, ClientCert: client, ServingCert: serving})
}

// NodeCredentials are an agent's files, in its pki directory.
type NodeCredentials struct {
	CACert                  []byte
	ClientCert, ClientKey   []byte
	ServingCert, ServingKey []byte
}

// Credential file names in an agent's pki directory.
const (
	nodeClientPair  = "node-client"
	nodeServingPair = "node-serving"
)

// EnsureNodeCredentials returns the agent's credentials kept in dir when
// they are still good (the CA the token names, this node's name, hosts
// covered, not expiring), else gets new ones from the server at url: it
// verifies the server's CA against the token first, as a joining server
// does, then sends certificate requests for keys it makes here.
func EnsureNodeCredentials(ctx context.Context, dir, url string, tok Token, name string, hosts []string) (*NodeCredentials, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki directory: %w", err)
	}
	now := time.Now()
	if ca, err := os.ReadFile(filepath.Join(dir, "ca.crt")); err == nil && HashCA(ca) == tok.CAHash {
		cc, ck, ok1 := pki.NodePair(dir, nodeClientPair, ca, pki.NodeUserPrefix+name, nil, now)
		sc, sk, ok2 := pki.NodePair(dir, nodeServingPair, ca, name, hosts, now)
		if ok1 && ok2 {
			return &NodeCredentials{CACert: ca, ClientCert: cc, ClientKey: ck, ServingCert: sc, ServingKey: sk}, nil
		}
	}
	clientKey, clientCSR, err := pki.NewKeyAndCSR(pki.NodeUserPrefix + name)
	if err != nil {
		return nil, err
	}
	servingKey, servingCSR, err := pki.NewKeyAndCSR(name)
	if err != nil {
		return nil, err
	}
	var resp NodeResponse
	ca, err := post(ctx, url, NodePath, tok, NodeRequest{Name: name, Hosts: hosts, ClientCSR: clientCSR, ServingCSR: servingCSR}, &resp)
	if err != nil {
		if err == ErrCAMismatch {
			return nil, err
		}
		return nil, fmt.Errorf("get node credentials from %s: %w", url, err)
	}
	creds := &NodeCredentials{CACert: ca, ClientCert: resp.ClientCert, ClientKey: clientKey, ServingCert: resp.ServingCert, ServingKey: servingKey}
	if err := pki.WritePair(dir, nodeClientPair, creds.ClientCert, creds.ClientKey); err != nil {
		return nil, err
	}
	if err := pki.WritePair(dir, nodeServingPair, creds.ServingCert, creds.ServingKey); err != nil {
		return nil, err
	}
	if err := pki.WriteFile(filepath.Join(dir, "ca.crt"), ca, 0o644); err != nil {
		return nil, err
	}
	return creds, nil
}
