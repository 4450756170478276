package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/storage"
)

// Options configure the embedded etcd.
type Options struct {
	// Dir is the etcd data directory; it is created with mode 0700.
	Dir string
	// UnsafeNoFsync trades durability for speed: for data that need not
	// survive a crash of the machine (tests, batchd run's ephemeral server).
	UnsafeNoFsync bool
	// QuotaBackendBytes is the database size at which only writes toward
	// removing objects are accepted (0 = etcd's default, 2 GiB); etcd's own
	// quota is Headroom above it.
	QuotaBackendBytes int64
	// ReadyTimeout bounds how long Start waits for etcd to elect itself.
	ReadyTimeout time.Duration
	// Log receives etcd's warnings and errors (nil: standard error).
	Log io.Writer
	// Peer makes the member one of a raft cluster (nil: a single member
	// with no peer listener).
	Peer *Peer
}

// Peer is how a member meets the other members of its cluster: raft over
// mutual TLS, with certificates of the cluster's CA.
type Peer struct {
	// Name is the member's, unique in the cluster.
	Name string
	// Listen is where the member listens for peers, Advertise what it
	// tells them (https://HOST:PORT).
	Listen, Advertise url.URL
	// CertFile and KeyFile are the member's certificate (server and client
	// authentication, naming its address); CAFile the CA both ends trust.
	CertFile, KeyFile, CAFile string
	// InitialCluster names every member (name=URL,...) when the member
	// joins a cluster that exists (after MemberAdd); "" starts a new
	// cluster of this member alone, which others may join.
	InitialCluster string
}

// Validate reports what is wrong with o.
func (o Options) Validate() []error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("etcd data directory must be set"))
	}
	if o.QuotaBackendBytes < 0 {
		errs = append(errs, errors.New("etcd quota must not be negative"))
	}
	if p := o.Peer; p != nil {
		if p.Name == "" {
			errs = append(errs, errors.New("etcd member name must be set"))
		}
		if p.Listen.Scheme != "https" || p.Advertise.Scheme != "https" {
			errs = append(errs, errors.New("etcd peer URLs must be https"))
		}
		if p.CertFile == "" || p.KeyFile == "" || p.CAFile == "" {
			errs = append(errs, errors.New("etcd peers need a certificate, key and CA"))
		}
	}
	return errs
}

// Etcd is a running embedded etcd.
type Etcd struct {
	stop     sync.Once
	e        *embed.Etcd
	endpoint string
	quota    int64
}

// Endpoint is the client URL the API server dials (a unix socket).
func (e *Etcd) Endpoint() string { return e.endpoint }

// Err reports a fatal etcd error after start.
func (e *Etcd) Err() <-chan error { return e.e.Err() }

// Stop closes etcd, waiting for in-flight requests; later calls do nothing.
func (e *Etcd) Stop() { e.stop.Do(e.e.Close) }

// Start starts etcd in o.Dir and blocks until it serves, ctx ends, or it fails.
// maxSocketPath is the longest path a unix socket binds to on Linux
// (sun_path is 108 bytes, NUL included).
const maxSocketPath = 107

func Start(ctx context.Context, o Options) (*Etcd, error) {
	if errs := o.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create etcd directory: %w", err)
	}
	if err := os.Chmod(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("secure etcd directory: %w", err)
	}
	sock := filepath.Join(o.Dir, "client.sock")
	if len(sock) > maxSocketPath {
		return nil, fmt.Errorf("data dir too long: etcd's socket %s would be %d bytes, a unix socket path holds at most %d: choose a shorter --data-dir", sock, len(sock), maxSocketPath)
	}
	_ = os.Remove(filepath.Join(o.Dir, "peer.sock")) // batchd before issue 25 listened there
	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	// etcd writes a new member's WAL before its first raft entries (the
	// member itself): a member stopped or killed in between never elects
	// itself again. So a new member is made under a pending mark, removed
	// once it serves; a member found with the mark is unfinished (nothing
	// was stored in it yet: the API server starts after this returns) and
	// is made afresh.
	data := filepath.Join(o.Dir, "data")
	pending := filepath.Join(o.Dir, "bootstrap-pending")
	_, noMember := os.Stat(filepath.Join(data, "member"))
	_, unfinished := os.Stat(pending)
	fresh := os.IsNotExist(noMember) || unfinished == nil
	if fresh {
		if err := os.RemoveAll(data); err != nil {
			return nil, fmt.Errorf("remove unfinished etcd data: %w", err)
		}
		if err := writeSynced(pending); err != nil {
			return nil, err
		}
	}
	e, err := run(ctx, newConfig(o, data), timeout)
	if err != nil {
		return nil, err
	}
	if fresh {
		if err := removeSynced(pending); err != nil {
			closeUnready(e)
			return nil, err
		}
	}
	// The 0700 directory already keeps others out; the socket's own mode
	// says so too.
	if err := os.Chmod(sock, 0o600); err != nil {
		e.Close()
		return nil, fmt.Errorf("secure etcd socket: %w", err)
	}
	return &Etcd{e: e, endpoint: "unix://" + sock, quota: o.QuotaBackendBytes}, nil
}

// writeSynced creates the empty file p durably.
func writeSynced(p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("mark etcd bootstrap: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("mark etcd bootstrap: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("mark etcd bootstrap: %w", err)
	}
	return syncDir(filepath.Dir(p))
}

// removeSynced removes the file p durably.
func removeSynced(p string) error {
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("finish etcd bootstrap: %w", err)
	}
	return syncDir(filepath.Dir(p))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// clientURL is the socket etcd serves its clients on.
func clientURL(o Options) url.URL {
	return url.URL{Scheme: "unix", Path: filepath.Join(o.Dir, "client.sock")}
}

// newConfig is the embedded etcd's configuration with its data in data.
func newConfig(o Options, data string) *embed.Config {
	client := clientURL(o)
	cfg := embed.NewConfig()
	cfg.Name = "batchd"
	cfg.Dir = data
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenClientHttpUrls = nil
	if p := o.Peer; p != nil {
		cfg.Name = p.Name
		cfg.ListenPeerUrls = []url.URL{p.Listen}
		cfg.AdvertisePeerUrls = []url.URL{p.Advertise}
		// Mutual TLS: a peer must show a certificate of the cluster's CA.
		cfg.PeerTLSInfo = transport.TLSInfo{CertFile: p.CertFile, KeyFile: p.KeyFile, TrustedCAFile: p.CAFile, ClientCertAuth: true}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		if p.InitialCluster != "" {
			cfg.InitialCluster = p.InitialCluster
			cfg.ClusterState = embed.ClusterStateFlagExisting
		}
	} else {
		// A single member needs no peer listener: raft has nobody to talk to.
		// etcd's peer URLs take only their host part as a listen address, so
		// unix:///dir/peer.sock listened on an abstract socket (autobind) that
		// anyone on the machine could reach; a forged raft message there
		// panicked the server (issue 25). The member still advertises the URL it
		// always had, which its stored membership names.
		peer := url.URL{Scheme: "unix", Path: filepath.Join(o.Dir, "peer.sock")}
		cfg.ListenPeerUrls = nil
		cfg.AdvertisePeerUrls = []url.URL{peer}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	}
	cfg.ListenMetricsUrls = nil
	// A single member elects itself after one election timeout; the defaults
	// (100 ms ticks, 1 s election) make a cold start take up to a second.
	cfg.TickMs = 10
	cfg.ElectionMs = 100
	// A single member has no follower to catch up: keep far fewer raft
	// entries in memory than a cluster's defaults (10,000 / 5,000), which for
	// Jobs of a few KiB each would hold tens of MiB.
	cfg.SnapshotCount = 1000
	cfg.SnapshotCatchUpEntries = 100
	if o.Peer != nil {
		// Members on a busy machine (or network) miss 10 ms heartbeats:
		// etcd's defaults, and followers keep more entries to catch up
		// from without a snapshot.
		cfg.TickMs, cfg.ElectionMs = 100, 1000
		cfg.SnapshotCatchUpEntries = 5000
	}
	cfg.UnsafeNoFsync = o.UnsafeNoFsync
	quota := o.QuotaBackendBytes
	if quota <= 0 {
		quota = storage.DefaultQuotaBytes
	}
	cfg.QuotaBackendBytes = quota + Headroom(quota)
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "1h"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(quietLogger(o.Log))
	return cfg
}

// run starts etcd with cfg and waits until it serves, ctx ends, it fails,
// or timeout passes.
func run(ctx context.Context, cfg *embed.Config, timeout time.Duration) (*embed.Etcd, error) {
	// A stale socket from a crash would make listen fail with "address
	// already in use".
	for _, u := range cfg.ListenClientUrls {
		_ = os.Remove(u.Path)
	}
	// StartEtcd opens the database and WAL before it returns; it is given
	// a while to do so even when ctx ends, so that nothing keeps using the
	// directory behind the caller's back. It blocks for ever only on the
	// database's file lock held by another process: then ctx still ends the
	// wait, and an etcd that comes up after all is closed.
	type started struct {
		e   *embed.Etcd
		err error
	}
	startc := make(chan started, 1)
	go func() {
		e, err := embed.StartEtcd(cfg)
		startc <- started{e, err}
	}()
	var s started
	select {
	case s = <-startc:
	case <-ctx.Done():
		select {
		case s = <-startc:
		case <-time.After(startGrace):
			go func() {
				if s := <-startc; s.err == nil {
					closeUnready(s.e)
				}
			}()
			return nil, fmt.Errorf("etcd still starting %s after the start was cancelled (is %s locked by another process?): %w", startGrace, cfg.Dir, ctx.Err())
		}
	}
	if s.err != nil {
		return nil, fmt.Errorf("start etcd: %w", s.err)
	}
	e := s.e
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		closeUnready(e)
		return nil, fmt.Errorf("etcd: %w", err)
	case <-time.After(timeout):
		closeUnready(e)
		return nil, fmt.Errorf("etcd not ready after %s", timeout)
	case <-ctx.Done():
		closeUnready(e)
		return nil, ctx.Err()
	}
}

// startGrace is how long a cancelled start waits for etcd to have opened its
// files (StartEtcd usually takes milliseconds).
const startGrace = 10 * time.Second

// closeUnready closes an etcd that never became ready. Close alone would
// wait for ever: it waits for the client servers, which wait until etcd is
// ready or stopping, and only after them stops the server.
func closeUnready(e *embed.Etcd) {
	e.Server.Stop()
	e.Close()
}
