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
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	got, _ := bytes.CutPrefix([]byte(r.Header.Get("Authorization")), []byte("Bearer "))
	if s.Token.Secret == "" || subtle.ConstantTimeCompare(got, []byte(s.Token.Secret)) != 1 {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
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

// ErrCAMismatch: the server's CA is not the one the token names.
var ErrCAMismatch = errors.New("the server's CA does not match the join token's CA hash: wrong token or an intercepted connection")

// Join asks the server at url (https://HOST:PORT) to let this server join:
// it first fetches the CA and checks it against the token, then sends the
// secret over TLS verified with that CA.
func Join(ctx context.Context, url string, tok Token, req Request) (*Response, error) {
	// The CA is public; it is trusted only if its hash is the token's.
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	caPEM, err := get(ctx, insecure, url+CAPath)
	if err != nil {
		return nil, fmt.Errorf("fetch the cluster CA from %s: %w", url, err)
	}
	if subtle.ConstantTimeCompare([]byte(HashCA(caPEM)), []byte(tok.CAHash)) != 1 {
		return nil, ErrCAMismatch
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
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, url+JoinPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Authorization", "Bearer "+tok.Secret)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(r)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("join %s: %s: %s", url, resp.Status, bytes.TrimSpace(data))
	}
	var out Response
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("join %s: %w", url, err)
	}
	return &out, nil
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
