package server

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/utils/clock"

	"github.com/batchd/batchd/internal/vclock"
)

// Clock modes of --clock.
const (
	ClockReal    = "real"
	ClockVirtual = "virtual"
)

// clockOptions are the --clock flags checked: nil error and a nil clock for
// the real one.
func (o *Options) clockConfig(now time.Time) (*vclock.Clock, error) {
	switch o.Clock {
	case ClockReal, "":
		if o.ClockStart != "" || o.ClockRate != 0 {
			return nil, errors.New("--clock-start and --clock-rate need --clock virtual")
		}
		return nil, nil
	case ClockVirtual:
	default:
		return nil, fmt.Errorf("--clock %q must be real or virtual", o.Clock)
	}
	start := now
	if o.ClockStart != "" {
		t, err := time.Parse(time.RFC3339, o.ClockStart)
		if err != nil {
			return nil, fmt.Errorf("--clock-start %q is not a time such as 2027-03-28T00:00:00+01:00", o.ClockStart)
		}
		start = t
	}
	if o.ClockRate < 0 {
		return nil, fmt.Errorf("--clock-rate %v must not be negative (0: frozen until moved)", o.ClockRate)
	}
	return vclock.New(start, o.ClockRate, nil)
}

// DescribeClock says how a server's clock runs, for its startup line, its
// Node's VirtualClock condition and `batchd clock` ("" for the real clock).
func DescribeClock(c clock.PassiveClock) string {
	v, ok := c.(*vclock.Clock)
	if !ok {
		return ""
	}
	if v.Rate() == 0 {
		return "virtual clock, frozen until moved (batchd clock advance|set): schedules, deadlines, back-offs and status times follow it, pods' processes run in real time"
	}
	rate := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", v.Rate()), "0"), ".")
	return fmt.Sprintf("virtual clock running at %s× real time: schedules, deadlines, back-offs and status times follow it, pods' processes run in real time", rate)
}
