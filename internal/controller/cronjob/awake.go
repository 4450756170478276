package cronjob

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// jumpTolerance is how far the wall clock may drift from the monotonic one
// between two looks before it counts as a jump (NTP slews far less).
const jumpTolerance = 2 * time.Second

// jumpCheckEvery is how often an idle controller looks for a jump.
const jumpCheckEvery = 5 * time.Second

// awake tracks since when the controller has watched the wall clock without
// a gap. A machine's sleep stops the monotonic clock (Linux CLOCK_MONOTONIC)
// while the wall clock runs on, and a clock set by hand moves only the wall
// clock: either is a jump, after which the slots in between count as having
// come while nobody watched (catch-up policy none skips them), and every
// CronJob is synced at once instead of when its monotonic timer ends.
type awake struct {
	clock clock.PassiveClock
	// mono reads a monotonic clock; nil when there is none to compare with
	// (a fake clock in tests): then no jump is ever seen.
	mono func() time.Duration

	mu       sync.Mutex
	since    time.Time
	lastWall time.Time
	lastMono time.Duration
}

func newAwake(c clock.PassiveClock, mono func() time.Duration) *awake {
	a := &awake{clock: c, mono: mono}
	a.observe()
	return a
}

// observe looks at both clocks: it returns since when the controller has
// been awake, and whether the wall clock jumped since the last look.
func (a *awake) observe() (since time.Time, jumped bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock.Now().Round(0) // wall clock only
	var mono time.Duration
	if a.mono != nil {
		mono = a.mono()
	}
	switch {
	case a.lastWall.IsZero():
		a.since = now
	case a.mono != nil:
		if drift := now.Sub(a.lastWall) - (mono - a.lastMono); drift > jumpTolerance || drift < -jumpTolerance {
			a.since, jumped = now, true
		}
	}
	a.lastWall, a.lastMono = now, mono
	return a.since, jumped
}
