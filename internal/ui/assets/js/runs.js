// Run history: from batchd.dev/v1alpha1 JobRuns when the server serves them
// and the user may read them (a record per Job and per skipped CronJob slot,
// with an entry per container run and logs that outlive the pods), else from
// the Jobs that still exist. This file is the one place that reads a
// JobRun's fields (internal/apis/batchd/v1alpha1/types.go).

import { ms } from './dom.js';
import { Collection, served } from './api.js';
import { jobOutcome } from './model.js';

export const RUNS_GROUP_VERSION = 'batchd.dev/v1alpha1';
export const CRONJOB_LABEL = 'batch.kubernetes.io/cronjob-name';

const OUTCOMES = { Running: 'running', Succeeded: 'succeeded', Failed: 'failed', Deleted: 'deleted', Skipped: 'skipped' };

// fromJobRun is what the pages keep of a JobRun.
export function fromJobRun(run) {
  const sp = run.spec || {};
  const st = run.status || {};
  return {
    uid: run.metadata.uid,
    ns: run.metadata.namespace,
    name: run.metadata.name,
    cronjob: run.metadata.labels?.[CRONJOB_LABEL] || sp.cronJobName || null,
    jobUID: sp.jobUID || null,
    scheduled: ms(sp.scheduledTime),
    created: ms(st.creationTime) || ms(run.metadata.creationTimestamp),
    start: ms(st.startTime),
    end: ms(st.completionTime),
    outcome: OUTCOMES[st.outcome] || 'running',
    reason: st.reason || '',
    message: st.message || '',
    completions: sp.completions ?? null,
    succeeded: st.succeeded || 0,
    failed: st.failed || 0,
    omitted: st.omittedAttempts || 0,
    attempts: (st.attempts || []).map((a) => ({
      pod: a.podName,
      podUID: a.podUID || '',
      node: a.nodeName || '',
      index: a.index ?? null,
      container: a.container,
      attempt: a.attempt || 0,
      started: ms(a.startTime),
      finished: ms(a.finishTime),
      exitCode: a.exitCode ?? null,
      signal: a.signal || 0,
      reason: a.reason || '',
      message: a.message || '',
    })),
    source: 'jobrun',
  };
}

// watchRuns keeps a live collection of the JobRuns at path (below
// /apis/batchd.dev/v1alpha1) matching params once discovery says they are
// served, handing it to set; and null again when the user may not list them
// (403: RBAC can grant Jobs without JobRuns), so the page reads the Jobs
// alone rather than showing an error. stopped says the page has gone.
export function watchRuns(path, params, { set, onChange, onError, stopped }) {
  served(RUNS_GROUP_VERSION, 'jobruns').then((ok) => {
    if (!ok || stopped()) return;
    const runs = new Collection(`/apis/${RUNS_GROUP_VERSION}${path}`, {
      params, map: fromJobRun, onChange,
      onError: (e) => {
        if (e.status !== 403) { onError(e); return; }
        runs.stop();
        set(null);
        onChange();
      },
    });
    set(runs);
    runs.start();
  });
}

// fromJob is a run read from a Job that still exists.
export function fromJob(j) {
  return {
    uid: j.uid, ns: j.ns, name: j.name, cronjob: j.owner?.kind === 'CronJob' ? j.owner.name : null,
    jobUID: j.uid, scheduled: j.scheduled, created: j.created, start: j.start, end: j.end,
    outcome: jobOutcome(j), reason: j.reason, message: '', completions: j.completions ?? null,
    succeeded: j.succeeded, failed: j.failed, omitted: 0, attempts: [], source: 'job',
  };
}

// findAttempt is the run's entry for a pod's container: its run number
// attempt, or (attempt null) the latest.
export function findAttempt(run, pod, container, attempt = null) {
  let found = null;
  for (const a of run?.attempts || []) {
    if (a.pod !== pod || a.container !== container) continue;
    if (attempt !== null ? a.attempt === attempt : !found || a.attempt > found.attempt) found = a;
  }
  return found;
}

// runLogPath is the jobruns/log of one container run (an entry of
// run.attempts): kept after the pod is gone, the pod's own while it exists.
export function runLogPath(run, a) {
  const q = new URLSearchParams({ pod: a.pod, container: a.container, attempt: String(a.attempt) });
  return `/apis/${RUNS_GROUP_VERSION}/namespaces/${encodeURIComponent(run.ns)}/jobruns/${encodeURIComponent(run.name)}/log?${q}`;
}

// cronRuns lists a CronJob's runs, oldest first: its JobRuns when runs is
// given, else its Jobs (whose status the JobRun would repeat).
export function cronRuns(cron, { jobs, runs }) {
  let list;
  if (runs) {
    list = [...runs.values()].filter((r) => r.ns === cron.ns && r.cronjob === cron.name);
    // A Job whose run is not recorded yet (just created) still shows.
    const recorded = new Set(list.map((r) => r.jobUID || r.name));
    for (const j of jobs.values()) {
      if (j.owner?.uid === cron.uid && !recorded.has(j.uid) && !recorded.has(j.name)) list.push(fromJob(j));
    }
  } else {
    list = [];
    for (const j of jobs.values()) if (j.owner?.uid === cron.uid) list.push(fromJob(j));
  }
  const when = (r) => r.scheduled || r.start || r.created || 0;
  return list.sort((a, b) => when(a) - when(b) || a.name.localeCompare(b.name));
}
