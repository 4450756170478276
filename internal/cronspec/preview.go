package cronspec

import (
	"fmt"
	"sort"
	"time"
)

// Entry is one line of a preview: a fire time, or a note on a
// daylight-saving change at At.
type Entry struct {
	At   time.Time
	Fire bool
	Note string
}

// Preview lists the next n fire times after from (each slot plus offset)
// and, in order among them, a note for every slot a daylight-saving change
// skips, moves or repeats, e.g. "02:30 does not exist on 2027-03-28 in
// Europe/Berlin: skipped".
func Preview(s *Schedule, offset time.Duration, from time.Time, n int) []Entry {
	var out []Entry
	t := from
	for i := 0; i < n; i++ {
		f := NextFire(s, offset, t)
		if f.IsZero() {
			break
		}
		out = append(out, Entry{At: f, Fire: true})
		t = f
	}
	if len(out) == 0 || s.wall == nil {
		return out
	}
	last := out[len(out)-1].At.Add(-offset)
	for _, e := range s.dstNotes(from.Add(-offset), last) {
		e.At = e.At.Add(offset)
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].At.Equal(out[j].At) {
			return !out[i].Fire && out[j].Fire // a note before the fire it explains
		}
		return out[i].At.Before(out[j].At)
	})
	return out
}

// dstNotes explains the slots of the changes of zone offset in (from, to].
func (s *Schedule) dstNotes(from, to time.Time) []Entry {
	loc := s.loc
	name := loc.String()
	var out []Entry
	t := from.In(loc)
	for {
		_, end := t.ZoneBounds()
		if end.IsZero() || end.After(to) {
			return out
		}
		t = end
		_, before := end.Add(-time.Nanosecond).Zone()
		after, offAfter := end.Zone()
		delta := time.Duration(offAfter-before) * time.Second
		if delta == 0 {
			continue
		}
		// The wall-clock interval [lo, hi) that the change skips (delta > 0) or repeats.
		lo, hi := wallClock(end, loc).Add(-delta), wallClock(end, loc)
		if delta < 0 {
			lo, hi = wallClock(end, loc), wallClock(end, loc).Add(-delta)
		}
		for w := s.wall.Next(lo.Add(-time.Nanosecond)); !w.IsZero() && w.Before(hi); w = s.wall.Next(w) {
			what, day := w.Format("15:04"), w.Format("2006-01-02")
			once := s.dst == DSTOnce && s.Fixed()
			var text string
			switch {
			case delta > 0 && once:
				text = fmt.Sprintf("%s does not exist on %s in %s: runs at %s %s, right after the jump", what, day, name, end.In(loc).Format("15:04"), after)
			case delta > 0:
				text = fmt.Sprintf("%s does not exist on %s in %s: skipped", what, day, name)
			case once:
				first, _ := end.Add(-time.Nanosecond).Zone()
				text = fmt.Sprintf("%s occurs twice on %s in %s: runs once (%s)", what, day, name, first)
			default:
				first, _ := end.Add(-time.Nanosecond).Zone()
				text = fmt.Sprintf("%s occurs twice on %s in %s: runs twice (%s and %s)", what, day, name, first, after)
			}
			at := end // a skipped slot: where the jump is
			if delta < 0 {
				at = firstInstant(w, loc) // a repeated one: its first occurrence
			}
			out = append(out, Entry{At: at, Note: text})
		}
	}
}
