package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// runResult is one `batchd run` as a user starts it: no KUBECONFIG, no server
// running for its data dir, so it starts an ephemeral one (in TMPDIR).
type runResult struct {
	stdout, stderr string
	code           int
}

func runEnv(t *testing.T) (env []string, tmp string) {
	t.Helper()
	tmp = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") && !strings.HasPrefix(kv, "TMPDIR=") && !strings.HasPrefix(kv, "BATCHD_DATA_DIR=") {
			env = append(env, kv)
		}
	}
	return append(env, "TMPDIR="+tmp, "BATCHD_DATA_DIR="+filepath.Join(tmp, "no-server")), tmp
}

func batchdRun(t *testing.T, stdin string, args ...string) runResult {
	t.Helper()
	env, tmp := runEnv(t)
	r := batchdRunIn(t, env, stdin, args...)
	noTempLeft(t, tmp)
	return r
}

// batchdRunIn runs `batchd run args` in the environment env.
func batchdRunIn(t *testing.T, env []string, stdin string, args ...string) runResult {
	t.Helper()
	cmd := exec.Command(batchd, append([]string{"run"}, args...)...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := runResult{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// noTempLeft checks that the ephemeral server removed its data dir.
func noTempLeft(t *testing.T, tmp string) {
	t.Helper()
	if left, _ := filepath.Glob(filepath.Join(tmp, "batchd-run-*")); len(left) > 0 {
		t.Errorf("ephemeral data dirs left behind: %v", left)
	}
}

func example(name string) string { return filepath.Join("..", "..", "examples", name) }

func TestRunPiSucceeds(t *testing.T) {
	t.Parallel()
	r := batchdRun(t, "", "-f", example("pi.yaml"))
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"job.batch/pi created", "[pi-", "] 3.14159265358979", "job/pi: Complete, 1/1 completions, 0 active, 0 failed",
		"NAME     STATUS     COMPLETIONS   DURATION", "job/pi   Complete   1/1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("escape sequences on a non-terminal:\n%q", r.stdout)
	}
}

func TestRunFailedJobExitsOneWithItsReason(t *testing.T) {
	t.Parallel()
	r := batchdRun(t, job("doomed", "  backoffLimit: 0", "echo about to fail; exit 3"), "-f", "-", "--logs=failed")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"job/doomed failed: BackoffLimitExceeded: Job has reached the specified backoff limit", "--- last lines of pod/doomed-", "about to fail"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "[doomed-") {
		t.Errorf("--logs=failed streamed logs:\n%s", r.stdout)
	}
}

func TestRunBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	invalid := "apiVersion: batch/v1\nkind: Job\nmetadata: {name: bad}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: busybox}]\n"
	for _, c := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"invalid manifest", invalid, []string{"-f", "-"}, `The Job "bad" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`},
		{"missing file", "", []string{"-f", "nope.yaml"}, `the path "nope.yaml" does not exist`},
		{"broken yaml", "kind: Job\n  x: : y", []string{"-f", "-"}, "error parsing -"},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", []string{"-f", "-"}, "kind not set"},
		{"cronjob without --trigger or --for", "", []string{"-f", example("hello-cron.yaml")}, "--trigger"},
	} {
		r := batchdRun(t, c.stdin, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", c.name, r.code, r.stderr, c.want)
		}
	}
	// The dry run found the invalid Job before anything was created: the
	// valid Job next to it never ran.
	r := batchdRun(t, job("fine", "", "echo should not run")+"---\n"+invalid, "-f", "-")
	if r.code != 2 || strings.Contains(r.stdout, "created") {
		t.Errorf("a valid Job beside an invalid one was applied: exit %d\n%s", r.code, r.stdout)
	}
}

func TestRunTriggerCronJob(t *testing.T) {
	t.Parallel()
	// sample-cron-job's container has args and no command (busybox has no ENTRYPOINT).
	r := batchdRun(t, "", "-f", example("hello-cron.yaml"), "-f", example("sample-cron-job.yaml"), "--trigger")
	if r.code != 0 || !strings.Contains(r.stdout, "created (from cronjob/hello-cron)") || !strings.Contains(r.stdout, "Hello from CronJob") ||
		!strings.Contains(r.stdout, "Hello from the Kubernetes cluster") {
		t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestRunInterruptExits130AndLeavesNothing(t *testing.T) {
	t.Parallel()
	env, tmp := runEnv(t)
	marker := "sleep 3141"
	cmd := exec.Command(batchd, "run", "-f", "-")
	cmd.Env = env
	cmd.Stdin = strings.NewReader(job("sleeper", "  parallelism: 2\n  completions: 2", "echo sleeping; exec "+marker))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both pods running", func() bool { return len(processes(marker)) == 2 })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\n%s", err, out)
	}
	if left := processes(marker); len(left) > 0 {
		t.Errorf("processes left: %v", left)
	}
	noTempLeft(t, tmp)
}

func TestRunOnATerminalRedrawsProgressInPlace(t *testing.T) {
	t.Parallel()
	env, tmp := runEnv(t)
	// script(1) gives the run a pseudo-terminal and records what it drew.
	cmd := exec.Command("script", "-qec", batchd+" run -f "+example("hello-job.yaml"), "/dev/null")
	cmd.Env = env
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%q", err, raw)
	}
	s := string(raw)
	for _, want := range []string{"JOB             STATUS", "\x1b[2A\r\x1b[J", "job/hello-job   Complete   1/1", "[hello-job-"} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, s)
		}
	}
	if strings.Contains(s, "job/hello-job: Running") {
		t.Errorf("plain progress lines on a terminal:\n%q", s)
	}
	noTempLeft(t, tmp)
}

// lockedBuffer is a bytes.Buffer safe for the writer goroutines of exec.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// --for keeps the engine up so the every-minute schedule fires (within 60 s)
// and follows the Job the CronJob creates.
func TestRunForLetsCronJobSchedulesFire(t *testing.T) {
	t.Parallel()
	r := batchdRun(t, "", "-f", example("hello-cron.yaml"), "--for=75s")
	if r.code != 0 || !regexp.MustCompile(`job/hello-cron-\d+: Complete, 1/1 completions`).MatchString(r.stdout) || !strings.Contains(r.stdout, "Hello from CronJob") {
		t.Errorf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// The user is told why pods cannot start — in the kubelet's and the
// scheduler's words — while the run goes on and in its summary.
func TestRunSaysWhyPodsCannotStart(t *testing.T) {
	t.Parallel()
	noCommand := `apiVersion: batch/v1
kind: Job
metadata: {name: nocommand}
spec:
  activeDeadlineSeconds: 8
  template:
    spec:
      restartPolicy: Never
      runtimeClassName: host
      containers: [{name: c, image: busybox}]
`
	unschedulable := job("toobig", "  activeDeadlineSeconds: 8", "true") + "        resources: {requests: {cpu: \"1000\"}}\n"
	noExecutable := `apiVersion: batch/v1
kind: Job
metadata: {name: noexec}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: python, command: ["batchd-no-such-program", "x.py"]}]
`
	r := batchdRun(t, noCommand+"---\n"+unschedulable+"---\n"+noExecutable, "-f", "-", "--logs=failed")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		// progress lines, while the pods wait
		`job/nocommand: pod/nocommand-`, `: CreateContainerConfigError: container "c" has no command or args`,
		`job/toobig: pod/toobig-`, `: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.`,
		// the summary
		"job/nocommand failed: DeadlineExceeded", "job/toobig failed: DeadlineExceeded", "job/noexec failed: BackoffLimitExceeded",
		`(exit code 128, StartError: exec: "batchd-no-such-program": executable file not found in $PATH)`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, ": Unschedulable: "); n < 2 {
		t.Errorf("the unschedulable pod is said %d times, want in progress and summary:\n%s", n, r.stdout)
	}
	if strings.Contains(r.stderr, "Waited") || strings.Contains(r.stderr, "throttling") || strings.Contains(r.stdout, "throttling") {
		t.Errorf("client-side throttling messages leaked:\n%s\n%s", r.stdout, r.stderr)
	}
}

// An OnFailure Job's pod restarts in place and is deleted when the Job
// fails; its last lines are still printed.
func TestRunKeepsTheLastLinesOfDeletedOnFailurePods(t *testing.T) {
	t.Parallel()
	manifest := strings.Replace(job("flaky", "  backoffLimit: 1", "echo attempt failing with code 3; exit 3"),
		"restartPolicy: Never", "restartPolicy: OnFailure", 1)
	r := batchdRun(t, manifest, "-f", "-", "--logs=failed")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"job/flaky failed: BackoffLimitExceeded", "--- last lines of pod/flaky-", "container c (exit code 3, Error)",
		"attempt failing with code 3"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s\nstderr:\n%s", want, r.stdout, r.stderr)
		}
	}
}

func TestRunWithoutFilesExitsTwoWithUsage(t *testing.T) {
	t.Parallel()
	r := batchdRun(t, "")
	if r.code != 2 || !strings.Contains(r.stderr, "error: must specify -f FILE|DIR|-") || !strings.Contains(r.stderr, "Usage:") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// Ctrl-C on a server that outlives the run stops the pods but keeps the
// user's Job, suspended, and says how to resume or delete it.
func TestRunInterruptOnASharedServerSuspendsTheJob(t *testing.T) {
	t.Parallel()
	n := ns(t)
	marker := "sleep 2718"
	cmd := exec.Command(batchd, "run", "-n", n, "-f", "-")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdin = strings.NewReader(job("kept", "", "echo sleeping; exec "+marker))
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the pod running", func() bool { return len(processes(marker)) == 1 })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\n%s", err, out)
	}
	for _, want := range []string{"job.batch/kept suspended", `resume: kubectl patch job kept -n ` + n + ` -p '{"spec":{"suspend":false}}'`,
		"delete: kubectl delete job kept -n " + n} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	must(t, kubectl(t, "", "get", "job", "kept", "-n", n, "-o", "jsonpath={.spec.suspend}"), "true")
	eventually(t, "the pod stopped", func() bool { return len(processes(marker)) == 0 })
}

// TestRunKeepLeavesADataDirAServerStartsOn: the ephemeral server's etcd does
// not fsync (its data lives as long as the run), yet what --keep keeps is
// whole once the run has stopped: a server starts on it and serves the Job
// as the run left it.
func TestRunKeepLeavesADataDirAServerStartsOn(t *testing.T) {
	t.Parallel()
	env, _ := runEnv(t)
	r := batchdRunIn(t, env, "", "--keep", "--logs", "none", "-f", example("hello-job.yaml"))
	m := regexp.MustCompile(`kept the server's data in (\S+) \(its log: (\S+)\)`).FindStringSubmatch(r.stderr)
	if r.code != 0 || m == nil {
		t.Fatalf("exit %d, stderr does not say where the data was kept:\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	_, c, _ := storageServer(t, m[1])
	job, err := c.BatchV1().Jobs("default").Get(context.Background(), "hello-job", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if job.Status.Succeeded != 1 || len(job.Status.Conditions) == 0 || job.Status.Conditions[len(job.Status.Conditions)-1].Type != "Complete" {
		t.Errorf("hello-job on the kept data dir: %+v", job.Status)
	}
}
