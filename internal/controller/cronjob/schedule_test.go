package cronjob

import (
	"testing"
	"time"
)

func mustParse(t *testing.T, schedule string, tz *string) interface{ Next(time.Time) time.Time } {
	t.Helper()
	s, err := parseSchedule(schedule, tz, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMostRecent(t *testing.T) {
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		schedule  string
		earliest  time.Time
		now       time.Time
		want      time.Time
		tooMany   bool
		wantError bool
	}{
		{"nothing due yet", "* * * * *", base, base.Add(30 * time.Second), time.Time{}, false, false},
		{"one due", "* * * * *", base, base.Add(61 * time.Second), base.Add(time.Minute), false, false},
		{"several missed: only the latest", "* * * * *", base, base.Add(5*time.Minute + 10*time.Second), base.Add(5 * time.Minute), false, false},
		{"exactly at a slot", "*/5 * * * *", base, base.Add(10 * time.Minute), base.Add(10 * time.Minute), false, false},
		{"more than 100 missed", "* * * * *", base, base.Add(150*time.Minute + time.Second), base.Add(150 * time.Minute), true, false},
		{"irregular hours", "30 6-16/4 * * 1-5", base.Add(-72 * time.Hour), base, time.Date(2026, 11, 23, 6, 30, 0, 0, time.UTC), false, false},
		{"@every", "@every 90s", base, base.Add(5 * time.Minute), base.Add(270 * time.Second), false, false},
		{"never fires", "59 23 31 2 *", base, base.Add(time.Hour), time.Time{}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseSchedule(tt.schedule, nil, time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			got, err := mostRecent(s, tt.earliest, tt.now)
			if (err != nil) != tt.wantError {
				t.Fatalf("err = %v", err)
			}
			if !got.Time.Equal(tt.want) || got.TooMany != tt.tooMany {
				t.Fatalf("got %v (too many %v), want %v (%v)", got.Time, got.TooMany, tt.want, tt.tooMany)
			}
		})
	}
}

func TestScheduleInTimeZoneAcrossDST(t *testing.T) {
	tz := "America/New_York"
	s := mustParse(t, "30 2 * * *", &tz)
	ny, _ := time.LoadLocation(tz)
	// 2026-03-08 02:30 does not exist in New York (clocks jump 02:00→03:00):
	// robfig/cron skips that day, as upstream's controller does.
	next := s.Next(time.Date(2026, 3, 7, 3, 0, 0, 0, ny))
	if want := time.Date(2026, 3, 9, 2, 30, 0, 0, ny); !next.Equal(want) {
		t.Fatalf("next after the spring-forward night = %v, want %v", next, want)
	}
	// 2026-11-01 01:30 happens twice (fall back). robfig/cron, which upstream's
	// controller uses too, fires at both: 01:30 EDT and, an hour later, 01:30 EST.
	s = mustParse(t, "30 1 * * *", &tz)
	first := s.Next(time.Date(2026, 10, 31, 12, 0, 0, 0, ny))
	second := s.Next(first)
	if second.Sub(first) != time.Hour || first.Hour() != 1 || second.Hour() != 1 {
		t.Fatalf("repeated hour: %v then %v, want 01:30 EDT then 01:30 EST", first, second)
	}
	seoul := "Asia/Seoul"
	s = mustParse(t, "0 9 * * *", &seoul)
	if got := s.Next(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("09:00 in Seoul = %v, want 00:00 UTC next day", got.UTC())
	}
}

func TestEarliestTime(t *testing.T) {
	created := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	now := created.Add(time.Hour)
	last := created.Add(30 * time.Minute)
	if got := earliestTime(time.Time{}, created, nil, now); !got.Equal(created) {
		t.Fatalf("never scheduled: %v", got)
	}
	if got := earliestTime(last, created, nil, now); !got.Equal(last) {
		t.Fatalf("scheduled before: %v", got)
	}
	d := int64(600)
	if got := earliestTime(last, created, &d, now); !got.Equal(now.Add(-10 * time.Minute)) {
		t.Fatalf("deadline window: %v", got)
	}
}
