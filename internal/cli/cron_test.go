package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func runCron(args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	code := New(strings.NewReader(""), &out, &errOut).Run(context.Background(), append([]string{"batchd", "cron"}, args...))
	return out.String(), errOut.String(), code
}

// `batchd cron next SCHEDULE` needs no server.
func TestCronNextSchedule(t *testing.T) {
	out, errOut, code := runCron("next", "30 2 * * *", "--time-zone", "Europe/Berlin", "-n", "3", "--from", "2027-03-27")
	want := `Schedule:   30 2 * * *
Time zone:  Europe/Berlin
DST policy: kubernetes

   #  TIME (Europe/Berlin)          TIME (UTC)
   1  Sat 2027-03-27 02:30:00 CET   Sat 2027-03-27 01:30:00 UTC
      02:30 does not exist on 2027-03-28 in Europe/Berlin: skipped
   2  Mon 2027-03-29 02:30:00 CEST  Mon 2027-03-29 00:30:00 UTC
   3  Tue 2027-03-30 02:30:00 CEST  Tue 2027-03-30 00:30:00 UTC
`
	if code != 0 || out != want {
		t.Errorf("exit %d, stderr %q, stdout:\n%s\nwant:\n%s", code, errOut, out, want)
	}
	out, _, _ = runCron("next", "0 * * * *", "--time-zone", "Europe/Berlin", "--dst", "once", "-n", "1", "--from", "2027-10-31T00:30:00Z")
	if !strings.Contains(out, "DST policy: once (no effect: the minute or hour field is a wildcard, which follows the clock)") {
		t.Errorf("wildcard under once:\n%s", out)
	}
	out, _, _ = runCron("next", "0 0 30 2 *")
	if !strings.Contains(out, "(never fires)") {
		t.Errorf("never:\n%s", out)
	}
}

// Invalid input gets the API's words (for a schedule) or a clear message.
func TestCronNextRefuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"next", "* * *"}, `Error: spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]`},
		{[]string{"next", "TZ=UTC 0 0 * * *"}, `Error: spec.schedule: Invalid value: "TZ=UTC 0 0 * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`},
		{[]string{"next", "0 0 * * *", "--time-zone", "Mars/Olympus"}, `Error: spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus`},
		{[]string{"next", "0 0 * * *", "--dst", "twice"}, `Error: --dst must be kubernetes or once, not "twice"`},
		{[]string{"next", "0 0 * * *", "-n", "0"}, `Error: -n must be from 1 to 1000, not 0`},
		{[]string{"next", "0 0 * * *", "--from", "tomorrow"}, `Error: --from "tomorrow": want RFC 3339`},
		{[]string{"next", "cronjob/x", "--time-zone", "UTC"}, `Error: --time-zone and --dst apply to a SCHEDULE`},
		{[]string{"trigger", "job/x"}, `Error: want cronjob/NAME, not "job/x"`},
	} {
		_, errOut, code := runCron(tc.args...)
		if code == 0 || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, errOut, tc.want)
		}
	}
}
