package storage

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/batchd/batchd/internal/pki"
)

// freePort is a free TCP port on host.
func freePort(t *testing.T, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func put(t *testing.T, e *Etcd, k, v string) error {
	t.Helper()
	c, err := e.client()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.Put(ctx, k, v)
	return err
}

func get(t *testing.T, e *Etcd, k string) string {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A linearizable read: what the cluster agreed on, through this member.
	r, err := c.Get(ctx, k)
	if err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	if len(r.Kvs) == 0 {
		return ""
	}
	return string(r.Kvs[0].Value)
}

// Three members on 127.0.0.1-3 form one raft cluster over mutual TLS with
// certificates of one CA: each joins through etcd's member add; a write
// through one is read through another; with one member stopped the other
// two still write; restarted, it catches up.
func TestThreeMembersFormACluster(t *testing.T) {
	root, err := os.MkdirTemp("", "ha-st-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	// One CA for the cluster: the first member's, copied to the others (what
	// a join hands over).
	caDir := filepath.Join(root, "pki0")
	if _, err := pki.Ensure(pki.Options{Dir: caDir}); err != nil {
		t.Fatal(err)
	}
	hosts := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	opts := make([]Options, 3)
	for i, h := range hosts {
		dir := filepath.Join(root, fmt.Sprint(i))
		pkiDir := filepath.Join(dir, "pki")
		if err := os.MkdirAll(pkiDir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"ca.crt", "ca.key"} {
			data, err := os.ReadFile(filepath.Join(caDir, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(pkiDir, f), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		files, err := pki.EnsurePeer(pkiDir, []string{h}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		u := url.URL{Scheme: "https", Host: net.JoinHostPort(h, fmt.Sprint(freePort(t, h)))}
		opts[i] = Options{Dir: filepath.Join(dir, "etcd"), UnsafeNoFsync: true, Log: io.Discard, Peer: &Peer{
			Name: fmt.Sprintf("m%d", i), Listen: u, Advertise: u, CertFile: files.CertFile, KeyFile: files.KeyFile, CAFile: files.CAFile,
		}}
	}
	ctx := context.Background()
	members := make([]*Etcd, 3)
	members[0], err = Start(ctx, opts[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { members[0].Stop() })
	// The first member's promoter, as every server runs it; it stops
	// before the members do (cleanups run last first).
	promoterCtx, stopPromoter := context.WithCancel(ctx)
	promoterDone := make(chan struct{})
	go func() { defer close(promoterDone); members[0].RunPromoter(promoterCtx, 100*time.Millisecond) }()
	t.Cleanup(func() { stopPromoter(); <-promoterDone })
	for i := 1; i < 3; i++ {
		initial, err := members[0].AddMember(ctx, opts[i].Peer.Name, opts[i].Peer.Advertise.String())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(initial, opts[i].Peer.Name+"="+opts[i].Peer.Advertise.String()) {
			t.Fatalf("initial cluster %q does not name the new member", initial)
		}
		opts[i].Peer.InitialCluster = initial
		m, err := Start(ctx, opts[i])
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		members[i] = m
		t.Cleanup(func() { members[i].Stop() })
		// Promoted by the promoter once caught up.
		var list []string
		err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			list, err = members[0].Members(ctx)
			return err == nil && len(list) == i+1 && !strings.Contains(strings.Join(list, " "), "(learner)"), nil
		})
		if err != nil {
			t.Fatalf("member %d not promoted: %v", i, list)
		}
	}
	// The promotion is applied on the learner itself a little after the
	// leader answers; until then it refuses "rpc not supported for learner".
	var list []string
	var listErr error
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		list, listErr = members[2].Members(ctx)
		return listErr == nil && len(list) == 3, nil
	})
	if err != nil {
		t.Fatalf("members as the third sees them %v, %v: want 3", list, listErr)
	}

	if err := put(t, members[0], "k", "written through the first"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, members[2], "k"); got != "written through the first" {
		t.Fatalf("third member reads %q", got)
	}

	// One of three down: the other two are a quorum.
	members[1].Stop()
	if err := put(t, members[2], "k2", "while one is down"); err != nil {
		t.Fatalf("write with one member down: %v", err)
	}
	// Restarted (its data dir knows the cluster), it catches up.
	opts[1].Peer.InitialCluster = ""
	members[1], err = Start(ctx, opts[1])
	if err != nil {
		t.Fatalf("restart member: %v", err)
	}
	if got := get(t, members[1], "k2"); got != "while one is down" {
		t.Fatalf("restarted member reads %q", got)
	}
}

// A peer without a certificate of the cluster's CA is refused.
func TestPeerWithoutClusterCertificateIsRefused(t *testing.T) {
	root, err := os.MkdirTemp("", "ha-st-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	pkiDir := filepath.Join(root, "pki")
	if _, err := pki.Ensure(pki.Options{Dir: pkiDir}); err != nil {
		t.Fatal(err)
	}
	files, err := pki.EnsurePeer(pkiDir, []string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: "https", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(freePort(t, "127.0.0.1")))}
	e, err := Start(context.Background(), Options{Dir: filepath.Join(root, "etcd"), UnsafeNoFsync: true, Log: io.Discard, Peer: &Peer{
		Name: "m0", Listen: u, Advertise: u, CertFile: files.CertFile, KeyFile: files.KeyFile, CAFile: files.CAFile}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	// Anyone may connect; without a client certificate the handshake fails.
	conn, err := tlsDial(u.Host)
	if err == nil {
		conn.Close()
		t.Fatal("a peer without a client certificate was accepted")
	}
}

func tlsDial(addr string) (net.Conn, error) {
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		return nil, err
	}
	// TLS 1.3 reports a refused client certificate on the first read.
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil && !strings.Contains(err.Error(), "timeout") {
		c.Close()
		return nil, err
	}
	return c, nil
}
