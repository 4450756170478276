package apiserver

import (
	"context"
	"errors"
	"net"
	"syscall"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/klog/v2"
)

// LogClientHangupsAtInfo makes the errors the API server reports when a
// client goes away in the middle of a response — a watch stopped
// (kubectl get -w ended, an informer shut down) just as an event was
// written to it — log at info, verbosity 2, rather than at error level:
// the client's leaving is not the server's fault, and nothing is lost (the
// client asked for nothing more). kube-apiserver logs them at error level
// ("Failed to encode watch event" err="http2: stream closed"); a clean
// stop of batchd, whose own clients stop their watches as the API server
// stops, would then log errors at random. Every other error is handled as
// before. For the process's main, once: it changes client-go's handlers.
func LogClientHangupsAtInfo() {
	handlers := utilruntime.ErrorHandlers
	if len(handlers) == 0 {
		return
	}
	// The first handler is the one that logs (the others rate-limit); this
	// one logs as it does, at the same call depth (the caller's line).
	handlers[0] = func(ctx context.Context, err error, msg string, keysAndValues ...interface{}) {
		logger := klog.FromContext(ctx).WithCallDepth(3)
		if !ClientHungUp(err) {
			klog.LoggerWithName(logger, "UnhandledError").Error(err, msg, keysAndValues...)
			return
		}
		klog.LoggerWithName(logger, "ClientGone").V(2).Info(msg, append([]interface{}{"err", err}, keysAndValues...)...)
	}
}

// ClientHungUp reports whether err says that the other end of a response
// went away: its HTTP/2 stream reset, its connection closed or reset (an
// in-process client's pipe closed: see serverConn).
func ClientHungUp(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) {
		return true
	}
	// net/http's bundled HTTP/2 server does not export this error.
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "http2: stream closed" {
			return true
		}
	}
	return false
}
