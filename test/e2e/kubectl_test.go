package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Every manifest in examples/ (the seeds' own) is accepted as written.
func TestApplySeedManifests(t *testing.T) {
	t.Parallel()
	n := ns(t)
	dir, _ := filepath.Abs("../../examples")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := kubectl(t, "", "apply", "-n", n, "-f", dir)
	if r.code != 0 {
		t.Fatalf("apply examples/:\n%s", r)
	}
	yamls := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			yamls++
		}
	}
	if got := strings.Count(r.stdout, " created"); got != yamls {
		t.Errorf("created %d objects from %d manifests:\n%s", got, yamls, r)
	}
	// Applying again changes nothing.
	r = kubectl(t, "", "apply", "-n", n, "-f", dir)
	if r.code != 0 || strings.Count(r.stdout, " unchanged") != yamls {
		t.Errorf("second apply not unchanged:\n%s", r)
	}
	must(t, kubectl(t, "", "get", "cronjobs", "-n", n), "weekly-report", "Asia/Seoul", "0 9 * * 1")
}

var (
	jobHeader  = regexp.MustCompile(`(?m)^NAME\s{3,}STATUS\s{3,}COMPLETIONS\s{3,}DURATION\s{3,}AGE$`)
	wideHeader = regexp.MustCompile(`(?m)^NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR$`)
	cjHeader   = regexp.MustCompile(`(?m)^NAME\s{3,}SCHEDULE\s{3,}TIMEZONE\s{3,}SUSPEND\s{3,}ACTIVE\s{3,}LAST SCHEDULE\s{3,}NEXT SCHEDULE\s{3,}AGE$`)
)

func TestJobLifecycleWithKubectl(t *testing.T) {
	t.Parallel()
	n := ns(t)
	pi := filepath.Join("..", "..", "examples", "pi.yaml")
	must(t, kubectl(t, "", "apply", "-n", n, "-f", pi), "job.batch/pi created")
	must(t, kubectl(t, "", "apply", "-n", n, "-f", pi), "job.batch/pi unchanged")
	must(t, kubectl(t, "", "apply", "-n", n, "--server-side", "-f", pi), "job.batch/pi serverside-applied")

	r := kubectl(t, "", "get", "jobs", "-n", n)
	must(t, r)
	// pi may have finished already (it takes a few seconds): either row is upstream's.
	if !jobHeader.MatchString(r.stdout) || !regexp.MustCompile(`(?m)^pi\s+(Running\s+0/1|Complete\s+1/1)\s+\d+s\s+\S+$`).MatchString(r.stdout) {
		t.Errorf("get jobs table:\n%s", r.stdout)
	}
	r = kubectl(t, "", "get", "jobs", "-n", n, "-o", "wide")
	must(t, r, "perl:5.34.0", "batch.kubernetes.io/controller-uid=")
	if !wideHeader.MatchString(r.stdout) {
		t.Errorf("wide header:\n%s", r.stdout)
	}
	must(t, kubectl(t, "", "get", "job", "pi", "-n", n, "-o", "yaml"),
		"backoffLimit: 4", "completionMode: NonIndexed", "manualSelector: false", "podReplacementPolicy: TerminatingOrFailed",
		"batch.kubernetes.io/job-name: pi", "terminationGracePeriodSeconds: 30")
	must(t, kubectl(t, "", "get", "job", "pi", "-n", n, "-o", "json"), `"kind": "Job"`, `"parallelism": 1`)
	r = kubectl(t, "", "get", "job", "pi", "-n", n, "-o", "jsonpath={.spec.completions}/{.spec.template.spec.restartPolicy}")
	if must(t, r); r.stdout != "1/Never" {
		t.Errorf("jsonpath = %q", r.stdout)
	}
	must(t, kubectl(t, "", "get", "jobs", "-n", n, "-l", "job-name=pi", "-o", "name"), "job.batch/pi")
	r = kubectl(t, "", "get", "jobs", "-n", n, "-l", "job-name=nope")
	if r.code != 0 || !strings.Contains(r.stderr, "No resources found in "+n+" namespace.") {
		t.Errorf("empty selector result:\n%s", r)
	}
	// status.successful is a Job field label; pi may have succeeded already.
	eventually(t, "the Job found by status.successful", func() bool {
		done := get(t, n, "job/pi", "{.status.succeeded}")
		if done == "" {
			done = "0"
		}
		return kubectl(t, "", "get", "jobs", "-n", n, "--field-selector", "status.successful="+done, "-o", "name").stdout == "job.batch/pi\n"
	})
	fails(t, kubectl(t, "", "get", "jobs", "-n", n, "--field-selector", "status.failed=1"), "field label not supported: status.failed")

	must(t, kubectl(t, "", "describe", "job", "pi", "-n", n),
		"Name:             pi", "Selector:         batch.kubernetes.io/controller-uid=", "Parallelism:      1",
		"Completions:      1", "Backoff Limit:    4", "Pods Statuses:    ",
		"SuccessfulCreate", "job-controller", "Created pod: pi-",
		"      perl\n      -Mbignum=bpi\n")

	must(t, kubectl(t, "", "label", "job", "pi", "-n", n, "tier=batch"), "job.batch/pi labeled")
	must(t, kubectl(t, "", "annotate", "job", "pi", "-n", n, "owner=me"), "job.batch/pi annotated")
	must(t, kubectl(t, "", "patch", "job", "pi", "-n", n, "-p", `{"spec":{"parallelism":2}}`), "job.batch/pi patched")
	fails(t, kubectl(t, "", "patch", "job", "pi", "-n", n, "-p", `{"spec":{"completions":3}}`),
		`The Job "pi" is invalid: spec.completions: Invalid value: 3: field is immutable`)

	must(t, kubectl(t, "", "delete", "job", "pi", "-n", n), `job.batch "pi" deleted`)
	fails(t, kubectl(t, "", "get", "job", "pi", "-n", n), `jobs.batch "pi" not found`)
}

func TestWatchAndWaitSeeStatusChanges(t *testing.T) {
	n := ns(t)
	// Managed elsewhere (spec.managedBy), so this test writes the status itself.
	must(t, kubectl(t, `
apiVersion: batch/v1
kind: Job
metadata: {name: w}
spec:
  managedBy: example.com/test-controller
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["true"]}]`, "apply", "-n", n, "-f", "-"), "job.batch/w created")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	watch := exec.CommandContext(ctx, batchd, "kubectl", "get", "jobs", "-n", n, "-w", "--output-watch-events")
	watch.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	out, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = watch.Wait() }()
	lines := bufio.NewScanner(out)
	expect := func(re *regexp.Regexp) {
		t.Helper()
		for lines.Scan() {
			if re.MatchString(lines.Text()) {
				return
			}
		}
		t.Fatalf("watch ended before a line matching %s", re)
	}
	expect(regexp.MustCompile(`^ADDED\s+w\s+Running\s+0/1`))

	fails(t, kubectl(t, "", "wait", "-n", n, "--for=condition=complete", "job/w", "--timeout=1s"),
		"timed out waiting for the condition on jobs/w")

	now := time.Now().UTC().Format(time.RFC3339)
	status := `{"status":{"startTime":"` + now + `","completionTime":"` + now + `","succeeded":1,"conditions":[` +
		`{"type":"SuccessCriteriaMet","status":"True","reason":"CompletionsReached","message":"Reached expected number of succeeded pods","lastTransitionTime":"` + now + `"},` +
		`{"type":"Complete","status":"True","reason":"CompletionsReached","message":"Reached expected number of succeeded pods","lastTransitionTime":"` + now + `"}]}}`
	must(t, kubectl(t, "", "patch", "job", "w", "-n", n, "--subresource=status", "--type=merge", "-p", status), "job.batch/w patched")
	expect(regexp.MustCompile(`^MODIFIED\s+w\s+Complete\s+1/1\s+0s`))
	must(t, kubectl(t, "", "wait", "-n", n, "--for=condition=complete", "job/w", "--timeout=10s"), "job.batch/w condition met")
}

func TestCronJobsWithKubectl(t *testing.T) {
	t.Parallel()
	n := ns(t)
	cj := filepath.Join("..", "..", "examples", "db-backup-cronjob.yaml")
	must(t, kubectl(t, "", "apply", "-n", n, "-f", cj), "cronjob.batch/db-backup created")
	r := kubectl(t, "", "get", "cronjob", "-n", n)
	must(t, r)
	if !cjHeader.MatchString(r.stdout) || !regexp.MustCompile(`(?m)^db-backup\s+0 2 \* \* \*\s+<none>\s+False\s+0\s+<none>\s+\d+[hms]\S*\s+\S+$`).MatchString(r.stdout) {
		t.Errorf("get cronjob table:\n%s", r.stdout)
	}
	must(t, kubectl(t, "", "get", "cj", "db-backup", "-n", n, "-o", "jsonpath={.spec.concurrencyPolicy},{.spec.successfulJobsHistoryLimit},{.spec.failedJobsHistoryLimit}"), "Allow,3,1")

	must(t, kubectl(t, "", "patch", "cronjob", "db-backup", "-n", n, "-p", `{"spec":{"suspend":true}}`), "cronjob.batch/db-backup patched")
	must(t, kubectl(t, "", "get", "cronjob", "db-backup", "-n", n), "True")
	must(t, kubectl(t, "", "patch", "cronjob", "db-backup", "-n", n, "-p", `{"spec":{"suspend":false}}`), "cronjob.batch/db-backup patched")

	must(t, kubectl(t, "", "create", "job", "--from=cronjob/db-backup", "manual-backup-1", "-n", n), "job.batch/manual-backup-1 created")
	must(t, kubectl(t, "", "get", "job", "manual-backup-1", "-n", n, "-o", "yaml"),
		"cronjob.kubernetes.io/instantiate: manual", "kind: CronJob", "name: db-backup", "image: mysql:5.7")
	must(t, kubectl(t, "", "get", "jobs", "-n", n, "--selector=job-name=manual-backup-1", "-o", "name"), "job.batch/manual-backup-1")
	must(t, kubectl(t, "", "describe", "cronjob", "db-backup", "-n", n), "Schedule:", "0 2 * * *", "Concurrency Policy:", "Allow")

	// The seed's `--cascade=orphan` keeps the CronJob's Jobs, no longer owned.
	must(t, kubectl(t, "", "delete", "cronjob", "db-backup", "-n", n, "--cascade=orphan"), `cronjob.batch "db-backup" deleted`)
	eventually(t, "the orphaned Job loses its owner reference", func() bool {
		return get(t, n, "job/manual-backup-1", "{.metadata.name} {.metadata.ownerReferences}") == "manual-backup-1 "
	})

	// A plain delete cascades to the CronJob's Jobs.
	must(t, kubectl(t, "", "apply", "-n", n, "-f", cj), "cronjob.batch/db-backup created")
	must(t, kubectl(t, "", "create", "job", "--from=cronjob/db-backup", "manual-backup-2", "-n", n), "job.batch/manual-backup-2 created")
	must(t, kubectl(t, "", "delete", "cronjob", "db-backup", "-n", n), `cronjob.batch "db-backup" deleted`)
	must(t, kubectl(t, "", "wait", "-n", n, "--for=delete", "job/manual-backup-2", "--timeout=30s"))
	must(t, kubectl(t, "", "get", "job", "manual-backup-1", "-n", n, "-o", "name"), "job.batch/manual-backup-1")
}

func TestExplainAndDiscovery(t *testing.T) {
	must(t, kubectl(t, "", "explain", "cronjob.spec.schedule"), "KIND:       CronJob", "FIELD: schedule <string>")
	must(t, kubectl(t, "", "explain", "job.spec.template.spec.containers.env.valueFrom.fieldRef"), "fieldPath")
	must(t, kubectl(t, "", "api-resources"), "cronjobs", "cj", "batch/v1", "jobs", "pods", "po", "leases", "coordination.k8s.io/v1")
	must(t, kubectl(t, "", "get", "namespaces"), "default", "kube-system", "kube-public", "kube-node-lease")
	must(t, kubectl(t, "", "version"), "Client Version: v1.37.2", "Server Version: v1.37.2+batchd")
}

func TestValidationErrorsAsKubectlPrintsThem(t *testing.T) {
	n := ns(t)
	cases := []struct {
		name, manifest string
		want           []string
	}{
		{"missing restartPolicy", `
apiVersion: batch/v1
kind: Job
metadata: {name: x}
spec:
  template:
    spec:
      containers: [{name: c, image: busybox}]`,
			[]string{`The Job "x" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"several causes", `
apiVersion: batch/v1
kind: Job
metadata: {name: My_Job}
spec:
  parallelism: -1
  completionMode: Foo
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]`,
			[]string{
				`The Job "My_Job" is invalid: ` + "\n",
				`* metadata.name: Invalid value: "My_Job": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
				`* spec.parallelism: Invalid value: -1: must be greater than or equal to 0`,
				`* spec.completionMode: Unsupported value: "Foo": supported values: "NonIndexed", "Indexed"`,
			}},
		{"indexed without completions", `
apiVersion: batch/v1
kind: Job
metadata: {name: idx}
spec:
  completionMode: Indexed
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]`,
			[]string{`spec.completions: Required value: when completion mode is Indexed`}},
		{"cron schedule and timezone", `
apiVersion: batch/v1
kind: CronJob
metadata: {name: cj}
spec:
  schedule: "* * *"
  timeZone: bad-time-zone
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: c, image: busybox}]`,
			[]string{
				`* spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]`,
				`* spec.timeZone: Invalid value: "bad-time-zone": unknown time zone bad-time-zone`,
			}},
		{"pod failure policy needs Never", `
apiVersion: batch/v1
kind: Job
metadata: {name: pfp}
spec:
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {operator: In, values: [1]}
  template:
    spec:
      restartPolicy: OnFailure
      containers: [{name: c, image: busybox}]`,
			[]string{`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`}},
		{"unknown field with strict validation", `
apiVersion: batch/v1
kind: Job
metadata: {name: strict}
spec:
  bogus: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]`,
			[]string{`strict decoding error: unknown field "spec.bogus"`}},
		{"malformed yaml", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: [x\n",
			[]string{`error converting YAML to JSON`}},
		{"unknown kind", "apiVersion: batch/v1\nkind: Jobx\nmetadata:\n  name: yy\n",
			[]string{`no matches for kind "Jobx" in version "batch/v1"`, "ensure CRDs are installed first"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fails(t, kubectl(t, c.manifest, "apply", "-n", n, "--validate=strict", "-f", "-"), c.want...)
		})
	}
	// Nothing partial was stored and the server still serves.
	r := kubectl(t, "", "get", "jobs,cronjobs", "-n", n, "-o", "name")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "" {
		t.Errorf("after invalid applies:\n%s", r)
	}
}

// The same session works with a stock kubectl, when the machine has one.
func TestStockKubectl(t *testing.T) {
	r, ok := stockKubectl(t, "get", "namespaces")
	if !ok {
		t.Log("no kubectl on PATH: covered by the embedded kubectl only")
		return
	}
	must(t, r, "kube-system")
	n := ns(t)
	r, _ = stockKubectl(t, "apply", "-n", n, "-f", filepath.Join("..", "..", "examples", "countdown-job.yaml"))
	must(t, r, "job.batch/countdown-job created")
	r, _ = stockKubectl(t, "get", "jobs", "-n", n)
	must(t, r, "countdown-job", "0/10")
	r, _ = stockKubectl(t, "describe", "job", "countdown-job", "-n", n)
	must(t, r, "app=countdown-job", "TTL Seconds After Finished:  240", "Node-Selectors:  kubernetes.io/os=linux")
	if !regexp.MustCompile(`(?m)^Active Deadline Seconds:\s+100s$`).MatchString(r.stdout) {
		t.Errorf("describe lacks the active deadline:\n%s", r.stdout)
	}
}

// The embedded kubectl speaks the user's language as kubectl does: English
// without a catalogue loaded (internal/cli/kubectllang), any other language
// from kubectl's own.
func TestKubectlSpeaksTheUsersLanguage(t *testing.T) {
	for _, c := range []struct{ env, want string }{
		{"LANG=C.UTF-8", "Run a particular image on the cluster"},
		{"LANG=en_US.UTF-8", "Run a particular image on the cluster"},
		{"LANG=de_DE.UTF-8", "Starte ein bestimmtes Image auf dem Cluster"},
		{"LC_MESSAGES=ja_JP.UTF-8", "クラスタ上で特定のイメージを起動する"},
	} {
		cmd := exec.Command(batchd, "kubectl", "--help")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), c.env}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%s batchd kubectl --help: %v, lacks %q:\n%s", c.env, err, c.want, out)
		}
	}
}

// The embedded kubectl takes kubectl's logging flags, as kubectl's own main
// adds them: -v=6 logs each request on stderr, the output is unchanged.
func TestKubectlVerbosityFlags(t *testing.T) {
	for _, args := range [][]string{{"-v=6", "get", "namespaces"}, {"get", "namespaces", "--v=6"}} {
		r := kubectl(t, "", args...)
		must(t, r, "kube-system")
		if !strings.Contains(r.stderr, `verb="GET"`) || !strings.Contains(r.stderr, "/api/v1/namespaces?limit=500") {
			t.Errorf("kubectl %s logged no request:\n%s", strings.Join(args, " "), r)
		}
	}
	if r := kubectl(t, "", "get", "namespaces"); strings.Contains(r.stderr, "/api/v1/namespaces") {
		t.Errorf("kubectl get logged its requests without -v:\n%s", r)
	}
}
