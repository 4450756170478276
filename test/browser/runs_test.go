package browser

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/batchd/batchd/internal/apis/batchd/v1alpha1"
)

// The page's reading of JobRuns (runs.js), run in the browser on JobRuns
// marshalled from the API's own Go types, so a renamed field fails here: a
// CronJob's runs merge recorded runs, skipped slots and Jobs not yet
// recorded, oldest first; a pod restarted in place reads as one timeline
// bar with its previous run; a container run's log is asked for by pod,
// container and attempt.
func TestRunHistoryFromJobRuns(t *testing.T) {
	t.Parallel()
	at := func(day, sec int) *metav1.Time {
		return &metav1.Time{Time: time.Date(2026, 11, day, 2, 30, sec, 0, time.UTC)}
	}
	run := func(name string, day int, outcome v1alpha1.Outcome, reason string, attempts ...v1alpha1.Attempt) v1alpha1.JobRun {
		r := v1alpha1.JobRun{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: "run-" + types.UID(name),
				Labels: map[string]string{v1alpha1.CronJobNameLabel: "nightly"}},
			Spec:   v1alpha1.JobRunSpec{CronJobName: "nightly", ScheduledTime: at(day, 0)},
			Status: v1alpha1.JobRunStatus{Outcome: outcome, Reason: reason, CreationTime: at(day, 0), Attempts: attempts},
		}
		if outcome != v1alpha1.OutcomeSkipped {
			r.Spec.JobName, r.Spec.JobUID, r.Spec.Completions = name, "job-"+types.UID(name), ptr.To[int32](1)
			r.Status.StartTime, r.Status.CompletionTime = at(day, 1), at(day, 9)
		}
		return r
	}
	attempt := func(pod string, n int32, exit int32, from, to int) v1alpha1.Attempt {
		return v1alpha1.Attempt{PodName: pod, PodUID: types.UID("uid-" + pod), NodeName: "n1", Container: "main", Attempt: n,
			StartTime: at(30, from), FinishTime: at(30, to), ExitCode: ptr.To(exit), Reason: map[bool]string{true: "Completed", false: "Error"}[exit == 0]}
	}
	runs := []v1alpha1.JobRun{
		run("nightly-1", 28, v1alpha1.OutcomeSucceeded, "", attempt("nightly-1-x", 0, 0, 1, 9)),
		run("nightly-2", 29, v1alpha1.OutcomeSkipped, v1alpha1.SkipJobAlreadyActive),
		// OnFailure: one pod, its container failed twice, then succeeded.
		run("nightly-3", 30, v1alpha1.OutcomeSucceeded, "",
			attempt("nightly-3-y", 0, 7, 1, 2), attempt("nightly-3-y", 1, 7, 4, 5), attempt("nightly-3-y", 2, 0, 9, 12)),
	}
	data, err := json.Marshal(runs)
	if err != nil {
		t.Fatal(err)
	}
	p := newPage(t)
	p.open("/ui/login")
	got := eval[map[string][]string](p, fmt.Sprintf(`Promise.all([import('/ui/assets/js/runs.js'), import('/ui/assets/js/pages/job.js')]).then(([{ fromJobRun, cronRuns, findAttempt, runLogPath }, { runPods }]) => {
		const runs = new Map(%s.map(r => [r.metadata.uid, fromJobRun(r)]));
		const jobs = new Map([['j', { uid: 'job-4', ns: 'ns', name: 'nightly-4', status: 'Running', owner: { kind: 'CronJob', name: 'nightly', uid: 'cj' },
			scheduled: Date.parse('2026-12-01T02:30:00Z'), created: 0, start: null, end: null, succeeded: 0, failed: 0, reason: '' }]]);
		const list = cronRuns({ ns: 'ns', name: 'nightly', uid: 'cj' }, { jobs, runs });
		const third = runs.get('run-nightly-3');
		const bars = runPods(third);
		return {
			history: list.map(r => [r.name, r.source, r.outcome, r.reason, r.attempts.map(a => a.exitCode).join('+')].join(' ')),
			bars: bars.map(b => [b.pod, b.outcome, 'restarts=' + b.restarts, 'previous exit ' + (b.previous && b.previous.exitCode), 'exit ' + b.exitCode].join(' ')),
			logs: [runLogPath(third, findAttempt(third, 'nightly-3-y', 'main')), runLogPath(third, findAttempt(third, 'nightly-3-y', 'main', 1))],
		};
	})`, data))
	want := map[string][]string{
		"history": {
			"nightly-1 jobrun succeeded  0",
			"nightly-2 jobrun skipped JobAlreadyActive ",
			"nightly-3 jobrun succeeded  7+7+0",
			"nightly-4 job running  ",
		},
		"bars": {"nightly-3-y succeeded restarts=2 previous exit 7 exit 0"},
		"logs": {
			"/apis/batchd.dev/v1alpha1/namespaces/ns/jobruns/nightly-3/log?pod=nightly-3-y&container=main&attempt=2",
			"/apis/batchd.dev/v1alpha1/namespaces/ns/jobruns/nightly-3/log?pod=nightly-3-y&container=main&attempt=1",
		},
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Errorf("%s = %q, want %q", k, g, w)
			continue
		}
		for i := range w {
			if g[i] != w[i] {
				t.Errorf("%s[%d] = %q, want %q", k, i, g[i], w[i])
			}
		}
	}
}
