package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// seedWithCommand reads a seed manifest from examples/ and swaps its command
// line (a script inside the seed's own image) for a stand-in.
func seedWithCommand(t *testing.T, file, command, standIn string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), command) {
		t.Fatalf("%s has no %s", file, command)
	}
	return strings.Replace(string(raw), command, standIn, 1)
}

// TestSeedETLShardsWithAStandInForItsScript runs the seed's 50-shard ETL Job
// as written (Indexed, parallelism 10, the index from the downward API into
// `$(JOB_COMPLETION_INDEX)` of args, OnFailure) with only its
// `python /app/process.py` replaced by a shell that prints its arguments.
func TestSeedETLShardsWithAStandInForItsScript(t *testing.T) {
	t.Parallel()
	n := ns(t)
	manifest := seedWithCommand(t, "etl-process.yaml", `command: ["python", "/app/process.py"]`,
		`command: ["sh", "-c", "echo \"processed shard $1 ($0)\""]`)
	must(t, kubectl(t, manifest, "apply", "-n", n, "-f", "-"), "job.batch/etl-process created")
	must(t, kubectl(t, "", "wait", "-n", n, "--for=condition=complete", "job/etl-process", "--timeout=120s"), "condition met")
	r := kubectl(t, "", "logs", "-n", n, "-l", "job-name=etl-process", "--tail=-1", "--max-log-requests=50")
	for i := 0; i < 50; i++ {
		if want := "processed shard " + strconv.Itoa(i) + " (--shard-index)\n"; strings.Count(r.stdout, want) != 1 {
			t.Errorf("shard %d ran %d times:\n%s", i, strings.Count(r.stdout, want), r)
		}
	}
	must(t, kubectl(t, "", "get", "job", "etl-process", "-n", n, "-o", "jsonpath={.status.completedIndexes}"), "0-49")
	if r := kubectl(t, "", "get", "job", "etl-process", "-n", n); !regexp.MustCompile(`(?m)^etl-process\s+Complete\s+50/50\s`).MatchString(r.stdout) {
		t.Errorf("get job:\n%s", r)
	}
}

// TestSeedWorkQueueConsumerDrainsAQueue runs the seed's work-queue Job as
// written (parallelism 5, completions unset, OnFailure) with its
// `python /app/worker.py` replaced by a shell worker taking items from a
// shared directory until it is empty: every item is taken exactly once, and
// the Job completes once its workers have succeeded and all have ended.
func TestSeedWorkQueueConsumerDrainsAQueue(t *testing.T) {
	t.Parallel()
	n := ns(t)
	dir, volume := hostDir(t)
	for _, d := range []string{"queue", "done"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		if err := os.WriteFile(filepath.Join(dir, "queue", "item-"+strconv.Itoa(i)), []byte("work"), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	worker := `while f=$(ls /data/queue | head -n 1); [ -n "$f" ]; do if mv /data/queue/$f /data/done/ 2>/dev/null; then echo took $f; sleep 0.1; fi; done; echo queue empty`
	manifest := seedWithCommand(t, "work-queue-consumer.yaml", `command: ["python", "/app/worker.py"]`,
		`command: ["sh", "-c", "`+strings.ReplaceAll(worker, `"`, `\"`)+`"]`+"\n"+mountData)
	manifest = strings.Replace(manifest, "      restartPolicy: OnFailure", "      restartPolicy: OnFailure\n"+volume, 1)
	must(t, kubectl(t, manifest, "apply", "-n", n, "-f", "-"), "job.batch/work-queue-consumer created")
	must(t, kubectl(t, "", "wait", "-n", n, "--for=condition=complete", "job/work-queue-consumer", "--timeout=90s"), "condition met")
	done, err := os.ReadDir(filepath.Join(dir, "done"))
	if err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(filepath.Join(dir, "queue"))
	if len(done) != 20 || len(left) != 0 {
		t.Errorf("%d items done, %d left", len(done), len(left))
	}
	r := kubectl(t, "", "logs", "-n", n, "-l", "job-name=work-queue-consumer", "--tail=-1")
	if strings.Count(r.stdout, "took item-") != 20 || strings.Count(r.stdout, "queue empty") != 5 {
		t.Errorf("workers' logs:\n%s", r)
	}
	// Completions unset: kubectl shows succeeded/1 of parallelism.
	if r := kubectl(t, "", "get", "job", "work-queue-consumer", "-n", n); !regexp.MustCompile(`(?m)^work-queue-consumer\s+Complete\s+5/1 of 5\s`).MatchString(r.stdout) {
		t.Errorf("get job:\n%s", r)
	}
}
