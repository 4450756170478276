package cronjob

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	cronjobregistry "github.com/batchd/batchd/internal/apiserver/registry/cronjob"
)

// seed reads a CronJob manifest from examples/ with the API server's defaults,
// created at the given instant.
func seed(t *testing.T, file string, created time.Time) *batchv1.CronJob {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	cj := &batchv1.CronJob{}
	if err := yaml.UnmarshalStrict(data, cj); err != nil {
		t.Fatal(err)
	}
	cronjobregistry.SetDefaults(cj)
	cj.Namespace, cj.UID, cj.CreationTimestamp = "default", "cj-uid", metav1.NewTime(created)
	return cj
}

// The seed sample-cron-job runs every minute and keeps its 6 newest successful Jobs.
func TestSeedSampleCronJobKeepsSixSuccessfulJobs(t *testing.T) {
	e := newEnv(t, seed(t, "sample-cron-job.yaml", t0))
	for m := 1; m <= 9; m++ {
		e.sync(slot(m).Add(time.Second))
		e.finish(JobName("sample-cron-job", slot(m)), batchv1.JobComplete, slot(m).Add(4*time.Second))
	}
	e.sync(slot(9).Add(10 * time.Second))
	names := e.jobNames()
	if len(names) != 6 || names[0] != JobName("sample-cron-job", slot(4)) {
		t.Fatalf("jobs = %v, want the 6 newest (from slot 4)", names)
	}
}

// The seed exclusive-job (Forbid, every 2 minutes, 180 s of work) never runs two
// at once; the slot skipped while one ran starts when it finishes.
func TestSeedExclusiveJobForbid(t *testing.T) {
	e := newEnv(t, seed(t, "concurrency-policy.yaml", t0))
	e.sync(slot(2).Add(time.Second))
	e.sync(slot(4).Add(time.Second))
	if names := e.jobNames(); len(names) != 1 {
		t.Fatalf("jobs = %v, want one while it runs", names)
	}
	e.finish(JobName("exclusive-job", slot(2)), batchv1.JobComplete, slot(5).Add(time.Second))
	e.sync(slot(5).Add(2 * time.Second))
	e.sync(slot(5).Add(3 * time.Second))
	names := e.jobNames()
	if len(names) != 2 || names[1] != JobName("exclusive-job", slot(4)) {
		t.Fatalf("jobs = %v, want the skipped slot-4 run once the first ended", names)
	}
	if ev := e.drained(); !strings.Contains(ev, "JobAlreadyActive") {
		t.Fatalf("events:\n%s", ev)
	}
}

// The seed weekly-report runs Mondays at 09:00 in Asia/Seoul (00:00 UTC).
func TestSeedWeeklyReportInSeoul(t *testing.T) {
	created := time.Date(2026, 11, 19, 12, 0, 0, 0, time.UTC) // a Thursday
	e := newEnv(t, seed(t, "weekly-report.yaml", created))
	monday := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // Monday 09:00 KST
	if d := e.sync(monday.Add(-time.Minute)); d != time.Minute+nextDelta {
		t.Fatalf("requeue before the slot = %v", d)
	}
	if names := e.jobNames(); len(names) != 0 {
		t.Fatalf("jobs before Monday 09:00 KST: %v", names)
	}
	e.sync(monday.Add(time.Second))
	j, err := e.client.BatchV1().Jobs("default").Get(e.ctx, JobName("weekly-report", monday), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("%v (jobs %v)", err, e.jobNames())
	}
	if got := j.Annotations[ScheduledTimestampAnnotation]; got != "2026-11-23T09:00:00+09:00" {
		t.Fatalf("scheduled timestamp = %s", got)
	}
}

// The seed nightly-backup (02:00 Asia/Seoul, startingDeadlineSeconds 600)
// catches up after downtime only within its 10-minute deadline.
func TestSeedNightlyBackupStartingDeadline(t *testing.T) {
	seoul, _ := time.LoadLocation("Asia/Seoul")
	created := time.Date(2026, 11, 20, 12, 0, 0, 0, seoul)
	two := time.Date(2026, 11, 21, 2, 0, 0, 0, seoul)

	late := newEnv(t, seed(t, "nightly-backup.yaml", created))
	late.sync(two.Add(15 * time.Minute))
	if names := late.jobNames(); len(names) != 0 {
		t.Fatalf("ran 15 minutes late: %v", names)
	}
	inTime := newEnv(t, seed(t, "nightly-backup.yaml", created))
	inTime.sync(two.Add(5 * time.Minute))
	if names := inTime.jobNames(); len(names) != 1 || names[0] != JobName("nightly-backup", two) {
		t.Fatalf("jobs = %v, want the 02:00 run", names)
	}
}
