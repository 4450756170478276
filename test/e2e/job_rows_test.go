package e2e

// One test per row of the Job half of the upstream e2e list (spec §7,
// test/e2e/apps/job.go), named after it, driving the real binary with kubectl
// and real pods. Rows 22 (adoption) and 25's neighbours that need no node
// are in test/integration; row 29 needs the alpha ContainerRestartRules
// feature, off by default upstream and not served by batchd.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// apply creates the manifest in namespace n.
func apply(t *testing.T, n, manifest string) {
	t.Helper()
	must(t, kubectl(t, manifest, "apply", "-n", n, "-f", "-"), "created")
}

// job is a Job manifest: spec lines (indented two spaces) plus a pod
// template running script with sh.
func job(name, spec, script string, podSpec ...string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
spec:
%s
  template:
    spec:
      restartPolicy: Never
%s
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", %q]
`, name, spec, strings.Join(podSpec, "\n"), script)
}

// hostDir is a host directory the pods of one test share (as /data).
func hostDir(t *testing.T) (dir, volume string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "batchd-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir, fmt.Sprintf(`      volumes:
      - name: data
        hostPath: {path: %s, type: Directory}`, dir)
}

const mountData = `        volumeMounts: [{name: data, mountPath: /data}]`

// withMount adds the /data mount to the manifest's only container.
func withMount(manifest string) string { return manifest + mountData + "\n" }

func condition(t *testing.T, n, jobName, ty, field string) string {
	return get(t, n, "job/"+jobName, `{.status.conditions[?(@.type=="`+ty+`")].`+field+`}`)
}

func waitCondition(t *testing.T, n, jobName, ty string) {
	t.Helper()
	must(t, kubectl(t, "", "wait", "-n", n, "--for=condition="+ty, "job/"+jobName, "--timeout=90s"), "condition met")
}

func podCount(t *testing.T, n, selector string, fieldSelector ...string) int {
	args := []string{"get", "pods", "-n", n, "-l", selector, "-o", "name"}
	for _, f := range fieldSelector {
		args = append(args, "--field-selector", f)
	}
	return len(strings.Fields(kubectl(t, "", args...).stdout))
}

func statusCounts(t *testing.T, n, jobName string) string {
	return get(t, n, "job/"+jobName, `active={.status.active} ready={.status.ready} terminating={.status.terminating} failed={.status.failed} succeeded={.status.succeeded}`)
}

func TestJobShouldRunAJobToCompletionWhenTasksSucceed(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("all-succeed", "  parallelism: 2\n  completions: 4", "exit 0"))
	waitCondition(t, n, "all-succeed", "Complete")
	if r := condition(t, n, "all-succeed", "Complete", "reason"); r != "CompletionsReached" {
		t.Errorf("reason %q", r)
	}
	if c := podCount(t, n, "job-name=all-succeed", "status.phase=Succeeded"); c != 4 {
		t.Errorf("%d succeeded pods, want 4", c)
	}
}

func TestJobShouldAllowToUseThePodFailurePolicyOnExitCodeToFailTheJobEarly(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("fail-early", `  backoffLimit: 6
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {operator: In, values: [1]}`, "exit 1"))
	waitCondition(t, n, "fail-early", "Failed")
	if r := condition(t, n, "fail-early", "Failed", "reason"); r != "PodFailurePolicy" {
		t.Errorf("reason %q", r)
	}
	if m := condition(t, n, "fail-early", "Failed", "message"); !strings.Contains(m, "failed with exit code 1 matching FailJob rule at index 0") {
		t.Errorf("message %q", m)
	}
	if c := podCount(t, n, "job-name=fail-early"); c != 1 {
		t.Errorf("%d pods, want 1 (no retries)", c)
	}
}

func TestJobShouldAllowToUseAPodFailurePolicyToIgnoreFailureMatchingOnExitCode(t *testing.T) {
	t.Parallel()
	n := ns(t)
	_, vol := hostDir(t)
	// Index 1 fails once with 42; backoffLimit 0 would fail the Job were it counted.
	apply(t, n, withMount(job("ignore-42", `  completionMode: Indexed
  completions: 2
  parallelism: 2
  backoffLimit: 0
  podFailurePolicy:
    rules:
    - action: Ignore
      onExitCodes: {operator: In, values: [42]}`,
		`if [ "$JOB_COMPLETION_INDEX" = 1 ] && [ ! -e /data/once ]; then touch /data/once; exit 42; fi`, vol)))
	waitCondition(t, n, "ignore-42", "Complete")
	if s := statusCounts(t, n, "ignore-42"); !strings.Contains(s, "failed= ") && !strings.Contains(s, "failed=0") {
		t.Errorf("ignored failure counted: %s", s)
	}
	if c := podCount(t, n, "job-name=ignore-42"); c != 3 {
		t.Errorf("%d pods, want 3", c)
	}
}

func TestJobShouldAllowToUseAPodFailurePolicyToIgnoreFailureMatchingOnDisruptionTargetCondition(t *testing.T) {
	t.Parallel()
	n := ns(t)
	_, vol := hostDir(t)
	apply(t, n, withMount(job("evicted", `  backoffLimit: 0
  podFailurePolicy:
    rules:
    - action: Ignore
      onPodConditions: [{type: DisruptionTarget, status: "True"}]`,
		`if [ -e /data/evicted ]; then exit 0; fi; touch /data/evicted; exec sleep 600`, vol)))
	waitFor(t, n, "job/evicted", "{.status.ready}", "1")
	pod := strings.TrimPrefix(strings.TrimSpace(kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=evicted", "-o", "name").stdout), "pod/")
	eviction := fmt.Sprintf(`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":%q,"namespace":%q}}`, pod, n)
	must(t, kubectl(t, eviction, "create", "--raw", "/api/v1/namespaces/"+n+"/pods/"+pod+"/eviction", "-f", "-"), "Success")
	waitCondition(t, n, "evicted", "Complete")
	if s := statusCounts(t, n, "evicted"); !strings.Contains(s, "succeeded=1") || strings.Contains(s, "failed=1") {
		t.Errorf("status %s", s)
	}
}

func TestJobShouldNotCreatePodsWhenCreatedInSuspendState(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("suspended", "  suspend: true", "exit 0"))
	waitFor(t, n, "job/suspended", `{.status.conditions[?(@.type=="Suspended")].status}`, "True")
	if c := podCount(t, n, "job-name=suspended"); c != 0 {
		t.Fatalf("%d pods of a suspended Job", c)
	}
	must(t, kubectl(t, "", "patch", "job/suspended", "-n", n, "--type=merge", "-p", `{"spec":{"suspend":false}}`), "patched")
	waitCondition(t, n, "suspended", "Complete")
}

func TestJobShouldDeletePodsWhenSuspended(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("suspend-later", "  parallelism: 2\n  completions: 2", "exec sleep 600"))
	waitFor(t, n, "job/suspend-later", "{.status.active}", "2")
	must(t, kubectl(t, "", "patch", "job/suspend-later", "-n", n, "--type=merge", "-p", `{"spec":{"suspend":true}}`), "patched")
	eventually(t, "pods deleted", func() bool { return podCount(t, n, "job-name=suspend-later") == 0 })
	waitFor(t, n, "job/suspend-later", `{.status.conditions[?(@.type=="Suspended")].status}`, "True")
	if s := statusCounts(t, n, "suspend-later"); !strings.Contains(s, "failed= ") {
		t.Errorf("suspension counted failures: %s", s)
	}
}

func TestJobShouldRecreatePodsOnlyAfterTheyHaveFailedIfPodReplacementPolicyIsSetToFailed(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("replace-failed", "  podReplacementPolicy: Failed",
		`trap 'sleep 4; exit 1' TERM; sleep 600 & wait`, "      terminationGracePeriodSeconds: 30"))
	waitFor(t, n, "job/replace-failed", "{.status.ready}", "1")
	must(t, kubectl(t, "", "delete", "pods", "-n", n, "-l", "job-name=replace-failed", "--wait=false"), "deleted")
	waitFor(t, n, "job/replace-failed", "{.status.active} {.status.terminating} {.status.failed}", " 1 ")
	waitFor(t, n, "job/replace-failed", "{.status.active} {.status.terminating} {.status.failed}", "1 0 1")
}

func TestJobShouldCreatePodsForAnIndexedJobWithCompletionIndexesAndSpecifiedHostname(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("indexed-host", "  completionMode: Indexed\n  completions: 4\n  parallelism: 4", `echo "$JOB_COMPLETION_INDEX $(hostname)"`))
	waitCondition(t, n, "indexed-host", "Complete")
	r := kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=indexed-host", "-o",
		`jsonpath={range .items[*]}{.metadata.annotations.batch\.kubernetes\.io/job-completion-index}={.spec.hostname}{"\n"}{end}`)
	logs := kubectl(t, "", "logs", "-n", n, "-l", "job-name=indexed-host", "--tail=-1")
	for i := 0; i < 4; i++ {
		must(t, r, fmt.Sprintf("%d=indexed-host-%d", i, i))
		must(t, logs, fmt.Sprintf("%d indexed-host-%d", i, i))
	}
}

func TestJobShouldCreatePodsWithCompletionIndexesForAnIndexedJob(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("indexed-label", "  completionMode: Indexed\n  completions: 3\n  parallelism: 3", "exit 0"))
	waitCondition(t, n, "indexed-label", "Complete")
	for i := 0; i < 3; i++ {
		if c := podCount(t, n, "job-name=indexed-label,batch.kubernetes.io/job-completion-index="+strconv.Itoa(i)); c != 1 {
			t.Errorf("index %d: %d pods with the label", i, c)
		}
	}
}

func TestJobWithSuccessPolicyShouldSucceededWhenAllIndexesSucceeded(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("sp-all", `  completionMode: Indexed
  completions: 2
  parallelism: 2
  successPolicy:
    rules: [{succeededCount: 2}]`, "exit 0"))
	waitCondition(t, n, "sp-all", "Complete")
	for _, ty := range []string{"SuccessCriteriaMet", "Complete"} {
		if r := condition(t, n, "sp-all", ty, "reason"); r != "SuccessPolicy" {
			t.Errorf("%s reason %q", ty, r)
		}
	}
	if s := statusCounts(t, n, "sp-all"); s != "active= ready=0 terminating=0 failed= succeeded=2" {
		t.Errorf("status %s", s)
	}
}

func TestJobWithSuccessPolicySucceededIndexesRuleShouldSucceededEvenWhenSomeIndexesRemainPending(t *testing.T) {
	t.Parallel()
	successWhilePending(t, "sp-indexes", `{succeededIndexes: "0"}`)
}

func TestJobWithSuccessPolicySucceededCountRuleShouldSucceededEvenWhenSomeIndexesRemainPending(t *testing.T) {
	t.Parallel()
	successWhilePending(t, "sp-count", `{succeededIndexes: "0-2", succeededCount: 1}`)
}

// successWhilePending runs 5 indexes of which only index 0 ends (the others
// sleep): the successPolicy rule must complete the Job on index 0 alone.
func successWhilePending(t *testing.T, name, rule string) {
	n := ns(t)
	apply(t, n, job(name, `  completionMode: Indexed
  completions: 5
  parallelism: 5
  successPolicy:
    rules: [`+rule+`]`, `if [ "$JOB_COMPLETION_INDEX" = 0 ]; then exit 0; fi; exec sleep 600`))
	waitCondition(t, n, name, "Complete")
	if ci := get(t, n, "job/"+name, "{.status.completedIndexes}"); ci != "0" {
		t.Errorf("completedIndexes %q", ci)
	}
}

func TestJobShouldExecuteAllIndexesDespiteSomeFailingWhenUsingBackoffLimitPerIndex(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("per-index", `  completionMode: Indexed
  completions: 4
  parallelism: 2
  backoffLimitPerIndex: 1`, `exit $((JOB_COMPLETION_INDEX % 2))`))
	waitCondition(t, n, "per-index", "Failed")
	want := "failed=1,3 completed=0,2 failed=4 succeeded=2 reason=FailedIndexes"
	if s := get(t, n, "job/per-index", `failed={.status.failedIndexes} completed={.status.completedIndexes} failed={.status.failed} succeeded={.status.succeeded} reason={.status.conditions[?(@.type=="Failed")].reason}`); s != want {
		t.Errorf("status %s, want %s", s, want)
	}
}

func TestJobShouldTerminateJobExecutionWhenTheNumberOfFailedIndexesExceedsMaxFailedIndexes(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("max-failed", `  completionMode: Indexed
  completions: 4
  parallelism: 1
  backoffLimitPerIndex: 0
  maxFailedIndexes: 0`, "exit 1"))
	waitCondition(t, n, "max-failed", "Failed")
	want := "failed=0 failed=1 reason=MaxFailedIndexesExceeded"
	if s := get(t, n, "job/max-failed", `failed={.status.failedIndexes} failed={.status.failed} reason={.status.conditions[?(@.type=="Failed")].reason}`); s != want {
		t.Errorf("status %s, want %s", s, want)
	}
}

func TestJobShouldRecordTheFailureCountInThePodAnnotationWhenUsingBackoffLimitPerIndex(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("failure-count", `  completionMode: Indexed
  completions: 2
  parallelism: 2
  backoffLimitPerIndex: 1`, "exit 1"))
	waitCondition(t, n, "failure-count", "Failed")
	r := kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=failure-count", "-o",
		`jsonpath={range .items[*]}{.metadata.annotations.batch\.kubernetes\.io/job-completion-index}/{.metadata.annotations.batch\.kubernetes\.io/job-index-failure-count}{"\n"}{end}`)
	for _, want := range []string{"0/0", "0/1", "1/0", "1/1"} {
		must(t, r, want)
	}
	if s := get(t, n, "job/failure-count", `{.status.failedIndexes} {.status.failed}`); s != "0,1 4" {
		t.Errorf("status %s", s)
	}
}

func TestJobShouldMarkIndexesAsFailedWhenTheFailIndexActionIsMatchedInPodFailurePolicy(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("fail-index", `  completionMode: Indexed
  completions: 2
  parallelism: 2
  backoffLimitPerIndex: 1
  podFailurePolicy:
    rules:
    - action: FailIndex
      onExitCodes: {operator: In, values: [1]}`, `exit $JOB_COMPLETION_INDEX`))
	waitCondition(t, n, "fail-index", "Failed")
	if s := get(t, n, "job/fail-index", `{.status.failedIndexes} {.status.completedIndexes} {.status.failed} {.status.succeeded}`); s != "1 0 1 1" {
		t.Errorf("status %s, want 1 0 1 1", s)
	}
}

func TestJobShouldRemovePodsWhenJobIsDeleted(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("deleted", "  parallelism: 2\n  completions: 2", "exec sleep 600"))
	waitFor(t, n, "job/deleted", "{.status.active}", "2")
	must(t, kubectl(t, "", "delete", "job/deleted", "-n", n), `job.batch "deleted" deleted`)
	eventually(t, "pods collected", func() bool { return podCount(t, n, "job-name=deleted") == 0 })
}

func TestJobShouldRunAJobToCompletionWhenTasksSometimesFailAndAreLocallyRestarted(t *testing.T) {
	t.Parallel()
	n := ns(t)
	m := job("local-restart", "  completions: 2\n  parallelism: 2",
		`if [ -e /data/once ]; then exit 0; fi; touch /data/once; exit 1`, "      volumes: [{name: data, emptyDir: {}}]") + mountData + "\n"
	apply(t, n, strings.Replace(m, "restartPolicy: Never", "restartPolicy: OnFailure", 1))
	waitCondition(t, n, "local-restart", "Complete")
	r := kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=local-restart", "-o", `jsonpath={.items[*].status.containerStatuses[0].restartCount}`)
	if r.stdout != "1 1" {
		t.Errorf("restart counts %q, want 1 1", r.stdout)
	}
}

func TestJobShouldRunAJobToCompletionWhenTasksSometimesFailAndAreNotLocallyRestarted(t *testing.T) {
	t.Parallel()
	n := ns(t)
	_, vol := hostDir(t)
	apply(t, n, withMount(job("not-local", "  completions: 2\n  parallelism: 2",
		`if mkdir /data/first 2>/dev/null; then exit 1; fi`, vol)))
	waitCondition(t, n, "not-local", "Complete")
	if r := condition(t, n, "not-local", "SuccessCriteriaMet", "reason"); r != "CompletionsReached" {
		t.Errorf("SuccessCriteriaMet reason %q", r)
	}
	if s := statusCounts(t, n, "not-local"); s != "active= ready=0 terminating=0 failed=1 succeeded=2" {
		t.Errorf("status %s", s)
	}
}

func TestJobShouldFailWhenExceedsActiveDeadline(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("deadline", "  activeDeadlineSeconds: 1", "exec sleep 600"))
	waitCondition(t, n, "deadline", "Failed")
	for _, ty := range []string{"FailureTarget", "Failed"} {
		if r := condition(t, n, "deadline", ty, "reason"); r != "DeadlineExceeded" {
			t.Errorf("%s reason %q", ty, r)
		}
	}
	if s := get(t, n, "job/deadline", "{.status.active} {.status.ready} {.status.terminating}"); s != " 0 0" {
		t.Errorf("active/ready/terminating %q", s)
	}
}

func TestJobShouldDeleteAJob(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("to-delete", "", "exec sleep 600"))
	must(t, kubectl(t, "", "delete", "job/to-delete", "-n", n, "--wait"), "deleted")
	fails(t, kubectl(t, "", "get", "job/to-delete", "-n", n), `jobs.batch "to-delete" not found`)
}

func TestJobShouldFailToExceedBackoffLimit(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("backoff", "  backoffLimit: 1", "exit 1"))
	waitCondition(t, n, "backoff", "Failed")
	for _, ty := range []string{"FailureTarget", "Failed"} {
		if r := condition(t, n, "backoff", ty, "reason"); r != "BackoffLimitExceeded" {
			t.Errorf("%s reason %q", ty, r)
		}
	}
	if all, failed := podCount(t, n, "job-name=backoff"), podCount(t, n, "job-name=backoff", "status.phase=Failed"); all != 2 || failed != 2 {
		t.Errorf("%d pods, %d failed; want exactly 2, both failed", all, failed)
	}
}

func TestJobShouldRunAJobToCompletionWithCPURequests(t *testing.T) {
	n := ns(t)
	m := job("cpu", "  completions: 90\n  parallelism: 90", "exit 0") + "        resources: {requests: {cpu: 10m}}\n"
	apply(t, n, m)
	waitCondition(t, n, "cpu", "Complete")
	if s := get(t, n, "job/cpu", "{.status.succeeded}"); s != "90" {
		t.Errorf("succeeded %s", s)
	}
}

func TestJobShouldApplyChangesToAJobStatus(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("status", "  suspend: true", "exit 0"))
	waitFor(t, n, "job/status", `{.status.conditions[?(@.type=="Suspended")].status}`, "True")
	cond := `{"status":{"conditions":[{"type":"StatusUpdate","status":"True","reason":"E2E","message":"Set from e2e test"}]}}`
	must(t, kubectl(t, "", "patch", "job/status", "-n", n, "--subresource=status", "--type=merge", "-p", cond), "patched")
	must(t, kubectl(t, "", "get", "--raw", "/apis/batch/v1/namespaces/"+n+"/jobs/status/status"), `"type":"StatusUpdate"`, `"message":"Set from e2e test"`)
}

func TestJobShouldManageTheLifecycleOfAJob(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("lifecycle", "  suspend: true", "exit 0"))
	must(t, kubectl(t, "", "label", "job/lifecycle", "-n", n, "e2e=patched"), "labeled")
	must(t, kubectl(t, "", "patch", "job/lifecycle", "-n", n, "--type=merge", "-p", `{"metadata":{"annotations":{"updated":"true"}},"spec":{"suspend":false}}`), "patched")
	must(t, kubectl(t, "", "get", "jobs", "-n", n, "-l", "e2e=patched", "-o", "name"), "job.batch/lifecycle")
	waitCondition(t, n, "lifecycle", "Complete")
	must(t, kubectl(t, "", "delete", "--raw", "/apis/batch/v1/namespaces/"+n+"/jobs?labelSelector=e2e%3Dpatched"), `"kind":"JobList"`)
	eventually(t, "job gone", func() bool { return kubectl(t, "", "get", "job/lifecycle", "-n", n).code != 0 })
}

func TestJobShouldUpdateTheStatusReadyField(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("ready", "  suspend: true\n  parallelism: 2\n  completions: 2", "exec sleep 600"))
	waitFor(t, n, "job/ready", "{.status.ready}", "0")
	must(t, kubectl(t, "", "patch", "job/ready", "-n", n, "--type=merge", "-p", `{"spec":{"suspend":false}}`), "patched")
	waitFor(t, n, "job/ready", "{.status.ready}", "2")
	must(t, kubectl(t, "", "patch", "job/ready", "-n", n, "--type=merge", "-p", `{"spec":{"suspend":true}}`), "patched")
	waitFor(t, n, "job/ready", "{.status.ready}", "0")
}

func TestJobShouldAllowToDelegateReconciliationToExternalController(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("external", "  managedBy: example.com/custom-job-controller", "exit 0"))
	// A Job created after it completes: by then the controller has seen both.
	apply(t, n, job("sentinel", "", "exit 0"))
	waitCondition(t, n, "sentinel", "Complete")
	if s := get(t, n, "job/external", "{.status}"); s != "{}" && s != "" {
		t.Errorf("externally managed Job got status %s", s)
	}
	if c := podCount(t, n, "job-name=external"); c != 0 {
		t.Errorf("%d pods for an externally managed Job", c)
	}
}

func TestJobShouldAllowUpdatingPodResourcesForASuspendedJob(t *testing.T) {
	t.Parallel()
	n := ns(t)
	apply(t, n, job("resize", "  suspend: true", "exit 0")+"        resources: {requests: {cpu: 100m}}\n")
	waitFor(t, n, "job/resize", `{.status.conditions[?(@.type=="Suspended")].status}`, "True")
	must(t, kubectl(t, "", "patch", "job/resize", "-n", n, "--type=json", "-p",
		`[{"op":"replace","path":"/spec/template/spec/containers/0/resources/requests/cpu","value":"200m"},{"op":"replace","path":"/spec/suspend","value":false}]`), "patched")
	waitCondition(t, n, "resize", "Complete")
	if cpu := kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=resize", "-o", "jsonpath={.items[*].spec.containers[0].resources.requests.cpu}").stdout; cpu != "200m" {
		t.Errorf("pod cpu request %q, want 200m", cpu)
	}
}

func TestJobShouldAllowUpdatingPodResourcesForAJobThatStartedAndThenWasSuspended(t *testing.T) {
	t.Parallel()
	n := ns(t)
	_, vol := hostDir(t)
	apply(t, n, withMount(job("resize-later", "", `if [ -e /data/ran ]; then exit 0; fi; touch /data/ran; exec sleep 600`, vol))+
		"        resources: {requests: {cpu: 100m}}\n")
	waitFor(t, n, "job/resize-later", "{.status.ready}", "1")
	must(t, kubectl(t, "", "patch", "job/resize-later", "-n", n, "--type=merge", "-p", `{"spec":{"suspend":true}}`), "patched")
	waitFor(t, n, "job/resize-later", `{.status.conditions[?(@.type=="Suspended")].status} {.status.active}`, "True ")
	eventually(t, "pods gone", func() bool { return podCount(t, n, "job-name=resize-later") == 0 })
	must(t, kubectl(t, "", "patch", "job/resize-later", "-n", n, "--type=json", "-p",
		`[{"op":"replace","path":"/spec/template/spec/containers/0/resources/requests/cpu","value":"200m"},{"op":"replace","path":"/spec/suspend","value":false}]`), "patched")
	waitCondition(t, n, "resize-later", "Complete")
	if cpu := kubectl(t, "", "get", "pods", "-n", n, "-l", "job-name=resize-later", "-o", "jsonpath={.items[*].spec.containers[0].resources.requests.cpu}").stdout; cpu != "200m" {
		t.Errorf("pod cpu request %q, want 200m", cpu)
	}
}
