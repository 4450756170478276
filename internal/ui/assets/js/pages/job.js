// Job page: the summary, a timeline of its attempts (click a bar for that
// attempt's log), its conditions and its events, all live.

import { h, link, badge, bar, age, span, localTime, errorBox, section, table, reconcile, ms } from '../dom.js';
import { Collection, served } from '../api.js';
import { jobStatus, compactJob, completionsText, completionsTotal, attempt, controller } from '../model.js';
import { RUNS_GROUP_VERSION, fromJobRun, runLogPath } from '../runs.js';
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

  function run() {
    return runs ? [...runs.items.values()][0] || null : null;
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
    const fromRun = r ? r.attempts.filter((a) => !seen.has(a.pod)).map((a) => ({
      key: `run:${a.number}`, pod: a.pod, ns, node: a.node, container: a.container, containers: a.container ? [a.container] : [],
      index: a.index, created: a.started, started: a.started, finished: a.finished,
      outcome: a.exitCode === 0 ? 'succeeded' : a.finished ? 'failed' : 'running', exitCode: a.exitCode, reason: a.reason,
      message: a.message, restarts: 0, previous: null, source: 'jobrun', number: a.number,
    })) : [];
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
    drawFacts(summary, [
      ['Outcome', r.outcome + (r.reason ? ` (${r.reason})` : '')],
      ['Started', r.start ? localTime(r.start) : '—'],
      ['Duration', span(r.start, r.end)],
      ['Succeeded', String(r.succeeded ?? '—')],
      ['Failed', String(r.failed ?? '—')],
    ]);
  }

  function openLog(a, previous) {
    const container = a.container;
    const show = (c) => {
      const label = `${a.pod} · ${c}${previous ? ' · previous run' : ''}`;
      const r = run();
      let historic = null;
      if (r) {
        const entries = r.attempts.filter((x) => x.pod === a.pod);
        const entry = previous ? entries[entries.length - 2] : entries[entries.length - 1];
        if (entry) historic = { path: runLogPath(r, entry.number, c), follow: false, note: 'the pod is gone: log kept with the run' };
      }
      if (a.source === 'jobrun') {
        logs.show(label, historic || { path: runLogPath(r, a.number, c), follow: false }, a.containers, show);
        return;
      }
      const q = new URLSearchParams({ container: c });
      const waiting = a.outcome === 'backoff';
      const follow = !previous && !waiting && (a.outcome === 'running' || a.outcome === 'pending');
      if (previous || waiting) q.set('previous', 'true');
      if (follow) q.set('follow', 'true');
      logs.show(label, { path: `${base}/pods/${encodeURIComponent(a.pod)}/log?${q}`, follow, fallback: historic }, a.containers, show);
    };
    show(container);
  }

  const ticker = setInterval(() => {
    if (attempts.some((a) => !a.finished)) gantt.update(attempts.map((a) => a), Date.now());
  }, 1000);
  job.start();
  pods.start();
  evs.start();
  served(RUNS_GROUP_VERSION, 'jobruns').then((ok) => {
    if (!ok || job.abort.signal.aborted) return;
    runs = new Collection(`/apis/${RUNS_GROUP_VERSION}/namespaces/${encodeURIComponent(ns)}/jobruns`, { params: { fieldSelector: `metadata.name=${name}` }, map: fromJobRun, onChange: render, onError: showErrors }).start();
  });
  render();
  return () => { job.stop(); pods.stop(); evs.stop(); runs?.stop(); logs.close(); clearInterval(ticker); };
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
