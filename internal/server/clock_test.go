package server

import (
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/internal/vclock"
)

func TestClockOptions(t *testing.T) {
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		mode, start string
		rate        float64
		err         string
		at          time.Time
	}{
		{mode: "real"},
		{mode: "", rate: 60, err: "--clock-start and --clock-rate need --clock virtual"},
		{mode: "real", start: "2027-01-01T00:00:00Z", err: "need --clock virtual"},
		{mode: "fake", err: `--clock "fake" must be real or virtual`},
		{mode: "virtual", at: now},
		{mode: "virtual", start: "2027-03-28T00:00:00+01:00", rate: 60, at: time.Date(2027, 3, 27, 23, 0, 0, 0, time.UTC)},
		{mode: "virtual", start: "tomorrow", err: `--clock-start "tomorrow" is not a time`},
		{mode: "virtual", rate: -1, err: "--clock-rate -1 must not be negative"},
	} {
		o := NewOptions()
		o.Clock, o.ClockStart, o.ClockRate = c.mode, c.start, c.rate
		v, err := o.clockConfig(now)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%+v: error %v, want %q", c, err, c.err)
			}
		case err != nil:
			t.Errorf("%+v: %v", c, err)
		case c.mode == "real" && v != nil:
			t.Errorf("real clock made a virtual one")
		case c.mode == "virtual":
			if got := v.Now(); got.Before(c.at) || got.After(c.at.Add(time.Duration(c.rate+1)*time.Second)) {
				t.Errorf("%+v: reads %v, want about %v", c, got, c.at)
			}
			if v.Rate() != c.rate {
				t.Errorf("rate %v", v.Rate())
			}
			v.Stop()
		}
	}
}

func TestDescribeClock(t *testing.T) {
	if d := DescribeClock(nil); d != "" {
		t.Errorf("real clock described as %q", d)
	}
	frozen, _ := vclock.New(time.Now(), 0, nil)
	defer frozen.Stop()
	if d := DescribeClock(frozen); !strings.HasPrefix(d, "virtual clock, frozen until moved") {
		t.Errorf("frozen: %q", d)
	}
	fast, _ := vclock.New(time.Now(), 60, nil)
	defer fast.Stop()
	if d := DescribeClock(fast); !strings.HasPrefix(d, "virtual clock running at 60× real time") {
		t.Errorf("fast: %q", d)
	}
}
