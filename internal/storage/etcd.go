package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options configure the embedded etcd.
type Options struct {
	// Dir is the etcd data directory; it is created with mode 0700.
	Dir string
	// UnsafeNoFsync trades durability for speed. Tests only.
	UnsafeNoFsync bool
	// QuotaBackendBytes caps the database size (0 = etcd's default, 2 GiB).
	QuotaBackendBytes int64
	// ReadyTimeout bounds how long Start waits for etcd to elect itself.
	ReadyTimeout time.Duration
	// Log receives etcd's warnings and errors (nil: standard error).
	Log io.Writer
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
	return errs
}

// Etcd is a running embedded etcd.
type Etcd struct {
	e        *embed.Etcd
	endpoint string
	quota    int64
}

// Endpoint is the client URL the API server dials (a unix socket).
func (e *Etcd) Endpoint() string { return e.endpoint }

// Err reports a fatal etcd error after start.
func (e *Etcd) Err() <-chan error { return e.e.Err() }

// Stop closes etcd, waiting for in-flight requests.
func (e *Etcd) Stop() { e.e.Close() }

// Start starts etcd in o.Dir and blocks until it serves, ctx ends, or it fails.
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
	// A stale socket from a crash would make listen fail with "address
	// already in use".
	_ = os.Remove(sock)
	_ = os.Remove(filepath.Join(o.Dir, "peer.sock")) // batchd before issue 25 listened there
	client := url.URL{Scheme: "unix", Path: sock}

	cfg := embed.NewConfig()
	cfg.Name = "batchd"
	cfg.Dir = filepath.Join(o.Dir, "data")
	cfg.ListenClientUrls = []url.URL{client}
	cfg.AdvertiseClientUrls = []url.URL{client}
	cfg.ListenClientHttpUrls = nil
	// A single member needs no peer listener: raft has nobody to talk to.
	// etcd's peer URLs take only their host part as a listen address, so
	// unix:///dir/peer.sock listened on an abstract socket (autobind) that
	// anyone on the machine could reach; a forged raft message there
	// panicked the server (issue 25). The member still advertises the URL it
	// always had, which its stored membership names. Members that join
	// later will listen with mutual TLS, added here.
	peer := url.URL{Scheme: "unix", Path: filepath.Join(o.Dir, "peer.sock")}
	cfg.ListenPeerUrls = nil
	cfg.AdvertisePeerUrls = []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
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
	cfg.UnsafeNoFsync = o.UnsafeNoFsync
	if o.QuotaBackendBytes > 0 {
		cfg.QuotaBackendBytes = o.QuotaBackendBytes
	}
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "1h"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(quietLogger(o.Log))

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	select {
	case <-e.Server.ReadyNotify():
		// The 0700 directory already keeps others out; the socket's own
		// mode says so too.
		if err := os.Chmod(sock, 0o600); err != nil {
			e.Close()
			return nil, fmt.Errorf("secure etcd socket: %w", err)
		}
		return &Etcd{e: e, endpoint: client.String(), quota: o.QuotaBackendBytes}, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd: %w", err)
	case <-time.After(timeout):
		e.Close()
		return nil, fmt.Errorf("etcd not ready after %s", timeout)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
}

// quietLogger logs etcd's warnings and errors only: its info lines would drown
// batchd's own output.
func quietLogger(w io.Writer) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	sink := zapcore.Lock(os.Stderr)
	if w != nil {
		sink = zapcore.Lock(zapcore.AddSync(w))
	}
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), sink, zapcore.WarnLevel)
	return zap.New(core).With(zap.String("component", "etcd"))
}
