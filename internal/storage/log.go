package storage

import (
	"io"
	"os"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// quietLogger logs etcd's warnings and errors only: its info lines would
// drown batchd's own output. What etcd logs above info on every normal start
// and stop (see noise) is logged at info, so that an error line in batchd's
// log always means something.
func quietLogger(w io.Writer) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	sink := zapcore.Lock(os.Stderr)
	if w != nil {
		sink = zapcore.Lock(zapcore.AddSync(w))
	}
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), sink, zapcore.WarnLevel)
	return zap.New(relevel{core}).With(zap.String("component", "etcd"))
}

// noise are entries etcd logs as warnings or errors on a normal start or
// stop of a single member on a unix socket, with a part of the error they
// carry ("" for any).
var noise = []struct{ msg, err string }{
	// A new member's first storage version check runs before its first
	// raft term is applied; the next one succeeds.
	{"failed to update storage version", "missing term information"},
	{"Failed to detect schema version", "missing term information"},
	{"Failed to detect storage schema version. Please wait till wal snapshot before upgrading cluster.", ""},
	// The client listeners ending as etcd stops.
	{"setting up serving from embedded etcd failed.", "use of closed network connection"},
	{"setting up serving from embedded etcd failed.", "mux: server closed"},
	{"setting up serving from embedded etcd failed.", "http: Server closed"},
	{"setting up serving from embedded etcd failed.", "grpc: the server has been stopped"},
	{"setting up serving from embedded etcd failed.", "server is stopping"},
	{"stopping insecure grpc server due to error", "use of closed network connection"},
	{"stopped insecure grpc server due to error", "use of closed network connection"},
	// Stopped before it was ready.
	{"failed to update cluster version", "request cancelled"},
	{"stopped publish because server is stopping", ""},
	// Advice for a networked cluster: one unix socket serves both
	// protocols, and etcd's own authentication is not used.
	{"Running http and grpc server on single port. This is not recommended for production.", ""},
	{"simple token is not cryptographically signed", ""},
}

// level is the level batchd logs an etcd entry at.
func level(ent zapcore.Entry, fields []zapcore.Field) zapcore.Level {
	if ent.Level > zapcore.ErrorLevel {
		return ent.Level // dpanic, panic, fatal: never noise
	}
	errText := ""
	for _, f := range fields {
		if f.Key != "error" {
			continue
		}
		switch {
		case f.Type == zapcore.ErrorType:
			if err, ok := f.Interface.(error); ok && err != nil {
				errText = err.Error()
			}
		case f.Type == zapcore.StringType:
			errText = f.String
		}
	}
	for _, n := range noise {
		if ent.Message == n.msg && strings.Contains(errText, n.err) {
			return zapcore.InfoLevel
		}
	}
	return ent.Level
}

// relevel writes each entry at the level level gives it.
type relevel struct{ zapcore.Core }

func (r relevel) With(fields []zapcore.Field) zapcore.Core { return relevel{r.Core.With(fields)} }

// Check takes every entry the core would take at its own level; Write
// decides with the fields at hand.
func (r relevel) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if r.Enabled(ent.Level) {
		return ce.AddCore(ent, r)
	}
	return ce
}

func (r relevel) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	ent.Level = level(ent, fields)
	if !r.Enabled(ent.Level) {
		return nil
	}
	return r.Core.Write(ent, fields)
}
