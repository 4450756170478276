package controller

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/batchd/batchd/internal/vclock"
)

// A requeue waits in the runner's (virtual) clock; an error is retried in
// real time even while that clock stands still.
func TestRunnerRequeuesInItsClockAndRetriesInRealTime(t *testing.T) {
	clk, err := vclock.New(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer clk.Stop()
	var mu sync.Mutex
	calls := map[string]int{}
	synced := make(chan string, 10)
	r := NewRunner("test", func(_ context.Context, key string) (time.Duration, error) {
		mu.Lock()
		calls[key]++
		n := calls[key]
		mu.Unlock()
		synced <- key
		switch {
		case key == "later" && n == 1:
			return time.Hour, nil
		case key == "flaky" && n == 1:
			return 0, errors.New("transient")
		}
		return 0, nil
	}, WithClock(clk))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx, 1)
	r.Add("later")
	r.Add("flaky")
	r.AddAfterReal("batched", 10*time.Millisecond)
	got := map[string]int{}
	wait := func(key string) {
		t.Helper()
		for {
			select {
			case k := <-synced:
				got[k]++
				if k == key && got[k] >= 2 {
					return
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s was not synced again; syncs %v", key, got)
			}
		}
	}
	wait("flaky") // retried after its real back-off, the clock frozen
	for got["batched"] == 0 {
		select {
		case k := <-synced:
			got[k]++
		case <-time.After(5 * time.Second):
			t.Fatalf("a real-time batching delay waited for the frozen clock; syncs %v", got)
		}
	}
	if got["later"] != 1 {
		t.Fatalf("the hour's requeue came before the clock moved: %v", got)
	}
	if err := clk.Advance(time.Hour); err != nil {
		t.Fatal(err)
	}
	wait("later")
}

// After many failed syncs a key waits at most the cap, not client-go's
// default 1000 s.
func TestFailureBackoffIsCapped(t *testing.T) {
	for _, c := range []struct {
		max, want time.Duration
	}{{0, 1000 * time.Second}, {time.Minute, time.Minute}} {
		l := failureLimiter[string](c.max)
		var last time.Duration
		for range 30 {
			last = l.When("ns/job")
		}
		if last != c.want {
			t.Errorf("cap %v: the 30th retry waits %v, want %v", c.max, last, c.want)
		}
		if first := l.When("ns/other"); first != 5*time.Millisecond {
			t.Errorf("cap %v: another key's first retry waits %v, want 5ms", c.max, first)
		}
	}
}
