package e2e

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// TestSeedHelloCronRunsEveryMinute waits for the seed's every-minute CronJob
// to fire for real (up to a minute), run its Job to completion, and report it.
func TestSeedHelloCronRunsEveryMinute(t *testing.T) {
	n := ns(t)
	must(t, kubectl(t, "", "apply", "-n", n, "-f", filepath.Join("..", "..", "examples", "hello-cron.yaml")), "cronjob.batch/hello-cron created")
	var job string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 100*time.Second, true, func(context.Context) (bool, error) {
		r := kubectl(t, "", "get", "jobs", "-n", n, "-o", `jsonpath={range .items[?(@.status.succeeded==1)]}{.metadata.name}{"\n"}{end}`)
		job = strings.TrimSpace(strings.Split(r.stdout, "\n")[0])
		return job != "", nil
	})
	if err != nil {
		t.Fatalf("no completed Job from hello-cron: %v\n%s", err, kubectl(t, "", "get", "all,events", "-n", n))
	}
	if !regexp.MustCompile(`^hello-cron-\d{8}$`).MatchString(job) {
		t.Errorf("job name %q is not <cronjob>-<minutes>", job)
	}
	must(t, kubectl(t, "", "get", "job", job, "-n", n, "-o", "yaml"), "batch.kubernetes.io/cronjob-scheduled-timestamp:", "kind: CronJob", "name: hello-cron")
	must(t, kubectl(t, "", "logs", "job/"+job, "-n", n), "Hello from CronJob")
	eventually(t, "SawCompletedJob", func() bool {
		return strings.Contains(kubectl(t, "", "describe", "cronjob", "hello-cron", "-n", n).stdout, "Saw completed job: "+job+", status: Complete")
	})
	r := kubectl(t, "", "get", "cronjob", "hello-cron", "-n", n)
	if !regexp.MustCompile(`(?m)^hello-cron\s+\*/1 \* \* \* \*\s+<none>\s+False\s+[01]\s+\d+s\s+\S+$`).MatchString(r.stdout) {
		t.Errorf("get cronjob:\n%s", r)
	}
	must(t, kubectl(t, "", "describe", "cronjob", "hello-cron", "-n", n), "SuccessfulCreate", "Created job "+job, "cronjob-controller")
	if ts := kubectl(t, "", "get", "cronjob", "hello-cron", "-n", n, "-o", "jsonpath={.status.lastSuccessfulTime}").stdout; ts == "" {
		t.Errorf("lastSuccessfulTime not set")
	}

	// A manual run is owned by the CronJob, runs, and is not taken for a scheduled one.
	must(t, kubectl(t, "", "create", "job", "--from=cronjob/hello-cron", "manual-1", "-n", n), "job.batch/manual-1 created")
	must(t, kubectl(t, "", "wait", "-n", n, "--for=condition=complete", "job/manual-1", "--timeout=60s"), "condition met")
	must(t, kubectl(t, "", "logs", "job/manual-1", "-n", n), "Hello from CronJob")
	if active := kubectl(t, "", "get", "cronjob", "hello-cron", "-n", n, "-o", "jsonpath={.status.active[*].name}").stdout; strings.Contains(active, "manual-1") {
		t.Errorf("manual Job in status.active: %s", active)
	}

	// Suspended, it starts nothing new.
	must(t, kubectl(t, "", "patch", "cronjob", "hello-cron", "-n", n, "-p", `{"spec":{"suspend":true}}`), "cronjob.batch/hello-cron patched")
	must(t, kubectl(t, "", "get", "cronjob", "hello-cron", "-n", n), "True")
}
