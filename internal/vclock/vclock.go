// Package vclock is batchd's virtual clock: a k8s.io/utils/clock.WithTicker
// whose time is not the machine's. It starts at a chosen instant and either
// stays frozen until it is moved (Advance, Set) or runs at a rate (60: a
// virtual minute per real second). The controllers and the node agent take a
// clock.Clock, so a server given one of these schedules CronJobs, counts
// deadlines and back-offs and stamps status times in virtual time, while the
// pods' own processes run in real time.
//
// Timers and tickers fire when virtual time reaches them, whether it got
// there by running or by being moved. The clock only moves forward: a
// controller that saw time t must never see an earlier one.
package vclock

import (
	"container/heap"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Clock is a virtual clock. The zero value is not usable: call New.
type Clock struct {
	real clock.WithTicker

	mu       sync.Mutex
	base     time.Time // virtual time at realBase
	realBase time.Time
	rate     float64 // virtual seconds per real second; 0: frozen
	waiters  waiterHeap
	wake     chan struct{}
	done     chan struct{}
	stopped  bool
}

var (
	_ clock.WithTickerAndDelayedExecution = (*Clock)(nil)

	// ErrBackwards is returned when asked to move the clock back.
	ErrBackwards = errors.New("the virtual clock only moves forward")
)

// New returns a clock that reads start now and then advances rate virtual
// seconds per second of real (rate 0: frozen until moved). Real time is
// read from real (nil: the machine's clock). Stop ends its timer goroutine.
func New(start time.Time, rate float64, real clock.WithTicker) (*Clock, error) {
	if rate < 0 {
		return nil, fmt.Errorf("clock rate %v must not be negative", rate)
	}
	if real == nil {
		real = clock.RealClock{}
	}
	c := &Clock{real: real, base: start, realBase: real.Now(), rate: rate, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c, nil
}

// Stop ends the clock's goroutine; pending timers never fire.
func (c *Clock) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		c.stopped = true
		close(c.done)
	}
}

// Rate is how many virtual seconds pass per real second (0: frozen).
func (c *Clock) Rate() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rate
}

// Now is the virtual time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	if c.rate == 0 {
		return c.base
	}
	elapsed := c.real.Since(c.realBase)
	return c.base.Add(time.Duration(float64(elapsed) * c.rate))
}

// Since is the virtual time elapsed since t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Advance moves the clock forward by d, firing every timer it passes.
func (c *Clock) Advance(d time.Duration) error {
	if d < 0 {
		return ErrBackwards
	}
	c.mu.Lock()
	return c.setLocked(c.nowLocked().Add(d))
}

// Set moves the clock forward to t, firing every timer it passes.
func (c *Clock) Set(t time.Time) error {
	c.mu.Lock()
	return c.setLocked(t)
}

// setLocked moves to t and unlocks.
func (c *Clock) setLocked(t time.Time) error {
	if t.Before(c.nowLocked()) {
		now := c.nowLocked()
		c.mu.Unlock()
		return fmt.Errorf("%w: it is %s, not %s", ErrBackwards, now.Format(time.RFC3339), t.Format(time.RFC3339))
	}
	c.base, c.realBase = t, c.real.Now()
	c.mu.Unlock()
	c.poke()
	return nil
}

func (c *Clock) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run fires due timers: it sleeps in real time until the earliest one is
// due at the current rate, or until the clock is moved or a timer added.
func (c *Clock) run() {
	for {
		c.mu.Lock()
		now := c.nowLocked()
		var due []*waiter
		for len(c.waiters) > 0 && !c.waiters[0].at.After(now) {
			w := heap.Pop(&c.waiters).(*waiter)
			due = append(due, w)
			if w.period > 0 {
				// A ticker's next tick; ticks it slept through are dropped,
				// as time.Ticker drops them.
				next := w.at.Add(w.period)
				for !next.After(now) {
					next = next.Add(w.period)
				}
				w.at = next
				heap.Push(&c.waiters, w)
			} else {
				w.index = -1
			}
		}
		var sleep <-chan time.Time
		var t clock.Timer
		if len(c.waiters) > 0 && c.rate > 0 {
			d := time.Duration(float64(c.waiters[0].at.Sub(now)) / c.rate)
			t = c.real.NewTimer(max(d, time.Microsecond))
			sleep = t.C()
		}
		c.mu.Unlock()
		for _, w := range due {
			w.fire(now)
		}
		select {
		case <-c.done:
			if t != nil {
				t.Stop()
			}
			return
		case <-c.wake:
		case <-sleep:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// waiter is a pending timer, ticker or AfterFunc.
type waiter struct {
	at     time.Time
	period time.Duration // tickers
	ch     chan time.Time
	fn     func()
	index  int // in the heap; -1 when not in it
}

func (w *waiter) fire(now time.Time) {
	if w.fn != nil {
		go w.fn()
		return
	}
	select {
	case w.ch <- now:
	default: // a reader that has not taken the last value misses this one, as with time.Timer
	}
}

type waiterHeap []*waiter

func (h waiterHeap) Len() int           { return len(h) }
func (h waiterHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h waiterHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *waiterHeap) Push(x any) {
	w := x.(*waiter)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *waiterHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	*h = old[:len(old)-1]
	return w
}

func (c *Clock) add(d, period time.Duration, fn func()) *waiter {
	w := &waiter{period: period, ch: make(chan time.Time, 1), fn: fn}
	c.mu.Lock()
	w.at = c.nowLocked().Add(d)
	heap.Push(&c.waiters, w)
	c.mu.Unlock()
	c.poke()
	return w
}

// remove takes w out of the heap; it tells whether w was pending.
func (c *Clock) remove(w *waiter) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.index < 0 || w.index >= len(c.waiters) || c.waiters[w.index] != w {
		return false
	}
	heap.Remove(&c.waiters, w.index)
	w.index = -1
	return true
}

// After fires once, d of virtual time from now.
func (c *Clock) After(d time.Duration) <-chan time.Time { return c.add(d, 0, nil).ch }

// Sleep blocks until d of virtual time has passed.
func (c *Clock) Sleep(d time.Duration) { <-c.After(d) }

// Tick is a ticker's channel that is never stopped.
func (c *Clock) Tick(d time.Duration) <-chan time.Time {
	if d <= 0 {
		return nil
	}
	return c.NewTicker(d).C()
}

// NewTimer fires once, d of virtual time from now.
func (c *Clock) NewTimer(d time.Duration) clock.Timer {
	return &timer{c: c, w: c.add(d, 0, nil)}
}

// AfterFunc runs f in its own goroutine once d of virtual time has passed.
func (c *Clock) AfterFunc(d time.Duration, f func()) clock.Timer {
	return &timer{c: c, w: c.add(d, 0, f)}
}

// NewTicker ticks every d of virtual time.
func (c *Clock) NewTicker(d time.Duration) clock.Ticker {
	if d <= 0 {
		panic("non-positive interval for NewTicker")
	}
	return &ticker{c: c, w: c.add(d, d, nil)}
}

type timer struct {
	c *Clock
	w *waiter
}

func (t *timer) C() <-chan time.Time { return t.w.ch }
func (t *timer) Stop() bool          { return t.c.remove(t.w) }

func (t *timer) Reset(d time.Duration) bool {
	active := t.c.remove(t.w)
	t.c.mu.Lock()
	t.w.at = t.c.nowLocked().Add(d)
	heap.Push(&t.c.waiters, t.w)
	t.c.mu.Unlock()
	t.c.poke()
	return active
}

type ticker struct {
	c *Clock
	w *waiter
}

func (t *ticker) C() <-chan time.Time { return t.w.ch }
func (t *ticker) Stop()               { t.c.remove(t.w) }
