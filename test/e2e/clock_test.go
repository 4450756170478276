package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The seed's exclusive-job (Forbid, every 2 minutes, a 3-minute task) over
// a virtual hour at 60× real time, its sleep 180 scaled to sleep 3: every
// slot has a record, a run or a JobAlreadyActive skip, in about a minute of
// real time. As upstream's controller, a slot that came while a run was
// active is started late when that run ends, unless a newer slot has come
// by then (the tutorial's "run at 0, skip at 2, run at 4" holds only for a
// run longer than 4 minutes): with runs of 3m10s–3m30s, about every other
// run starts right as the previous one ends. Runs never overlap, so a run
// that started late ends past the next two slots: never three runs in a row.
func TestVirtualHourOfAForbidCronJob(t *testing.T) {
	t.Parallel()
	manifest := `apiVersion: batch/v1
kind: CronJob
metadata:
  name: exclusive-job
spec:
  schedule: "*/2 * * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: long-task
            image: busybox
            command: ["sh", "-c", "echo Starting long task; sleep 3; echo Task completed"]
          restartPolicy: OnFailure
`
	began := time.Now()
	r := batchdRun(t, manifest, "-f", "-", "--clock", "virtual", "--clock-start", "2027-01-04T00:00:30Z", "--clock-rate", "60", "--for", "1h", "--logs", "none")
	took := time.Since(began)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	_, table, ok := strings.Cut(r.stdout, "run history (")
	if !ok {
		t.Fatalf("no run history printed:\n%s", r.stdout)
	}
	type row struct{ name, outcome, scheduled string }
	var rows []row
	for _, line := range strings.Split(table, "\n")[2:] {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		// NAMESPACE NAME CRONJOB OUTCOME [(REASON)] COMPLETIONS SCHEDULED DURATION
		outcome := f[3]
		if strings.HasPrefix(f[4], "(") {
			outcome += " " + f[4]
			f = append(f[:4], f[5:]...)
		}
		rows = append(rows, row{name: f[1], outcome: outcome, scheduled: f[5]})
	}
	allSkips := func(rest []row) bool {
		for _, r := range rest {
			if r.outcome != "Skipped (JobAlreadyActive)" {
				return false
			}
		}
		return true
	}
	runs, skips, back2back := 0, 0, 0
	last, beforeLast := "", ""
	var first time.Time
	for i, rw := range rows {
		switch rw.outcome {
		case "Succeeded":
			runs++
			if last == "Succeeded" {
				// Started late, as the run before it ended.
				back2back++
				if beforeLast == "Succeeded" {
					t.Errorf("row %d: a third run in a row, so runs overlapped (Forbid)\n%s", i, table)
				}
			}
		case "Skipped (JobAlreadyActive)":
			skips++
		default:
			// The run going at the end of the hour, and only the slots it
			// made skips after it.
			if rw.outcome != "Running" || !allSkips(rows[i+1:]) {
				t.Errorf("row %d: outcome %q\n%s", i, rw.outcome, table)
			}
		}
		beforeLast, last = last, rw.outcome
		// The ephemeral server's start takes a few virtual minutes (real
		// seconds): the first slot is the first after the CronJob came.
		at, err := time.Parse(time.RFC3339, rw.scheduled)
		switch {
		case err != nil:
			t.Errorf("row %d scheduled %q", i, rw.scheduled)
		case i == 0 && at.After(time.Date(2027, 1, 4, 0, 12, 0, 0, time.UTC)):
			t.Errorf("first slot %s: the server took over 10 virtual minutes to start", rw.scheduled)
		case i > 0 && rw.scheduled != first.Add(time.Duration(2*i)*time.Minute).Format(time.RFC3339):
			t.Errorf("row %d scheduled %s, want %s (every slot recorded once, in order)", i, rw.scheduled, first.Add(time.Duration(2*i)*time.Minute).Format(time.RFC3339))
		}
		if i == 0 {
			first = at
		}
	}
	// A run takes at least 3 virtual minutes, so at most two in every
	// three slots run: at least a third are skips (less one for the ends
	// of the hour). Without Forbid every slot would run.
	if len(rows) < 25 || len(rows) > 31 || runs < 10 || skips < len(rows)/3-1 {
		t.Errorf("%d slots recorded (%d runs, %d skips, %d runs right after a run) over a virtual hour, want 25-31, at least 10 runs and a third skips\n%s", len(rows), runs, skips, back2back, table)
	}
	t.Logf("a virtual hour took %v of real time: %d runs, %d skips, %d runs right after a run", took, runs, skips, back2back)
}

// A frozen virtual clock moved by batchd clock advance: a "0 9 * * 1"
// Asia/Seoul CronJob fires exactly 3 times over 3 virtual weeks, at 09:00
// Seoul time on the clock; the Node says its clock is virtual; viewers read
// the clock, only the admin moves it.
func TestFrozenVirtualClockMovedByHand(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	srv, client, logPath := ownServer(t, data, "--node-name", "vclock", "--clock", "virtual", "--clock-start", "2027-03-01T00:00:00+09:00")
	k := func(stdin string, args ...string) result {
		t.Helper()
		return runKubectl(t, batchd, append([]string{"kubectl", "--kubeconfig", srv.Kubeconfig}, args...), stdin)
	}
	clockCmd := func(args ...string) result {
		t.Helper()
		return runKubectl(t, batchd, append([]string{"clock", "--kubeconfig", srv.Kubeconfig}, args...), "")
	}
	must(t, clockCmd(), "virtual clock (frozen): 2027-02-28T15:00:00Z")
	if log, _ := os.ReadFile(logPath); !strings.Contains(string(log), "clock: virtual clock, frozen until moved") {
		t.Errorf("no startup line says the clock is virtual:\n%s", log)
	}
	eventually(t, "VirtualClock condition", func() bool {
		r := k("", "get", "node", "vclock", "-o", `jsonpath={.status.conditions[?(@.type=="VirtualClock")].status}`)
		return r.stdout == "True"
	})
	must(t, k(`apiVersion: batch/v1
kind: CronJob
metadata: {name: weekly}
spec:
  schedule: "0 9 * * 1"
  timeZone: Asia/Seoul
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox, command: ["echo", "monday"]}]
`, "apply", "-f", "-"), "cronjob.batch/weekly created")
	jobs := func() int {
		l, err := client.BatchV1().Jobs("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return -1
		}
		return len(l.Items)
	}
	start := time.Date(2027, 3, 1, 0, 0, 0, 0, time.FixedZone("KST", 9*3600))
	now, fired := start, 0
	// A day at a time: no step passes more than one Monday 09:00 slot (a
	// CronJob that missed several would start only the last, as upstream's).
	for now.Before(start.Add(21 * 24 * time.Hour)) {
		must(t, clockCmd("advance", "24h"))
		next := now.Add(24 * time.Hour)
		// A Monday 09:00 slot passed: its Job appears before the clock moves on.
		for d := now.Add(time.Hour); !d.After(next); d = d.Add(time.Hour) {
			if d.Weekday() == time.Monday && d.Hour() == 9 {
				fired++
			}
		}
		want := fired
		eventually(t, fmt.Sprintf("%d jobs at %s", want, next), func() bool { return jobs() == want })
		now = next
	}
	if fired != 3 || jobs() != 3 {
		t.Fatalf("fired %d, %d jobs, want 3", fired, jobs())
	}
	cj, err := client.BatchV1().CronJobs("default").Get(context.Background(), "weekly", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cj.Status.LastScheduleTime; got == nil || !got.Time.Equal(time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("lastScheduleTime %v, want the third Monday 09:00 KST (00:00 UTC)", got)
	}
	must(t, clockCmd(), "virtual clock (frozen): 2027-03-21T15:00:00Z")
	// Events carry virtual time too, as the status they explain does: the
	// CronJob's, the Jobs', the scheduler's (events.k8s.io) and the node's.
	var reasons []string
	eventually(t, "the pods' events", func() bool {
		r := k("", "get", "events", "-o", `jsonpath={range .items[*]}{.reason}={.lastTimestamp}{.eventTime}{"\n"}{end}`)
		reasons = strings.Fields(r.stdout)
		return strings.Contains(r.stdout, "Scheduled=") && strings.Contains(r.stdout, "SuccessfulCreate=")
	})
	for _, e := range reasons {
		reason, at, _ := strings.Cut(e, "=")
		at = strings.ReplaceAll(at, "null", "") // jsonpath prints an unset time so
		if ts, err := time.Parse(time.RFC3339Nano, at); err != nil || ts.Before(start) || ts.After(start.Add(21*24*time.Hour)) {
			t.Errorf("event %s at %q, not within the virtual three weeks", reason, at)
		}
	}
	// Backwards is refused, and the clock stays.
	if r := clockCmd("set", "2027-03-01T00:00:00Z"); r.code == 0 || !strings.Contains(r.stderr, "only moves forward") {
		t.Errorf("clock set backwards: %s", r)
	}
}
