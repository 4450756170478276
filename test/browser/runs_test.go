package browser

import (
	"testing"
)

// The run history's reading of a batchd.dev/v1alpha1 JobRun (the shape
// issue 23 describes: outcome, scheduled/start/completion times, one entry
// per pod attempt with exit code, the cronjob-name label), run in the
// browser on its own module: a CronJob's strip merges recorded runs, skipped
// slots and Jobs not yet recorded, oldest first. The API group is not served
// yet, so this checks the page's side of the contract only.
func TestRunHistoryFromJobRuns(t *testing.T) {
	p := newPage(t)
	p.open("/ui/login")
	got := eval[[]string](p, `import('/ui/assets/js/runs.js').then(({ fromJobRun, cronRuns }) => {
		const run = (name, outcome, scheduled, extra = {}) => fromJobRun({
			metadata: { name, namespace: 'ns', uid: 'run-' + name, creationTimestamp: scheduled,
				labels: { 'batch.kubernetes.io/cronjob-name': 'nightly' } },
			status: { outcome, scheduledTime: scheduled, ...extra },
		});
		const runs = new Map([
			['a', run('nightly-1', 'Succeeded', '2026-11-28T02:30:00Z', { startTime: '2026-11-28T02:30:01Z', completionTime: '2026-11-28T02:30:09Z',
				attempts: [{ podName: 'nightly-1-x', index: 0, exitCode: 0, startTime: '2026-11-28T02:30:01Z', finishTime: '2026-11-28T02:30:09Z' }] })],
			['b', run('nightly-2', 'Skipped', '2026-11-29T02:30:00Z', { reason: 'JobAlreadyActive' })],
			['c', run('nightly-3', 'Failed', '2026-11-30T02:30:00Z', { reason: 'BackoffLimitExceeded',
				attempts: [{ podName: 'nightly-3-y', exitCode: 7 }, { podName: 'nightly-3-z', exitCode: 7 }] })],
		]);
		const jobs = new Map([['j', { uid: 'job-4', ns: 'ns', name: 'nightly-4', status: 'Running', owner: { kind: 'CronJob', name: 'nightly', uid: 'cj' },
			scheduled: Date.parse('2026-12-01T02:30:00Z'), created: 0, start: null, end: null, succeeded: 0, failed: 0, reason: '' }]]);
		const list = cronRuns({ ns: 'ns', name: 'nightly', uid: 'cj' }, { jobs, runs });
		return list.map(r => [r.name, r.outcome, r.reason, r.attempts.map(a => a.exitCode).join('+')].join(' '));
	})`)
	want := []string{
		"nightly-1 succeeded  0",
		"nightly-2 skipped JobAlreadyActive ",
		"nightly-3 failed BackoffLimitExceeded 7+7",
		"nightly-4 running  ",
	}
	if len(got) != len(want) {
		t.Fatalf("runs = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("run %d = %q, want %q", i, got[i], want[i])
		}
	}
}
