package apiserver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestInProcessServesStreamsAndCloses: the server's own clients reach its
// handler over in-memory connections: a request and its answer, a streamed
// response whose client leaves (the handler's next write is a hangup, not
// the server's error), and after close a stream is cut and a dial fails
// at once instead of waiting for an Accept that never comes.
func TestInProcessServesStreamsAndCloses(t *testing.T) {
	in := newInProcess()
	writeErr := make(chan error, 1)
	streaming := make(chan struct{}, 2)
	in.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hello":
			_, _ = io.WriteString(w, "hello "+r.Host)
		case "/watch":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			streaming <- struct{}{}
			<-r.Context().Done() // the client went away, or the server closed
			var err error
			for i := 0; err == nil && i < 100; i++ { // until the write reaches the pipe
				if _, err = w.Write(make([]byte, 8192)); err == nil {
					err = http.NewResponseController(w).Flush()
				}
			}
			writeErr <- err
		}
	}))
	client := &http.Client{Transport: in.transport}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	resp, err := client.Get("http://" + inProcessHost + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello "+inProcessHost {
		t.Fatalf("body %q", body)
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(watchCtx, http.MethodGet, "http://"+inProcessHost+"/watch", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-streaming
	stopWatch()
	resp.Body.Close()
	select {
	case err := <-writeErr:
		if !ClientHungUp(err) {
			t.Fatalf("a write after the client left failed with %v: not a hangup", err)
		}
	case <-ctx.Done():
		t.Fatal("the handler never saw its client leave")
	}

	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "http://"+inProcessHost+"/watch", nil)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-streaming
	in.close()
	if _, err := io.Copy(io.Discard, resp.Body); err == nil {
		t.Error("a stream open at close ended cleanly: want it cut")
	}
	resp.Body.Close()
	<-writeErr
	_, err = client.Get("http://" + inProcessHost + "/hello")
	var op *net.OpError
	if !errors.As(err, &op) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("request after close: %v, want a dial error (closed)", err)
	}
	if ctx.Err() != nil {
		t.Fatal("timed out")
	}
}

// TestPipeDialEndsWithItsContext: a dial nobody accepts (the server not yet
// serving) ends with its caller's context.
func TestPipeDialEndsWithItsContext(t *testing.T) {
	l := newPipeListener()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.DialContext(ctx, "tcp", inProcessHost+":80"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial: %v, want the context's deadline", err)
	}
}
