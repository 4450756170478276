package cronspec

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Parse reads a CronJob's schedule in its zone, as the controller does: tz
// when set, else local (the controller's zone, as kube-controller-manager's).
func Parse(schedule string, tz *string, local *time.Location) (cron.Schedule, error) {
	if tz != nil {
		return ParseStandard("TZ=" + *tz + " " + schedule)
	}
	s, err := ParseStandard(schedule)
	if err != nil {
		return nil, err
	}
	if spec, ok := s.(*cron.SpecSchedule); ok && local != nil {
		spec.Location = local
	}
	return s, nil
}

// Schedule is a CronJob's schedule under a DST policy. With DSTKubernetes
// its Next is robfig/cron's, exactly.
type Schedule struct {
	robfig cron.Schedule
	// wall is the same spec on a clock without daylight saving (UTC): it
	// walks wall-clock times, which firstInstant maps onto the zone.
	wall *cron.SpecSchedule
	loc  *time.Location
	dst  DST
	// fixed: neither the minute nor the hour field starts with * or ?
	// (cronie's non-wildcard entries, the ones its DST handling applies to).
	fixed bool
}

// New parses a schedule as Parse does, under a DST policy ("" is DSTKubernetes).
func New(schedule string, tz *string, local *time.Location, dst DST) (*Schedule, error) {
	r, err := Parse(schedule, tz, local)
	if err != nil {
		return nil, err
	}
	if dst == "" {
		dst = DSTKubernetes
	}
	s := &Schedule{robfig: r, dst: dst, fixed: fixedTime(schedule)}
	if spec, ok := r.(*cron.SpecSchedule); ok {
		w := *spec
		w.Location = time.UTC
		s.wall, s.loc = &w, spec.Location
	}
	return s, nil
}

// Location is the zone the schedule is read in (nil for @every).
func (s *Schedule) Location() *time.Location { return s.loc }

// Fixed reports whether the DST policy "once" changes this schedule.
func (s *Schedule) Fixed() bool { return s.fixed && s.wall != nil }

// Next is the first slot after t.
func (s *Schedule) Next(t time.Time) time.Time {
	if s.dst != DSTOnce || !s.Fixed() {
		return s.robfig.Next(t)
	}
	loc := s.loc
	w := wallClock(t, loc)
	// A wall time of the repeated hour maps to its first occurrence, which
	// may lie before t: walk on. The bound only guards against a zone
	// database gone mad; a day has at most 1440 fixed-time slots.
	for i := 0; i < 4*1440; i++ {
		w = s.wall.Next(w)
		if w.IsZero() {
			return time.Time{}
		}
		if u := firstInstant(w, loc); u.After(t) {
			return u.In(t.Location())
		}
	}
	return time.Time{}
}

// fixedTime: neither the minute nor the hour field starts with * or ?.
// Descriptors: @hourly is a wildcard, @every has no wall-clock times, the
// others name midnight.
func fixedTime(schedule string) bool {
	f := strings.Fields(schedule)
	if len(f) > 0 && (strings.HasPrefix(f[0], "TZ=") || strings.HasPrefix(f[0], "CRON_TZ=")) {
		f = f[1:]
	}
	if len(f) == 0 {
		return false
	}
	if strings.HasPrefix(f[0], "@") {
		switch f[0] {
		case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight":
			return true
		}
		return false
	}
	if len(f) < 2 {
		return false
	}
	wild := func(s string) bool { return strings.HasPrefix(s, "*") || strings.HasPrefix(s, "?") }
	return !wild(f[0]) && !wild(f[1])
}

// Offset is the jitter offset of the CronJob with this UID: the same for
// every slot and across restarts, spread evenly over [0, jitter) in whole
// seconds by a cryptographic hash of the UID.
func Offset(uid string, jitter time.Duration) time.Duration {
	n := uint64(jitter / time.Second)
	if n == 0 {
		return 0
	}
	h := sha256.Sum256([]byte(uid))
	return time.Duration(binary.BigEndian.Uint64(h[:8])%n) * time.Second
}

// NextFire is when the first slot fires after t, with its offset: the
// slot itself is NextFire - offset.
func NextFire(s interface{ Next(time.Time) time.Time }, offset time.Duration, t time.Time) time.Time {
	n := s.Next(t.Add(-offset))
	if n.IsZero() {
		return n
	}
	return n.Add(offset)
}

// wallClock is t's wall-clock reading in loc, as a UTC time.
func wallClock(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	y, mo, d := l.Date()
	h, mi, sec := l.Clock()
	return time.Date(y, mo, d, h, mi, sec, l.Nanosecond(), time.UTC)
}

func sameWall(t, w time.Time) bool {
	y1, m1, d1 := t.Date()
	y2, m2, d2 := w.Date()
	h1, i1, s1 := t.Clock()
	h2, i2, s2 := w.Clock()
	return y1 == y2 && m1 == m2 && d1 == d2 && h1 == h2 && i1 == i2 && s1 == s2
}

// firstInstant is the first instant at which loc's clock reads w (a wall
// time as UTC); when the clock never reads it (skipped by a jump forward),
// the first instant after the jump.
func firstInstant(w time.Time, loc *time.Location) time.Time {
	y, mo, d := w.Date()
	h, mi, sec := w.Clock()
	t := time.Date(y, mo, d, h, mi, sec, w.Nanosecond(), loc)
	if sameWall(t, w) {
		// The clock was set back over w: its earlier reading is in the zone before.
		if start, _ := t.ZoneBounds(); !start.IsZero() {
			_, off := t.Zone()
			_, prev := start.Add(-time.Nanosecond).Zone()
			if prev > off {
				if e := t.Add(-time.Duration(prev-off) * time.Second); sameWall(e.In(loc), w) {
					return e
				}
			}
		}
		return t
	}
	// time.Date normalised w into one of the zones around the gap.
	if wallClock(t, loc).Before(w) {
		_, end := t.ZoneBounds()
		return end
	}
	start, _ := t.ZoneBounds()
	return start
}
