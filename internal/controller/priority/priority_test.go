package priority

import (
	"context"
	"net/http"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// waited runs Wait in a goroutine and returns a channel closed when it returns.
func waited(g *Gate, ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() { g.Wait(ctx); close(done) }()
	return done
}

func returned(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	case <-time.After(100 * time.Millisecond):
		return false
	}
}

func TestWaitReturnsAtOnceWhenNotHeld(t *testing.T) {
	g := New(clocktesting.NewFakeClock(time.Now()), time.Second)
	if !returned(waited(g, context.Background())) {
		t.Fatal("Wait blocked on a gate nobody holds")
	}
	g.Hold()()
	if !returned(waited(g, context.Background())) {
		t.Fatal("Wait blocked on a gate held and released")
	}
}

func TestWaitLastsWhileAnyHolderHolds(t *testing.T) {
	g := New(clocktesting.NewFakeClock(time.Now()), time.Minute)
	first, second := g.Hold(), g.Hold()
	done := waited(g, context.Background())
	if returned(done) {
		t.Fatal("Wait returned while the gate was held twice")
	}
	first()
	first() // a second release of the same hold is a no-op
	if returned(done) {
		t.Fatal("Wait returned while one holder still held the gate")
	}
	second()
	if !returned(done) {
		t.Fatal("Wait still blocked after both holders released")
	}
}

func TestWaitIsBounded(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	g := New(clk, time.Second)
	defer g.Hold()()
	done := waited(g, context.Background())
	if returned(done) {
		t.Fatal("Wait returned while held, before its bound")
	}
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	clk.Step(999 * time.Millisecond)
	if returned(done) {
		t.Fatal("Wait returned before its bound")
	}
	clk.Step(time.Millisecond)
	if !returned(done) {
		t.Fatal("Wait still blocked after its bound: a burst would starve the others")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done = waited(g, ctx)
	cancel()
	if !returned(done) {
		t.Fatal("Wait ignored its context's end")
	}
}

type recorder struct{ methods chan string }

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.methods <- req.Method
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

func TestWrapHoldsWritesNotReads(t *testing.T) {
	g := New(clocktesting.NewFakeClock(time.Now()), time.Hour)
	rec := recorder{methods: make(chan string, 10)}
	rt := g.Wrap(rec)
	release := g.Hold()
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		go func() {
			req, _ := http.NewRequest(m, "https://127.0.0.1/api/v1/namespaces/x/pods", nil)
			if _, err := rt.RoundTrip(req); err != nil {
				t.Error(err)
			}
		}()
	}
	if got := <-rec.methods; got != http.MethodGet {
		t.Fatalf("first request through a held gate: %s, want the GET", got)
	}
	select {
	case m := <-rec.methods:
		t.Fatalf("a %s went through a held gate", m)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	for range 4 {
		select {
		case <-rec.methods:
		case <-time.After(5 * time.Second):
			t.Fatal("writes still held after the release")
		}
	}
}
