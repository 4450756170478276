package job

import (
	"sync"
	"time"
)

// expectationsTTL bounds how long a Job waits for its own creates and deletes
// to show up in the informer cache before acting anyway (upstream: 5 minutes).
const expectationsTTL = 5 * time.Minute

// expectations count, per Job, the pod creations and deletions issued but not
// yet observed through the informers.
type expectations struct {
	mu sync.Mutex
	m  map[string]*pending
}

type pending struct {
	adds, deletes int
	since         time.Time
}

func newExpectations() *expectations { return &expectations{m: map[string]*pending{}} }

func (e *expectations) expect(key string, adds, deletes int, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if adds == 0 && deletes == 0 {
		return
	}
	p := e.m[key]
	if p == nil {
		p = &pending{}
		e.m[key] = p
	}
	p.adds += adds
	p.deletes += deletes
	p.since = now
}

func (e *expectations) observed(key string, adds, deletes int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.m[key]; p != nil {
		p.adds = max(p.adds-adds, 0)
		p.deletes = max(p.deletes-deletes, 0)
		if p.adds == 0 && p.deletes == 0 {
			delete(e.m, key)
		}
	}
}

func (e *expectations) satisfied(key string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.m[key]
	if p == nil || now.Sub(p.since) > expectationsTTL {
		delete(e.m, key)
		return true
	}
	return false
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
