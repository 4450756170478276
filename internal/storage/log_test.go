package storage

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestQuietLoggerDropsStartAndStopNoise: what etcd logs as errors on every
// normal start and stop is not printed; the same messages with another
// error, and other warnings and errors, are.
func TestQuietLoggerDropsStartAndStopNoise(t *testing.T) {
	var buf bytes.Buffer
	log := quietLogger(&buf)
	log.Error("failed to update storage version", zap.String("cluster-version", "3.7.0"), zap.Error(errors.New("cannot detect storage schema version: missing term information")))
	log.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("accept unix /d/client.sock: use of closed network connection")))
	log.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("mux: server closed")))
	log.Warn("Running http and grpc server on single port. This is not recommended for production.")
	log.Info("ready to serve client requests")
	if buf.Len() != 0 {
		t.Errorf("noise printed:\n%s", &buf)
	}

	log.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("listen unix /d/client.sock: bind: permission denied")))
	log.Error("failed to update storage version", zap.Error(errors.New("disk I/O error")))
	log.Warn("slow fdatasync", zap.Duration("took", 0))
	out := buf.String()
	for _, want := range []string{
		"error\tsetting up serving from embedded etcd failed.\t{\"component\": \"etcd\", \"error\": \"listen unix /d/client.sock: bind: permission denied\"}",
		"error\tfailed to update storage version\t{\"component\": \"etcd\", \"error\": \"disk I/O error\"}",
		"warn\tslow fdatasync",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}
