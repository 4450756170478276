package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batchd/batchd/internal/node/runtime"
	"github.com/batchd/batchd/internal/serverproc"
)

// stock runs /usr/bin/kubectl (the acceptance test), else fails.
func stock(t *testing.T, args ...string) result {
	t.Helper()
	r, ok := stockKubectl(t, args...)
	if !ok {
		t.Fatal("no kubectl on PATH (the Debian package kubernetes-client or /usr/bin/kubectl)")
	}
	return r
}

// TestRunHistoryKeepsAFailedJob: a failing OnFailure Job's run keeps its
// exit codes and log lines after the Job fails (its pod deleted) and after
// TTL deletes the Job; users read it with stock kubectl and batchd logs,
// and cannot delete it.
func TestRunHistoryKeepsAFailedJob(t *testing.T) {
	t.Parallel()
	n := ns(t)
	job := `apiVersion: batch/v1
kind: Job
metadata: {name: etl-process, labels: {team: data}}
spec:
  backoffLimit: 1
  ttlSecondsAfterFinished: 8
  template:
    spec:
      restartPolicy: OnFailure
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo starting etl; echo 'python: executable file not found' >&2; exit 3"]
`
	must(t, kubectl(t, job, "apply", "-n", n, "-f", "-"), "job.batch/etl-process created")
	eventually(t, "run Failed", func() bool {
		return stock(t, "get", "run", "etl-process", "-n", n, "-o", "jsonpath={.status.outcome}").stdout == "Failed"
	})
	must(t, stock(t, "get", "jobrun", "etl-process", "-n", n, "-o", "jsonpath={.status.reason} {.status.attempts[0].exitCode} {.status.attempts[0].container} {.metadata.labels.team}"),
		"BackoffLimitExceeded 3 main data")
	attempts := stock(t, "get", "runs", "etl-process", "-n", n, "-o", "jsonpath={range .status.attempts[*]}{.attempt}:{.exitCode} {end}")
	if !strings.Contains(attempts.stdout, "0:3 1:3") {
		t.Errorf("attempts: %s", attempts)
	}
	raw := "/apis/batchd.dev/v1alpha1/namespaces/" + n + "/jobruns/etl-process/log"
	// The pod goes when the Job fails; its logs are kept when the node removes it.
	eventually(t, "log kept", func() bool {
		r := stock(t, "get", "--raw", raw+"?container=main&attempt=0")
		return r.code == 0 && strings.Contains(r.stdout, "python: executable file not found") && strings.Contains(r.stdout, "starting etl")
	})
	eventually(t, "job deleted by TTL", func() bool {
		r := kubectl(t, "", "get", "job", "etl-process", "-n", n)
		return r.code != 0 && strings.Contains(r.stderr, "NotFound")
	})
	eventually(t, "pods gone", func() bool {
		return kubectl(t, "", "get", "pods", "-n", n, "-o", "name").stdout == ""
	})
	must(t, stock(t, "get", "--raw", raw), "python: executable file not found")
	must(t, stock(t, "get", "--raw", raw+"?attempt=1&container=main"), "starting etl")
	logs := runKubectl(t, batchd, []string{"logs", "run/etl-process", "-n", n, "--attempt", "0", "-c", "main", "--kubeconfig", kubeconfig}, "")
	must(t, logs, "starting etl", "python: executable file not found")
	fails(t, stock(t, "get", "--raw", raw+"?attempt=7"), "no attempt 7")

	table := stock(t, "get", "runs", "-n", n)
	must(t, table, "NAME", "CRONJOB", "OUTCOME", "COMPLETIONS", "SCHEDULED", "DURATION", "AGE", "Failed (BackoffLimitExceeded)", "0/1")
	must(t, stock(t, "describe", "run", "etl-process", "-n", n), "Exit Code:      3", "BackoffLimitExceeded")
	must(t, stock(t, "get", "run", "etl-process", "-n", n, "-o", "yaml"), "kind: JobRun", "apiVersion: batchd.dev/v1alpha1")
	must(t, stock(t, "explain", "jobrun.status.attempts"), "exitCode")
	fails(t, stock(t, "delete", "run", "etl-process", "-n", n), "Forbidden", "cannot delete resource \"jobruns\"")
}

// TestRunHistoryForbidSkip: a Forbid CronJob's slot that comes while its
// run is active has a Skipped run with reason JobAlreadyActive (the
// batchd.dev/trigger annotation makes a slot happen now).
func TestRunHistoryForbidSkip(t *testing.T) {
	t.Parallel()
	n := ns(t)
	cron := `apiVersion: batch/v1
kind: CronJob
metadata: {name: exclusive}
spec:
  schedule: "0 0 31 2 *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox, command: ["sleep", "60"]}]
`
	must(t, kubectl(t, cron, "apply", "-n", n, "-f", "-"), "cronjob.batch/exclusive created")
	must(t, kubectl(t, "", "annotate", "-n", n, "cronjob", "exclusive", "batchd.dev/trigger=first"), "annotated")
	eventually(t, "first run active", func() bool {
		return stock(t, "get", "runs", "-n", n, "-l", "batch.kubernetes.io/cronjob-name=exclusive", "-o", `jsonpath={.items[*].status.outcome}`).stdout == "Running"
	})
	must(t, kubectl(t, "", "annotate", "--overwrite", "-n", n, "cronjob", "exclusive", "batchd.dev/trigger=second"), "annotated")
	eventually(t, "skipped run", func() bool {
		r := stock(t, "get", "runs", "-n", n, "-l", "batch.kubernetes.io/cronjob-name=exclusive", "-o", `jsonpath={.items[?(@.status.outcome=="Skipped")].status.reason}`)
		return r.stdout == "JobAlreadyActive"
	})
	must(t, stock(t, "get", "runs", "-n", n), "exclusive", "Skipped (JobAlreadyActive)", "Running")
	kubectl(t, "", "delete", "cronjob", "exclusive", "-n", n)
}

// TestRunHistorySurvivesKill9AndExpires: a run's record and kept log
// survive a SIGKILL of the server, without a duplicate; a restart with a
// short --run-history-retention removes both.
func TestRunHistorySurvivesKill9AndExpires(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("server log:\n%s", b)
		}
	})
	data := filepath.Join(dir, "data")
	start := func(args ...string) *serverproc.Process {
		srv, err := serverproc.Start(batchd, data, logf, time.Minute, append([]string{"--node-name", "history"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	defer runtime.KillAll(filepath.Join(data, "pods"))
	k := func(args ...string) result {
		return runKubectl(t, "/usr/bin/kubectl", append([]string{"--kubeconfig", srv.Kubeconfig}, args...), "")
	}
	job := `apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  ttlSecondsAfterFinished: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["echo", "kept across kill -9"]}]
`
	must(t, runKubectl(t, batchd, []string{"kubectl", "--kubeconfig", srv.Kubeconfig, "apply", "-f", "-"}, job), "job.batch/once created")
	eventually(t, "run Succeeded", func() bool {
		return k("get", "run", "once", "-o", "jsonpath={.status.outcome}").stdout == "Succeeded"
	})
	eventually(t, "log kept", func() bool {
		return strings.Contains(k("get", "--raw", "/apis/batchd.dev/v1alpha1/namespaces/default/jobruns/once/log").stdout, "kept across kill -9")
	})
	uid := k("get", "run", "once", "-o", "jsonpath={.metadata.uid}").stdout
	srv.Kill()
	srv = start()
	defer func() { srv.Stop(30 * time.Second) }()
	must(t, k("get", "run", "once", "-o", "jsonpath={.metadata.uid} {.status.outcome}"), uid+" Succeeded")
	must(t, k("get", "--raw", "/apis/batchd.dev/v1alpha1/namespaces/default/jobruns/once/log"), "kept across kill -9")
	if names := k("get", "runs", "-o", "name").stdout; strings.Count(names, "jobrun") != 1 {
		t.Errorf("runs after restart: %q", names)
	}
	kept, _ := os.ReadDir(filepath.Join(data, "runs"))
	if len(kept) != 1 {
		t.Fatalf("kept log dirs %v", kept)
	}

	// Retention: a restart with a short period removes the record and its log.
	if err := srv.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	srv = start("--run-history-retention", "5s")
	eventually(t, "run expired", func() bool {
		r := k("get", "run", "once")
		return r.code != 0 && strings.Contains(r.stderr, "NotFound")
	})
	eventually(t, "kept log removed", func() bool {
		kept, _ := os.ReadDir(filepath.Join(data, "runs"))
		return len(kept) == 0
	})
}

// TestRunHistoryWaitingRecordSurvivesKill9: a suspended Job's record waits
// for a quiet Job path; a kill -9 before it is written loses nothing (the
// restarted server writes it from the Job).
func TestRunHistoryWaitingRecordSurvivesKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("server log:\n%s", b)
		}
	})
	data := filepath.Join(dir, "data")
	start := func() *serverproc.Process {
		srv, err := serverproc.Start(batchd, data, logf, time.Minute, "--node-name", "waiting", "--disable-node-agent")
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	k := func(args ...string) result {
		return runKubectl(t, "/usr/bin/kubectl", append([]string{"--kubeconfig", srv.Kubeconfig}, args...), "")
	}
	var jobs strings.Builder
	for _, name := range []string{"held-1", "held-2", "held-3"} {
		jobs.WriteString(`---
apiVersion: batch/v1
kind: Job
metadata: {name: ` + name + `}
spec:
  suspend: true
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["true"]}]
`)
	}
	must(t, runKubectl(t, batchd, []string{"kubectl", "--kubeconfig", srv.Kubeconfig, "apply", "-f", "-"}, jobs.String()), "job.batch/held-3 created")
	srv.Kill() // within the quiet second: the records are not written yet
	srv = start()
	defer func() { srv.Stop(30 * time.Second) }()
	eventually(t, "three records", func() bool {
		return strings.Count(k("get", "runs", "-o", "name").stdout, "jobrun") == 3
	})
	must(t, k("get", "run", "held-2", "-o", "jsonpath={.status.outcome}"), "Running")
}
