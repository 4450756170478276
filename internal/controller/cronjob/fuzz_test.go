package cronjob

import (
	"testing"
	"time"
)

// FuzzParseSchedule: any schedule and zone either fails to parse or gives a
// next run after the given time (or none, as for 31 February), without
// panicking.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"* * * * *", "@hourly", "@every 1m", "0 2 * * 1-5", "59 23 31 2 *", "*/15 9-17 * * MON-FRI", "TZ=UTC 0 0 * * *"} {
		f.Add(s, "")
		f.Add(s, "America/New_York")
	}
	f.Fuzz(func(t *testing.T, schedule, tz string) {
		var zone *string
		if tz != "" {
			zone = &tz
		}
		s, err := parseSchedule(schedule, zone, time.UTC)
		if err != nil {
			return
		}
		now := time.Date(2026, 3, 8, 6, 59, 30, 0, time.UTC)
		if next := s.Next(now); !next.IsZero() && !next.After(now) {
			t.Errorf("next run %v of %q is not after %v", next, schedule, now)
		}
	})
}
