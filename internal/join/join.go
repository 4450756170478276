package join

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Paths served in front of the API's authentication.
const (
	Prefix    = "/v1-batchd/"
	CAPath    = Prefix + "cacerts"
	JoinPath  = Prefix + "join"
	NodePath  = Prefix + "node"
	maxBody   = 64 << 10
	userAgent = "batchd-join"
)

// Request is what a joining server sends.
type Request struct {
	// Name is its etcd member's name; PeerURL where it will listen for peers.
	Name    string `json:"name"`
	PeerURL string `json:"peerURL"`
}

// Response is what it gets: the cluster's keys and its etcd's initial cluster.
type Response struct {
	CACert         []byte `json:"caCert"`
	CAKey          []byte `json:"caKey"`
	ServiceAccount []byte `json:"serviceAccountKey"`
	InitialCluster string `json:"initialCluster"`
}

// Server answers joins for one cluster.
type Server struct {
	Token Token
	// Keys returns the cluster's CA certificate and key and service-account key.
	Keys func() (caCert, caKey, saKey []byte, err error)
	// AddMember adds an etcd member and returns the initial cluster it starts with.
	AddMember func(ctx context.Context, name, peerURL string) (string, error)
}

// ServeHTTP serves CAPath and JoinPath.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case CAPath:
		ca, _, _, err := s.Keys()
		if err != nil {
			http.Error(w, "no CA", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(ca)
	case JoinPath:
		s.join(w, r)
	case NodePath:
		s.node(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	if s.AddMember == nil {
		http.Error(w, "this server's etcd is not clustered: servers join a server started with --cluster-init (agents may join any server)", http.StatusConflict)
		return
	}
	var req Request
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&req); err != nil || req.Name == "" || req.PeerURL == "" {
		http.Error(w, "want a JSON body with name and peerURL", http.StatusBadRequest)
		return
	}
	caCert, caKey, saKey, err := s.Keys()
	if err != nil {
		http.Error(w, "cluster keys unavailable", http.StatusInternalServerError)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	initial, err := s.AddMember(ctx, req.Name, req.PeerURL)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Response{CACert: caCert, CAKey: caKey, ServiceAccount: saKey, InitialCluster: initial})
}

// authorized answers a request that is not a POST with the token's secret.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return false
	}
	got, _ := bytes.CutPrefix([]byte(r.Header.Get("Authorization")), []byte("Bearer "))
	if s.Token.Secret == "" || subtle.ConstantTimeCompare(got, []byte(s.Token.Secret)) != 1 {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return false
	}
	return true
}

// ErrCAMismatch: the server's CA is not the one the token names.
var ErrCAMismatch = errors.New("the server's CA does not match the join token's CA hash: wrong token or an intercepted connection")

// Join asks the server at url (https://HOST:PORT) to let this server join:
// it first fetches the CA and checks it against the token, then sends the
// secret over TLS verified with that CA.
func Join(ctx context.Context, url string, tok Token, req Request) (*Response, error) {
	var out Response
	if _, err := post(ctx, url, JoinPath, tok, req, &out); err != nil {
		if errors.Is(err, ErrCAMismatch) {
			return nil, err
		}
		return nil, fmt.Errorf("join %s: %w", url, err)
	}
	return &out, nil
}

// VerifiedCA fetches the server's CA and returns it only if its hash is the
// token's: the CA is public, and trusted only so.
func VerifiedCA(ctx context.Context, url string, tok Token) ([]byte, error) {
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	caPEM, err := get(ctx, insecure, url+CAPath)
	if err != nil {
		return nil, fmt.Errorf("fetch the cluster CA from %s: %w", url, err)
	}
	if subtle.ConstantTimeCompare([]byte(HashCA(caPEM)), []byte(tok.CAHash)) != 1 {
		return nil, ErrCAMismatch
	}
	return caPEM, nil
}

// post sends req to path with the token's secret, over TLS verified with
// the CA the token names, and decodes the answer into out; it returns the CA.
func post(ctx context.Context, url, path string, tok Token, req, out any) ([]byte, error) {
	caPEM, err := VerifiedCA(ctx, url, tok)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("the server sent no CA certificate")
	}
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, url+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Authorization", "Bearer "+tok.Secret)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(data))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, err
	}
	return caPEM, nil
}

func get(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	r.Header.Set("User-Agent", userAgent)
	resp, err := c.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	return data, nil
}
