package ui

import (
	"time"

	cronjobregistry "github.com/batchd/batchd/internal/apiserver/registry/cronjob"
	"github.com/batchd/batchd/internal/cronspec"
)

// Limits of one schedules request.
const (
	maxScheduleItems = 1000
	maxFireTimes     = 50
)

// scheduleQuery is what the page sends of one CronJob: the fields the
// controller's schedule arithmetic reads. The page read the CronJob itself,
// as the signed-in user, so this endpoint reads nothing.
type scheduleQuery struct {
	Schedule    string            `json:"schedule"`
	TimeZone    *string           `json:"timeZone,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	UID         string            `json:"uid,omitempty"`
	Count       int               `json:"count"`
}

// scheduleAnswer is its preview: the schedule in words, the zone it is read
// in and the next fire times with DST notes among them.
type scheduleAnswer struct {
	Words  string     `json:"words"`
	Zone   string     `json:"zone"`
	DST    string     `json:"dst"`
	Jitter string     `json:"jitter,omitempty"`
	Offset string     `json:"offset,omitempty"`
	Next   []fireTime `json:"next"`
	Error  string     `json:"error,omitempty"`
}

// fireTime is a fire time (Fire) or a DST note at At.
type fireTime struct {
	At    time.Time `json:"at"`
	Local string    `json:"local"`
	Fire  bool      `json:"fire"`
	Note  string    `json:"note,omitempty"`
}

// previewSchedule computes what `batchd cron next cronjob/NAME` prints, with
// the same code: cronspec's schedule, DST policy and jitter offset. local is
// the zone of a CronJob without timeZone (the controller's).
func previewSchedule(q scheduleQuery, now time.Time, local *time.Location) scheduleAnswer {
	a := scheduleAnswer{Words: Describe(q.Schedule), Next: []fireTime{}}
	if errs := cronjobregistry.ValidateSchedule(q.Schedule, q.TimeZone); len(errs) > 0 {
		a.Error = errs.ToAggregate().Error()
		return a
	}
	opts, _ := cronspec.ParseOptions(q.Annotations) // an invalid value reads as its default, as in the controller
	s, err := cronspec.New(q.Schedule, q.TimeZone, local, opts.DST)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	loc := s.Location()
	if loc == nil {
		loc = local
	}
	a.Zone, a.DST = loc.String(), string(opts.DST)
	offset := cronspec.Offset(q.UID, opts.Jitter)
	if opts.Jitter > 0 {
		a.Jitter, a.Offset = opts.Jitter.String(), offset.String()
	}
	n := min(max(q.Count, 1), maxFireTimes)
	for _, e := range cronspec.Preview(s, offset, now, n) {
		a.Next = append(a.Next, fireTime{At: e.At.UTC(), Local: e.At.In(loc).Format("Mon 2006-01-02 15:04 MST"), Fire: e.Fire, Note: e.Note})
	}
	return a
}
