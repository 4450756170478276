package cronspec

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/utils/ptr"
)

func mustNew(t *testing.T, schedule, tz string, dst DST) *Schedule {
	t.Helper()
	s, err := New(schedule, ptr.To(tz), time.UTC, dst)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fires lists the fire times in (from, to] as "2006-01-02 15:04 MST" in the zone.
func fires(s *Schedule, from, to time.Time) []string {
	var out []string
	for t := s.Next(from); !t.IsZero() && !t.After(to); t = s.Next(t) {
		out = append(out, t.In(s.Location()).Format("2006-01-02 15:04 MST"))
	}
	return out
}

func at(t *testing.T, tz, v string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	r, err := time.ParseInLocation("2006-01-02 15:04", v, loc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The DST days of Europe/Berlin (2027-03-28 02:00→03:00, 2027-10-31
// 03:00→02:00) and America/New_York (2027-03-14 02:00→03:00, 2027-11-07
// 02:00→01:00) under both policies.
func TestDSTDays(t *testing.T) {
	for _, tc := range []struct {
		name, schedule, tz, from, to string
		dst                          DST
		want                         []string
	}{
		// Spring forward: robfig/cron skips the slot in the gap ...
		{"Berlin spring, kubernetes", "30 2 * * *", "Europe/Berlin", "2027-03-27 00:00", "2027-03-29 12:00", DSTKubernetes,
			[]string{"2027-03-27 02:30 CET", "2027-03-29 02:30 CEST"}},
		// ... cronie runs it right after the jump.
		{"Berlin spring, once", "30 2 * * *", "Europe/Berlin", "2027-03-27 00:00", "2027-03-29 12:00", DSTOnce,
			[]string{"2027-03-27 02:30 CET", "2027-03-28 03:00 CEST", "2027-03-29 02:30 CEST"}},
		// Fall back: robfig/cron runs the repeated slot twice ...
		{"Berlin fall, kubernetes", "30 2 * * *", "Europe/Berlin", "2027-10-30 00:00", "2027-11-01 12:00", DSTKubernetes,
			[]string{"2027-10-30 02:30 CEST", "2027-10-31 02:30 CEST", "2027-10-31 02:30 CET", "2027-11-01 02:30 CET"}},
		// ... cronie once, at the first occurrence.
		{"Berlin fall, once", "30 2 * * *", "Europe/Berlin", "2027-10-30 00:00", "2027-11-01 12:00", DSTOnce,
			[]string{"2027-10-30 02:30 CEST", "2027-10-31 02:30 CEST", "2027-11-01 02:30 CET"}},
		{"New York spring, kubernetes", "0,30 2 * * *", "America/New_York", "2027-03-13 12:00", "2027-03-15 12:00", DSTKubernetes,
			[]string{"2027-03-15 02:00 EDT", "2027-03-15 02:30 EDT"}},
		// Both slots of the gap collapse into one run at 03:00.
		{"New York spring, once", "0,30 2 * * *", "America/New_York", "2027-03-13 12:00", "2027-03-15 12:00", DSTOnce,
			[]string{"2027-03-14 03:00 EDT", "2027-03-15 02:00 EDT", "2027-03-15 02:30 EDT"}},
		{"New York fall, kubernetes", "30 1 * * *", "America/New_York", "2027-11-06 12:00", "2027-11-08 12:00", DSTKubernetes,
			[]string{"2027-11-07 01:30 EDT", "2027-11-07 01:30 EST", "2027-11-08 01:30 EST"}},
		{"New York fall, once", "30 1 * * *", "America/New_York", "2027-11-06 12:00", "2027-11-08 12:00", DSTOnce,
			[]string{"2027-11-07 01:30 EDT", "2027-11-08 01:30 EST"}},
		// A slot at 03:00 already exists after the jump: the gap's runs join it.
		{"New York spring, once, 02:xx and 03:xx", "0,30 2,3 * * *", "America/New_York", "2027-03-13 12:00", "2027-03-14 12:00", DSTOnce,
			[]string{"2027-03-14 03:00 EDT", "2027-03-14 03:30 EDT"}},
		// Wildcard schedules follow the clock under both policies (cronie exempts them).
		{"Berlin fall hourly, once", "0 * * * *", "Europe/Berlin", "2027-10-31 00:30", "2027-10-31 03:30", DSTOnce,
			[]string{"2027-10-31 01:00 CEST", "2027-10-31 02:00 CEST", "2027-10-31 02:00 CET", "2027-10-31 03:00 CET"}},
		{"New York spring */30, once", "*/30 * * * *", "America/New_York", "2027-03-14 01:15", "2027-03-14 03:45", DSTOnce,
			[]string{"2027-03-14 01:30 EST", "2027-03-14 03:00 EDT", "2027-03-14 03:30 EDT"}},
		// @daily is midnight, a fixed time; in a zone whose midnight jumps
		// (America/Santiago, 2026-09-06 00:00→01:00) robfig/cron skips the
		// day, cronie runs at 01:00.
		{"Santiago midnight, kubernetes", "@daily", "America/Santiago", "2026-09-05 12:00", "2026-09-07 12:00", DSTKubernetes,
			[]string{"2026-09-07 00:00 -03"}},
		{"Santiago midnight, once", "@daily", "America/Santiago", "2026-09-05 12:00", "2026-09-07 12:00", DSTOnce,
			[]string{"2026-09-06 01:00 -03", "2026-09-07 00:00 -03"}},
		// Lord Howe moves its clock by 30 minutes (2027-10-03 02:00→02:30).
		{"Lord Howe spring, kubernetes", "15 2 * * *", "Australia/Lord_Howe", "2027-10-02 12:00", "2027-10-04 12:00", DSTKubernetes,
			[]string{"2027-10-04 02:15 +11"}},
		{"Lord Howe spring, once", "15 2 * * *", "Australia/Lord_Howe", "2027-10-02 12:00", "2027-10-04 12:00", DSTOnce,
			[]string{"2027-10-03 02:30 +11", "2027-10-04 02:15 +11"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, tc.schedule, tc.tz, tc.dst)
			got := fires(s, at(t, tc.tz, tc.from), at(t, tc.tz, tc.to))
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("fires:\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// Under DSTKubernetes a Schedule is robfig/cron's, exactly: upstream's behaviour.
func TestKubernetesPolicyIsRobfig(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	for _, spec := range []string{"30 2 * * *", "0 * * * *", "*/7 1-3 * * 0", "0 0 29 2 *", "@every 90m", "15 1,2,3 * 3,10,11 *"} {
		for _, tz := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Seoul"} {
			s := mustNew(t, spec, tz, DSTKubernetes)
			r, err := Parse(spec, ptr.To(tz), nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 300; i++ {
				from := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rnd.Int63n(int64(365 * 24 * time.Hour))))
				if a, b := s.Next(from), r.Next(from); !a.Equal(b) {
					t.Fatalf("%s in %s after %v: %v, robfig %v", spec, tz, from, a, b)
				}
			}
		}
	}
}

// Under DSTOnce every fixed-time slot fires exactly once per wall-clock
// day over a whole year, never twice and never skipped.
func TestOnceFiresEveryWallClockSlotOnce(t *testing.T) {
	for _, tz := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe"} {
		s := mustNew(t, "0,30 0-3 * * *", tz, DSTOnce)
		loc := s.Location()
		from := time.Date(2026, 12, 31, 23, 59, 0, 0, loc)
		perDay := map[string]int{}
		prev := from
		for f := s.Next(from); f.Before(from.AddDate(1, 0, 0)); f = s.Next(f) {
			if !f.After(prev) {
				t.Fatalf("%s: %v after %v", tz, f, prev)
			}
			prev = f
			perDay[f.In(loc).Format("2006-01-02")]++
		}
		if len(perDay) != 365 {
			t.Errorf("%s: %d days", tz, len(perDay))
		}
		for day, n := range perDay {
			// 8 slots a day; a gap collapses some of them into one run right after the jump.
			if n != 8 {
				jump := false
				d, _ := time.ParseInLocation("2006-01-02", day, loc)
				if _, end := d.ZoneBounds(); !end.IsZero() && end.Before(d.AddDate(0, 0, 1)) {
					jump = true
				}
				if !jump || n < 6 || n > 8 {
					t.Errorf("%s %s: %d runs", tz, day, n)
				}
			}
		}
	}
}

func TestFixedTime(t *testing.T) {
	for spec, want := range map[string]bool{
		"30 2 * * *": true, "0,30 2 * * *": true, "0 1-3 * * *": true, "@daily": true, "@weekly": true,
		"0 * * * *": false, "*/5 2 * * *": false, "? 2 * * *": false, "@hourly": false, "@every 1h": false,
		"TZ=UTC 30 2 * * *": true,
	} {
		if got := fixedTime(spec); got != want {
			t.Errorf("fixedTime(%q) = %v", spec, got)
		}
	}
}

// Jitter offsets: in [0, jitter), whole seconds, the same for a UID every
// time (a restart computes the same), and spread evenly over 1,000 UIDs:
// a chi-square test over 10 buckets stays under 27.88, the 0.999 quantile
// of chi-square with 9 degrees of freedom (expected count 100 per bucket,
// whatever the seed).
func TestOffsetSpread(t *testing.T) {
	const jitter = 5 * time.Minute
	rnd := rand.New(rand.NewSource(22))
	sets := map[string][]string{}
	for i := 0; i < 1000; i++ {
		b := make([]byte, 16)
		rnd.Read(b)
		b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80 // as the API server's v4 UIDs
		sets["random v4 UIDs"] = append(sets["random v4 UIDs"], fmt.Sprintf("%x-%x-%x-%x-%x", b[:4], b[4:6], b[6:8], b[8:10], b[10:]))
		sets["sequential UIDs"] = append(sets["sequential UIDs"], fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
	}
	for name, uids := range sets {
		t.Run(name, func(t *testing.T) {
			var buckets [10]int
			for _, uid := range uids {
				o := Offset(uid, jitter)
				if o < 0 || o >= jitter || o%time.Second != 0 {
					t.Fatalf("offset %v of %s", o, uid)
				}
				if again := Offset(uid, jitter); again != o {
					t.Fatalf("offset of %s changed: %v then %v", uid, o, again)
				}
				buckets[o*10/jitter]++
			}
			chi := 0.0
			for _, n := range buckets {
				chi += float64((n-100)*(n-100)) / 100
			}
			t.Logf("buckets %v chi-square %.2f", buckets, chi)
			if chi > 27.88 {
				t.Errorf("offsets not uniform: buckets %v, chi-square %.2f", buckets, chi)
			}
		})
	}
	if Offset("x", 0) != 0 || Offset("x", 999*time.Millisecond) != 0 {
		t.Error("no jitter must mean no offset")
	}
}

func TestNextFire(t *testing.T) {
	s := mustNew(t, "0 * * * *", "UTC", DSTKubernetes)
	base := time.Date(2027, 1, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		after time.Time
		want  time.Time
	}{
		{base.Add(-time.Minute), base.Add(2 * time.Minute)},              // the slot at 10:00 fires at 10:02
		{base.Add(time.Minute), base.Add(2 * time.Minute)},               // still pending its offset
		{base.Add(2 * time.Minute), base.Add(time.Hour + 2*time.Minute)}, // fired: the next one
	} {
		if got := NextFire(s, 2*time.Minute, tc.after); !got.Equal(tc.want) {
			t.Errorf("NextFire after %v = %v, want %v", tc.after, got, tc.want)
		}
	}
	never, _ := New("0 0 30 2 *", nil, time.UTC, "")
	if got := NextFire(never, 0, base); !got.IsZero() {
		t.Errorf("a schedule that never fires: %v", got)
	}
}

func TestPreviewNotes(t *testing.T) {
	for _, tc := range []struct {
		schedule, tz, from string
		dst                DST
		n                  int
		want               string
	}{
		{"30 2 * * *", "Europe/Berlin", "2027-03-27 00:00", DSTKubernetes, 3, `
Sat 2027-03-27 02:30 CET
# 02:30 does not exist on 2027-03-28 in Europe/Berlin: skipped
Mon 2027-03-29 02:30 CEST
Tue 2027-03-30 02:30 CEST`},
		{"30 2 * * *", "Europe/Berlin", "2027-03-27 00:00", DSTOnce, 3, `
Sat 2027-03-27 02:30 CET
# 02:30 does not exist on 2027-03-28 in Europe/Berlin: runs at 03:00 CEST, right after the jump
Sun 2027-03-28 03:00 CEST
Mon 2027-03-29 02:30 CEST`},
		{"30 2 * * *", "Europe/Berlin", "2027-10-30 12:00", DSTKubernetes, 3, `
# 02:30 occurs twice on 2027-10-31 in Europe/Berlin: runs twice (CEST and CET)
Sun 2027-10-31 02:30 CEST
Sun 2027-10-31 02:30 CET
Mon 2027-11-01 02:30 CET`},
		{"30 1 * * *", "America/New_York", "2027-11-06 12:00", DSTOnce, 2, `
# 01:30 occurs twice on 2027-11-07 in America/New_York: runs once (EDT)
Sun 2027-11-07 01:30 EDT
Mon 2027-11-08 01:30 EST`},
		{"0 9 * * 1", "Asia/Seoul", "2026-11-19 00:00", DSTKubernetes, 2, `
Mon 2026-11-23 09:00 KST
Mon 2026-11-30 09:00 KST`},
	} {
		s := mustNew(t, tc.schedule, tc.tz, tc.dst)
		var b strings.Builder
		for _, e := range Preview(s, 0, at(t, tc.tz, tc.from), tc.n) {
			if e.Fire {
				fmt.Fprintf(&b, "\n%s", e.At.In(s.Location()).Format("Mon 2006-01-02 15:04 MST"))
			} else {
				fmt.Fprintf(&b, "\n# %s", e.Note)
			}
		}
		if b.String() != tc.want {
			t.Errorf("%s in %s (%s) from %s:%s\nwant:%s", tc.schedule, tc.tz, tc.dst, tc.from, b.String(), tc.want)
		}
	}
	// With a jitter offset the fires move, the slots do not.
	s := mustNew(t, "30 2 * * *", "Europe/Berlin", DSTKubernetes)
	got := Preview(s, 90*time.Second, at(t, "Europe/Berlin", "2027-03-27 00:00"), 1)
	if len(got) != 1 || got[0].At.In(s.Location()).Format("15:04:05") != "02:31:30" {
		t.Errorf("preview with offset: %+v", got)
	}
	var _ cron.Schedule = s
}

// FuzzScheduleNext: no schedule, zone, policy or instant makes Next or
// Preview panic, hang or go backwards.
func FuzzScheduleNext(f *testing.F) {
	zones := []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "Asia/Seoul", "UTC"}
	f.Add("30 2 * * *", uint8(0), true, int64(1806364800))
	f.Add("0,30 0-3 * * 0", uint8(2), true, int64(1822000000))
	f.Add("@every 90m", uint8(1), false, int64(1800000000))
	f.Fuzz(func(t *testing.T, spec string, zone uint8, once bool, unix int64) {
		dst := DSTKubernetes
		if once {
			dst = DSTOnce
		}
		tz := zones[int(zone)%len(zones)]
		s, err := New(spec, &tz, nil, dst)
		if err != nil {
			return
		}
		from := time.Unix(unix%(1<<33), 0)
		if n := s.Next(from); !n.IsZero() && !n.After(from) {
			t.Fatalf("%q in %s (%s): Next(%v) = %v", spec, tz, dst, from, n)
		}
		Preview(s, 0, from, 3)
	})
}
