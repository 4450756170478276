// What the pages keep of API objects, and how they read them: a Job's
// status as kubectl's STATUS column reads it, a pod as attempts on a
// timeline.

import { ms } from './dom.js';

const condTrue = (conds, type) => (conds || []).some((c) => c.type === type && c.status === 'True');
const cond = (conds, type) => (conds || []).find((c) => c.type === type && c.status === 'True');

export const SCHEDULED_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
export const INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';

// jobStatus is kubectl's STATUS column for a Job.
export function jobStatus(job) {
  const c = job.status?.conditions;
  if (condTrue(c, 'Complete')) return 'Complete';
  if (condTrue(c, 'Failed')) return 'Failed';
  if (job.metadata.deletionTimestamp) return 'Terminating';
  if (condTrue(c, 'Suspended')) return 'Suspended';
  if (condTrue(c, 'FailureTarget')) return 'FailureTarget';
  if (condTrue(c, 'SuccessCriteriaMet')) return 'SuccessCriteriaMet';
  return 'Running';
}

export function controller(meta) {
  return (meta.ownerReferences || []).find((r) => r.controller) || null;
}

// compactJob is what the overview keeps of a Job.
export function compactJob(job) {
  const s = job.status || {};
  const owner = controller(job.metadata);
  const failedCond = cond(s.conditions, 'Failed') || cond(s.conditions, 'FailureTarget');
  return {
    uid: job.metadata.uid,
    ns: job.metadata.namespace,
    name: job.metadata.name,
    created: ms(job.metadata.creationTimestamp),
    start: ms(s.startTime),
    end: ms(s.completionTime) || (failedCond ? ms(failedCond.lastTransitionTime) : null),
    completions: job.spec?.completions ?? null,
    parallelism: job.spec?.parallelism ?? 1,
    succeeded: s.succeeded || 0,
    failed: s.failed || 0,
    active: s.active || 0,
    status: jobStatus(job),
    reason: failedCond?.reason || '',
    owner: owner ? { kind: owner.kind, name: owner.name, uid: owner.uid } : null,
    scheduled: ms(job.metadata.annotations?.[SCHEDULED_ANNOTATION]),
  };
}

// completionsText is kubectl's COMPLETIONS column.
export function completionsText(j) {
  if (j.completions !== null && j.completions !== undefined) return `${j.succeeded}/${j.completions}`;
  return j.parallelism > 1 ? `${j.succeeded}/1 of ${j.parallelism}` : `${j.succeeded}/1`;
}

export function completionsTotal(j) {
  return j.completions ?? 1;
}

// outcome of a Job as a run: succeeded, failed, running.
export function jobOutcome(j) {
  if (j.status === 'Complete' || j.status === 'SuccessCriteriaMet') return 'succeeded';
  if (j.status === 'Failed' || j.status === 'FailureTarget') return 'failed';
  if (j.status === 'Suspended') return 'suspended';
  return 'running';
}

export function compactCronJob(cj) {
  const a = cj.metadata.annotations || {};
  const annotations = {};
  for (const k of ['batchd.dev/dst', 'batchd.dev/jitter']) if (a[k] !== undefined) annotations[k] = a[k];
  return {
    uid: cj.metadata.uid,
    ns: cj.metadata.namespace,
    name: cj.metadata.name,
    created: ms(cj.metadata.creationTimestamp),
    schedule: cj.spec.schedule,
    timeZone: cj.spec.timeZone ?? null,
    suspend: !!cj.spec.suspend,
    concurrencyPolicy: cj.spec.concurrencyPolicy || 'Allow',
    lastSchedule: ms(cj.status?.lastScheduleTime),
    lastSuccessful: ms(cj.status?.lastSuccessfulTime),
    active: (cj.status?.active || []).length,
    annotations,
  };
}

// scheduleKey identifies what a schedule preview depends on.
export function scheduleKey(c) {
  return JSON.stringify([c.uid, c.schedule, c.timeZone, c.annotations]);
}

function containerRun(state) {
  if (!state) return null;
  if (state.running) return { started: ms(state.running.startedAt), finished: null };
  if (state.terminated) {
    const t = state.terminated;
    return { started: ms(t.startedAt), finished: ms(t.finishedAt), exitCode: t.exitCode, reason: t.reason || '', message: t.message || '', signal: t.signal };
  }
  return null;
}

// attempt reads a pod as one attempt of a Job: created, started, finished,
// its outcome, and — when its container restarted in place (OnFailure) —
// the previous run and the back-off gap before the current one.
export function attempt(pod, now = Date.now()) {
  const s = pod.status || {};
  const main = pod.spec?.containers?.[0]?.name;
  const statuses = s.containerStatuses || [];
  const cs = statuses.find((c) => c.name === main) || statuses[0] || null;
  const runs = statuses.map((c) => containerRun(c.state)).filter(Boolean);
  const started = runs.map((r) => r.started).filter(Boolean).sort((a, b) => a - b)[0] || null;
  const finishedAll = runs.length > 0 && runs.length === statuses.length && runs.every((r) => r.finished);
  let finished = finishedAll ? Math.max(...runs.map((r) => r.finished)) : null;
  const phase = s.phase || 'Pending';
  if (!finished && (phase === 'Succeeded' || phase === 'Failed')) {
    finished = ms((s.conditions || []).find((c) => c.type === 'Ready')?.lastTransitionTime) || started || ms(pod.metadata.creationTimestamp);
  }
  let outcome;
  if (phase === 'Succeeded') outcome = 'succeeded';
  else if (phase === 'Failed') outcome = 'failed';
  else if (pod.metadata.deletionTimestamp) outcome = 'terminating';
  else if (cs?.state?.waiting && cs.restartCount > 0) outcome = 'backoff';
  else if (phase === 'Running') outcome = 'running';
  else outcome = 'pending';
  const cur = cs ? containerRun(cs.state) : null;
  const prev = cs ? containerRun(cs.lastState) : null;
  const terminated = statuses.map((c) => c.state?.terminated).filter(Boolean);
  const failedExit = terminated.find((t) => t.exitCode !== 0);
  const index = pod.metadata.annotations?.[INDEX_ANNOTATION] ?? pod.metadata.labels?.[INDEX_ANNOTATION];
  return {
    key: pod.metadata.uid,
    pod: pod.metadata.name,
    ns: pod.metadata.namespace,
    node: pod.spec?.nodeName || '',
    container: main || '',
    containers: (pod.spec?.containers || []).map((c) => c.name),
    index: index === undefined ? null : Number(index),
    created: ms(pod.metadata.creationTimestamp),
    started: cur?.started || started,
    finished,
    outcome,
    phase,
    exitCode: failedExit ? failedExit.exitCode : (terminated.length ? terminated[0].exitCode : null),
    reason: (failedExit || terminated[0])?.reason || s.reason || cs?.state?.waiting?.reason || '',
    message: (failedExit || terminated[0])?.message || s.message || '',
    restarts: cs?.restartCount || 0,
    previous: prev && prev.finished ? prev : null,
    now,
    source: 'pod',
  };
}

// requests is a pod's effective request of a resource, as the scheduler
// counts it: its containers and sidecars, or its largest init container if
// that is more.
export function podRequest(pod, resource, parse) {
  const req = (c) => parse(c.resources?.requests?.[resource]);
  const inits = pod.spec?.initContainers || [];
  let sidecars = 0;
  let initMax = 0;
  for (const c of inits) {
    if (c.restartPolicy === 'Always') sidecars += req(c);
    else initMax = Math.max(initMax, sidecars + req(c));
  }
  const main = (pod.spec?.containers || []).reduce((n, c) => n + req(c), 0) + sidecars;
  return Math.max(main, initMax) + parse(pod.spec?.overhead?.[resource]);
}
