package ui

import (
	"strings"
	"testing"
	"time"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"* * * * *", "every minute"},
		{"*/5 * * * *", "every 5 minutes"},
		{"30 2 * * *", "at 02:30"},
		{"0 9 * * 1", "at 09:00, on Monday"},
		{"0 9 * * 1-5", "at 09:00, on Monday to Friday"},
		{"0 9 * * MON,THU", "at 09:00, on Monday and Thursday"},
		{"30 2 * 3,10 0", "at 02:30, on Sunday, in March and October"},
		{"0 0 1 * *", "at 00:00, on day 1 of the month"},
		{"0 0 1,15 * *", "at 00:00, on days 1 and 15 of the month"},
		{"0 0 13 * 5", "at 00:00, on day 13 of the month or on Friday"},
		{"15 * * * *", "every hour, at minute 15"},
		{"0 9,17 * * *", "at 09:00 and 17:00"},
		{"0 */6 * * *", "at minute 0 past every 6 hours"},
		{"0 9-17 * * *", "every hour from 09:00 to 17:00"},
		{"*/15 9-17 * * 1-5", "every 15 minutes from 09:00 to 17:59, on Monday to Friday"},
		{"* 3 * * *", "every minute from 03:00 to 03:59"},
		{"0 0 * JAN *", "at 00:00, in January"},
		{"0 0 * * 7", "at 00:00, on Sunday"},
		{"0-5/2 * * * *", "at minute 0-5/2 past every hour"},
		{"@hourly", "every hour, at minute 0"},
		{"@daily", "every day at 00:00"},
		{"@every 90m", "every 90m"},
		{"not a schedule", "not a schedule"},
	} {
		if got := Describe(tc.in); got != tc.want {
			t.Errorf("Describe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPreviewSchedule(t *testing.T) {
	berlin := "Europe/Berlin"
	now := time.Date(2027, 3, 20, 12, 0, 0, 0, time.UTC)
	a := previewSchedule(scheduleQuery{Schedule: "30 2 * * *", TimeZone: &berlin, Count: 10}, now, time.UTC)
	if a.Error != "" || a.Zone != berlin || a.DST != "kubernetes" || a.Words != "at 02:30" {
		t.Fatalf("answer %+v", a)
	}
	var fires, notes int
	for _, e := range a.Next {
		if e.Fire {
			fires++
		} else {
			notes++
			if !strings.Contains(e.Note, "02:30 does not exist on 2027-03-28 in Europe/Berlin: skipped") {
				t.Errorf("note %q", e.Note)
			}
		}
	}
	if fires != 10 || notes != 1 {
		t.Errorf("%d fire times and %d notes, want 10 and 1: %+v", fires, notes, a.Next)
	}
	if a.Next[0].Local != "Sun 2027-03-21 02:30 CET" || !a.Next[0].At.Equal(time.Date(2027, 3, 21, 1, 30, 0, 0, time.UTC)) {
		t.Errorf("first = %+v", a.Next[0])
	}

	// The once policy and a jitter come from the annotations, as in the controller.
	a = previewSchedule(scheduleQuery{Schedule: "30 2 * * *", TimeZone: &berlin, Count: 3, UID: "u-1",
		Annotations: map[string]string{"batchd.dev/dst": "once", "batchd.dev/jitter": "10m"}}, now, time.UTC)
	if a.DST != "once" || a.Jitter != "10m0s" || a.Offset == "" {
		t.Errorf("options %+v", a)
	}

	// A schedule the API would refuse is refused in its words; a CronJob
	// without timeZone is read in the controller's zone.
	if a := previewSchedule(scheduleQuery{Schedule: "61 * * * *"}, now, time.UTC); !strings.Contains(a.Error, "spec.schedule") {
		t.Errorf("invalid schedule: %+v", a)
	}
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	if a := previewSchedule(scheduleQuery{Schedule: "0 9 * * *", Count: 1}, now, tokyo); a.Zone != "Asia/Tokyo" || a.Next[0].Local != "Sun 2027-03-21 09:00 JST" {
		t.Errorf("local zone: %+v", a)
	}
	if a := previewSchedule(scheduleQuery{Schedule: "0 9 * * *", Count: 5000}, now, time.UTC); len(a.Next) != maxFireTimes {
		t.Errorf("count is bounded: %d", len(a.Next))
	}
}
