package cronjob

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/batchd/batchd/internal/cronspec"
)

// Why a slot missed its start: the reason label of
// cronjob_controller_missed_schedules_total, also named in the
// MissedSchedule event.
const (
	// MissedForbid: a run was active and concurrencyPolicy is Forbid.
	MissedForbid = "forbid"
	// MissedDeadline: startingDeadlineSeconds passed before it could start.
	MissedDeadline = "deadline"
	// MissedSuspended: the CronJob was suspended.
	MissedSuspended = "suspended"
	// MissedTooMany: more than 100 slots were missed at once.
	MissedTooMany = "too_many"
	// MissedCatchUp: it came while the controller was down or the machine
	// asleep, or a later slot came first, and the catch-up policy does not run it.
	MissedCatchUp = "catch_up"
)

// missedReasons is every reason, in the order Plan.Missed lists them.
var missedReasons = []string{MissedForbid, MissedDeadline, MissedSuspended, MissedTooMany, MissedCatchUp}

// maxEnumerated bounds the slots one sync walks to signal them; beyond it
// the count is estimated (e.g. a year of every-minute slots after a restore).
const maxEnumerated = 100000

// signal reports the slots in (from, to] for which why gives a reason
// ("" for a slot that runs or waits): a MissedSchedule event each, or one
// event for all of them when they are more than 100. Slots up to to are
// not reported again.
func (p *Plan) signal(cj *batchv1.CronJob, s interface{ Next(time.Time) time.Time }, from, to time.Time, why func(time.Time) string, policy cronspec.CatchUp) {
	if to.After(p.Reported) {
		p.Reported = to
	}
	if !to.After(from) {
		return
	}
	slots, more := slotsIn(s, from, to, maxEnumerated)
	type miss struct {
		at     time.Time
		reason string
	}
	var misses []miss
	for _, t := range slots {
		if r := why(t); r != "" {
			misses = append(misses, miss{t, r})
		}
	}
	if len(misses) == 0 {
		return
	}
	loc := slotZone(cj)
	name := func(t time.Time) string { return JobName(cj.Name, t) }
	if n := len(misses); n > cronspec.MaxCatchUp || more {
		if more {
			// Estimate the rest from the spacing of the slots walked.
			first, lastSeen := slots[0], slots[len(slots)-1]
			if gap := lastSeen.Sub(first) / time.Duration(len(slots)-1); gap > 0 {
				n += int(to.Sub(lastSeen) / gap)
			}
		}
		p.Missed = append(p.Missed, Missed{Reason: MissedTooMany, Count: n})
		p.warn(ReasonMissedSchedule, "Missed %d scheduled times from %s to %s: more than %d missed start times",
			n, misses[0].at.In(loc).Format(time.RFC3339), misses[len(misses)-1].at.In(loc).Format(time.RFC3339), cronspec.MaxCatchUp)
		last := misses[len(misses)-1].at
		p.Skips = append(p.Skips, Skip{Name: name(last), Slot: last, Reason: MissedTooMany, Count: n,
			Message: p.Events[len(p.Events)-1].Message})
		return
	}
	counts := map[string]int{}
	for _, m := range misses {
		counts[m.reason]++
		text := missedText(m.reason, cj, policy)
		p.warn(ReasonMissedSchedule, "Missed scheduled time %s: %s", m.at.In(loc).Format(time.RFC3339), text)
		p.Skips = append(p.Skips, Skip{Name: name(m.at), Slot: m.at, Reason: m.reason, Count: 1, Message: text, CatchUp: policy})
	}
	for _, r := range missedReasons {
		if counts[r] > 0 {
			p.Missed = append(p.Missed, Missed{Reason: r, Count: counts[r]})
		}
	}
}

// missTrigger reports a trigger that will not start.
func (p *Plan) missTrigger(o Observed, token, reason string) {
	p.Missed = append(p.Missed, Missed{Reason: reason, Count: 1})
	text := missedText(reason, nil, "")
	p.warn(ReasonMissedSchedule, "Missed trigger %q: %s", token, text)
	p.Skips = append(p.Skips, Skip{Name: TriggerJobName(o.CronJob, token), Slot: o.Now.Truncate(time.Second), Reason: reason,
		Count: 1, Message: fmt.Sprintf("trigger %q: %s", token, text), Trigger: token})
}

// Skip is one slot (or trigger) that started no Job, for the run history:
// Name is the name its Job would have had, so that recording it again after
// a retry or a restart finds the first record. Several slots missed at
// once beyond the catch-up limit are one Skip (Reason MissedTooMany, Slot
// the last of them, Count how many).
type Skip struct {
	Name    string
	Slot    time.Time
	Reason  string // one of the Missed* reasons
	Count   int
	Message string
	// CatchUp is the CronJob's catch-up policy (tells MissedCatchUp apart).
	CatchUp cronspec.CatchUp
	// Trigger is the batchd.dev/trigger token of a missed trigger.
	Trigger string
}

// SkipRecorder records skipped slots (the run history's JobRuns). It is
// called before anything else of a sync is applied; an error fails the
// sync, which then signals the same slots again.
type SkipRecorder interface {
	RecordSkips(ctx context.Context, cj *batchv1.CronJob, skips []Skip) error
}

func missedText(reason string, cj *batchv1.CronJob, policy cronspec.CatchUp) string {
	switch reason {
	case MissedForbid:
		return "a previous run is still active and concurrencyPolicy is Forbid"
	case MissedDeadline:
		return fmt.Sprintf("startingDeadlineSeconds (%d) passed before it could start", *cj.Spec.StartingDeadlineSeconds)
	case MissedSuspended:
		return "the CronJob is suspended"
	case MissedTooMany:
		return fmt.Sprintf("more than %d missed slots; catch-up policy all runs the most recent %d", cronspec.MaxCatchUp, cronspec.MaxCatchUp)
	}
	if policy == cronspec.CatchUpNone {
		return "it came while the controller was down or the machine asleep; catch-up policy none runs no missed slot"
	}
	return "a later slot came before it could start (the controller was down or the machine asleep); catch-up policy latest runs only the most recent"
}

// slotsIn lists the slots in (from, to], at most limit of them; more
// reports that there are further ones.
func slotsIn(s interface{ Next(time.Time) time.Time }, from, to time.Time, limit int) (slots []time.Time, more bool) {
	for t := s.Next(from); !t.IsZero() && !t.After(to); t = s.Next(t) {
		if len(slots) == limit {
			return slots, true
		}
		slots = append(slots, t)
	}
	return slots, false
}

// lastSlots lists the most recent slots in (from, to], at most limit of
// them, oldest first. It walks back from to in widening windows, so a long
// downtime costs about the slots it returns, not all it spans.
func lastSlots(s interface{ Next(time.Time) time.Time }, from, to time.Time, limit int) []time.Time {
	t1 := s.Next(from)
	if t1.IsZero() || t1.After(to) {
		return nil
	}
	step := time.Second
	if t2 := s.Next(t1); !t2.IsZero() && t2.Sub(t1) > step {
		step = t2.Sub(t1)
	}
	span := step * time.Duration(limit+1)
	for {
		lo := from
		if span > 0 && span < to.Sub(from) {
			lo = to.Add(-span)
		}
		var ring []time.Time
		for t := s.Next(lo); !t.IsZero() && !t.After(to); t = s.Next(t) {
			ring = append(ring, t)
			if len(ring) > 2*limit {
				ring = append(ring[:0], ring[len(ring)-limit:]...)
			}
		}
		if len(ring) > limit {
			ring = ring[len(ring)-limit:]
		}
		if len(ring) == limit || lo.Equal(from) {
			return ring
		}
		span *= 4
	}
}

// slotZone is the zone slots are written in (the Job's scheduled-timestamp
// annotation, events): the CronJob's timeZone, else UTC.
func slotZone(cj *batchv1.CronJob) *time.Location {
	if cj.Spec.TimeZone != nil {
		if l, err := time.LoadLocation(*cj.Spec.TimeZone); err == nil {
			return l
		}
	}
	return time.UTC
}
