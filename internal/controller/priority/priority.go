// Package priority lets one in-process client's writes go first. A CronJob
// slot asks for many Job creates at one instant; each created Job then wakes
// the Job controller (a pod, a status write, events), the scheduler and the
// node agent, whose writes would otherwise share etcd's one apply loop with
// the creates still to come and push the slot's last Jobs seconds late.
//
// A Gate is held while a first-class write is under way (Hold); the other
// clients' writes (a RoundTripper from Wrap) wait while it is held, each at
// most a bounded time, so a long burst delays them but never starves them.
// Reads and watches never wait: informers keep up during a burst. Only when
// things happen changes, never what happens: every write still goes through.
package priority

import (
	"context"
	"net/http"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Gate is held by first-class writers; others wait on it.
type Gate struct {
	clock   clock.Clock
	maxWait time.Duration

	mu   sync.Mutex
	held int
	free chan struct{} // closed when held drops to 0
}

// New returns a Gate whose waiters wait at most maxWait of clk's time.
func New(clk clock.Clock, maxWait time.Duration) *Gate {
	free := make(chan struct{})
	close(free)
	return &Gate{clock: clk, maxWait: maxWait, free: free}
}

// Hold marks a first-class write under way until the returned func is
// called (once).
func (g *Gate) Hold() (release func()) {
	g.mu.Lock()
	if g.held == 0 {
		g.free = make(chan struct{})
	}
	g.held++
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.held--
			if g.held == 0 {
				close(g.free)
			}
			g.mu.Unlock()
		})
	}
}

// Wait returns once the gate is not held, after maxWait, or when ctx ends.
func (g *Gate) Wait(ctx context.Context) {
	g.mu.Lock()
	free := g.free
	g.mu.Unlock()
	select {
	case <-free:
		return
	default:
	}
	t := g.clock.NewTimer(g.maxWait)
	defer t.Stop()
	select {
	case <-free:
	case <-t.C():
	case <-ctx.Done():
	}
}

// Wrap is a RoundTripper whose writes (any method but GET, HEAD and
// OPTIONS) first wait on g; for rest.Config.Wrap.
func (g *Gate) Wrap(rt http.RoundTripper) http.RoundTripper { return waiting{gate: g, next: rt} }

type waiting struct {
	gate *Gate
	next http.RoundTripper
}

func (w waiting) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		w.gate.Wait(req.Context())
	}
	return w.next.RoundTrip(req)
}
