package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/serverproc"
)

// TestSeedHelloCronRunsEveryMinute waits for the seed's every-minute CronJob
// to fire for real (up to a minute), run its Job to completion, and report it.
func TestSeedHelloCronRunsEveryMinute(t *testing.T) {
	t.Parallel()
	n := ns(t)
	must(t, kubectl(t, "", "apply", "-n", n, "-f", filepath.Join("..", "..", "examples", "hello-cron.yaml")), "cronjob.batch/hello-cron created")
	var job string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 100*time.Second, true, func(context.Context) (bool, error) {
		r := get(t, n, "jobs", `{range .items[?(@.status.succeeded==1)]}{.metadata.name}{"\n"}{end}`)
		job = strings.TrimSpace(strings.Split(r, "\n")[0])
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
	if !regexp.MustCompile(`(?m)^hello-cron\s+\*/1 \* \* \* \*\s+<none>\s+False\s+[01]\s+\d+s\s+\d+s\s+\S+$`).MatchString(r.stdout) {
		t.Errorf("get cronjob:\n%s", r)
	}
	must(t, kubectl(t, "", "describe", "cronjob", "hello-cron", "-n", n), "SuccessfulCreate", "Created job "+job, "cronjob-controller")
	// The controller records SawCompletedJob before it writes the status.
	eventually(t, "lastSuccessfulTime", func() bool {
		return get(t, n, "cronjob/hello-cron", "{.status.lastSuccessfulTime}") != ""
	})

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

// TestCronJobAfterServerDowntimeAcrossASlot kills a server (SIGKILL) before
// a CronJob slot and starts it again after: the CronJob whose
// startingDeadlineSeconds still covers the slot gets exactly one catch-up Job
// for it, named and annotated for that slot, also across a second crash; the
// one whose deadline has passed gets none (upstream's mostRecentScheduleTime
// starts the window at now - startingDeadlineSeconds).
func TestCronJobAfterServerDowntimeAcrossASlot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	data := filepath.Join(dir, "data")
	start := func() *serverproc.Process {
		srv, err := serverproc.Start(batchd, data, logf, time.Minute, "--node-name", "downtime")
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	defer runtime.KillAll(filepath.Join(data, "pods"))
	k := func(stdin string, args ...string) result {
		return runKubectl(t, batchd, append([]string{"kubectl", "--kubeconfig", srv.Kubeconfig}, args...), stdin)
	}
	// The CronJobs must not fire before the crash: keep 15 s from the slot.
	if now := time.Now(); now.Second() >= 45 {
		time.Sleep(time.Until(now.Truncate(time.Minute).Add(time.Minute + time.Second)))
	}
	cronJobs := `apiVersion: batch/v1
kind: CronJob
metadata: {name: catch-up}
spec:
  schedule: "* * * * *"
  startingDeadlineSeconds: 3600
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox, command: ["echo", "caught up"]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: too-late}
spec:
  schedule: "* * * * *"
  startingDeadlineSeconds: 5
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox, command: ["echo", "late"]}]
`
	must(t, k(cronJobs, "apply", "-f", "-"), "cronjob.batch/catch-up created", "cronjob.batch/too-late created")
	slot := time.Now().Truncate(time.Minute).Add(time.Minute)
	srv.Kill()
	time.Sleep(time.Until(slot.Add(10 * time.Second))) // down across the slot, past too-late's deadline
	srv = start()
	defer func() { srv.Stop(30 * time.Second) }()

	want := fmt.Sprintf("catch-up-%d", slot.Unix()/60)
	eventually(t, "catch-up Job "+want, func() bool { return k("", "get", "job", want).code == 0 })
	must(t, k("", "get", "job", want, "-o", `jsonpath={.metadata.annotations.batch\.kubernetes\.io/cronjob-scheduled-timestamp}`), slot.UTC().Format(time.RFC3339))
	must(t, k("", "wait", "--for=condition=complete", "job/"+want, "--timeout=60s"), "condition met")
	must(t, k("", "logs", "job/"+want), "caught up")

	// A second crash before the next slot creates nothing twice.
	if time.Until(slot.Add(time.Minute)) > 20*time.Second {
		srv.Kill()
		srv = start()
		eventually(t, "catch-up's lastScheduleTime read back", func() bool {
			return k("", "get", "cronjob", "catch-up", "-o", "jsonpath={.status.lastScheduleTime}").stdout == slot.UTC().Format(time.RFC3339)
		})
	}
	jobs := k("", "get", "jobs", "-o", `jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}`).stdout
	for _, name := range strings.Fields(jobs) {
		if name != want && !strings.HasPrefix(name, "catch-up-") && !strings.HasPrefix(name, "too-late-") {
			t.Errorf("unexpected Job %s", name)
		}
	}
	if strings.Count(jobs, want) != 1 {
		t.Errorf("Jobs for the slot: %q", jobs)
	}
	if late := fmt.Sprintf("too-late-%d", slot.Unix()/60); strings.Contains(jobs, late) {
		t.Errorf("%s created %s after its deadline", late, time.Since(slot))
	}
}
