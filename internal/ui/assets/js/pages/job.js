// Job page: the summary, a timeline of its attempts (click a bar for that
// attempt's log), its conditions and its events, all live.

import { h, link, badge, bar, age, span, localTime, errorBox, section, table, reconcile, ms } from '../dom.js';
import { Collection } from '../api.js';
import { jobStatus, compactJob, completionsText, completionsTotal, attempt, controller } from '../model.js';
import { watchRuns, findAttempt, runLogPath } from '../runs.js';
import { Gantt } from '../gantt.js';
import { LogView } from '../logview.js';

export function jobPage(main, { ns, name }) {
  const title = h('h1', null, name);
  const crumbs = h('p', { class: 'crumbs' }, link('/ui/', 'Overview'), ' / ', `Job in ${ns}`);
  const errors = h('div', { class: 'errors' });
  const summary = h('dl', { class: 'facts', id: 'job-summary' });
  const logs = new LogView();
  const gantt = new Gantt((a, previous) => openLog(a, previous));
  const conditions = h('tbody');
  const events = h('tbody');
  const notFound = h('div');
  main.replaceChildren(crumbs, title, errors, notFound, summary,
    section('Timeline', h('p', { class: 'muted small' }, 'One bar per attempt: creation → start → end. Click a bar for its log.'), gantt.el),
    logs.el,
    section('Conditions', table(['Type', 'Status', 'Reason', 'Message', 'Last transition'], conditions, 'conditions stack')),
    section('Events', table(['Type', 'Reason', 'Age', 'From', 'Message'], events, 'events stack')));

  const base = `/api/v1/namespaces/${encodeURIComponent(ns)}`;
  const showErrors = () => errors.replaceChildren(...[job, pods, evs, runs].filter((c) => c?.error).map((c) => errorBox(c.error)));
  const job = new Collection(`/apis/batch/v1/namespaces/${encodeURIComponent(ns)}/jobs`, { params: { fieldSelector: `metadata.name=${name}` }, onChange: render, onError: showErrors });
  const pods = new Collection(`${base}/pods`, { params: { labelSelector: `batch.kubernetes.io/job-name=${name}` }, onChange: render, onError: showErrors });
  const evs = new Collection(`${base}/events`, { params: { fieldSelector: `involvedObject.kind=Job,involvedObject.name=${name}` }, onChange: render, onError: showErrors });
  let runs = null;
  let attempts = [];

  function current() {
    return [...job.items.values()][0] || null;
  }

  // run is the Job's JobRun; not a run of an earlier Job of this name.
  function run() {
    const r = runs ? [...runs.items.values()][0] || null : null;
    const j = current();
    return r && j && r.jobUID && r.jobUID !== j.metadata.uid ? null : r;
  }

  function render() {
    showErrors();
    const j = current();
    const r = run();
    if (!j && job.loaded) {
      notFound.replaceChildren(h('p', { class: 'notice' }, r
        ? `Job ${ns}/${name} no longer exists; its run history is shown.`
        : `Job ${ns}/${name} was not found.`));
    } else {
      notFound.replaceChildren();
    }
    if (j) drawSummary(j);
    else if (r) drawRunSummary(r);
    // Attempts: the pods that exist, and the run history's for pods gone.
    const uid = j?.metadata.uid || r?.jobUID;
    const now = Date.now();
    const fromPods = [...pods.items.values()]
      .filter((p) => !uid || controller(p.metadata)?.uid === uid)
      .map((p) => attempt(p, now));
    const seen = new Set(fromPods.map((a) => a.pod));
    const fromRun = r ? runPods(r).filter((a) => !seen.has(a.pod)) : [];
    attempts = [...fromPods, ...fromRun];
    gantt.update(attempts, now);
    const conds = j?.status?.conditions || [];
    reconcile(conditions, conds, (c) => c.type, (c) => JSON.stringify(c), (c) => h('tr', null,
      h('td', null, c.type), h('td', null, c.status), h('td', null, c.reason || ''), h('td', { class: 'msg' }, c.message || ''),
      h('td', null, age(ms(c.lastTransitionTime)))));
    if (!conds.length) conditions.replaceChildren(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'None.')));
    const evList = [...evs.items.values()].filter((e) => !uid || !e.involvedObject.uid || e.involvedObject.uid === uid)
      .sort((a, b) => evTime(b) - evTime(a));
    drawEvents(events, evList);
  }

  function drawSummary(j) {
    const c = compactJob(j);
    title.textContent = name;
    title.append(' ', badge(jobStatus(j)));
    const spec = j.spec || {};
    const owner = controller(j.metadata);
    const facts = [
      ['Completions', bar(c.succeeded, 0, completionsTotal(c), completionsText(c))],
      ['Active', String(c.active)],
      ['Succeeded', String(c.succeeded)],
      ['Failed', String(c.failed)],
      ['Started', c.start ? localTime(c.start) : '—'],
      ['Duration', span(c.start, c.end)],
      ['Age', age(c.created)],
      ['Completion mode', spec.completionMode || 'NonIndexed'],
      ['Parallelism', String(spec.parallelism ?? 1)],
      ['Backoff limit', spec.backoffLimitPerIndex !== undefined ? `${spec.backoffLimitPerIndex} per index` : String(spec.backoffLimit ?? 6)],
      ['Restart policy', spec.template?.spec?.restartPolicy || ''],
    ];
    if (j.status?.failedIndexes) facts.push(['Failed indexes', j.status.failedIndexes]);
    if (j.status?.completedIndexes) facts.push(['Completed indexes', j.status.completedIndexes]);
    if (owner) facts.push(['Created by', owner.kind === 'CronJob' ? link(`/ui/cronjobs/${encodeURIComponent(ns)}/${encodeURIComponent(owner.name)}`, `CronJob ${owner.name}`) : `${owner.kind} ${owner.name}`]);
    drawFacts(summary, facts);
  }

  function drawRunSummary(r) {
    title.textContent = name;
    title.append(' ', badge(r.outcome));
    const facts = [
      ['Outcome', r.outcome + (r.reason ? ` (${r.reason})` : '')],
      ['Completions', r.completions !== null ? `${r.succeeded}/${r.completions}` : String(r.succeeded)],
      ['Failed', String(r.failed)],
      ['Started', r.start ? localTime(r.start) : '—'],
      ['Duration', span(r.start, r.end)],
    ];
    if (r.message) facts.push(['Message', r.message]);
    if (r.scheduled) facts.push(['Scheduled', localTime(r.scheduled)]);
    if (r.cronjob) facts.push(['Created by', link(`/ui/cronjobs/${encodeURIComponent(ns)}/${encodeURIComponent(r.cronjob)}`, `CronJob ${r.cronjob}`)]);
    if (r.omitted) facts.push(['Attempts not kept', `${r.omitted} (the run keeps at most 500: the failed and latest ones)`]);
    drawFacts(summary, facts);
  }

  // openLog shows one container run's log: a pod's own (followed while it
  // runs) with the copy kept with the run as the fallback once the pod is
  // gone; for a pod known only from the run, the kept copy.
  function openLog(a, previous) {
    const show = (c) => {
      const label = `${a.pod} · ${c}${previous ? ' · previous run' : ''}`;
      const r = run();
      // The run's entry: the container's previous run or its latest.
      const latest = findAttempt(r, a.pod, c);
      const entry = previous ? latest && findAttempt(r, a.pod, c, latest.attempt - 1) : latest;
      const kept = entry ? { path: runLogPath(r, entry), follow: false, note: 'the pod is gone: the log kept with its run' } : null;
      if (a.source === 'jobrun') {
        if (kept) logs.show(label, { ...kept, note: '' }, a.containers, show);
        else logs.show(label, { path: '', follow: false, error: `no log of ${c} was recorded` }, a.containers, show);
        return;
      }
      const q = new URLSearchParams({ container: c });
      const waiting = a.outcome === 'backoff';
      const follow = !previous && !waiting && (a.outcome === 'running' || a.outcome === 'pending');
      if (previous || waiting) q.set('previous', 'true');
      if (follow) q.set('follow', 'true');
      logs.show(label, { path: `${base}/pods/${encodeURIComponent(a.pod)}/log?${q}`, follow, fallback: kept }, a.containers, show);
    };
    show(a.container);
  }

  const ticker = setInterval(() => {
    if (attempts.some((a) => !a.finished)) gantt.update(attempts.map((a) => a), Date.now());
  }, 1000);
  job.start();
  pods.start();
  evs.start();
  watchRuns(`/namespaces/${encodeURIComponent(ns)}/jobruns`, { fieldSelector: `metadata.name=${name}` }, {
    set: (c) => { runs = c; }, onChange: render, onError: showErrors, stopped: () => job.abort.signal.aborted,
  });
  render();
  return () => { job.stop(); pods.stop(); evs.stop(); runs?.stop(); logs.close(); clearInterval(ticker); };
}

// runPods reads a run's container runs as the timeline's attempts, one per
// pod as for the pods that exist: the pod's first container's latest run,
// its previous one and the restarts between (an OnFailure pod restarted in
// place), its start the earliest recorded (a JobRun keeps no pod creation).
export function runPods(r) {
  const pods = new Map();
  for (const e of r.attempts) {
    const k = e.podUID || e.pod;
    if (!pods.has(k)) pods.set(k, []);
    pods.get(k).push(e);
  }
  return [...pods.entries()].map(([k, entries]) => {
    const main = entries[0].container;
    const runs = entries.filter((e) => e.container === main).sort((x, y) => x.attempt - y.attempt);
    const cur = runs[runs.length - 1];
    const prev = runs.length > 1 ? runs[runs.length - 2] : null;
    const started = Math.min(...entries.map((e) => e.started || Infinity));
    const finishedAll = entries.every((e) => e.finished);
    const latest = new Map(); // each container's latest run
    for (const e of entries) if (!latest.has(e.container) || e.attempt > latest.get(e.container).attempt) latest.set(e.container, e);
    const lasts = [...latest.values()];
    let outcome;
    if (lasts.every((e) => e.exitCode === 0)) outcome = 'succeeded';
    else if (lasts.some((e) => e.exitCode !== null && e.exitCode !== 0)) outcome = 'failed';
    else if (r.outcome === 'running') outcome = cur.started ? 'running' : 'pending';
    else outcome = 'failed'; // gone, its run over, no exit recorded
    const failed = lasts.find((e) => e.exitCode !== null && e.exitCode !== 0);
    return {
      key: `run:${k}`, pod: cur.pod, ns: r.ns, node: cur.node, container: main,
      containers: [...new Set(entries.map((e) => e.container))],
      index: cur.index, created: Number.isFinite(started) ? started : null, started: cur.started,
      finished: finishedAll ? Math.max(...entries.map((e) => e.finished)) : null,
      outcome, phase: '', exitCode: failed ? failed.exitCode : cur.exitCode,
      reason: (failed || cur).reason, message: (failed || cur).message,
      restarts: cur.attempt, previous: prev && prev.finished ? { started: prev.started, finished: prev.finished, exitCode: prev.exitCode, reason: prev.reason } : null,
      source: 'jobrun',
    };
  });
}

export function drawFacts(dl, facts) {
  dl.replaceChildren(...facts.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

export function evTime(e) {
  return ms(e.lastTimestamp) || ms(e.eventTime) || ms(e.firstTimestamp) || ms(e.metadata.creationTimestamp) || 0;
}

export function drawEvents(tbody, list) {
  reconcile(tbody, list, (e) => e.metadata.uid, (e) => `${e.metadata.resourceVersion}`, (e) => h('tr', null,
    h('td', null, badge(e.type || 'Normal')),
    h('td', null, e.reason || ''),
    h('td', null, age(evTime(e)), e.count > 1 ? ` (×${e.count})` : ''),
    h('td', null, e.source?.component || e.reportingComponent || ''),
    h('td', { class: 'msg' }, e.message || '')));
  if (!list.length) tbody.replaceChildren(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No events.')));
}
