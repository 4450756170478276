package cronjob

import (
	"errors"
	"time"

	"github.com/batchd/batchd/internal/cronspec"
	"github.com/robfig/cron/v3"
)

// nextDelta is added to the next schedule time when requeueing, as upstream
// does, so the sync lands after the slot, not just before it.
const nextDelta = 100 * time.Millisecond

// tooManyMissed is upstream's threshold for the TooManyMissedTimes warning.
const tooManyMissed = 100

// parseSchedule reads schedule in the CronJob's zone: tz when set, else loc
// (the controller's local zone, as kube-controller-manager's).
func parseSchedule(schedule string, tz *string, loc *time.Location) (cron.Schedule, error) {
	return cronspec.Parse(schedule, tz, loc)
}

// missed is the outcome of mostRecent.
type missed struct {
	// Time is the most recent unmet slot at or before now; zero when none is due.
	Time time.Time
	// TooMany: more than 100 slots were missed (only Time is run).
	TooMany bool
}

// mostRecent finds the latest slot in (earliest, now]. It fails for
// schedules whose slots are less than a second apart or never come (e.g.
// "59 23 31 2 *").
func mostRecent(s cron.Schedule, earliest, now time.Time) (missed, error) {
	t1 := s.Next(earliest)
	t2 := s.Next(t1)
	if now.Before(t1) {
		return missed{}, nil
	}
	if now.Before(t2) {
		return missed{Time: t1}, nil
	}
	between := t2.Sub(t1).Round(time.Second)
	if between < time.Second {
		return missed{}, errors.New("time difference between two schedules is less than 1 second")
	}
	count := int64(now.Sub(t1)/between) + 1
	// Jump close to now, then let the schedule walk the last steps: exact for
	// regular and @every schedules, and for irregular ones (e.g. "30 6-16/4 * * 1-5")
	// the walk starts early enough or falls back to t1.
	var latest time.Time
	start := t1.Add(time.Duration(count-2) * between)
	if count < 2 || start.Before(t1) {
		start = earliest
	}
	for t := s.Next(start); !t.IsZero() && !t.After(now); t = s.Next(t) {
		latest = t
	}
	if latest.IsZero() {
		for t := t1; !t.IsZero() && !t.After(now); t = s.Next(t) {
			latest = t
		}
	}
	return missed{Time: latest, TooMany: count > tooManyMissed}, nil
}

// earliestTime is where the search for missed slots starts: the last
// scheduled slot (else the CronJob's creation), but never before the
// startingDeadlineSeconds window.
func earliestTime(lastSchedule, created time.Time, deadline *int64, now time.Time) time.Time {
	earliest := created
	if !lastSchedule.IsZero() {
		earliest = lastSchedule
	}
	if deadline != nil {
		if window := now.Add(-time.Duration(*deadline) * time.Second); window.After(earliest) {
			earliest = window
		}
	}
	return earliest
}
