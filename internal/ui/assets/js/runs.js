// Run history: from batchd.dev/v1alpha1 JobRuns when the server serves them
// (a record per Job and per skipped CronJob slot, with per-attempt entries
// and logs that outlive the pods), else from the Jobs that still exist.
// This file is the one place that reads a JobRun's fields.

import { ms } from './dom.js';
import { jobOutcome } from './model.js';

export const RUNS_GROUP_VERSION = 'batchd.dev/v1alpha1';
export const CRONJOB_LABEL = 'batch.kubernetes.io/cronjob-name';

const pick = (o, ...keys) => {
  for (const k of keys) if (o && o[k] !== undefined && o[k] !== null) return o[k];
  return undefined;
};

function outcomeOf(v) {
  switch (String(v || '').toLowerCase()) {
    case 'succeeded': case 'complete': return 'succeeded';
    case 'failed': return 'failed';
    case 'skipped': return 'skipped';
    case 'deleted': return 'deleted';
    default: return 'running';
  }
}

// fromJobRun is what the pages keep of a JobRun.
export function fromJobRun(run) {
  const st = run.status || {};
  const sp = run.spec || {};
  const attempts = pick(st, 'attempts', 'pods') || pick(sp, 'attempts', 'pods') || [];
  return {
    uid: run.metadata.uid,
    ns: run.metadata.namespace,
    name: run.metadata.name,
    cronjob: run.metadata.labels?.[CRONJOB_LABEL] || pick(sp, 'cronJobName') || null,
    jobUID: pick(sp, 'jobUID', 'jobUid') || pick(st, 'jobUID', 'jobUid') || null,
    scheduled: ms(pick(sp, 'scheduledTime') || pick(st, 'scheduledTime')),
    created: ms(run.metadata.creationTimestamp),
    start: ms(pick(st, 'startTime') || pick(sp, 'startTime')),
    end: ms(pick(st, 'completionTime', 'finishTime') || pick(sp, 'completionTime')),
    outcome: outcomeOf(pick(st, 'outcome') || pick(sp, 'outcome')),
    reason: pick(st, 'reason') || pick(sp, 'reason') || '',
    succeeded: pick(st, 'succeeded', 'completions') ?? null,
    failed: pick(st, 'failed', 'failures') ?? null,
    attempts: attempts.map((a, i) => ({
      number: i,
      pod: pick(a, 'podName', 'pod', 'name') || '',
      node: pick(a, 'nodeName', 'node') || '',
      index: pick(a, 'index', 'completionIndex') ?? null,
      container: pick(a, 'container', 'containerName') || '',
      started: ms(pick(a, 'startTime', 'startedAt')),
      finished: ms(pick(a, 'finishTime', 'finishedAt', 'completionTime')),
      exitCode: pick(a, 'exitCode') ?? null,
      reason: pick(a, 'reason') || '',
      message: pick(a, 'message') || '',
    })),
    source: 'jobrun',
  };
}

// fromJob is a run read from a Job that still exists.
export function fromJob(j) {
  return {
    uid: j.uid, ns: j.ns, name: j.name, cronjob: j.owner?.kind === 'CronJob' ? j.owner.name : null,
    jobUID: j.uid, scheduled: j.scheduled, created: j.created, start: j.start, end: j.end,
    outcome: jobOutcome(j), reason: j.reason, succeeded: j.succeeded, failed: j.failed, attempts: [], source: 'job',
  };
}

// runLogPath is the log of one attempt kept with the run.
export function runLogPath(run, attemptNumber, container) {
  const q = new URLSearchParams({ attempt: String(attemptNumber) });
  if (container) q.set('container', container);
  return `/apis/${RUNS_GROUP_VERSION}/namespaces/${encodeURIComponent(run.ns)}/jobruns/${encodeURIComponent(run.name)}/log?${q}`;
}

// cronRuns lists a CronJob's runs, oldest first: its JobRuns when served,
// else its Jobs (whose status the JobRun would repeat).
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
