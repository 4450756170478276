package browser

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/chromedp/chromedp"
)

// cronTemplate fails the runs whose Job name contains "-fail" (exit 7).
const cronTemplate = `
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: run
            image: busybox
            command: ["sh", "-c", 'echo "run $JOB"; case "$JOB" in *-fail*) echo "run $JOB failed" >&2; exit 7;; esac']
            env:
            - name: JOB
              valueFrom: {fieldRef: {fieldPath: "metadata.labels['batch.kubernetes.io/job-name']"}}
`

func TestOverview(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`
apiVersion: batch/v1
kind: Job
metadata: {name: done, namespace: %[1]s}
spec:
  completions: 3
  parallelism: 3
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["true"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: failing, namespace: %[1]s}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["sh", "-c", "echo no luck; exit 2"]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: running, namespace: %[1]s}
spec:
  completions: 2
  parallelism: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["sleep", "600"]}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: %[1]s}
spec:
  schedule: "30 2 * * *"
  timeZone: Europe/Berlin
%[2]s
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: weekly, namespace: %[1]s}
spec:
  schedule: "0 9 * * 1"
  timeZone: Asia/Seoul
  suspend: true
%[2]s
`, ns, cronTemplate), "apply", "-f", "-")
	for _, name := range []string{"nightly-ok-1", "nightly-fail-2", "nightly-ok-3"} {
		kubectl(t, "", "-n", ns, "create", "job", "--from=cronjob/nightly", name)
	}
	for _, w := range []struct{ job, cond string }{{"done", "complete"}, {"failing", "failed"}, {"nightly-ok-1", "complete"}, {"nightly-fail-2", "failed"}, {"nightly-ok-3", "complete"}} {
		kubectl(t, "", "-n", ns, "wait", "--for=condition="+w.cond, "job/"+w.job, "--timeout=90s")
	}

	p := newPage(t)
	p.login()
	p.waitJS("our Jobs listed", fmt.Sprintf(`!!document.querySelector('tr[data-job="%s/done"][data-status="Complete"]')`, ns))
	p.waitJS("the strip", fmt.Sprintf(`document.querySelectorAll('tr[data-cronjob="%s/nightly"] > td:last-child .mark').length === 3`, ns))
	p.screenshots("overview")

	p.do(chromedp.SendKeys(chromedp.CSS(`input[type=search]`), ns))
	p.waitJS("filtered", fmt.Sprintf(`[...document.querySelectorAll('table.jobs tbody tr')].every(r => r.dataset.job.startsWith('%s/'))`, ns))
	row := func(job string) string {
		t.Helper()
		return eval[string](p, fmt.Sprintf(`document.querySelector('tr[data-job="%s/%s"]')?.innerText ?? ''`, ns, job))
	}
	for job, wants := range map[string][]string{
		"done":           {"Complete", "3/3"},
		"failing":        {"Failed", "0/1"},
		"running":        {"Running", "0/2"},
		"nightly-fail-2": {"Failed"},
	} {
		got := row(job)
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("row of Job %s = %q, want %q in it", job, got, w)
			}
		}
	}
	// The progress bar says how far a Job is.
	if v := eval[string](p, fmt.Sprintf(`document.querySelector('tr[data-job="%s/done"] .progress').getAttribute('aria-valuenow') + '/' + document.querySelector('tr[data-job="%s/done"] .progress').getAttribute('aria-valuemax')`, ns, ns)); v != "3/3" {
		t.Errorf("progress of done = %s, want 3/3", v)
	}
	p.waitText(fmt.Sprintf(`tr[data-job="%s/running"]`, ns), "Running")
	if got := eval[string](p, fmt.Sprintf(`document.querySelector('tr[data-job="%s/running"] td:nth-child(5)').innerText`, ns)); got != "1" {
		t.Errorf("ACTIVE of running = %q, want 1", got)
	}
	if got := eval[string](p, fmt.Sprintf(`document.querySelector('tr[data-job="%s/failing"] td:nth-child(6)').innerText`, ns)); got != "1" {
		t.Errorf("FAILED of failing = %q, want 1", got)
	}

	nightly := fmt.Sprintf(`tr[data-cronjob="%s/nightly"]`, ns)
	p.waitText(nightly, "at 02:30")
	p.waitText(nightly, "Europe/Berlin")
	p.waitText(nightly, "30 2 * * *")
	p.waitJS("next run of nightly", fmt.Sprintf(`/^in \d/.test(document.querySelector('%s td:nth-child(6)').innerText)`, nightly))
	marks := eval[[]string](p, fmt.Sprintf(`[...document.querySelectorAll('%s > td:last-child .mark')].map(m => m.className)`, nightly))
	if strings.Join(marks, ",") == "" || count(marks, "m-succeeded") != 2 || count(marks, "m-failed") != 1 {
		t.Errorf("marks of nightly = %v, want 2 succeeded and 1 failed", marks)
	}
	p.waitText(fmt.Sprintf(`tr[data-cronjob="%s/weekly"]`, ns), "Suspended")
	p.waitText(fmt.Sprintf(`tr[data-cronjob="%s/weekly"]`, ns), "on Monday")
}

func count(list []string, sub string) int {
	n := 0
	for _, s := range list {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// A 5-pod Indexed Job whose index 2 fails once: five groups, six bars, the
// failed one red, and its log a click away.
func TestJobPageIndexedTimeline(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`
apiVersion: batch/v1
kind: Job
metadata: {name: shards, namespace: %s}
spec:
  completionMode: Indexed
  completions: 5
  parallelism: 5
  backoffLimitPerIndex: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox
        command: ["sh", "-c", 'echo "shard $JOB_COMPLETION_INDEX attempt ${FAILS:-0}"; sleep 1; if [ "$JOB_COMPLETION_INDEX" = 2 ] && [ "${FAILS:-0}" = 0 ]; then echo "boom from index 2" >&2; exit 3; fi; echo done']
        env:
        - name: FAILS
          valueFrom: {fieldRef: {fieldPath: "metadata.annotations['batch.kubernetes.io/job-index-failure-count']"}}
`, ns), "apply", "-f", "-")
	kubectl(t, "", "-n", ns, "wait", "--for=condition=complete", "job/shards", "--timeout=120s")

	p := newPage(t)
	p.login()
	p.open(fmt.Sprintf("/ui/jobs/%s/shards", ns))
	p.waitJS("five index groups", `document.querySelectorAll('.gantt-group').length === 5`)
	p.waitJS("six attempts", `document.querySelectorAll('.gantt-row').length === 6`)
	p.waitJS("one failed, five succeeded", `document.querySelectorAll('.gantt-row[data-outcome=failed]').length === 1 && document.querySelectorAll('.gantt-row[data-outcome=succeeded]').length === 5`)
	groups := eval[[]string](p, `[...document.querySelectorAll('.gantt-group .gantt-glabel')].map(e => e.innerText)`)
	if strings.Join(groups, ",") != "index 0,index 1,index 2,index 3,index 4" {
		t.Errorf("groups = %v", groups)
	}
	// Index 2: the failed attempt, then its retry after a back-off gap.
	p.waitJS("the retry's gap", `!!document.querySelector('.gantt-row[data-outcome=succeeded] .seg-gap')`)
	p.waitText("#job-summary", "5/5")
	p.waitText("table.conditions", "Complete")
	p.waitText("table.events", "SuccessfulCreate")

	p.click(`.gantt-row[data-outcome=failed] button.seg-failed`)
	p.waitText("pre.log", "boom from index 2")
	p.waitText(".log-title", "work")
	p.screenshots("job")
}

// Clicking a running attempt follows its log live.
func TestJobPageFollowsLog(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`
apiVersion: batch/v1
kind: Job
metadata: {name: ticker, namespace: %s}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["sh", "-c", "i=0; while [ $i -lt 120 ]; do i=$((i+1)); echo tick $i; sleep 0.5; done"]}]
`, ns), "apply", "-f", "-")
	p := newPage(t)
	p.login()
	p.open(fmt.Sprintf("/ui/jobs/%s/ticker", ns))
	p.waitJS("a running bar", `!!document.querySelector('.gantt-row[data-outcome=running] button.seg-running')`)
	p.click(`.gantt-row[data-outcome=running] button.seg-running`)
	p.waitText(".log-state", "following live")
	p.waitText("pre.log", "tick 2")
	first := eval[string](p, `document.querySelector('pre.log').innerText`)
	n := strings.Count(first, "tick")
	p.waitJS("more lines arrive", fmt.Sprintf(`(document.querySelector('pre.log').innerText.match(/tick/g) || []).length >= %d`, n+4))
}

// The overview follows a Job to its completion without a reload, within a
// second of the API server's watch event.
func TestOverviewUpdatesLive(t *testing.T) {
	// Not parallel: it times the page against a watch event, alone.
	ns := namespace(t)
	p := newPage(t)
	p.login()
	p.do(chromedp.SendKeys(chromedp.CSS(`input[type=search]`), ns))
	eval[bool](p, fmt.Sprintf(`(() => {
		window.__marker = 'no reload';
		window.__completeAt = 0;
		new MutationObserver(() => {
			const r = document.querySelector('tr[data-job="%s/live"]');
			if (r && r.dataset.status === 'Complete' && !window.__completeAt) window.__completeAt = Date.now();
		}).observe(document.querySelector('main'), {subtree: true, childList: true, attributes: true});
		return true;
	})()`, ns))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := client.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "live").String()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "live"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sleep", "3"}}},
		}}},
	}
	if _, err := client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p.waitJS("the new Job appears running", fmt.Sprintf(`document.querySelector('tr[data-job="%s/live"]')?.dataset.status === 'Running'`, ns))
	var complete time.Time
	for ev := range w.ResultChan() {
		j, ok := ev.Object.(*batchv1.Job)
		if !ok {
			continue
		}
		if isComplete(j) {
			complete = time.Now()
			break
		}
	}
	if complete.IsZero() {
		t.Fatal("the watch ended before the Job completed")
	}
	p.waitJS("the row turns Complete", `window.__completeAt > 0`)
	shown := time.UnixMilli(int64(eval[float64](p, `window.__completeAt`)))
	lag := shown.Sub(complete)
	t.Logf("the page showed Complete %v after the API server's watch event reached this test", lag)
	if lag > time.Second {
		t.Errorf("the page showed Complete %v after the watch event; want within a second", lag)
	}
	if m := eval[string](p, `window.__marker`); m != "no reload" {
		t.Errorf("the page reloaded (marker %q)", m)
	}
	if navs := eval[int](p, `performance.getEntriesByType('navigation').length`); navs != 1 {
		t.Errorf("navigations = %d, want 1", navs)
	}
	p.waitText(fmt.Sprintf(`tr[data-job="%s/live"]`, ns), "1/1")
}

func isComplete(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// The CronJob page: schedule in words, the next 10 fire times with DST
// notes (a schedule across both of Berlin's changes), the run history with
// outcomes and exit codes — read from the JobRuns, so a run whose Job and
// pods were deleted keeps its row, and its Job page its timeline and the
// log kept with the run.
func TestCronJobPage(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: %s}
spec:
  schedule: "30 2 * 3,10 0"
  timeZone: Europe/Berlin
%s
`, ns, cronTemplate), "apply", "-f", "-")
	kubectl(t, "", "-n", ns, "create", "job", "--from=cronjob/report", "report-ok-1")
	kubectl(t, "", "-n", ns, "create", "job", "--from=cronjob/report", "report-fail-2")
	kubectl(t, "", "-n", ns, "wait", "--for=condition=complete", "job/report-ok-1", "--timeout=90s")
	kubectl(t, "", "-n", ns, "wait", "--for=condition=failed", "job/report-fail-2", "--timeout=90s")

	p := newPage(t)
	p.login()
	p.open(fmt.Sprintf("/ui/cronjobs/%s/report", ns))
	p.waitText("#cron-summary", "at 02:30, on Sunday, in March and October")
	p.waitText("#cron-summary", "Europe/Berlin")
	p.waitJS("ten fire times", `document.querySelectorAll('table.next-runs tr.fire').length === 10`)
	p.waitJS("a DST note", `[...document.querySelectorAll('table.next-runs tr.dst-note')].some(r => /does not exist|occurs twice/.test(r.innerText))`)
	p.waitJS("both runs", `document.querySelectorAll('table.history tbody tr[data-run]').length === 2`)
	fail := eval[string](p, `(r => r.dataset.outcome + ' ' + r.querySelector('td.exits').innerText)(document.querySelector('tr[data-run="report-fail-2"]'))`)
	if fail != "failed 7" {
		t.Errorf("history row of report-fail-2: %q, want outcome failed and exit code 7", fail)
	}
	p.waitText(`tr[data-run="report-fail-2"]`, "BackoffLimitExceeded")
	p.waitJS("report-ok-1: succeeded, exit code 0", `(r => r.dataset.outcome === 'succeeded' && r.querySelector('td.exits').innerText === '0')(document.querySelector('tr[data-run="report-ok-1"]'))`)
	p.waitJS("both rows from the JobRuns", `[...document.querySelectorAll('table.history tbody tr[data-run]')].every(r => r.dataset.source === 'jobrun')`)
	p.screenshots("cronjob")

	// The failed run's Job and pods go; its JobRun stays, and with it the
	// row, the exit code and the log.
	kubectl(t, "", "-n", ns, "delete", "job", "report-fail-2", "--wait=true", "--cascade=foreground")
	kubectl(t, "", "-n", ns, "wait", "--for=delete", "pod", "-l", "job-name=report-fail-2", "--timeout=60s")
	p.waitJS("the row stays, from its JobRun", `(r => r && r.dataset.source === 'jobrun' && r.dataset.outcome === 'failed' && r.querySelector('td.exits').innerText === '7')(document.querySelector('tr[data-run="report-fail-2"]'))`)
	p.click(`tr[data-run="report-fail-2"] a`)
	p.waitText(".notice", "no longer exists; its run history is shown")
	p.waitText("#job-summary", "BackoffLimitExceeded")
	p.waitText("#job-summary", "CronJob report")
	p.waitJS("the pod's bar, from the run", `document.querySelectorAll('.gantt-row').length === 1 && !!document.querySelector('.gantt-row[data-outcome=failed] button.seg-failed')`)
	p.click(`.gantt-row[data-outcome=failed] button.seg-failed`)
	p.waitText("pre.log", "run report-fail-2 failed")
	p.screenshots("job-from-run")
}

// The node page: capacity against requests, the pods running there, the
// runtime handlers.
func TestNodePage(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`
apiVersion: batch/v1
kind: Job
metadata: {name: hold, namespace: %s}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: ["sleep", "600"]
        resources: {requests: {cpu: 250m, memory: 64Mi}}
`, ns), "apply", "-f", "-")
	kubectl(t, "", "-n", ns, "wait", "--for=condition=ready", "pod", "-l", "job-name=hold", "--timeout=90s")
	node := strings.TrimSpace(kubectl(t, "", "get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"))

	p := newPage(t)
	p.login()
	p.open("/ui/nodes")
	p.waitText(".node-card", node)
	p.waitText(".node-card", "CPU requested")
	p.click(`.node-card h2 a`)
	p.waitJS("node page", fmt.Sprintf(`location.pathname === '/ui/nodes/%s'`, node))
	p.waitText("table.handlers", "host")
	p.waitText("table.handlers", "oci")
	pod := fmt.Sprintf(`tr[data-pod^="%s/hold-"]`, ns)
	p.waitText(pod, "250m")
	p.waitText(pod, "64 MiB")
	p.waitText(pod, "Running")
	p.waitText("#node-meters", "CPU requested")
	p.waitText("table.resources", "Allocatable")
	p.screenshots("node")
}
