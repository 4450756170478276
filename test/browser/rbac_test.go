package browser

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// A service account's token signs in to a session that RBAC authorizes as
// that account: its Role lets it read Jobs, CronJobs, pods and events in
// one namespace, not JobRuns, so the CronJob page shows the history from
// the Jobs (no error), and JobRuns, Secrets and other namespaces stay 403;
// the session still writes nothing (401).
func TestServiceAccountSessionUnderRBAC(t *testing.T) {
	t.Parallel()
	ns := namespace(t)
	kubectl(t, fmt.Sprintf(`
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader, namespace: %[1]s}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: jobs-reader, namespace: %[1]s}
rules:
- {apiGroups: [batch], resources: [jobs, cronjobs], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [pods, pods/log, events], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: jobs-reader}
subjects: [{kind: ServiceAccount, name: reader, namespace: %[1]s}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: %[1]s}
spec:
  schedule: "0 3 * * *"
%[2]s
`, ns, cronTemplate), "apply", "-f", "-")
	kubectl(t, "", "-n", ns, "create", "job", "--from=cronjob/report", "report-ok-1")
	kubectl(t, "", "-n", ns, "wait", "--for=condition=complete", "job/report-ok-1", "--timeout=90s")
	token := strings.TrimSpace(kubectl(t, "", "-n", ns, "create", "token", "reader"))

	p := newPage(t)
	p.open(fmt.Sprintf("/ui/cronjobs/%s/report", ns))
	p.waitJS("login form", `!!document.querySelector('#login-form')`)
	p.do(chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
	p.waitJS("signed in as the service account", fmt.Sprintf(`document.querySelector('.who')?.innerText === 'system:serviceaccount:%s:reader'`, ns))
	p.waitJS("the run, from its Job", `(r => r && r.dataset.source === 'job' && r.dataset.outcome === 'succeeded')(document.querySelector('tr[data-run="report-ok-1"]'))`)
	p.waitText("#cron-summary", "at 03:00")
	if errs := eval[string](p, `document.querySelector('.errors').innerText`); errs != "" {
		t.Errorf("the CronJob page shows errors: %q", errs)
	}

	status := func(method, path string) int {
		t.Helper()
		return eval[int](p, fmt.Sprintf(`fetch(%q, {method: %q, headers: {'X-Batchd-Page-Key': localStorage.getItem('batchd-page-key'), 'Content-Type': 'application/json'}, body: %q === 'GET' ? undefined : '{}'}).then(r => r.status)`, path, method, method))
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/apis/batch/v1/namespaces/" + ns + "/jobs", 200},
		{"GET", "/apis/batchd.dev/v1alpha1/namespaces/" + ns + "/jobruns", 403},
		{"GET", "/api/v1/namespaces/" + ns + "/secrets", 403},
		{"GET", "/apis/batch/v1/namespaces/default/jobs", 403},
		{"POST", "/apis/batch/v1/namespaces/" + ns + "/jobs", 401},
		{"DELETE", "/apis/batch/v1/namespaces/" + ns + "/jobs/report-ok-1", 401},
	} {
		if got := status(c.method, c.path); got != c.want {
			t.Errorf("service account's session: %s %s = %d, want %d", c.method, c.path, got, c.want)
		}
	}
}
