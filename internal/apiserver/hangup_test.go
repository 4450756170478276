package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/klog/v2"
)

// streamWriteAfterHangup is the error an HTTP/2 handler gets writing to a
// response whose client has gone: the real one, from net/http's server.
func streamWriteAfterHangup(t *testing.T) error {
	t.Helper()
	got := make(chan error, 1)
	started := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		close(started)
		<-r.Context().Done() // the client reset the stream
		_, err := w.Write([]byte("an event\n"))
		if err == nil {
			err = http.NewResponseController(w).Flush()
		}
		got <- err
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("test server speaks %s, want HTTP/2", resp.Proto)
	}
	<-started
	cancel()
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("the write after the client's hangup succeeded")
		}
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never saw the hangup")
		return nil
	}
}

func TestClientHungUp(t *testing.T) {
	hangup := streamWriteAfterHangup(t)
	for _, c := range []struct {
		err  error
		want bool
	}{
		{hangup, true},
		{fmt.Errorf("encode: %w", hangup), true},
		{io.ErrClosedPipe, false},
		{errors.New("etcdserver: request timed out"), false},
		{nil, false},
	} {
		if got := ClientHungUp(c.err); got != c.want {
			t.Errorf("ClientHungUp(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestClientHangupsLogAtInfo: with LogClientHangupsAtInfo, a watch's
// "Failed to encode watch event" for a client that went away is not logged
// at error level (nor at all at the default verbosity); other errors are.
func TestClientHangupsLogAtInfo(t *testing.T) {
	hangup := streamWriteAfterHangup(t)
	var buf bytes.Buffer
	klog.SetOutput(&buf)
	klog.LogToStderr(false)
	defer klog.LogToStderr(true)
	saved := append([]utilruntime.ErrorHandler(nil), utilruntime.ErrorHandlers...)
	defer func() { utilruntime.ErrorHandlers = saved }()
	LogClientHangupsAtInfo()

	utilruntime.HandleErrorWithContext(context.Background(), hangup, "Failed to encode watch event")
	klog.Flush()
	if strings.Contains(buf.String(), "Failed to encode watch event") {
		t.Errorf("a client's hangup was logged at the default verbosity:\n%s", buf.String())
	}
	utilruntime.HandleErrorWithContext(context.Background(), errors.New("etcdserver: request timed out"), "Failed to list")
	klog.Flush()
	if !strings.Contains(buf.String(), "Failed to list") || !strings.HasPrefix(buf.String(), "E") || !strings.Contains(buf.String(), "hangup_test.go:") {
		t.Errorf("another error was not logged at error level, at its caller's line:\n%q", buf.String())
	}
}
