package cronjob

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// writtenPatience bounds how long a status write waits to be seen: an
// informer that relisted past it never shows that exact version.
const writtenPatience = 2 * time.Second

// written remembers, per CronJob, the resourceVersion of the controller's last
// status write until the informer shows it, so that a sync never decides on a
// cache older than the controller's own write.
type written struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	rv    map[string]writtenAt
}

type writtenAt struct {
	rv string
	at time.Time
}

func newWritten(c clock.PassiveClock) *written {
	return &written{clock: c, rv: map[string]writtenAt{}}
}

func (w *written) wrote(key, rv string) {
	w.mu.Lock()
	w.rv[key] = writtenAt{rv: rv, at: w.clock.Now()}
	w.mu.Unlock()
}

// seen records that the cache holds version rv of key.
func (w *written) seen(key, rv string) {
	w.mu.Lock()
	if w.rv[key].rv == rv {
		delete(w.rv, key)
	}
	w.mu.Unlock()
}

func (w *written) forget(key string) {
	w.mu.Lock()
	delete(w.rv, key)
	w.mu.Unlock()
}

// pending reports a write of key the cache, which holds version cached, has
// not shown yet. (The cache's store is updated before its handlers run, so
// the version in hand is checked, not only what seen was told.)
func (w *written) pending(key, cached string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.rv[key]
	if !ok {
		return false
	}
	if e.rv == cached || w.clock.Since(e.at) > writtenPatience {
		delete(w.rv, key)
		return false
	}
	return true
}
