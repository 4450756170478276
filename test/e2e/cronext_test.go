package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/batchd/batchd/internal/controller/cronjob"
)

// stockKubectlPath is the system kubectl these tests drive besides the
// embedded one (the issue asks for both).
func stockKubectlPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/kubectl", "/usr/local/bin/kubectl"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal("a stock kubectl is needed on PATH (e.g. /usr/bin/kubectl)")
	}
	return p
}

// both runs a kubectl command with the stock kubectl and the embedded one.
func both(t *testing.T, args ...string) map[string]result {
	t.Helper()
	return map[string]result{
		"stock kubectl":  runKubectl(t, stockKubectlPath(t), args, ""),
		"batchd kubectl": kubectl(t, "", args...),
	}
}

func cron(t *testing.T, args ...string) result {
	t.Helper()
	return runKubectl(t, batchd, append([]string{"cron"}, args...), "")
}

func seedManifest(t *testing.T, file string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// nextSeoulMonday9 is the first Monday 09:00 in Asia/Seoul after now.
func nextSeoulMonday9(now time.Time) time.Time {
	seoul, _ := time.LoadLocation("Asia/Seoul")
	d := now.In(seoul)
	t := time.Date(d.Year(), d.Month(), d.Day(), 9, 0, 0, 0, seoul)
	for t.Weekday() != time.Monday || !t.After(now) {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// TestCronExtNextScheduleColumnForSeeds: `kubectl get cronjobs` (stock and
// embedded) shows NEXT SCHEDULE after LAST SCHEDULE for the seed CronJobs —
// hello-cron within the minute, weekly-report on Monday 09:00 in Asia/Seoul,
// sample-cron-job suspended: <none> — and -o wide the absolute time in the
// CronJob's zone, the same as `batchd cron next cronjob/...` and
// kube_cronjob_next_schedule_time at /metrics.
func TestCronExtNextScheduleColumnForSeeds(t *testing.T) {
	t.Parallel()
	n := ns(t)
	suspended := strings.Replace(seedManifest(t, "sample-cron-job.yaml"), "spec:\n  schedule:", "spec:\n  suspend: true\n  schedule:", 1)
	must(t, kubectl(t, seedManifest(t, "hello-cron.yaml")+"\n---\n"+seedManifest(t, "weekly-report.yaml")+"\n---\n"+suspended, "apply", "-n", n, "-f", "-"),
		"cronjob.batch/hello-cron created", "cronjob.batch/weekly-report created", "cronjob.batch/sample-cron-job created")
	monday := nextSeoulMonday9(time.Now())

	header := regexp.MustCompile(`(?m)^NAME\s{3,}SCHEDULE\s{3,}TIMEZONE\s{3,}SUSPEND\s{3,}ACTIVE\s{3,}LAST SCHEDULE\s{3,}NEXT SCHEDULE\s{3,}AGE$`)
	rows := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^hello-cron\s+\*/1 \* \* \* \*\s+<none>\s+False\s+[01]\s+(<none>|\d+s)\s+\d+s\s+\S+$`),
		regexp.MustCompile(`(?m)^weekly-report\s+0 9 \* \* 1\s+Asia/Seoul\s+False\s+0\s+<none>\s+(\d+d(\d+h)?|\d+h(\d+m)?|\d+m(\d+s)?|\d+s)\s+\S+$`),
		regexp.MustCompile(`(?m)^sample-cron-job\s+\* \* \* \* \*\s+<none>\s+True\s+0\s+<none>\s+<none>\s+\S+$`),
	}
	for who, r := range both(t, "get", "cronjobs", "-n", n) {
		must(t, r)
		if !header.MatchString(r.stdout) {
			t.Errorf("%s: header:\n%s", who, r.stdout)
		}
		for _, re := range rows {
			if !re.MatchString(r.stdout) {
				t.Errorf("%s: no row %s in:\n%s", who, re, r.stdout)
			}
		}
	}
	wideHeader := regexp.MustCompile(`(?m)^NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+NEXT SCHEDULE\s+NEXT SCHEDULE TIME\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR$`)
	weekly := regexp.MustCompile(`(?m)^weekly-report\s.*\s` + regexp.QuoteMeta(monday.Format(time.RFC3339)) + `\s+\S+\s+report-generator\s+busybox\s+<none>$`)
	for who, r := range both(t, "get", "cronjobs", "-n", n, "-o", "wide") {
		must(t, r, "sample-cron-job")
		if !wideHeader.MatchString(r.stdout) || !weekly.MatchString(r.stdout) {
			t.Errorf("%s: -o wide, want weekly-report next at %s:\n%s", who, monday.Format(time.RFC3339), r.stdout)
		}
		if !regexp.MustCompile(`(?m)^sample-cron-job\s.*\s<none>\s+<none>\s+\S+\s+hello\s+busybox\s+<none>$`).MatchString(r.stdout) {
			t.Errorf("%s: -o wide, suspended:\n%s", who, r.stdout)
		}
	}

	// The preview of the CronJob says the same.
	r := cron(t, "next", "cronjob/weekly-report", "--namespace", n, "-n", "2")
	must(t, r, "CronJob:    "+n+"/weekly-report", "Time zone:  Asia/Seoul")
	for i, at := range []time.Time{monday, monday.AddDate(0, 0, 7)} {
		line := fmt.Sprintf(`(?m)^\s+%d  %s\s+%s$`, i+1, at.Format("Mon 2006-01-02 15:04:05 MST"), at.UTC().Format("Mon 2006-01-02 15:04:05 MST"))
		if !regexp.MustCompile(line).MatchString(r.stdout) {
			t.Errorf("preview lacks %s:\n%s", line, r)
		}
	}
	must(t, cron(t, "next", "cronjob/sample-cron-job", "--namespace", n, "-n", "1"), "Suspended:  yes: the controller starts none of these until it is resumed")
	fails(t, cron(t, "next", "cronjob/nope", "--namespace", n), `cronjobs.batch "nope" not found`)

	// kube-state-metrics' series, from the controller.
	series := fmt.Sprintf(`kube_cronjob_next_schedule_time{cronjob="weekly-report",namespace="%s"} `, n)
	var value string
	eventually(t, "kube_cronjob_next_schedule_time of weekly-report", func() bool {
		for _, line := range strings.Split(kubectl(t, "", "get", "--raw", "/metrics").stdout, "\n") {
			if v, ok := strings.CutPrefix(line, series); ok {
				value = v
				return true
			}
		}
		return false
	})
	if f, err := strconv.ParseFloat(value, 64); err != nil || int64(f) != monday.Unix() {
		t.Errorf("%s%s, want %d", series, value, monday.Unix())
	}
	suspendedSeries := fmt.Sprintf(`kube_cronjob_next_schedule_time{cronjob="sample-cron-job",namespace="%s"}`, n)
	if strings.Contains(kubectl(t, "", "get", "--raw", "/metrics").stdout, suspendedSeries) {
		t.Errorf("a suspended CronJob has %s", suspendedSeries)
	}
}

func cronJobOf(t *testing.T, n, name string) *batchv1.CronJob {
	t.Helper()
	r := kubectl(t, "", "get", "cronjob", name, "-n", n, "-o", "jsonpath={.metadata.uid}")
	must(t, r)
	return &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: n, UID: types.UID(r.stdout)}}
}

// TestCronExtTriggerUnderForbid: `kubectl annotate cronjob X
// batchd.dev/trigger=<token>` starts one run now, stamped and counted like
// a scheduled one; a second token while it runs, under Forbid, is skipped
// with JobAlreadyActive and a MissedSchedule warning; a token fires once;
// `batchd cron trigger` does the same from the CLI.
func TestCronExtTriggerUnderForbid(t *testing.T) {
	t.Parallel()
	n := ns(t)
	stock := stockKubectlPath(t)
	k := func(args ...string) result { return runKubectl(t, stock, append(args, "-n", n), "") }
	must(t, kubectl(t, `apiVersion: batch/v1
kind: CronJob
metadata: {name: exclusive}
spec:
  schedule: "0 0 1 1 *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox, command: ["sh", "-c", "echo triggered; sleep 20"]}]
`, "apply", "-n", n, "-f", "-"), "cronjob.batch/exclusive created")
	cj := cronJobOf(t, n, "exclusive")
	first := cronjob.TriggerJobName(cj, "first")

	before := time.Now().Add(-time.Second)
	must(t, k("annotate", "cronjob", "exclusive", "batchd.dev/trigger=first"), "cronjob.batch/exclusive annotated")
	eventually(t, "the trigger's Job "+first, func() bool { return kubectl(t, "", "get", "job", first, "-n", n).code == 0 })
	stamp := kubectl(t, "", "get", "job", first, "-n", n, "-o", `jsonpath={.metadata.annotations.batch\.kubernetes\.io/cronjob-scheduled-timestamp}`).stdout
	if at, err := time.Parse(time.RFC3339, stamp); err != nil || at.Before(before.Truncate(time.Second)) || at.After(time.Now()) {
		t.Errorf("scheduled timestamp %q, want about now", stamp)
	}
	eventually(t, "status and recorded token", func() bool {
		r := kubectl(t, "", "get", "cronjob", "exclusive", "-n", n, "-o",
			`jsonpath={.status.active[*].name}|{.status.lastScheduleTime}|{.metadata.annotations.batchd\.dev/trigger-handled}`)
		return r.stdout == first+"|"+stamp+"|first"
	})
	must(t, kubectl(t, "", "wait", "--for=jsonpath={.status.active}=1", "job/"+first, "-n", n, "--timeout=60s"), "condition met")

	// While it runs, a second token is skipped: Forbid.
	must(t, k("annotate", "--overwrite", "cronjob", "exclusive", "batchd.dev/trigger=second"), "cronjob.batch/exclusive annotated")
	eventually(t, "the second token recorded", func() bool {
		return get(t, n, "cronjob/exclusive", `{.metadata.annotations.batchd\.dev/trigger-handled}`) == "second"
	})
	eventually(t, "JobAlreadyActive and MissedSchedule events", func() bool {
		r := k("get", "events", "--field-selector", "involvedObject.name=exclusive")
		return strings.Contains(r.stdout, "JobAlreadyActive") && strings.Contains(r.stdout, `Missed trigger "second": a previous run is still active and concurrencyPolicy is Forbid`)
	})
	must(t, kubectl(t, "", "describe", "cronjob", "exclusive", "-n", n), "Warning  MissedSchedule", "Normal   JobAlreadyActive")
	// Re-applying the same token does nothing.
	must(t, k("annotate", "--overwrite", "cronjob", "exclusive", "batchd.dev/trigger=second", "other=touch"), "cronjob.batch/exclusive annotated")
	must(t, kubectl(t, "", "wait", "--for=condition=complete", "job/"+first, "-n", n, "--timeout=90s"), "condition met")
	eventually(t, "the run seen complete", func() bool {
		return get(t, n, "cronjob/exclusive", "{.status.active}") == ""
	})
	if jobs := kubectl(t, "", "get", "jobs", "-n", n, "-o", "name").stdout; strings.TrimSpace(jobs) != "job.batch/"+first {
		t.Errorf("jobs %q, want only %s", jobs, first)
	}
	must(t, kubectl(t, "", "logs", "job/"+first, "-n", n), "triggered")
	missed := fmt.Sprintf(`cronjob_controller_missed_schedules_total{cronjob="exclusive",namespace="%s",reason="forbid"} 1`, n)
	must(t, kubectl(t, "", "get", "--raw", "/metrics"), missed)

	// From the CLI, now that nothing runs.
	r := cron(t, "trigger", "cronjob/exclusive", "-n", n)
	must(t, r, "cronjob.batch/exclusive triggered: token ")
	job := regexp.MustCompile(`job (exclusive-t[0-9a-f]{9})`).FindStringSubmatch(r.stdout)
	if job == nil {
		t.Fatalf("no job name in %q", r.stdout)
	}
	eventually(t, "the CLI trigger's Job", func() bool { return kubectl(t, "", "get", "job", job[1], "-n", n).code == 0 })
	must(t, kubectl(t, "", "logs", "-f", "job/"+job[1], "-n", n, "--pod-running-timeout=60s"), "triggered")
}

// TestCronExtNextOutput: the preview through the real binary, and an
// invalid schedule refused with the API's words.
func TestCronExtNextOutput(t *testing.T) {
	t.Parallel()
	r := cron(t, "next", "30 2 * * *", "--time-zone", "Europe/Berlin", "-n", "3", "--from", "2027-03-27")
	want := `Schedule:   30 2 * * *
Time zone:  Europe/Berlin
DST policy: kubernetes

   #  TIME (Europe/Berlin)          TIME (UTC)
   1  Sat 2027-03-27 02:30:00 CET   Sat 2027-03-27 01:30:00 UTC
      02:30 does not exist on 2027-03-28 in Europe/Berlin: skipped
   2  Mon 2027-03-29 02:30:00 CEST  Mon 2027-03-29 00:30:00 UTC
   3  Tue 2027-03-30 02:30:00 CEST  Tue 2027-03-30 00:30:00 UTC
`
	if r.code != 0 || r.stdout != want {
		t.Errorf("got:\n%s\nwant:\n%s", r, want)
	}
	must(t, cron(t, "next", "30 1 * * *", "--time-zone", "America/New_York", "--dst", "once", "-n", "2", "--from", "2027-11-06T12:00:00Z"),
		"      01:30 occurs twice on 2027-11-07 in America/New_York: runs once (EDT)\n   1  Sun 2027-11-07 01:30:00 EDT  Sun 2027-11-07 05:30:00 UTC\n   2  Mon 2027-11-08 01:30:00 EST  Mon 2027-11-08 06:30:00 UTC\n")

	n := ns(t)
	api := kubectl(t, "", "create", "cronjob", "bad", "-n", n, "--image=busybox", "--schedule=* * *")
	preview := cron(t, "next", "* * *")
	const msg = `spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]`
	fails(t, api, msg)
	fails(t, preview, msg)
}
