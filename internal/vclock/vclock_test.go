package vclock

import (
	"errors"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

var start = time.Date(2027, 3, 28, 0, 0, 0, 0, time.UTC)

func received(ch <-chan time.Time) bool {
	select {
	case <-ch:
		return true
	case <-time.After(2 * time.Second):
		return false
	}
}

func quiet(t *testing.T, ch <-chan time.Time, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s fired early", what)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestFrozenClockMovesOnlyWhenMoved(t *testing.T) {
	real := clocktesting.NewFakeClock(time.Now())
	c, err := New(start, 0, real)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	real.Step(time.Hour)
	if !c.Now().Equal(start) {
		t.Fatalf("frozen clock moved with real time: %s", c.Now())
	}
	after := c.After(90 * time.Minute)
	quiet(t, after, "a 90m timer before any move")
	if err := c.Advance(89 * time.Minute); err != nil {
		t.Fatal(err)
	}
	quiet(t, after, "a 90m timer at 89m")
	if err := c.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
	if !received(after) {
		t.Fatal("a 90m timer did not fire at 90m")
	}
	if got := c.Now(); !got.Equal(start.Add(90 * time.Minute)) {
		t.Errorf("now %s", got)
	}
	if err := c.Set(start); !errors.Is(err, ErrBackwards) {
		t.Errorf("set backwards: %v", err)
	}
	if err := c.Advance(-time.Second); !errors.Is(err, ErrBackwards) {
		t.Errorf("advance backwards: %v", err)
	}
}

func TestRunningClockRunsAtItsRate(t *testing.T) {
	real := clocktesting.NewFakeClock(time.Now())
	c, err := New(start, 60, real)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	timer := c.NewTimer(2 * time.Minute)
	real.Step(time.Second) // a virtual minute
	if got := c.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("after a real second at rate 60: %s", got)
	}
	quiet(t, timer.C(), "a 2m timer at 1m")
	// The timer goroutine waits on a real timer of (2m-1m)/60 = 1s.
	waitForWaiters(t, real)
	real.Step(time.Second)
	if !received(timer.C()) {
		t.Fatal("a 2m timer did not fire at 2m")
	}
}

// waitForWaiters waits until the clock's goroutine sleeps on the fake real clock.
func waitForWaiters(t *testing.T, real *clocktesting.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !real.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("the clock never waited on real time")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTimersStopResetAndTickers(t *testing.T) {
	c, err := New(start, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	stopped := c.NewTimer(time.Minute)
	if !stopped.Stop() {
		t.Error("Stop of a pending timer said it was not pending")
	}
	reset := c.NewTimer(time.Minute)
	reset.Reset(3 * time.Minute)
	ran := make(chan time.Time, 1)
	c.AfterFunc(2*time.Minute, func() { ran <- time.Time{} })
	tick := c.NewTicker(time.Minute)
	defer tick.Stop()
	if err := c.Advance(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if !received(ran) {
		t.Error("AfterFunc did not run at 2m")
	}
	if !received(tick.C()) {
		t.Error("the ticker did not tick")
	}
	quiet(t, stopped.C(), "a stopped timer")
	quiet(t, reset.C(), "a timer reset to 3m, at 2m")
	if err := c.Advance(time.Minute); err != nil {
		t.Fatal(err)
	}
	if !received(reset.C()) {
		t.Error("a timer reset to 3m did not fire at 3m")
	}
	if !received(tick.C()) {
		t.Error("the ticker did not tick again")
	}
	if stopped.Stop() {
		t.Error("a second Stop said the timer was pending")
	}
}

func TestNegativeRateIsRefused(t *testing.T) {
	if _, err := New(start, -1, nil); err == nil {
		t.Error("rate -1 accepted")
	}
}
