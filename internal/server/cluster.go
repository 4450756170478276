package server

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/batchd/batchd/internal/join"
	"github.com/batchd/batchd/internal/pki"
	"github.com/batchd/batchd/internal/storage"
)

// TokenPath is where a clustered server keeps its cluster's join token.
func TokenPath(dataDir string) string { return filepath.Join(dataDir, "token") }

// peerURL is where c's etcd member is reached by the others.
func (c *Cluster) peerURL() url.URL {
	return url.URL{Scheme: "https", Host: net.JoinHostPort(c.Advertise.String(), strconv.Itoa(c.PeerPort))}
}

// memberExists reports whether dataDir holds a finished etcd member: a
// server restarted after it joined (or started) a cluster.
func memberExists(dataDir string) bool {
	etcd := filepath.Join(dataDir, "etcd")
	if _, err := os.Stat(filepath.Join(etcd, "bootstrap-pending")); err == nil {
		return false
	}
	_, err := os.Stat(filepath.Join(etcd, "data", "member"))
	return err == nil
}

// joinCluster, before the credentials are loaded, gets a server that joins
// a cluster for the first time the cluster's keys and an etcd member of its
// own, and returns the member's initial cluster ("" when there is nothing to
// join: a cluster's first server, or a member restarted).
func joinCluster(ctx context.Context, cfg Config, identity string) (string, error) {
	c := cfg.Cluster
	if c == nil || c.Init || memberExists(cfg.DataDir) {
		return "", nil
	}
	peer := c.peerURL()
	resp, err := join.Join(ctx, c.Server, c.Token, join.Request{Name: identity, PeerURL: peer.String()})
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cfg.DataDir, "pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create pki directory: %w", err)
	}
	// Certificates of another CA (a data dir that served alone before) are
	// made anew by pki.Ensure, signed by the cluster's.
	for _, name := range []string{"serving", "admin", "kubelet-client", "etcd-peer"} {
		for _, ext := range []string{".crt", ".key"} {
			_ = os.Remove(filepath.Join(dir, name+ext))
		}
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{"ca.crt", resp.CACert, 0o644}, {"ca.key", resp.CAKey, 0o600}, {"sa.key", resp.ServiceAccount, 0o600}} {
		if err := pki.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return "", err
		}
	}
	_ = os.Remove(filepath.Join(dir, "sa.pub"))
	if err := pki.WriteFile(TokenPath(cfg.DataDir), []byte(c.Token.String()+"\n"), 0o600); err != nil {
		return "", err
	}
	return resp.InitialCluster, nil
}

// clusterToken is the join token the server answers joins (of agents, and
// of servers when clustered) with: made on a server's first start, else
// the one it joined with.
func clusterToken(cfg Config, caPEM []byte) (join.Token, error) {
	path := TokenPath(cfg.DataDir)
	if data, err := os.ReadFile(path); err == nil {
		tok, err := join.ParseToken(string(data))
		if err != nil {
			return join.Token{}, fmt.Errorf("%s: %w", path, err)
		}
		if tok.CAHash != join.HashCA(caPEM) {
			return join.Token{}, fmt.Errorf("%s names another CA than this server's", path)
		}
		return tok, nil
	}
	if cfg.Cluster != nil && !cfg.Cluster.Init {
		// Joined before this file was written: the token it was given.
		tok := cfg.Cluster.Token
		return tok, pki.WriteFile(path, []byte(tok.String()+"\n"), 0o600)
	}
	tok, err := join.NewToken(caPEM)
	if err != nil {
		return join.Token{}, err
	}
	return tok, pki.WriteFile(path, []byte(tok.String()+"\n"), 0o600)
}

// etcdPeer is the embedded etcd's membership of the cluster.
func etcdPeer(cfg Config, identity, initial string) (*storage.Peer, error) {
	c := cfg.Cluster
	hosts := []string{c.Advertise.String()}
	if !cfg.BindAddress.IsUnspecified() {
		hosts = append(hosts, cfg.BindAddress.String())
	}
	files, err := pki.EnsurePeer(filepath.Join(cfg.DataDir, "pki"), hosts, time.Now())
	if err != nil {
		return nil, err
	}
	adv := c.peerURL()
	listen := url.URL{Scheme: "https", Host: net.JoinHostPort(cfg.BindAddress.String(), strconv.Itoa(c.PeerPort))}
	// A member's name is its server's identity: unique and kept.
	return &storage.Peer{Name: strings.ReplaceAll(identity, ",", "_"), Listen: listen, Advertise: adv,
		CertFile: files.CertFile, KeyFile: files.KeyFile, CAFile: files.CAFile, InitialCluster: initial}, nil
}
